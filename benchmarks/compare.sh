#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016  # "test && test || die" is intended; backticks are markdown
# compare.sh — vdmzip side by side with classical lossless codecs, one run,
# one machine, every round trip verified pixel for pixel.
#
# usage: benchmarks/compare.sh [options] FOLDER
#   FOLDER             PNG files to code (*.png, sorted by name)
#   --quick            faster peer settings: optipng -o2, cwebp -z 6, cjxl -e 7
#                      (default: optipng -o7, cwebp -z 9, cjxl -e 9)
#   --optipng-level L  optipng -oL (overrides the default or --quick level)
#   --webp-z Z         cwebp -z Z          --jxl-effort E   cjxl -e E
#   --model M          vdmzip --model M    --steps T        vdmzip --steps T
#   --classical-only   vdmzip --classical-only (the classical coder only;
#                      --fallback-only, its old name, is still accepted)
#   --effort E         vdmzip --effort E (classical coder effort 0..2)
#   --threads N        threads for every coder that has them: vdmzip --threads,
#                      cjxl/djxl --num_threads, cwebp/dwebp -mt (N > 1);
#                      optipng is single-threaded.  Default 1, so every coder
#                      is measured on one core.
#   --codecs LIST      comma list out of vdmzip,png,webp,jxl (default: all)
#   --out DIR          where results go (default: out/compare of this
#                      checkout, which git ignores)
#   --limit N          only the first N images
#   --vdmzip PATH      the vdmzip binary (default: $VDMZIP, else build/vdmzip,
#                      else the newest build*/vdmzip of this checkout)
#   --pngdiff PATH     the verifier (default: $BENCH_PNGDIFF, else
#                      build*/benchmarks/bench_pngdiff next to the vdmzip used)
#   --keep             keep the coded and decoded files (DIR/work/)
# Writes DIR/results.md (tables), DIR/results.csv (one row per image and
# codec) and DIR/bpsp_vs_time.png (gnuplot; skipped with a note if gnuplot is
# missing).
#
# The peers are Debian packages optipng, webp and libjxl-tools (plus
# gnuplot-nox and time); `scripts/setup-debian.sh --bench` installs them.  A
# missing peer is skipped with a note.
#
# What is measured, per image and codec:
#   bytes     size of the compressed file;
#   bpsp      8 * bytes / (width * height * channels), channels as the input
#             PNG stores them (3 for RGB, 1 for a palette index);
#   encode s  wall seconds of the encoder command (PNG in, file out);
#   decode s  wall seconds of the decoder command writing a PNG (dwebp, djxl,
#             vdmzip decode).  For optipng the file IS a PNG: its decode time
#             is bench_pngdiff --info, i.e. libpng decoding to memory, which
#             does not pay for writing a PNG as the others do;
#   cpu s     user+sys seconds of the same commands (when GNU time exists).
# Every decoded image is compared with the input by bench_pngdiff (16-bit
# RGBA expansion, exact).  A failed encode, decode or comparison is printed
# loudly, marked FAIL in the tables, left out of that codec's means, and makes
# the script exit 1 at the end.  Exit 2: usage or setup error.
#
# Notes on fairness: optipng runs without -force, so like a user's run it
# leaves the input unchanged when it cannot shrink it (the PNG column is
# min(input, optipng)).  cwebp gets -exact, without which it rewrites the
# colour of fully transparent pixels (not lossless for RGBA data).
# Timings are wall clock: on a shared machine they are noisy; the load
# average before and after the run is written into results.md.
set -u
export LC_ALL=C

die() { echo "compare.sh: $*" >&2; exit 2; }
note() { echo "compare.sh: $*" >&2; }

script_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$script_dir/.." && pwd)

