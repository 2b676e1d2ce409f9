// A small strict JSON reader for safetensors headers, pull-style: the caller states what it expects
// next and the reader checks it. Nothing is built that the caller does not keep, there is no
// recursion (so no nesting-depth attack), and every error names the byte offset and what was found.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rk::json {

// Malformed JSON, or valid JSON of the wrong kind at this place.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  // '{' ... '}': call beginObject(), then nextKey() until it returns false (it eats the commas).
  void beginObject();
  bool nextKey(std::string& key);
  // '[' ... ']': call beginArray(), then nextItem() before each item until it returns false.
  void beginArray();
  bool nextItem();

  std::string readString();
  // A non-negative integer without fraction or exponent; overflow of uint64 is an error.
  uint64_t readUint();
  // Only whitespace may follow the top-level value.
  void end();

  // What the next value is, for messages: "a string", "a number", "an object", ...
  std::string peekKind();
  [[noreturn]] void fail(const std::string& what) const;

 private:
  void skipSpace();
  void expect(char c, const char* what);
  bool more(char close);

  std::string_view s_;
  size_t pos_ = 0;
  bool firstMember_ = true;
};

// `text` as a JSON string literal (quotes included). Bytes >= 0x80 pass through: callers hand in UTF-8.
std::string quote(std::string_view text);

}  // namespace rk::json
