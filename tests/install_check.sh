#!/bin/sh
# install_check.sh — install a built tree to a temporary prefix and use it as
# a new user would:
#   * the installed files (library + SONAME links, only vdmzip.h, vdmzip.pc,
#     the CMake package, the program, the default model, the man page);
#   * libvdmzip.so exports vdmzip_* and nothing else;
#   * examples/roundtrip.c built with `cc ... $(pkg-config --cflags --libs
#     vdmzip)` (shared) and `pkg-config --static` (libvdmzip.a), and as a
#     find_package(vdmzip) project, each run to an exact round trip;
#   * the installed program, from another folder with $VDMZIP_MODEL unset,
#     finds the installed model, codes with it and decodes to the same pixels;
#   * the man page formats without warnings.
# usage: install_check.sh BUILD_DIR SOURCE_DIR      ($CC: the C compiler, default cc)
# Registered with CTest as "install"; needs nothing from configure time.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
CC=${CC:-cc}
CMAKE=${CMAKE:-cmake}
vec="$src/tests/vectors"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdmzip-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
P="$tmp/prefix"
fail() { echo "install_check: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
unset VDMZIP_MODEL

step "cmake --install $build --prefix $P"
"$CMAKE" --install "$build" --prefix "$P" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }

pc=$(find "$P" -name vdmzip.pc | head -n 1)
[ -n "$pc" ] || fail "no vdmzip.pc installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
for f in bin/vdmzip include/vdmzip.h share/vdmzip/default.vdm share/man/man1/vdmzip.1; do
    [ -f "$P/$f" ] || fail "$f not installed"
done
for f in libvdmzip.so libvdmzip.so.0 libvdmzip.a cmake/vdmzip/vdmzipConfig.cmake \
         cmake/vdmzip/vdmzipConfigVersion.cmake cmake/vdmzip/vdmzipTargets.cmake; do
    [ -e "$libdir/$f" ] || fail "$libdir/$f not installed"
done
[ "$(ls "$P/include")" = "vdmzip.h" ] || fail "headers other than vdmzip.h installed: $(ls "$P/include")"
cmp -s "$P/share/vdmzip/default.vdm" "$src/models/default.vdm" || fail "installed model differs from models/default.vdm"

step "exports and SONAME of $(readlink -f "$libdir/libvdmzip.so")"
soname=$(objdump -p "$libdir/libvdmzip.so" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = "libvdmzip.so.0" ] || fail "SONAME is '$soname', not libvdmzip.so.0"
nm -D --defined-only "$libdir/libvdmzip.so" | awk 'NF >= 3 { print $3 }' >"$tmp/exports"
n=$(wc -l <"$tmp/exports")
other=$(grep -v '^vdmzip_' "$tmp/exports" || true)
[ -z "$other" ] || fail "libvdmzip.so exports more than vdmzip_*: $other"
[ "$n" -gt 20 ] || fail "only $n symbols exported"
echo "   $n symbols, all vdmzip_*"
nm -g --defined-only "$libdir/libvdmzip.a" 2>/dev/null | awk 'NF >= 3 && $3 !~ /^vdmzip_/ { print $3 }' >"$tmp/static_other"
if [ -s "$tmp/static_other" ]; then
    echo "   note: libvdmzip.a has $(wc -l <"$tmp/static_other") global non-vdmzip_ symbols (not localized)"
fi

export PKG_CONFIG_PATH="$pcdir"
mkdir "$tmp/work"
cd "$tmp/work"    # nothing below may depend on the source or build folder being the cwd

step "pkg-config, shared: $CC roundtrip.c \$(pkg-config --cflags --libs vdmzip)"
# shellcheck disable=SC2046
"$CC" "$src/examples/roundtrip.c" $(pkg-config --cflags --libs vdmzip) -o "$tmp/rt_shared" || fail "shared build"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/rt_shared" "$vec/model_80x72.png" >"$tmp/rt.out" ||
    { cat "$tmp/rt.out"; fail "roundtrip (shared) on model_80x72.png"; }