quick=0; opt_level=""; webp_z=""; jxl_e=""; model=""; steps=""; threads=1
classical_only=0; effort=""; codecs="vdmzip,png,webp,jxl"; out=""; limit=0
vdmzip="${VDMZIP:-}"; pngdiff="${BENCH_PNGDIFF:-}"; keep=0; folder=""

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --optipng-level) need_arg "$@"; opt_level=$2; shift ;;
    --webp-z) need_arg "$@"; webp_z=$2; shift ;;
    --jxl-effort) need_arg "$@"; jxl_e=$2; shift ;;
    --model) need_arg "$@"; model=$2; shift ;;
    --steps) need_arg "$@"; steps=$2; shift ;;
    --threads) need_arg "$@"; threads=$2; shift ;;
    --classical-only|--fallback-only) classical_only=1 ;;
    --effort) need_arg "$@"; effort=$2; shift ;;
    --codecs) need_arg "$@"; codecs=$2; shift ;;
    --out) need_arg "$@"; out=$2; shift ;;
    --limit) need_arg "$@"; limit=$2; shift ;;
    --vdmzip) need_arg "$@"; vdmzip=$2; shift ;;
    --pngdiff) need_arg "$@"; pngdiff=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$folder" ] || die "only one FOLDER"; folder=$1 ;;
  esac
  shift
done
if [ $# -gt 0 ]; then [ -z "$folder" ] && [ $# -eq 1 ] || die "only one FOLDER"; folder=$1; fi
[ -n "$folder" ] || die "no FOLDER given (see --help)"
[ -d "$folder" ] || die "$folder is not a folder"

is_uint() { case "$1" in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }
is_uint "$limit" || die "--limit wants a number"
is_uint "$threads" && [ "$threads" -ge 1 ] || die "--threads wants a number >= 1"
[ $quick = 1 ] && def_o=2 def_z=6 def_e=7 || def_o=7 def_z=9 def_e=9
opt_level=${opt_level:-$def_o}; webp_z=${webp_z:-$def_z}; jxl_e=${jxl_e:-$def_e}
is_uint "$opt_level" && is_uint "$webp_z" && is_uint "$jxl_e" || die "levels must be numbers"

# ---- tools -------------------------------------------------------------------
# shellcheck disable=SC2012  # the newest build; checkout paths have no newlines
if [ -z "$vdmzip" ]; then
  if [ -x "$repo/build/vdmzip" ]; then vdmzip="$repo/build/vdmzip"
  else vdmzip=$(ls -t "$repo"/build*/vdmzip 2>/dev/null | head -n 1); fi
fi
[ -n "$vdmzip" ] && [ -x "$vdmzip" ] ||
  die "no vdmzip binary; build one (cmake -S . -B build && cmake --build build) or pass --vdmzip"
if [ -z "$pngdiff" ]; then
  for c in "$(dirname "$vdmzip")/benchmarks/bench_pngdiff" "$repo/build/benchmarks/bench_pngdiff" \
           $(ls -t "$repo"/build*/benchmarks/bench_pngdiff 2>/dev/null); do
    [ -x "$c" ] && { pngdiff=$c; break; }
  done
fi
[ -n "$pngdiff" ] && [ -x "$pngdiff" ] ||
  die "no bench_pngdiff (built with the benchmarks: cmake --build build --target bench_pngdiff) or pass --pngdiff"
gtime=""; [ -x /usr/bin/time ] && /usr/bin/time -f %e true 2>/dev/null && gtime=/usr/bin/time

have() { command -v "$1" >/dev/null 2>&1; }
enabled=()
skipped_notes=()
IFS=, read -r -a wanted <<<"$codecs"
for c in "${wanted[@]}"; do
  case "$c" in
    vdmzip) enabled+=(vdmzip) ;;
    png) if have optipng; then enabled+=(png)
         else skipped_notes+=("optipng not installed: PNG column skipped (scripts/setup-debian.sh --bench)"); fi ;;
    webp) if have cwebp && have dwebp; then enabled+=(webp)
          else skipped_notes+=("cwebp/dwebp not installed: WebP column skipped (scripts/setup-debian.sh --bench)"); fi ;;
    jxl) if have cjxl && have djxl; then enabled+=(jxl)
         else skipped_notes+=("cjxl/djxl not installed: JPEG XL column skipped (scripts/setup-debian.sh --bench)"); fi ;;
    *) die "unknown codec '$c' in --codecs (vdmzip,png,webp,jxl)" ;;
  esac
