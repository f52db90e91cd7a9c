#!/bin/sh
# gpu-check.sh OUTDIR [IMAGE_DIR] — one-shot check of the deterministic CUDA
# coding path on a GPU machine (issue #7).  Fits in ~8 minutes on an H100:
#   1. nvidia-smi -L
#   2. configure + build (-DVDMZIP_CUDA=ON, its own build dir, -j16, only the
#      targets needed below)
#   3. vdmzip --version (reports the GPU it sees)
#   4. tests: cuda (must not skip on a GPU), golden_model, detmath, model_coding
#   5. per image: encode --device cpu --threads 2 and --device cuda (same bytes?),
#      decode each file on the other device (same PNG?), with wall times
#   6. training (issue #7): tests cuda_train (must not skip); throughput of
#      `vdmzip train` resumed from models/default.ckpt, crops/s from the log:
#      --device cpu --threads 2 (its checkpoint's batch) vs --device cuda
#      --batch $GPU_BATCH, FP32 and --tf32 ($TP_SECONDS s each)
#   7. a $TRAIN_MINUTES-minute GPU run continuing models/default.ckpt (copied;
#      FP32, --batch $GPU_BATCH, validation on the held-out photos) that leaves
#      OUTDIR/default-gpu.vdm, OUTDIR/default-gpu.vdm.ckpt and train-gpu.log --
#      a better-trained checkpoint to bring back (needs the photos: PHOTOS, else
#      ../shared/data/photos or shared/data/photos; skipped without them)
# Images: the first $MAX_IMAGES (default 3) *.png of IMAGE_DIR, else
# samples/*.png and tests/vectors/model_80x72.png (inside the repo: ../shared
# is not on the GPU machine).  Everything goes to OUTDIR: one log per step and
# summary.md.  Every step runs and keeps its log even when an earlier one
# failed (steps that need the build are skipped without it); the exit status
# is 0 only when every step passed.
# Env: VDMZIP_GPU_BUILD (build dir, default build-gpu), MAX_IMAGES, JOBS (16),
#      PHOTOS, GPU_BATCH (256), TP_SECONDS (15), TRAIN_MINUTES (2), THREADS (16:
#      CPU threads of the GPU runs, for the host-side loss and validation).
set -eu

OUT=${1:?usage: scripts/gpu-check.sh OUTDIR [IMAGE_DIR]}
IMGDIR=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VDMZIP_GPU_BUILD:-$ROOT/build-gpu}
MAX_IMAGES=${MAX_IMAGES:-3}
JOBS=${JOBS:-16}
GPU_BATCH=${GPU_BATCH:-256}
TP_SECONDS=${TP_SECONDS:-15}
TRAIN_MINUTES=${TRAIN_MINUTES:-2}
THREADS=${THREADS:-16}
mkdir -p "$OUT/work"
OUT=$(cd "$OUT" && pwd)
SUM=$OUT/summary.md
STEPS=$OUT/steps.md
TIMES=$OUT/times.md
: > "$STEPS"
: > "$TIMES"
FAILED=0

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# step NAME CMD...: run CMD with its output in OUT/NAME.log, record the result.
step() {
    name=$1
    shift
    t0=$(now)
    if "$@" > "$OUT/$name.log" 2>&1; then rc=0; else rc=$?; fi
    t1=$(now)
    if [ "$rc" -eq 0 ]; then res=ok; else res="FAILED (exit $rc)"; FAILED=1; fi
    echo "| $name | $res | $(secs "$t0" "$t1") s | $name.log |" >> "$STEPS"
    return 0
}

skip() {
    echo "| $1 | skipped: $2 | | |" >> "$STEPS"
    FAILED=1
}

# ---- 1. the GPU ------------------------------------------------------------
# -L first (its first line names the GPU for the summary), then the full
# table: the driver must support the CUDA 13 runtime, or every GPU test skips.
smi() { nvidia-smi -L && nvidia-smi; }
step nvidia-smi smi
GPU=$(sed -n 1p "$OUT/nvidia-smi.log" 2>/dev/null || true)
[ -n "$GPU" ] || GPU="(nvidia-smi gave nothing)"

