// An estimate for the next step of the image streams (docs/streaming-data.md): the CPU time of decoding
// only the random-resized-crop box of each JPEG with libjpeg-turbo (DCT scaling to the smallest M/8 that
// still covers 224 px, jpeg_crop_scanline, jpeg_skip_scanlines, then stopping), plus a plain bilinear
// resize to 224. Not a decoder: no EXIF, CMYK or error handling, the crop's MCU alignment is ignored.
//   gcc -O2 -o /tmp/roi scripts/roi-decode-estimate.c -ljpeg -lm && /tmp/roi DIR/train/*/*.JPEG
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
#include <jpeglib.h>
static unsigned char out[224*224*3];
int main(int argc, char** argv) {
  srand(1); int n = 0; double roi_px = 0, full_px = 0;
  clock_t c0 = clock();
  for (int a = 1; a < argc; a++) {
    FILE* f = fopen(argv[a], "rb"); fseek(f, 0, SEEK_END); long len = ftell(f); fseek(f, 0, SEEK_SET);
    unsigned char* buf = malloc(len); fread(buf, 1, len, f); fclose(f);
    struct jpeg_decompress_struct ci; struct jpeg_error_mgr je; ci.err = jpeg_std_error(&je); jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, len); jpeg_read_header(&ci, TRUE);
    int W = ci.image_width, H = ci.image_height, x = 0, y = 0, w = W, h = H;
    for (int t = 0; t < 10; t++) { double area = W*(double)H*(0.08 + 0.92*rand()/(double)RAND_MAX); double ar = exp(log(0.75) + (log(4.0/3)-log(0.75))*rand()/(double)RAND_MAX);
      int cw = (int)lround(sqrt(area*ar)), chh = (int)lround(sqrt(area/ar)); if (cw > 0 && cw <= W && chh > 0 && chh <= H) { w = cw; h = chh; x = rand() % (W-w+1); y = rand() % (H-h+1); break; } }
    int M = 8; while (M > 1 && (w*(M-1))/8 >= 224 && (h*(M-1))/8 >= 224) M--;
    ci.scale_num = M; ci.scale_denom = 8; ci.out_color_space = JCS_RGB; ci.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&ci);
    JDIMENSION xo = x*M/8, wo = w*M/8; if (wo < 1) wo = 1; if (xo + wo > ci.output_width) xo = ci.output_width - wo;
    jpeg_crop_scanline(&ci, &xo, &wo);
    int yo = y*M/8, ho = h*M/8; if (ho < 1) ho = 1; if (yo + ho > (int)ci.output_height) yo = ci.output_height - ho;
    jpeg_skip_scanlines(&ci, yo);
    int stride = ci.output_width * 3; unsigned char* img = malloc((size_t)stride*ho);
    for (int r = 0; r < ho; r++) { JSAMPROW row = img + (size_t)r*stride; jpeg_read_scanlines(&ci, &row, 1); }
    roi_px += (double)wo*ho; full_px += (double)W*H;
    jpeg_abort_decompress(&ci); jpeg_destroy_decompress(&ci);
    for (int oy = 0; oy < 224; oy++) for (int ox = 0; ox < 224; ox++) { double sx = (ox+0.5)*w*M/8.0/224-0.5, sy = (oy+0.5)*ho/224.0-0.5; int ix = sx < 0 ? 0 : (int)sx, iy = sy < 0 ? 0 : (int)sy; if (ix >= (int)wo-1) ix = wo-2; if (iy >= ho-1) iy = ho-2; if (ix<0) ix=0; if(iy<0) iy=0; double fx = sx-ix, fy = sy-iy;
      for (int c = 0; c < 3; c++) { unsigned char* p = img + (size_t)iy*stride + (ix+ (xo - xo))*3 + c; double v = (1-fy)*((1-fx)*p[0] + fx*p[3]) + fy*((1-fx)*p[stride] + fx*p[stride+3]); out[(oy*224+ox)*3+c] = (unsigned char)v; } }
    free(img); free(buf); n++;
  }
  double ms = (clock() - c0) * 1000.0 / CLOCKS_PER_SEC / n;
  printf("libjpeg-turbo ROI decode + resize: %.2f CPU ms/img over %d images (decoded %.0f%% of the pixels)\n", ms, n, 100*roi_px/full_px);
  return 0;
}
