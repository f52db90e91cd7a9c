#!/bin/sh
# Regenerate every golden vector whose bytes depend on method 5 (CM5, the
# encoder's default context-mixing method, format-spec/vdz.md §8d), after
# CM5 was changed on purpose:
#   * the default-option vectors v1_NAME.vdz (v1_rgb8 is method 5; the
#     others, stored or zstd today, are re-encoded as well, so that a CM5
#     that starts to win on one of them is picked up);
#   * the model vectors whose CM tiles are method 5 (model_80x72,
#     model_rgba_37x23; tests/test_golden_model.c), with models/default.vdm;
#   * the method-5 seeds of the decoder fuzzers' corpora.
# The older-method vectors (v1_rgb8_m2, _m3, _m4, model_80x72_m4,
# model_80x72_legacy, model_mixed_144x100) are never rewritten here.
#
#   sh tests/vectors/tools/make-cm5-vectors.sh BUILD_DIR
#
# Run from the repository root with a built BUILD_DIR/vdmzip, then run the
# tests (codec_vectors, golden_model) and commit the changed .vdz files.
# The zstd vectors were written with libzstd 1.5.4 (tests/vectors/README.md):
# with another version their bytes may change here; do not commit those.
set -eu
b=${1:?usage: sh tests/vectors/tools/make-cm5-vectors.sh BUILD_DIR}
vdmzip=$b/vdmzip
v=tests/vectors
[ -x "$vdmzip" ] || { echo "make-cm5-vectors.sh: no program $vdmzip" >&2; exit 1; }
[ -f "$v/v1_rgb8.png" ] || { echo "make-cm5-vectors.sh: run from the repository root" >&2; exit 1; }
# default options, no model (what tests/test_codec_vectors.c encodes)
for n in v1_rgb8 v1_rgba8_flat v1_pal4_meta v1_gray16 v1_gray1_1x1; do
  "$vdmzip" encode -q -f --classical-only "$v/$n.png" -o "$v/$n.vdz"
done
# the model's file alone, CM tiles only to seed the chain, effort 1
for n in model_80x72 model_rgba_37x23; do
  "$vdmzip" encode -q -f --model models/default.vdm --model-only --tiles seed --effort 1 \
      "$v/$n.png" -o "$v/$n.vdz"
done
for c in fuzz_codec_decode fuzz_api_decode; do
  cp "$v/v1_rgb8.vdz" "tests/fuzz/corpus/$c/v1_rgb8_m5.vdz"
done
git status --short -- "$v" tests/fuzz/corpus
