// Reading a safetensors file. Order matters for safety: the header length is checked against the
// file size before the header is read, every entry is checked against the buffer size before any
// tensor is allocated, and the entries must tile the buffer exactly, so the tensors allocated add up
// to exactly the bytes the file holds.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>

#include "io/json.h"
#include "io/safetensors.h"

// The buffer is little-endian and is read straight into tensor memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors reading assumes a little-endian host");

namespace rk::safetensors {

namespace {

using Fail = std::runtime_error;

// Enough for any real network; stops a header of "[1,1,1,...]" from becoming a huge shape vector.
constexpr size_t kMaxRank = 64;

struct Entry {
  std::string name;
  const Dtype* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

uint64_t checkedMul(uint64_t a, uint64_t b) {
  if (b != 0 && a > UINT64_MAX / b) throw Fail("shape size overflows 64 bits");
  return a * b;
}

// Closes the descriptor on every path out of read().
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly n bytes at `offset`; a short file here means it changed (or was cut) under us.
void preadAll(int fd, void* dst, uint64_t n, uint64_t offset) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Fail(std::string("read failed: ") + std::strerror(errno));
    if (got == 0) throw Fail("file truncated while reading");
    p += got;
    n -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

// {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}, exactly these three fields.
Entry parseEntry(json::Reader& r) {
  Entry e;
  bool haveShape = false, haveOffsets = false;
  std::string key;
  r.beginObject();
  while (r.nextKey(key)) {
    if (key == "dtype") {
      if (e.dtype) throw Fail("duplicate field 'dtype'");
      const std::string name = r.readString();
      e.dtype = dtypeByName(name);
      if (!e.dtype) throw Fail("unsupported dtype '" + name + "' (supported: " + supportedNames() + ")");
    } else if (key == "shape") {
      if (haveShape) throw Fail("duplicate field 'shape'");
      haveShape = true;
      r.beginArray();
      while (r.nextItem()) {
        if (e.shape.size() == kMaxRank) throw Fail("shape has more than " + std::to_string(kMaxRank) + " dimensions");
        const uint64_t d = r.readUint();
        if (d > static_cast<uint64_t>(INT64_MAX)) throw Fail("shape dimension " + std::to_string(d) + " is too large");
        e.shape.push_back(static_cast<int64_t>(d));
      }
    } else if (key == "data_offsets") {
      if (haveOffsets) throw Fail("duplicate field 'data_offsets'");
      haveOffsets = true;
      uint64_t offsets[2];
      size_t count = 0;
      r.beginArray();
      while (r.nextItem()) {
        if (count == 2) throw Fail("data_offsets must be [begin, end]; it has more than 2 entries");
        offsets[count++] = r.readUint();
      }
      if (count != 2) throw Fail("data_offsets must be [begin, end]; it has " + std::to_string(count) + " entries");
      e.begin = offsets[0];
      e.end = offsets[1];
    } else {
      throw Fail("unexpected field '" + key + "' (an entry has exactly dtype, shape and data_offsets)");
    }
  }
  if (!e.dtype || !haveShape || !haveOffsets) {
    throw Fail(std::string("missing field '") + (!e.dtype ? "dtype" : !haveShape ? "shape" : "data_offsets") + "'");
  }
  if (e.end < e.begin) {
    throw Fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] end before they begin");
  }
  uint64_t bytes = e.dtype->size;
  for (const int64_t d : e.shape) bytes = checkedMul(bytes, static_cast<uint64_t>(d));
  if (e.end - e.begin != bytes) {
    throw Fail("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] span " +
               std::to_string(e.end - e.begin) + " bytes but shape " + shapeText(e.shape) + " of " + e.dtype->name +
               " needs " + std::to_string(bytes) + " bytes");
  }
  return e;
}

// "__metadata__": a flat string -> string map.
void parseMetadata(json::Reader& r, Metadata& out) {
  std::set<std::string> seen;
  std::string key;
  r.beginObject();
  while (r.nextKey(key)) {
    if (!seen.insert(key).second) throw Fail("duplicate key '" + key + "'");
    const std::string kind = r.peekKind();
    if (kind != "a string") throw Fail("value of '" + key + "' must be a string, found " + kind);
    out.emplace_back(key, r.readString());
  }
}

void parseHeader(std::string_view text, std::vector<Entry>& entries, Metadata& metadata) {
  if (text.empty() || text[0] != '{') throw Fail("header is not a JSON object (it must start with '{')");
  json::Reader r(text);
  std::set<std::string> seen;
  std::string key;
  r.beginObject();
  while (r.nextKey(key)) {
    if (!seen.insert(key).second) throw Fail("duplicate key '" + key + "' in the header");
    const bool isMeta = key == "__metadata__";
    try {
      if (isMeta) {
        parseMetadata(r, metadata);
      } else {
        entries.push_back(parseEntry(r));
        entries.back().name = key;
      }
    } catch (const std::runtime_error& e) {
      throw Fail((isMeta ? std::string("__metadata__") : "tensor '" + key + "'") + ": " + e.what());
    }
  }
  r.end();
}

// The entries, sorted by offset, must tile [0, bufferSize) with no overlap and no hole.
void checkLayout(std::vector<Entry>& entries, uint64_t bufferSize) {
  for (const Entry& e : entries) {
    if (e.end > bufferSize) {
      throw Fail("tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                 "] run past the " + std::to_string(bufferSize) + "-byte data buffer (offsets out of range, or the file is truncated)");
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered) {
      throw Fail("tensors '" + prev->name + "' and '" + e.name + "' overlap: '" + e.name + "' begins at " +
                 std::to_string(e.begin) + " but '" + prev->name + "' ends at " + std::to_string(covered) + " (data_offsets)");
    }
    if (e.begin > covered) {
      throw Fail("hole in the data buffer: bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
                 ") before tensor '" + e.name + "' belong to no tensor (data_offsets)");
    }
    covered = e.end;
    prev = &e;
  }
  if (covered != bufferSize) {
    throw Fail("the data buffer has " + std::to_string(bufferSize) + " bytes but the tensors cover only " +
               std::to_string(covered) + (prev ? " (the last one, '" + prev->name + "', ends there)" : " (there are no tensors)") +
               ": trailing bytes belong to no tensor (data_offsets)");
  }
}

Contents readUnchecked(const std::string& path) {
  if (path.find('\0') != std::string::npos) throw Fail("path contains a NUL character");
  Fd f;
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file).
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) throw Fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(f.fd, &st) != 0) throw Fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Fail("not a regular file");
  const auto fileSize = static_cast<uint64_t>(st.st_size);
  if (fileSize < 8) throw Fail("file is " + std::to_string(fileSize) + " bytes, too short for the 8-byte header length (truncated)");

  unsigned char lengthBytes[8];
  preadAll(f.fd, lengthBytes, 8, 0);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | lengthBytes[i];
  if (n > kMaxHeaderBytes) {
    throw Fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) + " bytes (corrupt file?)");
  }
  if (n > fileSize - 8) {
    throw Fail("header length " + std::to_string(n) + " runs past the end of the " + std::to_string(fileSize) + "-byte file (truncated)");
  }

  std::string header(n, '\0');
  preadAll(f.fd, header.data(), n, 8);
  std::vector<Entry> entries;
  Contents out;
  parseHeader(header, entries, out.metadata);
  const uint64_t dataStart = 8 + n;
  checkLayout(entries, fileSize - dataStart);
  header = std::string();  // release before the tensors are allocated

  for (const Entry& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    const uint64_t bytes = e.end - e.begin;
    if (bytes > 0) preadAll(f.fd, t.data_ptr(), bytes, dataStart + e.begin);
    if (e.dtype->type == torch::kBool) {
      // Bytes other than 0/1 are not valid LibTorch booleans; refuse them instead of computing garbage.
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      for (uint64_t i = 0; i < bytes; ++i) {
        if (p[i] > 1) throw Fail("tensor '" + e.name + "': BOOL element " + std::to_string(i) + " is " + std::to_string(p[i]) + ", not 0 or 1");
      }
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace

Contents read(const std::string& path) {
  try {
    return readUnchecked(path);
  } catch (const c10::Error& e) {
    throw Fail("cannot read safetensors file '" + path + "': " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Fail("cannot read safetensors file '" + path + "': " + e.what());
  }
}

}  // namespace rk::safetensors
