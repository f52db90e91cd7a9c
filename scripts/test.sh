#!/bin/sh
# test.sh — set up (Debian 12), build, and run the whole test suite.
# This is README's test command and exactly what CI (.ci/run) runs.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVDMZIP_BUILD_TESTS=ON >/dev/null
cmake --build build -j"$(nproc)"
./build/vdmzip --version
# The determinism contract across compilers and flags (gcc -O0 vs clang -O3
# -march=native): identical .vdz files from the shipped model, cross-decoded.
sh scripts/determinism.sh
# The Criterion suite (last, so its summary closes the output).
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 900
