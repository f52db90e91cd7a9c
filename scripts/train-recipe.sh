#!/bin/sh
# train-recipe.sh — how models/default.vdm was made, stage by stage.
#
#   scripts/train-recipe.sh [WORKDIR]      (default WORKDIR: out/recipe)
#
# Every stage is one `vdmzip train` run on the photo split of
# scripts/train-default.sh (34 training photos, wiki035..039 held out for
# validation, never Kodak), stopped after the number of updates the shipped
# model got, with the thread count it used (a run is a pure function of its
# settings, images, seed and thread count on one machine; OpenBLAS may round
# differently elsewhere, so expect the same curve, not the same bits).  Each
# stage starts from the previous one with --init, which keeps the function
# the network computes (new outputs start neutral, new blocks start as the
# identity), so a stage never starts worse than its parent (the "val" line at
# update 0 of each log shows it).  A finished stage (WORKDIR/NAME.done) is
# skipped, so the recipe can be run in pieces; an interrupted stage starts
# over from its parent.
#
#   1  fixed variances,  T=16, 4 blocks, from scratch         59513 updates, 2 threads
#   2  + learned variances (--learned-var), T=16                6119 updates, 2 threads
#   3  T=32, lr decaying to 1e-4 by update 160000              11434 updates, 2 threads
#   4  8 blocks (4 new identity blocks), same decay             2778 updates, 1 thread
#   5  + channel coupling (--coupled), lr 2e-3 decaying          3933 updates, 2 threads
#      (first planned to reach 1e-4 at update 40000; then, to fit the session,
#      resumed with the decay ending at 34000:)                   30395 more, 2 threads
#   6  s5b continued (its checkpoint) with a warm restart: the linear
#      decay re-planned to end at update 58000 (lr 9.4e-4 at 34328,
#      2e-5 at the end)                                          23775 more, 1 thread
#
# About 5 hours on the 2-core CPU machine; models/README.md has the numbers of
# each stage.  The final checkpoint (models/default.ckpt) continues the last
# stage: copy it to WORKDIR/s6.vdm.ckpt and run `scripts/train-default.sh
# MINUTES 32 WORKDIR/s6.vdm` (it resumes; add --lr-decay N --lr-final LR to
# set a new step-size schedule from there).
set -eu
cd "$(dirname "$0")/.."
W=${1:-out/recipe}
S5B_ITERS=${S5B_ITERS:-30395}
S6_ITERS=${S6_ITERS:-23775}
mkdir -p "$W"
stage() {  # stage NAME T THREADS ITERS [train options...]
    name=$1 t=$2 th=$3 it=$4
    shift 4
    if [ -f "$W/$name.done" ]; then
        echo "train-recipe: stage $name done before, skipped"
        return 0
    fi
    rm -f "$W/$name.vdm" "$W/$name.vdm.ckpt"
    echo "train-recipe: stage $name (T=$t, $it updates, $th threads)"
    THREADS=$th scripts/train-default.sh 100000 "$t" "$W/$name.vdm" --iters "$it" "$@" 2>"$W/$name.log"
    touch "$W/$name.done"
}
stage s1 16 2 59513
stage s2 16 2 6119 --init "$W/s1.vdm" --learned-var
stage s3 32 2 11434 --init "$W/s2.vdm" --learned-var --lr-decay 160000 --lr-final 1e-4
stage s4 32 1 2778 --init "$W/s3.vdm" --learned-var --blocks 8 --lr-decay 160000 --lr-final 1e-4
stage s5 32 2 3933 --init "$W/s4.vdm" --coupled --blocks 8 --lr-decay 40000 --lr-final 1e-4
if [ ! -f "$W/s5b.done" ]; then
    # continue s5 exactly (its checkpoint), with the decay ending earlier
    cp "$W/s5.vdm.ckpt" "$W/s5b.vdm.ckpt"
    echo "train-recipe: stage s5b (resume s5, $S5B_ITERS updates)"
    THREADS=2 scripts/train-default.sh 100000 32 "$W/s5b.vdm" --iters "$S5B_ITERS" --lr-decay 34000 --lr-final 1e-4 2>"$W/s5b.log"
    touch "$W/s5b.done"
fi
if [ ! -f "$W/s6.done" ]; then
    # continue s5b exactly, re-planning the decay (a warm restart to 9.4e-4)
    cp "$W/s5b.vdm.ckpt" "$W/s6.vdm.ckpt"
    echo "train-recipe: stage s6 (resume s5b, $S6_ITERS updates)"
    THREADS=1 scripts/train-default.sh 100000 32 "$W/s6.vdm" --iters "$S6_ITERS" --lr-decay 58000 --lr-final 2e-5 2>"$W/s6.log"
    touch "$W/s6.done"
fi
echo "train-recipe: done: $W/s6.vdm (copy to models/default.vdm, its checkpoint to models/default.ckpt)"
