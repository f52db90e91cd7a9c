#!/bin/sh
# hybrid_curve.sh — the hybrid chain's bound against the truncation step
# (issue "The diffusion model must win", step 1: measure first).
#
#   benchmarks/hybrid_curve.sh OUTDIR IMG...        measure (one JSON per image)
#   benchmarks/hybrid_curve.sh --report OUTDIR      table + plot from the JSON
#
# Per image: `vdmzip eval --per-step --hybrid K,...` — the diffusion term of
# every step, CM3 alone, and for each k the chain above t* = k/T plus the real
# code length of CM3 given z_t* and the network's denoised prediction.
# Environment: VDMZIP (binary, default build/vdmzip), MODEL, KS (default
# 0,2,4,8,16,24,32), THREADS (2), CM (the data term's coder, 3 to 9; default 9,
# recorded in OUTDIR/coder.txt for the report; a folder without it is CM3's).  The report is OUTDIR/curve.md, curve.csv
# and curve.png (gnuplot, skipped when it is not installed).
set -eu
cd "$(dirname "$0")/.."
BIN=${VDMZIP:-build/vdmzip}
if [ "${1:-}" = "--report" ]; then
    exec python3 benchmarks/hybrid_report.py "$2"
fi
[ $# -ge 2 ] || { echo "usage: $0 OUTDIR IMG... | --report OUTDIR" >&2; exit 1; }
OUT=$1; shift
mkdir -p "$OUT"
echo "CM${CM:-9}" > "$OUT/coder.txt"
for f in "$@"; do
    name=$(basename "$f" .png)
    # shellcheck disable=SC2086
    "$BIN" eval ${MODEL:+--model "$MODEL"} --samples 1 --threads "${THREADS:-2}" --cm "${CM:-9}" \
        --hybrid "${KS:-0,2,4,8,16,24,32}" --json "$f" > "$OUT/$name.json.tmp"
    mv "$OUT/$name.json.tmp" "$OUT/$name.json"
done