done
for n in "${skipped_notes[@]+"${skipped_notes[@]}"}"; do note "$n"; done
[ ${#enabled[@]} -gt 0 ] || die "no codec left to run"

# ---- the command lines ---------------------------------------------------------
vdm_enc_opts=(-f -v)
[ -n "$model" ] && vdm_enc_opts+=(--model "$model")
[ -n "$steps" ] && vdm_enc_opts+=(--steps "$steps")
[ "$classical_only" = 1 ] && vdm_enc_opts+=(--classical-only)
[ -n "$effort" ] && vdm_enc_opts+=(--effort "$effort")
vdm_enc_opts+=(--threads "$threads")
vdm_dec_opts=(-f -v --threads "$threads")
[ -n "$model" ] && vdm_dec_opts+=(--model "$model")
# libjxl: 0 = no worker threads (one core), N = N workers
jxl_threads=$([ "$threads" -gt 1 ] && echo "$threads" || echo 0)
webp_mt=(); [ "$threads" -gt 1 ] && webp_mt=(-mt)

settings_of() {
  case "$1" in
    vdmzip) echo "vdmzip encode ${vdm_enc_opts[*]:2}" ;;
    png) echo "optipng -o$opt_level" ;;
    webp) echo "cwebp -lossless -exact -z $webp_z${webp_mt:+ -mt}" ;;
    jxl) echo "cjxl -d 0 -e $jxl_e --num_threads=$jxl_threads" ;;
  esac
}
label_of() {
  case "$1" in vdmzip) echo "vdmzip" ;; png) echo "PNG (optipng)" ;; webp) echo "WebP lossless" ;; jxl) echo "JPEG XL" ;; esac
}
ext_of() { case "$1" in vdmzip) echo vdz ;; png) echo png ;; webp) echo webp ;; jxl) echo jxl ;; esac; }

