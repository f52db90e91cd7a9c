#!/bin/sh
# Regenerate the model-path golden vectors after models/default.vdm changed
# on purpose.  Run from the repository root after building BUILD_DIR (default
# build/):  sh tests/vectors/tools/make-model-vectors.sh [BUILD_DIR]
# (After a change of the default context-mixing method alone, tools/make-default-cm-vectors.sh is enough.)
set -eu
b=${1:-build}
python3 tests/vectors/tools/make_model_pngs.py ../shared/data/kodak/kodim23.png ../shared/data/kodak/kodim20.png
# name:tile mode:effort (vdz.md §6.2): seed = CM tiles only to start the chain
# (what --model-only writes), choose = per tile the smaller, model = the older
# layout; effort 0 makes the CM tiles method 2 instead of method 5
for v in model_80x72:seed:1 model_rgba_37x23:seed:1 model_mixed_144x100:choose:0 model_80x72:model:1; do
  n=${v%%:*}; rest=${v#*:}; mode=${rest%%:*}; effort=${rest#*:}; out=$n
  [ "$mode" = model ] && out=${n}_legacy
  "$b/vdmzip" encode tests/vectors/$n.png -o tests/vectors/$out.vdz -f --model models/default.vdm \
      --model-only --tiles "$mode" --effort "$effort" -q
done
# method-4 CM tiles (model_80x72_m4): an encoder option the CLI does not
# have, so the golden test writes it itself
VDM_GOLDEN_WRITE=1 "$b/tests/test_golden_model" --filter 'golden_model/cm4_tiles' -q
