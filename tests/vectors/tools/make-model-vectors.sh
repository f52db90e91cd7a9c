#!/bin/sh
# Regenerate the model-path golden vectors after models/default.vdm changed
# on purpose.  Run from the repository root after building build/vdmzip.
set -eu
python3 tests/vectors/tools/make_model_pngs.py ../shared/data/kodak/kodim23.png
for n in model_80x72 model_rgba_37x23; do
  ./build/vdmzip encode tests/vectors/$n.png -o tests/vectors/$n.vdz -f --model models/default.vdm --model-only -q
done
