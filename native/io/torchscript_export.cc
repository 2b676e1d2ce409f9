// Export of a trained model (a zoo model or any ZooModel) as TorchScript, for use from Python
// (torch.jit.load) or C++ without this package. LibTorch's C++ modules cannot be scripted, so the eval-mode
// forward is traced: a torch::jit::Module is built whose parameters and buffers are the model's own
// tensors under their PyTorch state_dict names (nested submodules, so `state_dict()` keys match), and the
// tracer records forward(x) -> logits against it. With a normalisation the trace starts with
// (x / scale - mean) / std, so the file takes raw images as the training data held them; the constants
// are baked into the graph (not buffers, so the state_dict keys stay those of the PyTorch definition), and
// a JSON description of the expected input rides along as the extra file 'reviewkd.json'.
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/fixup_trace_scope_blocks.h>
#include <torch/csrc/jit/passes/normalize_ops.h>
#include <torch/script.h>

#include "common/export.h"
#include "common/options.h"
#include "models/zoo_model.h"
#include "nn/module_wrap.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

// The submodule for a dotted prefix ("layer1.0.conv1"), created on first use.
torch::jit::Module submoduleFor(torch::jit::Module& root, const std::vector<std::string>& path,
                                std::map<std::string, torch::jit::Module>& made) {
  torch::jit::Module current = root;
  std::string key;
  for (const auto& part : path) {
    key += (key.empty() ? "" : ".") + part;
    auto it = made.find(key);
    if (it == made.end()) {
      torch::jit::Module child("__torch__.reviewkd.Sub_" + std::to_string(made.size()));
      current.register_module(part, child);
      it = made.emplace(key, child).first;
    }
    current = it->second;
  }
  return current;
}

std::pair<std::vector<std::string>, std::string> splitName(const std::string& dotted) {
  std::vector<std::string> parts;
  std::stringstream ss(dotted);
  std::string item;
  while (std::getline(ss, item, '.')) parts.push_back(item);
  const std::string leaf = parts.back();
  parts.pop_back();
  return {parts, leaf};
}

// exportTorchScript(model, path, exampleInput, options?): traces model.forward in eval mode and saves the
// module. options: {mean?: number[], std?: number[], scale?: number} (a normalisation recorded in front of
// the network, one mean/std per input channel), {extraJson?: string} (saved as the extra file reviewkd.json).
Napi::Value exportTorchScript(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  const std::string path = a.string(1, "path");
  const torch::Tensor& example = a.tensor(2, "exampleInput");
  if (example.dim() != 4 || !c10::isFloatingType(example.scalar_type())) {
    throw JsRangeError(a.where("exampleInput") + " must be a floating N x C x H x W batch");
  }
  std::vector<double> mean, stdev;
  double scale = 1.0;
  std::string extraJson;
  if (a.has(3)) {
    OptionsReader o(a[3], "exportTorchScript");
    mean = o.numbers("mean", std::vector<double>{});
    stdev = o.numbers("std", std::vector<double>{});
    scale = o.number("scale", 1.0, 1e-12, 1e12);
    extraJson = o.string("extraJson", std::string());
    if (mean.size() != stdev.size()) throw JsRangeError(o.where("mean") + " and 'std' must have the same length");
    if (!mean.empty() && static_cast<int64_t>(mean.size()) != example.size(1)) {
      throw JsRangeError(o.where("mean") + " must have one value per input channel (" + std::to_string(example.size(1)) + "); got " + std::to_string(mean.size()));
    }
    for (double s : stdev) {
      if (!(s > 0)) throw JsRangeError(o.where("std") + " must hold positive numbers");
    }
  }
  const bool normalise = !mean.empty();
  const auto constOpts = torch::TensorOptions().dtype(example.scalar_type()).device(example.device());
  const torch::Tensor meanT = normalise ? torch::tensor(mean, torch::kDouble).to(constOpts).view({1, -1, 1, 1}) : torch::Tensor();
  const torch::Tensor stdT = normalise ? torch::tensor(stdev, torch::kDouble).to(constOpts).view({1, -1, 1, 1}) : torch::Tensor();
  const bool wasTraining = model->is_training();
  model->eval();
  torch::jit::Module root("__torch__.reviewkd.ExportedModel");
  std::map<std::string, torch::jit::Module> made;
  for (const auto& p : model->named_parameters()) {
    auto [parts, leaf] = splitName(p.key());
    submoduleFor(root, parts, made).register_parameter(leaf, p.value(), /*is_buffer=*/false);
  }
  for (const auto& b : model->named_buffers()) {
    auto [parts, leaf] = splitName(b.key());
    submoduleFor(root, parts, made).register_buffer(leaf, b.value());
  }
  root.eval();
  try {
    torch::NoGradGuard noGrad;
    auto traced = torch::jit::tracer::trace(
        {example},
        [&](torch::jit::Stack inputs) -> torch::jit::Stack {
          torch::Tensor x = inputs.at(0).toTensor();
          if (normalise) x = (x / scale - meanT) / stdT;
          return {model->forward(x)};
        },
        [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false, &root);
    std::shared_ptr<torch::jit::Graph> graph = traced.first->graph;
    torch::jit::FixupTraceScopeBlocks(graph, &root);
    torch::jit::NormalizeOps(graph);
    auto* fn = root._ivalue()->compilation_unit()->create_function(c10::QualifiedName(*root.type()->name(), "forward"), graph);
    root.type()->addMethod(fn);
    torch::jit::ExtraFilesMap extra;
    if (!extraJson.empty()) extra["reviewkd.json"] = extraJson;
    root.save(path, extra);
  } catch (...) {
    model->train(wasTraining);
    throw;
  }
  model->train(wasTraining);
  return a.env().Undefined();
}

}  // namespace

void registerTorchScriptExport(Napi::Env env, Napi::Object exports) { exportFunction(env, exports, "exportTorchScript", exportTorchScript); }

}  // namespace rk
