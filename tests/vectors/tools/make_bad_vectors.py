# make_bad_vectors.py — derive the invalid / special golden files of
# tests/vectors from vec/v1_rgb8.vdz (see gen_vectors.c for the workflow).
# Each file exercises one rule of format-spec/vdz.md; the expected error is
# listed in tests/test_codec_vectors.c and tests/vectors/README.md.
import struct, zlib, sys
src = open('vec/v1_rgb8_m2.vdz','rb').read()   # the method-2 file (effort 0)
def sections(b):
    out=[]; p=12
    while p < len(b):
        n,=struct.unpack('<I',b[p:p+4]); t=b[p+4:p+8]; out.append((p,t,b[p+8:p+8+n])); p+=12+n
    return out
def sec(t,payload): return struct.pack('<I',len(payload))+t+payload+struct.pack('<I',zlib.crc32(t+payload))
S=sections(src)
hdr=src[:12]
vhdr=[s for s in S if s[1]==b'VHDR'][0][2]
fb=[s for s in S if s[1]==b'FBCK'][0][2]
vend=sec(b'VEND',b'')
def w(name,data): open('vec/'+name,'wb').write(data)
w('bad_truncated.vdz', src[:-5])
b=bytearray(src); b[len(b)//2]^=0x20; w('bad_crc.vdz', bytes(b))
b=bytearray(src); b[8]=2; w('bad_version.vdz', bytes(b))
v=bytearray(vhdr); v[24]^=1; w('bad_pixels.vdz', hdr+sec(b'VHDR',bytes(v))+sec(b'FBCK',fb)+vend)
w('bad_section.vdz', hdr+sec(b'VHDR',vhdr)+sec(b'FBCK',fb)+sec(b'XTRA',b'\x01\x02')+vend)
w('ok_ancillary.vdz', hdr+sec(b'VHDR',vhdr)+sec(b'FBCK',fb)+sec(b'xTRA',b'\x01\x02')+vend)
v=bytearray(vhdr); v[0:4]=struct.pack('<I',70000); w('bad_dims.vdz', hdr+sec(b'VHDR',bytes(v))+sec(b'FBCK',fb)+vend)
w('bad_trailing.vdz', src+b'\0')
# needs a model: flag + id, MODL covering RGB with one empty chain, no FBCK
v=bytearray(vhdr); v[12]=1; mid=bytes(range(32)); v[56:88]=mid
modl = mid + struct.pack('<HBBBBBBHHIQQ', 1, 7, 0, 16, 16, 16, 0, 64, 48, 1, 0, 0) + struct.pack('<II',0x3f800000,0x3f800000) + b'\x00' + struct.pack('<IIQQ',0,1,0,0)
w('needs_model.vdz', hdr+sec(b'VHDR',bytes(v))+sec(b'MODL',modl)+vend)
