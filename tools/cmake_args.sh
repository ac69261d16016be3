# shellcheck shell=bash
# Sourced (from the repository root) by tools/test.sh and tools/demo.sh: the one set of build
# flags both use. With ccache, the demo's build is then made of the test build's objects, even
# in another clone in another directory (e2e_demo_readme runs README command 1 in a temporary
# clone during tools/test.sh): CCACHE_BASEDIR turns the clone's absolute paths into paths
# relative to the build directory, and without -g no directory ends up in an object.
# -O1 without debug info: about half the compile CPU time of RelWithDebInfo (-O2 -g), which keeps
# the demo's fresh-machine build within its 10 minutes and CI's first stage short.
# Sets: autostage_cmake_args (cmake configure arguments); exports CCACHE_BASEDIR with ccache.
autostage_cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELEASE=-O1 -DNDEBUG")
if command -v ccache > /dev/null; then
  autostage_cmake_args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="${PWD}"
fi
