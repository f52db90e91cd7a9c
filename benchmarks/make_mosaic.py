#!/usr/bin/env python3
"""make_mosaic.py -- a large RGB test image for memory and time at scale.

usage: make_mosaic.py PHOTO_DIR OUT.png [WIDTH HEIGHT]

Tiles every *.png of PHOTO_DIR (sorted by name) into a grid of 8 columns,
as many rows as needed, each photo scaled to cover its cell and
centre-cropped; default size 8660 x 5775 (50.0 megapixels, the size of the
mosaic of sessions 5 and 8).  Needs Pillow (python3-pil).  The photos are
resampled, so the mosaic's bits per sub-pixel is not any photo's: it is a
size test, not a compression benchmark."""
import glob
import os
import sys

from PIL import Image


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    width, height = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) == 5 else (8660, 5775)
    files = sorted(glob.glob(os.path.join(src, "*.png")))
    if not files:
        sys.exit("make_mosaic.py: no *.png in %s" % src)
    cols = 8
    rows = (len(files) + cols - 1) // cols
    mosaic = Image.new("RGB", (width, height))
    for i, f in enumerate(files):
        r, c = divmod(i, cols)
        x0, x1 = c * width // cols, (c + 1) * width // cols
        y0, y1 = r * height // rows, (r + 1) * height // rows
        cw, ch = x1 - x0, y1 - y0
        im = Image.open(f).convert("RGB")
        s = max(cw / im.width, ch / im.height)
        im = im.resize((max(cw, round(im.width * s)), max(ch, round(im.height * s))), Image.LANCZOS)
        left, top = (im.width - cw) // 2, (im.height - ch) // 2
        mosaic.paste(im.crop((left, top, left + cw, top + ch)), (x0, y0))
    tmp = out + ".tmp.png"
    mosaic.save(tmp, compress_level=6)
    os.replace(tmp, out)
    print("%s: %d x %d from %d photos" % (out, width, height, len(files)))


if __name__ == "__main__":
    main()
