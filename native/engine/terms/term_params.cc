#include "engine/terms/term_params.h"

#include <cmath>
#include <sstream>

#include "common/errors.h"

namespace rk {

std::string TermParams::where(const std::string& key) const { return "term '" + term_ + "': parameter '" + key + "'"; }

double TermParams::number(const std::string& key, double fallback, double lo, double hi) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const double* d = std::get_if<double>(&it->second);
  if (!d) throw JsTypeError(where(key) + " must be a number");
  if (!std::isfinite(*d) || *d < lo || *d > hi) {
    std::ostringstream os;
    os << where(key) << " must be a finite number in [" << lo << ", " << hi << "]; got " << *d;
    throw JsRangeError(os.str());
  }
  return *d;
}

int64_t TermParams::integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const {
  const double d = number(key, static_cast<double>(fallback), static_cast<double>(lo), static_cast<double>(hi));
  if (std::floor(d) != d) throw JsRangeError(where(key) + " must be an integer");
  return static_cast<int64_t>(d);
}

bool TermParams::boolean(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const bool* b = std::get_if<bool>(&it->second);
  if (!b) throw JsTypeError(where(key) + " must be a boolean");
  return *b;
}

std::string TermParams::string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string* s = std::get_if<std::string>(&it->second);
  if (!s) throw JsTypeError(where(key) + " must be a string");
  return *s;
}

std::vector<double> TermParams::numbers(const std::string& key, const std::vector<double>& fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const auto* v = std::get_if<std::vector<double>>(&it->second);
  if (!v) throw JsTypeError(where(key) + " must be an array of numbers");
  return *v;
}

}  // namespace rk
