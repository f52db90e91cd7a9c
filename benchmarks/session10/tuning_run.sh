#!/bin/sh
# tuning_run.sh — one run of session 10's tuning measurements (RESULTS.md,
# "Session 10"): the payload bytes of method M (default 7) on the 512x512
# centre crops of the tuning photos, with a throw-away build of
# tuning_switches.patch (applied to d1f96ec) that reads its switches K...
# from the environment; appends one line to LOG (default tuning_log.txt).
#   env KS=8 KU=1 ... B=BUILD/benchmarks/bench_cm sh tuning_run.sh LABEL
# SET="032 ... 039" runs the held-back photos instead.
D=${PHOTOS:-../shared/data/photos}
B=${B:-build-tune/benchmarks/bench_cm}
SET=${SET:-"002 008 009 015 016 017 020 023"}
F=""; for i in $SET; do F="$F $D/wiki$i.png"; done
r=$($B ${M:-7} 512 $F 2>&1 | tail -1)
echo "$1 $(env | grep -E '^K[A-Z0-9]*=' | sort | tr '\n' ' ') :: $r" | tee -a ${LOG:-tuning_log.txt}
