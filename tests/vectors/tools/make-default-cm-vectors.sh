#!/bin/sh
# Regenerate every golden vector whose bytes depend on the encoder's default
# context-mixing method (today method 9, CM9, format-spec/vdz.md §8h), after
# it was changed on purpose (or a new method became the default: first keep
# the old default's files under their method's name, as v1_rgb8_m8.vdz and
# model_80x72_m8.vdz were kept when method 9 took over):
#   * the default-option vectors v1_NAME.vdz (v1_rgb8 is method 9; the
#     others, stored or zstd today, are re-encoded as well, so that a
#     context-mixing method that starts to win on one of them is picked up);
#   * the model vectors whose CM tiles are of the default method
#     (model_80x72, model_rgba_37x23; tests/test_golden_model.c), with
#     models/default.vdm;
#   * the default method's seeds of the decoder fuzzers' corpora.
# The older-method vectors (v1_rgb8_m2 .. _m8, model_80x72_m4 .. _m8,
# model_80x72_legacy, model_mixed_144x100) are never rewritten here.
#
#   sh tests/vectors/tools/make-default-cm-vectors.sh BUILD_DIR
#
# Run from the repository root with a built BUILD_DIR/vdmzip, then run the
# tests (codec_vectors, golden_model) and commit the changed .vdz files.
# The zstd vectors were written with libzstd 1.5.4 (tests/vectors/README.md):
# with another version their bytes may change here; do not commit those.
set -eu
b=${1:?usage: sh tests/vectors/tools/make-default-cm-vectors.sh BUILD_DIR}
vdmzip=$b/vdmzip
v=tests/vectors
[ -x "$vdmzip" ] || { echo "make-default-cm-vectors.sh: no program $vdmzip" >&2; exit 1; }
[ -f "$v/v1_rgb8.png" ] || { echo "make-default-cm-vectors.sh: run from the repository root" >&2; exit 1; }
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
  cp "$v/v1_rgb8.vdz" "tests/fuzz/corpus/$c/v1_rgb8_m9.vdz"
done
git status --short -- "$v" tests/fuzz/corpus