# ---- 2. build ----------------------------------------------------------------
step configure cmake -S "$ROOT" -B "$BUILD" -DVDMZIP_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
    -DVDMZIP_BUILD_BENCHMARKS=OFF
step build cmake --build "$BUILD" -j "$JOBS" --target vdmzip_cli test_cuda test_cuda_train test_golden_model \
    test_detmath test_model_coding
CLI=$BUILD/vdmzip
HAVE_BUILD=0
[ -x "$CLI" ] && [ -x "$BUILD/tests/test_cuda" ] && HAVE_BUILD=1

# ---- 3, 4. version and tests ---------------------------------------------------
# The CUDA test program must run every GPU test: a skip here means the GPU
# was not seen, which is a failure of this check.
cuda_tests() {
    "$BUILD/tests/test_cuda" --verbose --jobs 1 || return 1
}
no_gpu_skips() {
    if grep '^\[SKIP\]' "$OUT/tests-cuda.log" | grep -v unavailable_paths_report_errors; then
        echo "GPU tests were skipped (see tests-cuda.log): no device visible to the CUDA runtime;"
        echo "if nvidia-smi.log lists one, its driver may be too old for the CUDA 13 runtime"
        return 1
    fi
    grep -q '^\[PASS\] cuda::net_forward_bit_exact' "$OUT/tests-cuda.log"
}
if [ "$HAVE_BUILD" -eq 1 ]; then
    step version "$CLI" --version
    step tests-cuda cuda_tests
    step tests-cuda-ran-on-gpu no_gpu_skips
    step tests-golden-detmath-coding ctest --test-dir "$BUILD" -R '^(golden_model|detmath|model_coding)$' \
        --output-on-failure
else
    skip version "no build"
    skip tests-cuda "no build"
    skip tests-golden-detmath-coding "no build"
fi

# ---- 5. the CLI on both devices -------------------------------------------------
IMAGES=""
if [ -n "$IMGDIR" ]; then
    IMAGES=$(ls "$IMGDIR"/*.png 2>/dev/null | head -n "$MAX_IMAGES" || true)
else
    IMAGES=$(ls "$ROOT"/samples/*.png "$ROOT"/tests/vectors/model_80x72.png 2>/dev/null | head -n "$MAX_IMAGES" || true)
fi

# timed LABEL CMD...: run, log to OUT/cli.log, remember the seconds in T.
timed() {
    label=$1
    shift
    echo "\$ $*" >> "$OUT/cli.log"
    tt0=$(now) # not t0: sh has no locals, and step() times the whole loop
    if "$@" >> "$OUT/cli.log" 2>&1; then trc=0; else trc=$?; fi
    T=$(secs "$tt0" "$(now)")
    echo "($label: exit $trc, $T s)" >> "$OUT/cli.log"
    return "$trc"
}

cli_check() {
    ok=0
    M="--model $ROOT/models/default.vdm"
    echo "| image | pixels | encode cpu (2 thr) | encode cuda | same .vdz | decode cpu | decode cuda | same .png |" >> "$TIMES"
    echo "|---|---|---|---|---|---|---|---|" >> "$TIMES"
    for img in $IMAGES; do
        b=$(basename "$img" .png)
        W=$OUT/work/$b
        px=$(file "$img" 2>/dev/null | sed -n 's/.* \([0-9]*\) x \([0-9]*\).*/\1x\2/p')
        ec=fail; eg=fail; dc=fail; dg=fail; sv=no; sp=no
        # shellcheck disable=SC2086
        timed "encode cpu $b" "$CLI" encode -f -v --model-only $M --device cpu --threads 2 -o "$W.cpu.vdz" "$img" && ec=$T
        # shellcheck disable=SC2086
        timed "encode cuda $b" "$CLI" encode -f -v --model-only $M --device cuda -o "$W.cuda.vdz" "$img" && eg=$T
        cmp "$W.cpu.vdz" "$W.cuda.vdz" >> "$OUT/cli.log" 2>&1 && sv=yes
        # each device decodes the other's file
        # shellcheck disable=SC2086
        timed "decode cpu $b" "$CLI" decode -f -v $M --device cpu --threads 2 -o "$W.from-cuda.cpu.png" "$W.cuda.vdz" && dc=$T
        # shellcheck disable=SC2086
        timed "decode cuda $b" "$CLI" decode -f -v $M --device cuda -o "$W.from-cpu.cuda.png" "$W.cpu.vdz" && dg=$T
        cmp "$W.from-cuda.cpu.png" "$W.from-cpu.cuda.png" >> "$OUT/cli.log" 2>&1 && sp=yes
        echo "| $b | $px | $ec s | $eg s | $sv | $dc s | $dg s | $sp |" >> "$TIMES"
        case "$ec$eg$dc$dg$sv$sp" in *fail*|*no*) ok=1 ;; esac
    done
    [ -n "$IMAGES" ] || { echo "no images found"; ok=1; }
    return $ok
}