# ---- files ------------------------------------------------------------------------
images=()
while IFS= read -r -d '' f; do images+=("$f"); done < <(find "$folder" -maxdepth 1 -type f \( -name '*.png' -o -name '*.PNG' \) -print0 | sort -z)
[ ${#images[@]} -gt 0 ] || die "no *.png in $folder"
if [ "$limit" -gt 0 ] && [ "$limit" -lt ${#images[@]} ]; then images=("${images[@]:0:$limit}"); fi

out=${out:-$repo/out/compare}
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
work="$out/work"
rm -rf "$work"; mkdir -p "$work" || die "cannot create $work"
csv="$out/results.csv"; md="$out/results.md"; plot="$out/bpsp_vs_time.png"

# run_timed LOGFILE CMD... : runs CMD with stdout+stderr into LOGFILE; sets
# T_WALL (seconds), T_CPU (user+sys seconds or "") and returns CMD's status.
T_WALL=0; T_CPU=""
run_timed() {
  local lf=$1; shift
  local t0 t1 rc tf="$work/time.txt"
  t0=$EPOCHREALTIME
  if [ -n "$gtime" ]; then
    "$gtime" -f "%U %S" -o "$tf" "$@" >"$lf" 2>&1; rc=$?
  else
    "$@" >"$lf" 2>&1; rc=$?
  fi
  t1=$EPOCHREALTIME
  T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  T_CPU=""
  if [ -n "$gtime" ] && [ -s "$tf" ]; then
    T_CPU=$(awk 'NF==2 && $1 ~ /^[0-9.]+$/ {printf "%.2f", $1+$2}' "$tf" | tail -n 1)
  fi
  return $rc
}

failures=0
loud_fail() {  # codec image stage logfile
  failures=$((failures + 1))
  {
    echo "################################################################"
    echo "### ROUND TRIP FAILED: $1 on $2 ($3)"
    [ -f "$4" ] && sed 's/^/###   /' "$4" | tail -n 8
    echo "################################################################"
  } >&2
}

# vdmzip's coder path from its -v output (the CLI prints "-VLB n/a: classical
# coder ..." or "-VLB X bits/sub-pixel (gap Y%)", and the methods of its
# sections); `vdmzip info --json` is the backup if that wording changes.
vdm_path() {  # encoder log, .vdz
  local lf=$1 vdz=$2 p="" m gap
  if grep -q -- '-VLB n/a: classical coder' "$lf"; then
    m=$(sed -n 's/.*classical [0-9]* B (method \([^)]*\)).*/\1/p' "$lf" | head -n 1)
    p="classical${m:+:$m}"
  elif grep -q -- '-VLB [0-9]' "$lf"; then
    gap=$(sed -n 's/.*-VLB \([0-9.]*\) bits\/sub-pixel (gap \([^)]*\)).*/vlb \1 gap \2/p' "$lf" | head -n 1)
    p="model${gap:+ ($gap)}"
  fi
  if [ -z "$p" ]; then
    local js
    js=$("$vdmzip" info --json "$vdz" 2>/dev/null)
    case "$js" in
      *'"needs_model":true'*) p="model" ;;
      *'"needs_model":false'*) p="classical:$(printf '%s' "$js" | grep -o '"method":"[a-z0-9_]*","channel_mask"' | cut -d'"' -f4 | paste -sd+ -)" ;;
      *) p="unknown" ;;
    esac
  fi
  printf '%s' "$p"
}

echo "image,width,height,channels,codec,settings,bytes,bpsp,enc_wall_s,dec_wall_s,enc_cpu_s,dec_cpu_s,roundtrip,path" >"$csv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
t_start=$EPOCHREALTIME
note "$(printf '%d images, codecs: %s; vdmzip = %s' ${#images[@]} "${enabled[*]}" "$vdmzip")"

for img in "${images[@]}"; do
  name=$(basename "$img")
  stem=${name%.*}
  if ! dims=$("$pngdiff" --info "$img" 2>"$work/info.err"); then
    note "skipping $name: not a readable PNG ($(cat "$work/info.err"))"
    continue
  fi
  read -r w h ch _ <<<"$dims"
  subpx=$((w * h * ch))
  for c in "${enabled[@]}"; do
    enc="$work/$stem.$c.$(ext_of "$c")"
    back="$work/$stem.$c.back.png"
    rm -f "$enc" "$back"
    elog="$work/$stem.$c.enc.log"; dlog="$work/$stem.$c.dec.log"; vlog="$work/$stem.$c.cmp.log"
    status=ok; path=""; bytes=""; bpsp=""; ew=""; dw=""; ec=""; dc=""
    case "$c" in
      vdmzip) run_timed "$elog" "$vdmzip" encode "$img" -o "$enc" "${vdm_enc_opts[@]}" ;;
      png) run_timed "$elog" optipng -o"$opt_level" -quiet -clobber -out "$enc" -- "$img" ;;
      webp) run_timed "$elog" cwebp -quiet -lossless -exact -z "$webp_z" "${webp_mt[@]+"${webp_mt[@]}"}" "$img" -o "$enc" ;;
      jxl) run_timed "$elog" cjxl "$img" "$enc" -d 0 -e "$jxl_e" --num_threads="$jxl_threads" --quiet ;;
    esac
    erc=$?; ew=$T_WALL; ec=$T_CPU
    if [ $erc -ne 0 ] || [ ! -s "$enc" ]; then
      status=FAIL-encode; loud_fail "$c" "$name" "encoder exit $erc" "$elog"
    else
      bytes=$(wc -c <"$enc" | tr -d ' ')
      bpsp=$(awk -v b="$bytes" -v n="$subpx" 'BEGIN{printf "%.4f", 8*b/n}')
      [ "$c" = vdmzip ] && path=$(vdm_path "$elog" "$enc")
      case "$c" in
        vdmzip) run_timed "$dlog" "$vdmzip" decode "$enc" -o "$back" "${vdm_dec_opts[@]}" ;;
        png) run_timed "$dlog" "$pngdiff" --info "$enc"; cp "$enc" "$back" ;;
        webp) run_timed "$dlog" dwebp -quiet "${webp_mt[@]+"${webp_mt[@]}"}" "$enc" -o "$back" ;;
        jxl) run_timed "$dlog" djxl "$enc" "$back" --num_threads="$jxl_threads" --quiet ;;
      esac
      drc=$?; dw=$T_WALL; dc=$T_CPU
      if [ $drc -ne 0 ] || [ ! -s "$back" ]; then
        status=FAIL-decode; loud_fail "$c" "$name" "decoder exit $drc" "$dlog"
      elif ! "$pngdiff" "$img" "$back" >"$vlog" 2>&1; then
        status=FAIL-pixels; loud_fail "$c" "$name" "decoded pixels differ" "$vlog"
      fi
    fi
    sett=$(settings_of "$c")
    printf '%s,%s,%s,%s,%s,"%s",%s,%s,%s,%s,%s,%s,%s,%s\n' "${name//,/;}" "$w" "$h" "$ch" "$c" "${sett//,/;}" \
      "$bytes" "$bpsp" "$ew" "$dw" "$ec" "$dc" "$status" "${path//,/;}" >>"$csv"
    printf '  %-14s %-7s %9s B  %7s bpsp  enc %7ss  dec %7ss  %s %s\n' "$name" "$c" "${bytes:--}" "${bpsp:--}" \
      "${ew:--}" "${dw:--}" "$status" "$path" >&2
    [ $keep = 1 ] || rm -f "$back"
  done
