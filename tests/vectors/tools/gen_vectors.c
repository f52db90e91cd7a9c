/* gen_vectors.c — regenerates the source PNGs of tests/vectors (v1_*.png)
 * with the independent PNG writer of tests/codec_testutil.h.
 *   cc -I tests tests/vectors/tools/gen_vectors.c -lz -o /tmp/gen && (cd tests/vectors && mkdir -p vec && /tmp/gen && mv vec/* . && rmdir vec)
 * then encode each with `vdmzip encode -f --classical-only v1_NAME.png` (default
 * options; tools/make-default-cm-vectors.sh does exactly that) and
 * run tools/make_bad_vectors.py (reads vec/v1_rgb8_m2.vdz, written with
 * `vdmzip encode --effort 0`, and writes vec/...).
 * Only needed when the format changes: the .vdz files are the golden truth. */
#include "codec_testutil.h"
static void out(const char *name, tu_png_desc *d){ size_t n; uint8_t *p=tu_png(d,&n); char path[256]; snprintf(path,256,"vec/%s.png",name); tu_write_file(path,p,n); free(p);}
int main(void){
  tu_png_desc d;
  /* 1: RGB 8-bit photo-like, 32x24 */
  memset(&d,0,sizeof d); d.w=64; d.h=48; d.ct=2; d.bd=8;
  uint16_t *s=malloc(64*48*3*2); uint64_t r=1;
  int noise[49][65]; for(int y=0;y<49;y++)for(int x=0;x<65;x++) noise[y][x]=(int)(tu_rng(&r)%7);
  for(int y=0;y<48;y++)for(int x=0;x<64;x++){
    int base=((x-30)*(x-30)+(y-20)*(y-20)*2)/24;
    int nz=(noise[y][x]+noise[y+1][x]+noise[y][x+1]+noise[y+1][x+1])/2;
    for(int c=0;c<3;c++){ int v=40+base+c*25+nz+(c==1?nz/2:0); if(v>255)v=255; s[(y*64+x)*3+c]=(uint16_t)v; } }
  d.s=s; out("v1_rgb8",&d); free(s);
  /* 2: palette 4-bit, interlaced, tRNS + metadata */
  memset(&d,0,sizeof d); d.w=12; d.h=9; d.ct=3; d.bd=4; d.interlace=1;
  uint8_t pal[16][3]; for(int i=0;i<16;i++){pal[i][0]=i*16;pal[i][1]=255-i*8;pal[i][2]=i*i;}
  uint8_t trns[3]={0,128,255};
  s=malloc(12*9*2); for(int i=0;i<12*9;i++) s[i]=(uint16_t)((i/3+i%5)%16);
  static const uint8_t text[]="Comment\0vdmzip test vector. vdmzip test vector. vdmzip test vector. vdmzip test vector. vdmzip test vector. vdmzip test vector. vdmzip test vector. vdmzip test vector.";
  static const uint8_t gama[4]={0,0,0xB1,0x8F};
  static const uint8_t tim[7]={0x07,0xEA,11,26,12,0,0};
  tu_chunk ch[3]={{"gAMA",0,gama,4},{"tEXt",1,text,sizeof text-1},{"tIME",2,tim,7}};
  d.s=s; d.pal=(const uint8_t(*)[3])pal; d.npal=16; d.trns=trns; d.ntrns=3; d.chunks=ch; d.nchunks=3;
  out("v1_pal4_meta",&d); free(s);
  /* 3: gray 16-bit 7x5 with tRNS key */
  memset(&d,0,sizeof d); d.w=7; d.h=5; d.ct=0; d.bd=16; uint16_t key[3]={1000,0,0}; d.key=key;
  s=malloc(7*5*2); for(int i=0;i<35;i++) s[i]=(uint16_t)(i*1871u+ (i%3)*60000u);
  d.s=s; out("v1_gray16",&d); free(s);
  /* 4: RGBA 8-bit flat graphic: stripes and a diagonal -> zstd wins */
  memset(&d,0,sizeof d); d.w=64; d.h=64; d.ct=6; d.bd=8;
  s=malloc(64*64*4*2);
  for(int y=0;y<64;y++)for(int x=0;x<64;x++){ int band=(x/8+y/8)&3; uint16_t col[4][4]={{255,0,0,255},{0,255,0,255},{0,0,255,128},{255,255,255,0}}; for(int c=0;c<4;c++) s[(y*64+x)*4+c]=col[band][c];}
  d.s=s; out("v1_rgba8_flat",&d); free(s);
  /* 5: 1x1 gray 1-bit */
  memset(&d,0,sizeof d); d.w=1; d.h=1; d.ct=0; d.bd=1; uint16_t one=1; d.s=&one; out("v1_gray1_1x1",&d);
  return 0;
}
