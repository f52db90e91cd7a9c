#!/bin/sh
# cuda-emu-check.sh BUILD_DIR [criterion args...] — run tests/test_cuda.c (the
# coding path) and tests/test_cuda_train.c (the training backend) against a
# HOST EMULATION of the CUDA kernels and of the cuBLAS calls, on a machine
# without a GPU.
#
# BUILD_DIR must be configured with the CUDA backend (-DVDMZIP_CUDA=ON; nvcc
# present) and have test_cuda and test_cuda_train built.  Each
# kernels/cuda/*.cu except device.cu is rewritten (kernel launches -> loops,
# scripts/cuda-emu/launch_rewrite.py) and compiled as C++ against
# scripts/cuda-emu/cuda_runtime.h and cublas_v2.h (cublasSgemm as a literal
# column-major triple loop), then linked with each test's object and the
# build's libraries in place of the real device code.  This checks index
# maths, operation order, buffer handling, the GEMM operand layouts and the
# host logic of the CUDA paths against REF/CPU; it cannot check real device
# arithmetic (--fmad=false, denormals), cuBLAS itself or concurrency --
# scripts/gpu-check.sh on a GPU does.  Takes a few minutes (test_cuda's codec
# tests run the network "on the GPU" one emulated thread at a time).
# Env: EMU_TESTS (default "cuda cuda_train") picks the test programs.
set -eu
BUILD=$(cd "${1:?usage: scripts/cuda-emu-check.sh BUILD_DIR [criterion args]}" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EMU=$ROOT/scripts/cuda-emu
WORK=$BUILD/cuda-emu
TESTS=${EMU_TESTS:-cuda cuda_train}
for t in $TESTS; do
    [ -f "$BUILD/tests/CMakeFiles/test_$t.dir/link.txt" ] || {
        echo "cuda-emu-check: $BUILD has no CUDA test_$t (configure with -DVDMZIP_CUDA=ON and build test_$t)" >&2
        exit 1
    }
done
mkdir -p "$WORK"
CXX=${CXX:-g++}
OBJS=""
for cu in "$ROOT"/kernels/cuda/*.cu; do
    b=$(basename "$cu" .cu)
    [ "$b" = device ] && continue
    python3 "$EMU/launch_rewrite.py" "$cu" "$WORK/$b.cpp"
    # a 4096-float im2col buffer: the tests' small batches run in many chunks
    "$CXX" -std=c++17 -O2 -ffp-contract=off -fno-fast-math -Wall -Wno-unused-parameter \
        -DVDM_CU_COL_FLOATS=4096 -I"$EMU" -I"$ROOT" -c "$WORK/$b.cpp" -o "$WORK/$b.o"
    OBJS="$OBJS $WORK/$b.o"
done
"$CXX" -std=c++17 -O2 -I"$EMU" -c "$EMU/emu_main.cpp" -o "$WORK/emu_main.o"
OBJS="$OBJS $WORK/emu_main.o"
# Each test's own link line, with the emulated objects in front of the
# libraries (so the archive's real CUDA objects are never pulled in).
FAIL=0
for t in $TESTS; do
    LINK=$BUILD/tests/CMakeFiles/test_$t.dir/link.txt
    cmd=$(sed -e "s#@CMakeFiles/test_$t.dir/objects1#CMakeFiles/test_$t.dir/test_$t.c.o $OBJS#" \
              -e "s#-o test_$t #-o $WORK/test_${t}_emu #" "$LINK")
    (cd "$BUILD/tests" && eval "$cmd")
    echo "cuda-emu-check: test_$t under the host emulation"
    (cd "$BUILD" && "$WORK/test_${t}_emu" --jobs 1 "$@") || FAIL=1
done
exit $FAIL