done
t_total=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}')
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# ---- tables ---------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
ver_of() {
  case "$1" in
    vdmzip) "$vdmzip" -V 2>/dev/null | head -n 1 ;;
    png) optipng -v 2>/dev/null | head -n 1 ;;
    webp) echo "libwebp $(cwebp -version 2>/dev/null | head -n 1)" ;;
    jxl) cjxl --version 2>/dev/null | head -n 1 ;;
  esac
}
paths=$(awk -F, 'NR>1 && $5=="vdmzip" && $14!="" {sub(/ \(.*/, "", $14); print $14}' "$csv" | sort | uniq -c | awk '{c=$1; $1=""; printf "%s%s x%s", sep, substr($0,2), c; sep="; "}')

{
  echo "# vdmzip vs classical lossless codecs"
  echo
  echo "- images: ${#images[@]} PNGs from \`$folder\`$([ "$limit" -gt 0 ] && echo " (--limit $limit)")"
  echo "- machine: $(nproc 2>/dev/null || echo '?') cores, ${cpu:-unknown CPU}; load average before $load_before, after $load_after; run took ${t_total} s"
  echo "- threads: $threads per coder (optipng always 1)"
  for c in "${enabled[@]}"; do echo "- $(label_of "$c"): \`$(settings_of "$c")\` — $(ver_of "$c")"; done
  [ -n "$paths" ] && echo "- vdmzip coder path (from \`-v\`): $paths"
  for n in "${skipped_notes[@]+"${skipped_notes[@]}"}"; do echo "- skipped: $n"; done
  echo "- bpsp = file bits / (width × height × channels); times are wall seconds of one run of each"
  echo "  command (decode = decoder writing a PNG; for PNG itself libpng decoding to memory)."
  echo "  Every round trip was decoded and compared pixel for pixel with the input (bench_pngdiff)."
  echo
} >"$md"

