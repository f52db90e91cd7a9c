#!/bin/sh
# train-hybrid.sh — a model for the hybrid chain stopped at t* = K/T: the
# shipped model fine-tuned on what that hybrid uses of the network only
# (`vdmzip train --coded-from K`: steps K..T, noise schedule frozen, so z_t*'s
# noise is unchanged), on the photo split of scripts/train-default.sh.
#
#   scripts/train-hybrid.sh [K] [MINUTES] [OUT]     (defaults: 16, 40, out/hybrid-k16.vdm)
#   DECAY=N: the step size falls linearly to 2e-5 by update N (default 20000)
#   LR=R: the starting step size (default 5e-4)
#   FROM=M.vdm: start from that model instead of models/default.vdm (e.g. an
#   earlier fine-tune; session 8 went on from session 7's K = 17 run at K = 24)
#
# Session 7 (models/train-logs/hybrid-k16*.log, models/README.md): K = 16,
# one core (THREADS=1); then
#   MODEL=OUT KS=16,24,32 benchmarks/hybrid_curve.sh DIR IMG...
# measures the curve.  Resumes from OUT.ckpt when it exists.
set -eu
cd "$(dirname "$0")/.."
K=${1:-16}
MINUTES=${2:-40}
OUT=${3:-out/hybrid-k$K.vdm}
mkdir -p "$(dirname "$OUT")"
INIT="--init ${FROM:-models/default.vdm} --coupled --blocks 8 --coded-from $K --lr ${LR:-5e-4} --lr-decay ${DECAY:-20000} --lr-final 2e-5"
[ -f "$OUT.ckpt" ] && INIT=""
# shellcheck disable=SC2086
THREADS=${THREADS:-1} scripts/train-default.sh "$MINUTES" 32 "$OUT" $INIT --val-every 10 --val-crops 4
