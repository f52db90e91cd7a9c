#!/bin/sh
# quickstart.sh — README's first command: set up (Debian 12), build, then
# encode + decode the shipped sample image with the shipped default model,
# printing sizes, bits per sub-pixel and the verified round trip.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target vdmzip_cli bench_pngdiff >/dev/null
IN=samples/kodim23-crop256.png
OUT=$(mktemp -d "${TMPDIR:-/tmp}/vdmzip-quickstart.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
MODEL=models/default.vdm
THREADS=$(nproc)
echo "== vdmzip $(./build/vdmzip --version | head -1 | cut -d' ' -f2), model $MODEL, $THREADS threads"
echo "== encode with the model (bits-back over the diffusion chain; CM tiles only to start the chain)"
./build/vdmzip encode "$IN" -o "$OUT/sample.vdz" --model "$MODEL" --model-only --threads "$THREADS" -v
echo "== decode"
./build/vdmzip decode "$OUT/sample.vdz" -o "$OUT/sample.png" --model "$MODEL" --threads "$THREADS" -v
./build/benchmarks/bench_pngdiff "$IN" "$OUT/sample.png"
echo "== round trip verified: decoded pixels are identical to $IN"
echo "== default encode (per 64x64 tile the model or the CM coder; then that file or the classical-only file, whichever is smaller)"
./build/vdmzip encode "$IN" -o "$OUT/best.vdz" --model "$MODEL" --threads "$THREADS" -v
./build/vdmzip decode "$OUT/best.vdz" -o "$OUT/best.png" --model "$MODEL" -q
./build/benchmarks/bench_pngdiff "$IN" "$OUT/best.png"
printf '== sizes: PNG %s bytes, model-coded .vdz %s bytes, best .vdz %s bytes\n' \
  "$(wc -c < "$IN")" "$(wc -c < "$OUT/sample.vdz")" "$(wc -c < "$OUT/best.vdz")"
