// The table of loss terms, filled by each term file's RK_REGISTER_TERM at load time.
#include <map>

#include "common/errors.h"
#include "engine/terms/term.h"

namespace rk {

namespace {
// A function-local static: term files register from their own static initialisers, whose order
// across translation units is unspecified.
std::map<std::string, TermFactory>& table() {
  static std::map<std::string, TermFactory> t;
  return t;
}
}  // namespace

bool registerTerm(const std::string& name, TermFactory factory) {
  table()[name] = std::move(factory);
  return true;
}

std::vector<std::string> termNames() {
  std::vector<std::string> out;
  for (const auto& [name, f] : table()) out.push_back(name);
  return out;
}

std::unique_ptr<LossTerm> makeTerm(const std::string& name, const TermSetup& setup, const TermParams& params) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::string known;
    for (const auto& n : termNames()) known += (known.empty() ? "" : ", ") + n;
    throw JsRangeError("unknown loss term '" + name + "'; known: " + known);
  }
  return it->second(setup, params);
}

}  // namespace rk
