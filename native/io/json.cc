#include "io/json.h"

#include <cstdio>

namespace rk::json {

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Length of the well-formed UTF-8 sequence starting at s[i] (no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 when it is malformed. Names become JS strings, which must be valid.
size_t utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  const auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

void Reader::fail(const std::string& what) const {
  throw Error("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
}

void Reader::skipSpace() {
  while (pos_ < s_.size() && isSpace(s_[pos_])) ++pos_;
}

std::string Reader::peekKind() {
  skipSpace();
  if (pos_ >= s_.size()) return "the end of the header";
  const char c = s_[pos_];
  switch (c) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    case '-': return "a negative number";
    default:
      if (c >= '0' && c <= '9') return "a number";
      char buf[32];
      std::snprintf(buf, sizeof buf, "byte 0x%02x", static_cast<unsigned char>(c));
      return buf;
  }
}

void Reader::expect(char c, const char* what) {
  skipSpace();
  if (pos_ >= s_.size() || s_[pos_] != c) fail(std::string("expected ") + what + ", found " + peekKind());
  ++pos_;
}

void Reader::beginObject() {
  expect('{', "an object");
  firstMember_ = true;
}

void Reader::beginArray() {
  expect('[', "an array");
  firstMember_ = true;
}

// Shared by nextKey/nextItem: consumes the separator before a member, or the closing bracket.
// The single firstMember_ flag suffices because callers finish a nested value before the next member;
// it is cleared on every exit, since the enclosing container has then just seen a value.
bool Reader::more(char close) {
  skipSpace();
  const bool wasFirst = firstMember_;
  firstMember_ = false;
  if (pos_ < s_.size() && s_[pos_] == close) {
    ++pos_;
    return false;
  }
  if (!wasFirst) expect(',', close == '}' ? "',' or '}'" : "',' or ']'");
  return true;
}

bool Reader::nextKey(std::string& key) {
  if (!more('}')) return false;
  skipSpace();
  if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key, found " + peekKind());
  key = readString();
  expect(':', "':'");
  return true;
}

bool Reader::nextItem() { return more(']'); }

std::string Reader::readString() {
  expect('"', "a string");
  std::string out;
  while (true) {
    if (pos_ >= s_.size()) fail("unterminated string");
    const char c = s_[pos_];
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      ++pos_;
      return out;
    }
    if (u < 0x20) fail("control character in string");
    if (u >= 0x80) {
      const size_t n = utf8Length(s_, pos_);
      if (n == 0) fail("invalid UTF-8 in string");
      out.append(s_.substr(pos_, n));
      pos_ += n;
      continue;
    }
    if (c != '\\') {
      out += c;
      ++pos_;
      continue;
    }
    if (++pos_ >= s_.size()) fail("unterminated escape");
    const char e = s_[pos_++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        const auto hex4 = [&]() -> uint32_t {
          uint32_t v = 0;
          for (int k = 0; k < 4; ++k) {
            const int h = pos_ < s_.size() ? hexValue(s_[pos_]) : -1;
            if (h < 0) fail("bad \\u escape");
            v = v * 16 + static_cast<uint32_t>(h);
            ++pos_;
          }
          return v;
        };
        uint32_t cp = hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // UTF-16 surrogate pair: the low half must follow as another \u escape.
          if (pos_ + 1 >= s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') fail("unpaired high surrogate in \\u escape");
          pos_ += 2;
          const uint32_t lo = hex4();
          if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired high surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default: fail("bad escape in string");
    }
  }
}

uint64_t Reader::readUint() {
  skipSpace();
  if (pos_ >= s_.size() || s_[pos_] < '0' || s_[pos_] > '9') fail("expected a non-negative integer, found " + peekKind());
  const size_t start = pos_;
  uint64_t v = 0;
  while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
    const auto d = static_cast<uint64_t>(s_[pos_] - '0');
    if (v > (UINT64_MAX - d) / 10) fail("integer too large");
    v = v * 10 + d;
    ++pos_;
  }
  if (s_[start] == '0' && pos_ - start > 1) fail("leading zero in number");
  if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
    fail("expected a non-negative integer, found a number with a fraction or exponent");
  }
  return v;
}

void Reader::end() {
  skipSpace();
  if (pos_ != s_.size()) fail("unexpected data after the top-level object");
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace rk::json
