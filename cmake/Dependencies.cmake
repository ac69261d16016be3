# Every dependency comes from a Debian 12 package (see tools/setup.sh); nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)  # gRPC::grpc++, gRPC::grpc_cpp_plugin, gRPC::grpc++_reflection
find_package(OpenSSL REQUIRED)       # OpenSSL::Crypto (SHA-256 of bearer tokens)
find_package(absl REQUIRED)
find_package(simdjson REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(GTest REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc i18n data)
find_package(CLI11 QUIET)
find_package(benchmark QUIET)
find_package(rapidcheck QUIET)  # target rapidcheck (librapidcheck-dev): property tests
pkg_check_modules(VECTORSCAN REQUIRED IMPORTED_TARGET libhs)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
