#!/usr/bin/env bash
# Sets up everything on a Debian 12 machine and runs the whole test suite (unit and integration
# tests against real redis-server processes that the tests start themselves).
#
#   tools/test.sh            build in ./build and run ctest
#   tools/test.sh --asan     the same under AddressSanitizer and UBSan, in ./build-asan
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--asan" ]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DPOSTDESK_SANITIZE=ON -DPOSTDESK_BUILD_BENCHMARKS=OFF)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

tools/install-deps.sh
cmake -G Ninja -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