: > "$OUT/cli.log"
if [ "$HAVE_BUILD" -eq 1 ]; then
    step cli-cross-device cli_check
else
    skip cli-cross-device "no build"
fi

# ---- 6, 7. training -------------------------------------------------------------
cuda_train_tests() {
    "$BUILD/tests/test_cuda_train" --verbose --jobs 1 || return 1
    if grep '^\[SKIP\]' "$OUT/tests-cuda-train.log" | grep -v unavailable_paths_report_errors; then
        echo "GPU training tests were skipped: no device visible to the CUDA runtime"
        return 1
    fi
}
# the photo split of scripts/train-default.sh: wiki035..039 held out
PH=""
for d in "${PHOTOS:-}" "$ROOT/../shared/data/photos" "$ROOT/shared/data/photos"; do
    [ -n "$d" ] && ls "$d"/wiki*.png > /dev/null 2>&1 && { PH=$(cd "$d" && pwd); break; }
done
TD=$OUT/work/train-photos
VD=$OUT/work/val-photos
mkdir -p "$TD" "$VD"
if [ -n "$PH" ]; then
    for f in "$PH"/wiki*.png; do
        case "$(basename "$f")" in
            wiki035.png|wiki036.png|wiki037.png|wiki038.png|wiki039.png) ln -sf "$f" "$VD/" ;;
            *) ln -sf "$f" "$TD/" ;;
        esac
    done
