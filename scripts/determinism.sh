#!/bin/sh
# determinism.sh — the determinism contract, checked end to end: build vdmzip
# twice with different compilers and flags (gcc -O0; clang -O3 -march=native,
# which enables AVX-512/AVX2 code generation everywhere it is allowed), encode
# the same images with the model in both, require byte-identical .vdz files,
# and decode each build's files with the other build.
#   scripts/determinism.sh [MODEL] [IMAGES...]
# Defaults: models/default.vdm and the golden test images.  Needs clang; when
# clang is missing it builds the second variant with gcc -O3 -march=native.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:-models/default.vdm}
[ $# -gt 0 ] && shift
if [ $# -eq 0 ]; then
  set -- tests/vectors/model_80x72.png tests/vectors/model_rgba_37x23.png tests/vectors/model_mixed_144x100.png
fi
[ -f "$MODEL" ] || { echo "determinism: no model at $MODEL" >&2; exit 1; }
CC2=clang
command -v clang >/dev/null 2>&1 || CC2=gcc
J=$(nproc)
build() { # dir cc flags
  cmake -S . -B "$1" -DCMAKE_C_COMPILER="$2" -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$3" \
        -DVDMZIP_BUILD_TESTS=OFF -DVDMZIP_BUILD_BENCHMARKS=OFF -DVDMZIP_CUDA=OFF >/dev/null
  cmake --build "$1" -j"$J" --target vdmzip_cli >/dev/null
}
build build-det-a gcc "-O0"
build build-det-b "$CC2" "-O3 -march=native"
T=$(mktemp -d "${TMPDIR:-/tmp}/vdmzip-det.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0
# each image in both tile modes that use the model: seed (CM tiles only to
# start the chain) and choose (per tile CM or the model, vdz.md §6.2)
for img in "$@"; do
  for mode in seed choose; do
  n=$(basename "$img" .png).$mode
  for v in a b; do
    ./build-det-$v/vdmzip encode "$img" -o "$T/$n.$v.vdz" --model "$MODEL" --model-only --tiles $mode \
        --threads "$J" -q
  done
  if cmp -s "$T/$n.a.vdz" "$T/$n.b.vdz"; then
    echo "determinism: $n: gcc -O0 and $CC2 -O3 -march=native wrote identical files ($(wc -c < "$T/$n.a.vdz") bytes)"
  else
    echo "determinism: $n: FILES DIFFER between builds" >&2; fail=1
  fi
  ./build-det-a/vdmzip decode "$T/$n.b.vdz" -o "$T/$n.ab.png" --model "$MODEL" -q || fail=1
  ./build-det-b/vdmzip decode "$T/$n.a.vdz" -o "$T/$n.ba.png" --model "$MODEL" -q || fail=1
  done
done
[ $fail -eq 0 ] && echo "determinism: cross-decoding passed"
exit $fail
