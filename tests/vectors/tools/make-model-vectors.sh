#!/bin/sh
# Regenerate the model-path golden vectors after models/default.vdm changed
# on purpose.  Run from the repository root after building build/vdmzip.
set -eu
python3 tests/vectors/tools/make_model_pngs.py ../shared/data/kodak/kodim23.png ../shared/data/kodak/kodim20.png
# name, tile mode (vdz.md §6.2): seed = CM tiles only to start the chain (what
# --model-only writes), choose = per tile the smaller, model = the older layout
for v in model_80x72:seed model_rgba_37x23:seed model_mixed_144x100:choose model_80x72:model; do
  n=${v%%:*}; mode=${v#*:}; out=$n
  [ "$mode" = model ] && out=${n}_legacy
  ./build/vdmzip encode tests/vectors/$n.png -o tests/vectors/$out.vdz -f --model models/default.vdm \
      --model-only --tiles "$mode" -q
done
