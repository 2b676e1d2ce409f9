// The parameters of one loss term, as given by the TypeScript method plugin (validated there against
// the run schema). Read here with the term's own default and range, so a direct native call with a
// bad value is still a clear RangeError, never a crash.
#pragma once
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace rk {

class TermParams {
 public:
  using Value = std::variant<double, bool, std::string, std::vector<double>>;

  // `term` names the term in error messages ("term 'dkd': parameter 'beta' ...").
  explicit TermParams(std::string term = "", std::map<std::string, Value> values = {}) : term_(std::move(term)), values_(std::move(values)) {}

  double number(const std::string& key, double fallback, double lo = -1e300, double hi = 1e300) const;
  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback) const;
  void set(const std::string& key, Value v) { values_[key] = std::move(v); }

 private:
  std::string where(const std::string& key) const;
  std::string term_;
  std::map<std::string, Value> values_;
};

}  // namespace rk
