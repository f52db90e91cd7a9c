#!/bin/sh
# cuda-emu-check.sh BUILD_DIR [criterion args...] — run tests/test_cuda.c
# against a HOST EMULATION of the CUDA coding kernels, on a machine without a
# GPU.
#
# BUILD_DIR must be configured with the CUDA backend (-DVDMZIP_CUDA=ON; nvcc
# present) and have test_cuda built.  Each kernels/cuda/*.cu except device.cu
# is rewritten (kernel launches -> loops, scripts/cuda-emu/launch_rewrite.py)
# and compiled as C++ against scripts/cuda-emu/cuda_runtime.h, then linked
# with test_cuda's object and the build's libraries in place of the real
# device code.  This checks index maths, operation order, buffer handling and
# the host logic of the CUDA path against REF bit for bit; it cannot check
# real device arithmetic (--fmad=false, denormals) -- scripts/gpu-check.sh on
# a GPU does.  Takes about a minute (the codec tests run the network
# "on the GPU" one emulated thread at a time).
set -eu
BUILD=$(cd "${1:?usage: scripts/cuda-emu-check.sh BUILD_DIR [criterion args]}" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EMU=$ROOT/scripts/cuda-emu
WORK=$BUILD/cuda-emu
LINK=$BUILD/tests/CMakeFiles/test_cuda.dir/link.txt
[ -f "$LINK" ] || { echo "cuda-emu-check: $BUILD has no CUDA test_cuda (configure with -DVDMZIP_CUDA=ON and build test_cuda)" >&2; exit 1; }
mkdir -p "$WORK"
CXX=${CXX:-g++}
OBJS=""
for cu in "$ROOT"/kernels/cuda/*.cu; do
    b=$(basename "$cu" .cu)
    [ "$b" = device ] && continue
    python3 "$EMU/launch_rewrite.py" "$cu" "$WORK/$b.cpp"
    "$CXX" -std=c++17 -O2 -ffp-contract=off -fno-fast-math -Wall -Wno-unused-parameter \
        -I"$EMU" -I"$ROOT" -c "$WORK/$b.cpp" -o "$WORK/$b.o"
    OBJS="$OBJS $WORK/$b.o"
done
"$CXX" -std=c++17 -O2 -I"$EMU" -c "$EMU/emu_main.cpp" -o "$WORK/emu_main.o"
OBJS="$OBJS $WORK/emu_main.o"
# test_cuda's own link line, with the emulated objects in front of the
# libraries (so the archive's real CUDA objects are never pulled in).
cmd=$(sed -e "s#@CMakeFiles/test_cuda.dir/objects1#CMakeFiles/test_cuda.dir/test_cuda.c.o $OBJS#" \
          -e "s#-o test_cuda #-o $WORK/test_cuda_emu #" "$LINK")
(cd "$BUILD/tests" && eval "$cmd")
cd "$BUILD" && exec "$WORK/test_cuda_emu" --jobs 1 "$@"
