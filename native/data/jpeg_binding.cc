// JS face of native/data: jpegDecoderLoad(name) and jpegDecodeCrop(bytes, out, offset, plan).
// The decode runs on libuv's thread pool (a plain AsyncWorker): never on the event loop, and never on the
// compute thread, which belongs to the training step that the decoding overlaps.
#include <cstring>
#include <vector>

#include "common/export.h"
#include "common/options.h"
#include "common/settle.h"
#include "data/jpeg_crop_decoder.h"
#include "data/libjpeg_api.h"

namespace rk {

namespace {

constexpr const char* kDecode = "jpegDecodeCrop";

// A Uint8Array (or Buffer) argument.
Napi::Uint8Array bytesArg(const Args& a, size_t i, const char* name) {
  const Napi::Value v = a[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw JsTypeError(a.where(name) + " must be a Uint8Array or Buffer; got " + describe(v));
  }
  return v.As<Napi::Uint8Array>();
}

// The crop plan, read with the shared options reader ("jpegDecodeCrop: argument 'plan' field 'left' ...").
jpeg::CropRequest planArg(const Args& a, size_t i) {
  const Napi::Value v = a[i];
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray()) throw JsTypeError(a.where("plan") + " must be a plain object; got " + describe(v));
  const OptionsReader plan(v, kDecode, "plan");
  jpeg::CropRequest r;
  r.size = static_cast<int>(plan.integer("size", std::nullopt, 1, 8192));
  r.resizedWidth = static_cast<int>(plan.integer("resizedWidth", std::nullopt, r.size, 1 << 20));
  r.resizedHeight = static_cast<int>(plan.integer("resizedHeight", std::nullopt, r.size, 1 << 20));
  r.left = static_cast<int>(plan.integer("left", std::nullopt, 0, r.resizedWidth - r.size));
  r.top = static_cast<int>(plan.integer("top", std::nullopt, 0, r.resizedHeight - r.size));
  r.orientation = static_cast<int>(plan.integer("orientation", std::nullopt, 1, 8));
  r.flip = plan.boolean("flip", std::nullopt);
  return r;
}

// Decodes a copy of the bytes into its own buffer on a pool thread; OnOK copies the pixels into the
// caller's array. Why copies rather than reading and writing the JS memory from the thread: an ArrayBuffer
// can be detached (transferred to a worker) while a decode runs, and its memory freed under the thread.
// The two copies cost microseconds against the decode's ~1 ms.
class DecodeTask : public Napi::AsyncWorker {
 public:
  DecodeTask(Napi::Env env, std::vector<uint8_t> bytes, Napi::Uint8Array out, size_t offset, jpeg::CropRequest request)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        bytes_(std::move(bytes)),
        out_(Napi::Persistent(out)),
        offset_(offset),
        request_(request) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      pixels_.resize(static_cast<size_t>(request_.size) * request_.size * 3);
      jpeg::decodeCrop(bytes_.data(), bytes_.size(), request_, pixels_.data());
    } catch (...) {
      SetError(messageOf(std::current_exception()));
    }
  }

  void OnOK() override {
    settle(Env(), deferred_, [&] {
      Napi::Uint8Array out = out_.Value();
      if (out.ByteLength() < offset_ + pixels_.size()) {
        throw Napi::Error::New(Env(), std::string(kDecode) + ": the output array was detached or shrunk while the image decoded");
      }
      std::memcpy(out.Data() + offset_, pixels_.data(), pixels_.size());
      deferred_.Resolve(Env().Undefined());
    });
  }

  void OnError(const Napi::Error& e) override {
    settle(Env(), deferred_, [&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> bytes_;
  Napi::Reference<Napi::Uint8Array> out_;
  size_t offset_;
  jpeg::CropRequest request_;
  std::vector<uint8_t> pixels_;
};

// jpegDecodeCrop(bytes, out, offset, plan) -> Promise<undefined>: size*size*3 RGB bytes at out[offset].
Napi::Value decode(const Args& a) {
  Napi::Uint8Array bytes = bytesArg(a, 0, "bytes");
  Napi::Uint8Array out = bytesArg(a, 1, "out");
  const int64_t offset = a.integer(2, "offset", 0, (int64_t{1} << 53) - 1);
  const jpeg::CropRequest request = planArg(a, 3);
  if (bytes.ByteLength() == 0) throw JsRangeError(a.where("bytes") + " is empty");
  const size_t need = static_cast<size_t>(request.size) * request.size * 3;
  if (static_cast<uint64_t>(offset) + need > out.ByteLength()) {
    throw JsRangeError(a.where("out") + " holds " + std::to_string(out.ByteLength()) + " bytes; the image needs " + std::to_string(need) + " from offset " +
                       std::to_string(offset));
  }
  std::vector<uint8_t> copy(bytes.Data(), bytes.Data() + bytes.ByteLength());
  auto* task = new DecodeTask(a.env(), std::move(copy), out, static_cast<size_t>(offset), request);  // freed by node-addon-api
  Napi::Promise p = task->Promise();
  task->Queue();
  return p;
}

// jpegDecoderLoad(name) -> {available, library, reason, compiledIn}
Napi::Value load(const Args& a) {
  const std::string name = a.string(0, "name");
  if (name.empty()) throw JsRangeError(a.where("name") + " must not be empty");
  if (name.find('\0') != std::string::npos) throw JsRangeError(a.where("name") + " must not contain a NUL character");
  const jpeg::LibraryStatus s = jpeg::load(name);
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("available", s.available);
  o.Set("library", s.library);
  o.Set("reason", s.reason);
  o.Set("compiledIn", jpeg::compiledIn());
  return o;
}

}  // namespace

void registerJpeg(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "jpegDecoderLoad", load);
  exportFunction(env, exports, kDecode, decode);
}

}  // namespace rk
