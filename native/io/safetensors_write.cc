// Writing a safetensors file like the reference writer (largest alignment first, then by name;
// header padded with spaces so the buffer starts 8-aligned and every tensor is aligned for its dtype),
// and atomically: a crash or error mid-write never leaves a half-written file under the target name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <set>

#include "io/json.h"
#include "io/safetensors.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors writing assumes a little-endian host");

namespace rk::safetensors {

namespace {

using Fail = std::runtime_error;

struct Item {
  std::string name;
  const Dtype* dtype;
  torch::Tensor data;  // contiguous, on the CPU
  uint64_t bytes;
};

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

void writeAll(int fd, const void* src, uint64_t n) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    const ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) throw Fail(errnoText("write failed"));
    p += put;
    n -= static_cast<uint64_t>(put);
  }
}

// Validates names and dtypes and brings every tensor to contiguous CPU memory, in file order.
std::vector<Item> prepare(const NamedTensors& tensors) {
  std::vector<Item> items;
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw Fail("tensor names must not be empty");
    if (name == "__metadata__") throw Fail("'__metadata__' is reserved and cannot name a tensor");
    if (!seen.insert(name).second) throw Fail("duplicate tensor name '" + name + "'");
    if (!t.defined()) throw Fail("tensor '" + name + "' is undefined");
    if (t.layout() != torch::kStrided) throw Fail("tensor '" + name + "' is not a dense (strided) tensor");
    const Dtype* d = dtypeByType(t.scalar_type());
    if (!d) {
      throw Fail("tensor '" + name + "' has dtype " + c10::toString(t.scalar_type()) + ", which cannot be saved (supported: " +
                 supportedNames() + ")");
    }
    torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    items.push_back({name, d, cpu, static_cast<uint64_t>(cpu.numel()) * d->size});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.dtype->size != b.dtype->size ? a.dtype->size > b.dtype->size : a.name < b.name;
  });
  return items;
}

std::string buildHeader(const std::vector<Item>& items, const Metadata& metadata) {
  std::string h = "{";
  if (!metadata.empty()) {
    std::set<std::string> seen;
    h += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata.size(); ++i) {
      if (!seen.insert(metadata[i].first).second) throw Fail("duplicate metadata key '" + metadata[i].first + "'");
      h += (i ? "," : "") + json::quote(metadata[i].first) + ":" + json::quote(metadata[i].second);
    }
    h += "}";
  }
  uint64_t offset = 0;
  for (const Item& it : items) {
    if (h.size() > 1) h += ",";
    h += json::quote(it.name) + ":{\"dtype\":\"" + it.dtype->name + "\",\"shape\":[";
    for (int64_t k = 0; k < it.data.dim(); ++k) h += (k ? "," : "") + std::to_string(it.data.size(k));
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + it.bytes) + "]}";
    offset += it.bytes;
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');  // the buffer then starts at a multiple of 8
  if (h.size() > kMaxHeaderBytes) throw Fail("the header would exceed " + std::to_string(kMaxHeaderBytes) + " bytes");
  return h;
}

// Hidden, unique name in the target's directory, so the final rename() stays on one file system.
std::string tempPathFor(const std::string& dir, const std::string& base) {
  std::random_device rd;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%ld-%08x%08x", static_cast<long>(::getpid()), rd(), rd());
  const std::string prefix = dir.empty() ? "" : dir.back() == '/' ? dir : dir + "/";
  return prefix + "." + base + ".tmp-" + suffix;
}

void writeUnchecked(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  if (path.empty()) throw Fail("path is empty");
  if (path.find('\0') != std::string::npos) throw Fail("path contains a NUL character");
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : slash == 0 ? "/" : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") throw Fail("path names a directory, not a file");

  // Everything that can fail for a bad argument fails here, before the file system is touched.
  const std::vector<Item> items = prepare(tensors);
  const std::string header = buildHeader(items, metadata);

  const std::string tmpPath = tempPathFor(dir, base);
  int fd = ::open(tmpPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Fail(errnoText("cannot create a temporary file in '" + (dir.empty() ? std::string(".") : dir) + "'"));
  try {
    unsigned char lengthBytes[8];
    for (int i = 0; i < 8; ++i) lengthBytes[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
    writeAll(fd, lengthBytes, 8);
    writeAll(fd, header.data(), header.size());
    for (const Item& it : items) {
      if (it.bytes > 0) writeAll(fd, it.data.data_ptr(), it.bytes);
    }
    if (::fsync(fd) != 0) throw Fail(errnoText("fsync failed"));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw Fail(errnoText("close failed"));
    if (::rename(tmpPath.c_str(), path.c_str()) != 0) throw Fail(errnoText("cannot rename the temporary file over the target"));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmpPath.c_str());
    throw;
  }
  // Make the rename itself durable. The new file is already in place, so a failure here is not
  // reported: the data is written and visible, only its survival of a power cut is less certain.
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

void write(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  try {
    writeUnchecked(path, tensors, metadata);
  } catch (const c10::Error& e) {
    throw Fail("cannot write safetensors file '" + path + "': " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Fail("cannot write safetensors file '" + path + "': " + e.what());
  }
}

}  // namespace rk::safetensors
