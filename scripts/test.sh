#!/bin/sh
# test.sh — set up (Debian 12), build, and run the whole test suite.
# This is README's test command and exactly what CI (.ci/run) runs.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVDMZIP_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
./build/vdmzip --version
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 900