# awk does the arithmetic: means over the images a codec coded correctly,
# ratios against the best (lowest mean bpsp) classical peer.
awk -F, -v order="${enabled[*]}" -v md="$md" -v dat="$work/summary.dat" '
function label(c) { return c=="vdmzip" ? "vdmzip" : c=="png" ? "PNG (optipng)" : c=="webp" ? "WebP lossless" : "JPEG XL" }
NR == 1 { next }
{
  img = $1; c = $5
  if (!(img in seen)) { seen[img] = 1; imgs[++ni] = img; dims[img] = $2 "×" $3 "×" $4 }
  stat[img, c] = $13; bp[img, c] = $8; by[img, c] = $7
  ew[img, c] = $9; dw[img, c] = $10; ecp[img, c] = $11; dcp[img, c] = $12
  if ($13 == "ok") nok[c]++; else nfail[c]++
}
END {
  nc = split(order, cs, " ")
  # Means compare like with like: over the images EVERY codec coded
  # losslessly; only if there is none, each codec over its own successes.
  ncommon = 0
  for (k = 1; k <= ni; k++) {
    all = 1
    for (i = 1; i <= nc; i++) if (stat[imgs[k], cs[i]] != "ok") all = 0
    common[imgs[k]] = all; ncommon += all
  }
  for (k = 1; k <= ni; k++) for (i = 1; i <= nc; i++) {
    img = imgs[k]; c = cs[i]
    if (stat[img, c] != "ok" || (ncommon > 0 && !common[img])) continue
    n[c]++; sb[c] += bp[img, c]; tb[c] += by[img, c]; se[c] += ew[img, c]; sd[c] += dw[img, c]
    if (ecp[img, c] != "") { sec[c] += ecp[img, c]; nec[c]++ }
    if (dcp[img, c] != "") { sdc[c] += dcp[img, c]; ndc[c]++ }
  }
  best = ""
  for (i = 1; i <= nc; i++) { c = cs[i]; if (n[c] > 0) mb[c] = sb[c] / n[c] }
  for (i = 1; i <= nc; i++) { c = cs[i]; if (c != "vdmzip" && n[c] > 0 && (best == "" || mb[c] < mb[best])) best = c }
  print "## Summary" >> md
  print "" >> md
  if (ncommon == ni) printf "Means over all %d images.\n\n", ni >> md
  else if (ncommon > 0) printf "Means over the **%d of %d** images that every codec round-tripped losslessly.\n\n", ncommon, ni >> md
  else printf "**No image was round-tripped losslessly by every codec**: each mean is over that codec'"'"'s own successes, so the means are not comparable.\n\n" >> md
  printf "| codec | mean bpsp | bpsp / best peer | total bytes | mean encode s | encode s / best peer | mean decode s | mean encode CPU s | mean decode CPU s | round trips ok |\n" >> md
  printf "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" >> md
  for (i = 1; i <= nc; i++) {
    c = cs[i]
    okc = nfail[c] ? sprintf("%d/%d **FAIL %d**", nok[c], ni, nfail[c]) : sprintf("%d/%d", nok[c], ni)
    if (n[c] == 0) { printf "| %s | – | – | – | – | – | – | – | – | %s |\n", label(c), okc >> md; continue }
    me = se[c] / n[c]; md_ = sd[c] / n[c]
    rb = best != "" ? sprintf("%.3f", mb[c] / mb[best]) : "–"
    rt = (best != "" && se[best] > 0) ? sprintf("%.2f", me / (se[best] / n[best])) : "–"
    ecpu = nec[c] ? sprintf("%.2f", sec[c] / nec[c]) : "–"
    dcpu = ndc[c] ? sprintf("%.2f", sdc[c] / ndc[c]) : "–"
    printf "| %s | %.4f | %s | %d | %.3f | %s | %.3f | %s | %s | %s |\n", label(c), mb[c], rb, tb[c], me, rt, md_, ecpu, dcpu, okc >> md
    # columns: label, mean wall s, mean bpsp, mean CPU s (NaN: no GNU time)
    printf "\"%s\"\t%.6f\t%.6f\t%s\n", label(c), me, mb[c], nec[c] ? sprintf("%.6f", sec[c] / nec[c]) : "NaN" > dat
  }
  if (best != "") printf "\nBest classical peer: %s. Ratios below 1 mean smaller files (or faster encoding) than it.\n", label(best) >> md
  print "" >> md
  print "## Per image (bpsp; best of the row in bold)" >> md
  print "" >> md
  hdr = "| image | size |"; sep = "|---|---|"
  for (i = 1; i <= nc; i++) { hdr = hdr " " label(cs[i]) " |"; sep = sep "---:|" }
  print hdr >> md; print sep >> md
  for (k = 1; k <= ni; k++) {
    img = imgs[k]; lo = ""
    for (i = 1; i <= nc; i++) { c = cs[i]; if (stat[img, c] == "ok" && (lo == "" || bp[img, c] + 0 < lo + 0)) lo = bp[img, c] }
    row = "| " img " | " dims[img] " |"
    for (i = 1; i <= nc; i++) {
      c = cs[i]
      if (!((img, c) in stat)) cell = "–"
      else if (stat[img, c] != "ok") cell = stat[img, c]
      else if (bp[img, c] + 0 == lo + 0) cell = "**" bp[img, c] "**"
      else cell = bp[img, c]
      row = row " " cell " |"
    }
    print row >> md
  }
  row = ncommon == ni ? "| **mean** | |" : "| **mean** (see Summary) | |"
  for (i = 1; i <= nc; i++) { c = cs[i]; row = row " " (n[c] ? sprintf("%.4f", mb[c]) : "–") " |" }
  print row >> md
}' "$csv"