else
    ln -sf "$ROOT"/samples/*.png "$TD/"   # throughput only
fi
# rate LOG: crops/s of the last progress line
rate() { sed -n 's/.*  \([0-9.]*\) patches\/s.*/\1/p' "$1" | tail -n 1; }
# tp NAME ARGS...: a short run resumed from a copy of models/default.ckpt
tp() {
    n=$1
    shift
    cp "$ROOT/models/default.ckpt" "$OUT/work/tp-$n.ckpt"
    "$CLI" train --data "$TD" --resume "$OUT/work/tp-$n.ckpt" --checkpoint "$OUT/work/tp-$n.ckpt" \
        --out "$OUT/work/tp-$n.vdm" --minutes "$(awk -v s="$TP_SECONDS" 'BEGIN { print s / 60 }')" \
        --log-every 5 "$@" > "$OUT/train-tp-$n.log" 2>&1 || return 1
    echo "$n: $(rate "$OUT/train-tp-$n.log") crops/s"
}
throughput() {
    ok=0
    tp cpu --device cpu --threads 2 || ok=1
    tp gpu-fp32 --device cuda --batch "$GPU_BATCH" --threads "$THREADS" || ok=1
    tp gpu-tf32 --device cuda --tf32 --batch "$GPU_BATCH" --threads "$THREADS" || ok=1
    c=$(rate "$OUT/train-tp-cpu.log"); g=$(rate "$OUT/train-tp-gpu-fp32.log"); t=$(rate "$OUT/train-tp-gpu-tf32.log")
    echo "| cpu, 2 threads, checkpoint's batch | ${c:-?} crops/s | 1x |" >> "$TRAIN"
    for x in "gpu FP32, batch $GPU_BATCH:$g" "gpu TF32, batch $GPU_BATCH:$t"; do
        echo "| ${x%%:*} | ${x##*:} crops/s | $(awk -v a="${x##*:}" -v b="$c" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", a / b; else print "?" }') |" >> "$TRAIN"
    done
    return $ok
}
gpu_train() {
    [ -n "$PH" ] || { echo "no training photos (set PHOTOS=DIR with wiki001..039.png)"; return 1; }
    cp "$ROOT/models/default.ckpt" "$OUT/default-gpu.vdm.ckpt"
    "$CLI" train --data "$TD" --val "$VD" --resume "$OUT/default-gpu.vdm.ckpt" --out "$OUT/default-gpu.vdm" \
        --device cuda --batch "$GPU_BATCH" --threads "$THREADS" --minutes "$TRAIN_MINUTES" --val-every 1 \
        --log-every 10 > "$OUT/train-gpu.log" 2>&1 || return 1
    grep '^val' "$OUT/train-gpu.log" | sed -n '1p;$p' | sed 's/^/    /' >> "$TRAIN"
}
TRAIN=$OUT/train.md
: > "$TRAIN"
if [ "$HAVE_BUILD" -eq 1 ] && [ -x "$BUILD/tests/test_cuda_train" ]; then
    step tests-cuda-train cuda_train_tests
    echo "| run | crops/s | vs cpu |" >> "$TRAIN"
    echo "|---|---|---|" >> "$TRAIN"
    step train-throughput throughput
    echo >> "$TRAIN"
    echo "GPU run from models/default.ckpt ($TRAIN_MINUTES min, first and last validation):" >> "$TRAIN"
    echo >> "$TRAIN"
    step train-gpu gpu_train
else
    skip tests-cuda-train "no build"
    skip train-throughput "no build"
    skip train-gpu "no build"
fi

# ---- summary -------------------------------------------------------------------
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l | tr -d ' ' || echo "?")
{
    echo "# vdmzip GPU check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- GPU: $GPU"
    echo "- commit: $COMMIT ($DIRTY uncommitted paths)"
    echo "- build: $BUILD (VDMZIP_CUDA=ON, Release)"
    echo "- version: $(tr '\n' ' ' 2>/dev/null < "$OUT/version.log" || echo n/a)"
    echo "- verdict: $([ "$FAILED" -eq 0 ] && echo 'ALL PASSED' || echo 'SOME STEPS FAILED')"
    echo
    echo "## Steps"
    echo
    echo "| step | result | wall | log |"
    echo "|---|---|---|---|"
    cat "$STEPS"
    echo
    echo "## CLI: cpu (--threads 2) vs cuda, cross-decoded (wall seconds, model path forced)"
    echo
    cat "$TIMES"
    echo
    echo "## Training: throughput (resumed from models/default.ckpt) and the GPU run"
    echo
    cat "$TRAIN"
    echo
    echo "CUDA test lines:"
    echo
    echo '```'
    grep '^\[\(PASS\|FAIL\|SKIP\)\]\|Synthesis' "$OUT/tests-cuda.log" 2>/dev/null || echo "(no cuda test log)"
    grep '^\[\(PASS\|FAIL\|SKIP\)\]\|Synthesis\|relative error\|training loss' "$OUT/tests-cuda-train.log" 2>/dev/null ||
        echo "(no cuda_train test log)"
    echo '```'
} > "$SUM"
rm -f "$STEPS" "$TIMES" "$TRAIN"
cat "$SUM"
exit "$FAILED"
