#!/bin/sh
# jxl_max.sh FOLDER OUTDIR — cjxl at maximum effort (issue #13's settings,
# `cjxl -d 0 -e 9 -E 3 -I 100 -g 3`, one thread) on every PNG of FOLDER: per
# image its bytes, bits per sub-pixel and encode CPU seconds (user + sys),
# the round trip decoded with djxl and compared pixel for pixel
# (bench_pngdiff; PNGDIFF overrides its path).  heldback_jxl_max.txt was
# written by an earlier version of this script whose time output went to
# /dev/null (its "cpu" field is empty).
set -eu
D=${1:?usage: jxl_max.sh FOLDER OUTDIR}; OUT=${2:?usage: jxl_max.sh FOLDER OUTDIR}
PNGDIFF=${PNGDIFF:-$(ls -t build*/benchmarks/bench_pngdiff 2>/dev/null | head -1)}
mkdir -p "$OUT"
for f in "$D"/*.png; do
  n=$(basename "$f" .png)
  /usr/bin/time -f "%U %S" -o "$OUT/$n.time" cjxl -d 0 -e 9 -E 3 -I 100 -g 3 --num_threads=0 "$f" "$OUT/$n.jxl" >/dev/null 2>&1
  djxl "$OUT/$n.jxl" "$OUT/$n.dec.png" --num_threads=0 >/dev/null 2>&1
  ok=FAIL
  "$PNGDIFF" "$f" "$OUT/$n.dec.png" >/dev/null 2>&1 && ok=ok
  b=$(stat -c %s "$OUT/$n.jxl")
  dims=$(python3 -c "from PIL import Image; im=Image.open('$f'); print(im.size[0]*im.size[1]*len(im.getbands()))")
  echo "$n $b $(echo "$b $dims" | awk '{printf "%.4f", 8*$1/$2}') cpu $(awk '{printf "%.2f", $1+$2}' "$OUT/$n.time") $ok"
  rm -f "$OUT/$n.dec.png"
done
