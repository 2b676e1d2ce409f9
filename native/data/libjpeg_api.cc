// Opens libjpeg-turbo with dlopen (see libjpeg_api.h for why) and keeps the functions the decoder uses.
#include "data/libjpeg_api.h"

#ifdef RK_WITH_LIBJPEG

#include <dlfcn.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <type_traits>

#include "data/libjpeg_functions.h"

#include <jerror.h>

namespace rk::jpeg {

namespace {

std::mutex loadMutex;
std::map<std::string, LibraryStatus> tried;  // by the name asked for: each is opened once
Functions functions;                         // filled once, by the first library that passes
std::atomic<const Functions*> current{nullptr};
std::string currentLibrary;

[[noreturn]] void onError(j_common_ptr cinfo) {
  auto* trap = reinterpret_cast<ErrorTrap*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, trap->message);
  std::longjmp(trap->jump, 1);
}

void onMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  // Premature end of data: a truncated file. Other "corrupt data" warnings are repaired by libjpeg and
  // accepted, as PIL and sharp's failOn: 'truncated' accept them (real photo collections have such files).
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) onError(cinfo);
  cinfo->err->num_warnings++;
}

// The file a handle was opened from (the soname resolved to a path), for messages and `doctor`.
std::string fileOf(void* symbol, const std::string& fallback) {
  Dl_info info;
  if (!symbol || dladdr(symbol, &info) == 0 || !info.dli_fname) return fallback;
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) ? std::string(resolved) : std::string(info.dli_fname);
}

LibraryStatus open(const std::string& name) {
  LibraryStatus s;
  s.library = name;
  void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    s.reason = "cannot open " + name + " (" + (e ? e : "unknown error") +
               "); the fast JPEG decoder needs libjpeg-turbo >= 1.5 with the libjpeg 6.2 API (Debian: libjpeg62-turbo, Fedora: libjpeg-turbo)";
    return s;
  }
  Functions f{};
  const char* missing = nullptr;
  auto resolve = [&](auto& slot, const char* symbol) {
    void* p = dlsym(handle, symbol);
    if (!p && !missing) missing = symbol;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
  };
  resolve(f.std_error, "jpeg_std_error");
  resolve(f.CreateDecompress, "jpeg_CreateDecompress");
  resolve(f.destroy_decompress, "jpeg_destroy_decompress");
  resolve(f.mem_src, "jpeg_mem_src");
  resolve(f.read_header, "jpeg_read_header");
  resolve(f.start_decompress, "jpeg_start_decompress");
  resolve(f.crop_scanline, "jpeg_crop_scanline");
  resolve(f.skip_scanlines, "jpeg_skip_scanlines");
  resolve(f.read_scanlines, "jpeg_read_scanlines");
  resolve(f.finish_decompress, "jpeg_finish_decompress");
  resolve(f.abort_decompress, "jpeg_abort_decompress");
  s.library = fileOf(reinterpret_cast<void*>(f.std_error), name);
  if (missing) {
    s.reason = s.library + " has no " + missing + ": the fast JPEG decoder needs libjpeg-turbo >= 1.5 (jpeg_crop_scanline, jpeg_skip_scanlines)";
    dlclose(handle);
    return s;
  }
  // jpeg_CreateDecompress refuses another JPEG_LIB_VERSION (libjpeg.so.8 is version 80, another struct
  // layout) or struct size through error_exit: trapped here, so a mismatched library is refused cleanly.
  jpeg_decompress_struct cinfo;
  ErrorTrap trap;
  installTrap(f, &cinfo, &trap);
  if (setjmp(trap.jump)) {
    s.reason = s.library + " cannot be used: " + trap.message + " (reviewkd was compiled for JPEG_LIB_VERSION " +
               std::to_string(JPEG_LIB_VERSION) + ", the layout of libjpeg.so.62)";
    f.destroy_decompress(&cinfo);
    dlclose(handle);
    return s;
  }
  f.CreateDecompress(&cinfo, JPEG_LIB_VERSION, sizeof(jpeg_decompress_struct));
  f.destroy_decompress(&cinfo);
  if (current.load() == nullptr) {
    functions = f;  // the handle stays open for the life of the process
    currentLibrary = s.library;
    current.store(&functions);
    s.available = true;
  } else if (currentLibrary == s.library) {
    s.available = true;
  } else {
    s.reason = "another libjpeg (" + currentLibrary + ") is already in use by this process";
  }
  return s;
}

}  // namespace

void installTrap(const Functions& fn, j_decompress_ptr cinfo, ErrorTrap* trap) {
  cinfo->err = fn.std_error(&trap->pub);
  trap->pub.error_exit = onError;
  trap->pub.emit_message = onMessage;
  trap->message[0] = '\0';
}

const Functions* active() { return current.load(); }

LibraryStatus load(const std::string& name) {
  std::lock_guard<std::mutex> lock(loadMutex);
  auto it = tried.find(name);
  if (it != tried.end()) return it->second;
  LibraryStatus s = open(name);
  tried.emplace(name, s);
  return s;
}

bool compiledIn() { return true; }

}  // namespace rk::jpeg

#else  // jpeglib.h was not found when this binary was built

namespace rk::jpeg {

LibraryStatus load(const std::string& name) {
  LibraryStatus s;
  s.library = name;
  s.reason = "this reviewkd binary was built without jpeglib.h (libjpeg62-turbo-dev), so the fast JPEG decoder is not compiled in";
  return s;
}

bool compiledIn() { return false; }

}  // namespace rk::jpeg

#endif
