#!/bin/sh
# train-default.sh — the recipe for a codec model on the shared photo set.
#
#   scripts/train-default.sh [MINUTES] [STEPS_T] [OUT] [extra vdmzip train options...]
#
# Holds out the last 5 photos (wiki035..wiki039) for validation, trains on
# the other 34, and resumes automatically when OUT.ckpt exists, so a long run
# can be done in pieces (each piece continues the same run exactly).
# Never trains on Kodak (the test set).
set -eu
cd "$(dirname "$0")/.."
MINUTES=${1:-60}
T=${2:-16}
OUT=${3:-models/default.vdm}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
SHARED=${VDM_SHARED_DIR:-../shared}
BIN=${VDMZIP:-build/vdmzip}
WORK=${TMPDIR:-/tmp}/vdmzip-train.$$
mkdir -p "$WORK/train" "$WORK/val"
trap 'rm -rf "$WORK"' EXIT
for f in "$SHARED"/data/photos/wiki*.png; do
    case "$(basename "$f")" in
        wiki035.png|wiki036.png|wiki037.png|wiki038.png|wiki039.png) ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$WORK/val/" ;;
        *) ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$WORK/train/" ;;
    esac
done
RESUME=""
[ -f "$OUT.ckpt" ] && RESUME="--resume $OUT.ckpt"
# shellcheck disable=SC2086
"$BIN" train --data "$WORK/train" --val "$WORK/val" --steps "$T" --out "$OUT" \
    --minutes "$MINUTES" --threads "${THREADS:-2}" $RESUME "$@"
