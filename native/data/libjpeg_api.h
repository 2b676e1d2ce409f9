// Which libjpeg-turbo the crop-only JPEG decoder (jpeg_crop_decoder.h) calls, loaded at run time.
//
// Why dlopen and not a link-time dependency: the prebuilt addon must load on any machine, also one
// without libjpeg, and a missing JPEG library must cost only the fast decoder (image streams then decode
// with sharp), never the whole addon. Why not a static libjpeg inside the addon: Debian's libjpeg.a is
// not position-independent code (it cannot go into a shared object), and building libjpeg-turbo from
// source is not possible offline on the build machines. So the addon is compiled against the headers of
// libjpeg62-turbo-dev (JPEG_LIB_VERSION 62, the layout of Debian's and Fedora's libjpeg.so.62) and opens
// that library when a stream first asks for it.
#pragma once
#include <string>

namespace rk::jpeg {

// The outcome of loading a library: usable or not, its file, and why not.
struct LibraryStatus {
  bool available = false;
  // The file that was opened (resolved path), or the name asked for when it could not be opened.
  std::string library;
  // Empty when available; else why the decoder cannot use it.
  std::string reason;
};

// Opens `name` (a soname such as "libjpeg.so.62" or a path) once per name and checks that it is
// libjpeg-turbo >= 1.5 (jpeg_crop_scanline and jpeg_skip_scanlines exist) with the struct layout these
// headers were compiled for (jpeg_CreateDecompress checks JPEG_LIB_VERSION and the struct size). The first
// library that passes becomes the one the decoder uses. Thread-safe.
LibraryStatus load(const std::string& name);

// Whether the decoder was compiled in (jpeglib.h was found at build time).
bool compiledIn();

}  // namespace rk::jpeg