# ---- plot -------------------------------------------------------------------------------------
if ! have gnuplot; then
  note "gnuplot not installed: no plot (scripts/setup-debian.sh --bench)"
  printf '\nNo plot: gnuplot is not installed.\n' >>"$md"
elif [ ! -s "$work/summary.dat" ]; then
  printf '\nNo plot: no codec coded any image correctly.\n' >>"$md"
else
  term="pngcairo size 900,600 font 'Sans,11'"
  gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 </dev/null || term="png size 900,600"
  if gnuplot >"$work/gnuplot.log" 2>&1 <<EOF
set terminal $term
set output '$plot'
set title 'Mean bits per sub-pixel vs mean encode time (${#images[@]} images, lower left is better)'
set xlabel 'mean encode seconds per image (log scale)'
set ylabel 'mean bits per sub-pixel'
set logscale x
set grid
set key bottom right
set offsets graph 0.1, graph 0.25, graph 0.1, graph 0.1
plot '$work/summary.dat' using 2:3 with points pt 7 ps 1.6 lc rgb '#1f77b4' title 'wall clock', \
     '' using 4:3 with points pt 6 ps 1.6 lc rgb '#d62728' title 'user+sys CPU', \
     '' using 2:3:1 with labels offset char 1,char 0.8 left notitle
EOF
  then printf '\nPlot: %s (mean bpsp against mean encode seconds, wall and CPU).\n' '`bpsp_vs_time.png`' >>"$md"
  else note "gnuplot failed: $(tail -n 3 "$work/gnuplot.log")"; printf '\nNo plot: gnuplot failed.\n' >>"$md"
  fi
fi

[ $keep = 1 ] || rm -rf "$work"
note "wrote $md, $csv$([ -f "$plot" ] && echo ", $plot")"
if [ $failures -gt 0 ]; then
  echo "compare.sh: $failures ROUND TRIP(S) FAILED — see the ### lines above and the FAIL cells in $md" >&2
  exit 1
fi
exit 0
