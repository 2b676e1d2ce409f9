// Reading loss-term descriptions from JavaScript: parameters, feature shapes and the term list of a run.
#pragma once
#include <string>
#include <vector>

#include <napi.h>

#include "engine/distiller.h"

namespace rk {

// A plain object of number | boolean | string | number[] values; `where` prefixes error messages.
TermParams readTermParams(const Napi::Value& value, const std::string& term, const std::string& where);
// An Array of [C, H, W] shapes (positive integers).
std::vector<FeatureShape> readFeatureShapes(const Napi::Value& value, const std::string& where);
// An Array of {name, weight?, warmup?, params?}.
std::vector<TermSpec> readTermSpecs(const Napi::Value& value, const std::string& where);

}  // namespace rk
