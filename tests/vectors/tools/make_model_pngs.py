# make_model_pngs.py — source PNGs of the model-path golden vectors
# (tests/test_golden_model.c): crops of Kodak images (unrestricted licence):
# from kodim23 one RGB 80x72 (partial edge tiles) and one RGBA 37x23 (alpha
# goes to the classical coder); from kodim20 one RGB 144x100 whose tiles split
# between CM (method 2, effort 0) and the model under --tiles choose.  Run from the repository root:
#   python3 tests/vectors/tools/make_model_pngs.py ../shared/data/kodak/kodim23.png ../shared/data/kodak/kodim20.png
import struct, sys, zlib

def read_rgb8(p):
    d = open(p, 'rb').read(); i = 8; idat = b''
    while i < len(d):
        n, = struct.unpack('>I', d[i:i+4]); t = d[i+4:i+8]; c = d[i+8:i+8+n]; i += 12 + n
        if t == b'IHDR': w, h, bd, ct, _, _, il = struct.unpack('>IIBBBBB', c)
        elif t == b'IDAT': idat += c
    assert bd == 8 and ct == 2 and il == 0
    raw = zlib.decompress(idat); st = w * 3; rows = []; prev = bytearray(st)
    for y in range(h):
        f = raw[y*(st+1)]; ln = bytearray(raw[y*(st+1)+1:(y+1)*(st+1)])
        for x in range(st):
            a = ln[x-3] if x >= 3 else 0; b = prev[x]; c = prev[x-3] if x >= 3 else 0
            if f == 1: ln[x] = (ln[x] + a) & 255
            elif f == 2: ln[x] = (ln[x] + b) & 255
            elif f == 3: ln[x] = (ln[x] + (a + b) // 2) & 255
            elif f == 4:
                p_ = a + b - c; pa, pb, pc = abs(p_-a), abs(p_-b), abs(p_-c)
                ln[x] = (ln[x] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
        rows.append(bytes(ln)); prev = ln
    return w, h, rows

def write_png(p, w, h, ct, rows):
    def chunk(t, c): return struct.pack('>I', len(c)) + t + c + struct.pack('>I', zlib.crc32(t + c) & 0xffffffff)
    raw = b''.join(b'\x00' + r for r in rows)
    open(p, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, ct, 0, 0, 0))
                        + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))

w, h, rows = read_rgb8(sys.argv[1])
write_png('tests/vectors/model_80x72.png', 80, 72, 2, [r[300*3:380*3] for r in rows[200:272]])
rgba = []
for y, r in enumerate(rows[100:123]):
    px = r[500*3:537*3]
    rgba.append(b''.join(px[3*x:3*x+3] + bytes([(x * 7 + y * 11) & 255]) for x in range(37)))
write_png('tests/vectors/model_rgba_37x23.png', 37, 23, 6, rgba)

w, h, rows = read_rgb8(sys.argv[2])
write_png('tests/vectors/model_mixed_144x100.png', 144, 100, 2, [r[192*3:336*3] for r in rows[256:356]])