cat "$tmp/rt.out"
LD_LIBRARY_PATH="$libdir" ldd "$tmp/rt_shared" | grep -q "$libdir/libvdmzip.so.0" || fail "roundtrip did not load the installed libvdmzip.so.0"
# the library finds the model installed beside it (PREFIX/lib/../share/vdmzip)
grep -q "^model: $P/.*share/vdmzip/default.vdm" "$tmp/rt.out" || fail "roundtrip did not use the installed model"
tail -n 1 "$tmp/rt.out" | grep -q "bits/sub-pixel" || fail "roundtrip's last line has no bits per sub-pixel"

step "pkg-config, static: libvdmzip.a and \$(pkg-config --static --libs vdmzip)"
# -l:libvdmzip.a: with libvdmzip.so beside it, -lvdmzip would pick the shared one
# shellcheck disable=SC2046
"$CC" "$src/examples/roundtrip.c" $(pkg-config --static --cflags --libs vdmzip | sed 's/-lvdmzip\b/-l:libvdmzip.a/') \
    -o "$tmp/rt_static" || fail "static build"
if ldd "$tmp/rt_static" | grep -q libvdmzip; then fail "the static build loads libvdmzip.so"; fi
"$tmp/rt_static" "$vec/v1_pal4_meta.png" | tail -n 1 || fail "roundtrip (static) on v1_pal4_meta.png"
"$tmp/rt_static" "$vec/v1_gray16.png" | tail -n 1 || fail "roundtrip (static) on v1_gray16.png"

step "find_package(vdmzip): examples/CMakeLists.txt, shared and static"
for kind in OFF ON; do
    "$CMAKE" -S "$src/examples" -B "$tmp/ex-$kind" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
        -DVDMZIP_EXAMPLES_STATIC=$kind >"$tmp/ex.log" 2>&1 || { cat "$tmp/ex.log"; fail "configure examples (static=$kind)"; }
    "$CMAKE" --build "$tmp/ex-$kind" >"$tmp/ex.log" 2>&1 || { cat "$tmp/ex.log"; fail "build examples (static=$kind)"; }
    "$tmp/ex-$kind/roundtrip" "$vec/v1_rgba8_flat.png" | tail -n 1 || fail "CMake-built roundtrip (static=$kind)"
done

step "the installed program, VDMZIP_MODEL unset, from $tmp/work"
vdmzip="$P/bin/vdmzip"
"$vdmzip" --version
cp "$vec/model_80x72.png" in.png
"$vdmzip" encode -v --model-only in.png -o m.vdz 2>"$tmp/enc.err" || { cat "$tmp/enc.err"; fail "encode"; }
cat "$tmp/enc.err"
grep -q "share/vdmzip/default.vdm" "$tmp/enc.err" || fail "encode -v does not name the installed model"
"$vdmzip" info --json m.vdz >"$tmp/info.json" || fail "info"
grep -q '"needs_model":true' "$tmp/info.json" || fail "m.vdz does not need the model (--model-only)"
"$vdmzip" decode m.vdz -o out.png || fail "decode (needs the installed model)"
# same pixels: the pixel SHA-256 of the decoded PNG, coded again without the
# model, equals the one of the original (stored by the first encode)
"$vdmzip" encode -q --classical-only out.png -o c.vdz || fail "encode --classical-only"
sha() { "$vdmzip" info --json "$1" | sed 's/.*"pixel_sha256":"\([0-9a-f]*\)".*/\1/'; }
a=$(sha m.vdz); b=$(sha c.vdz)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "decoded pixels differ ($a vs $b)"
echo "   pixels identical (SHA-256 $a)"

step "man page"
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$P/share/man/man1/vdmzip.1" 2>"$tmp/man.err" || fail "groff"
    [ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err"; fail "man page warnings"; }
fi
if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$P/share/man/man1/vdmzip.1" 2>/dev/null | grep -q "VDMZIP_MODEL" || fail "man -l"
fi

echo "install_check: OK"
