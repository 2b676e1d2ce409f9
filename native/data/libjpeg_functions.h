// The libjpeg-turbo functions the decoder calls, resolved with dlsym from the library libjpeg_api.cc
// opened, and the error trap every decompression uses. Only for files compiled with RK_WITH_LIBJPEG
// (CMakeLists.txt defines it when jpeglib.h is found) and without the precompiled header: jpeglib.h's
// macros (LOCAL, GLOBAL, EXTERN, FAR) must not meet LibTorch's headers.
#pragma once
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first

#include <jpeglib.h>

namespace rk::jpeg {

// decltype of the declarations in jpeglib.h: the exact signatures, without linking against them.
struct Functions {
  decltype(&::jpeg_std_error) std_error;
  decltype(&::jpeg_CreateDecompress) CreateDecompress;
  decltype(&::jpeg_destroy_decompress) destroy_decompress;
  decltype(&::jpeg_mem_src) mem_src;
  decltype(&::jpeg_read_header) read_header;
  decltype(&::jpeg_start_decompress) start_decompress;
  decltype(&::jpeg_crop_scanline) crop_scanline;
  decltype(&::jpeg_skip_scanlines) skip_scanlines;
  decltype(&::jpeg_read_scanlines) read_scanlines;
  decltype(&::jpeg_finish_decompress) finish_decompress;
  decltype(&::jpeg_abort_decompress) abort_decompress;
};

// The functions of the library in use, or nullptr while none has loaded.
const Functions* active();

// libjpeg reports errors through error_exit, which must not return: it longjmps back to the setjmp of
// the decoding function (never exit(), libjpeg's default). A premature end of the data (JWRN_JPEG_EOF, a
// truncated file) is only a warning to libjpeg, which then makes up grey rows; it is an error here, so a
// truncated file is rejected (and the stream skips it) as with sharp's failOn: 'truncated'.
struct ErrorTrap {
  jpeg_error_mgr pub;  // first member: libjpeg's cinfo->err points here
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// Points cinfo->err at `trap` with the two handlers above installed. Call before jpeg_CreateDecompress.
void installTrap(const Functions& fn, j_decompress_ptr cinfo, ErrorTrap* trap);

}  // namespace rk::jpeg
