#!/usr/bin/env bash
# Installs every build, run and test dependency of autostage from Debian 12 packages.
# Idempotent: packages already present are left alone. Runs apt-get as root, or via sudo.
set -euo pipefail

packages=(
  # build
  cmake ninja-build ccache pkg-config g++ clang clang-format clang-tidy libclang-rt-14-dev
  # RPC and serialization
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # Kafka, Redis, metrics
  librdkafka-dev libhiredis-dev prometheus-cpp-dev redis-server
  # tools/devstack health checks
  curl
  # text and rules (libssl-dev: libcrypto's SHA-256 for proposal ids and token hashes)
  libssl-dev libvectorscan-dev libsimdjson-dev libicu-dev libyaml-cpp-dev
  # CLI, logging, base
  libcli11-dev libspdlog-dev libfmt-dev libabsl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev python3 python3-kafka
  python3-grpcio python3-grpc-tools
  # deploy checks and the e2e scrape: promtool, prometheus; python3-yaml parses manifests
  prometheus python3-yaml
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
