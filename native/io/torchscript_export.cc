// Export of a trained model (a zoo model or any ZooModel) as TorchScript, for use from Python
// (torch.jit.load) or C++ without this package. LibTorch's C++ modules cannot be scripted, so the eval-mode
// forward is traced: a torch::jit::Module is built whose parameters and buffers are the model's own
// tensors under their PyTorch state_dict names (nested submodules, so `state_dict()` keys match), and the
// tracer records forward(x) -> logits against it.
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/fixup_trace_scope_blocks.h>
#include <torch/csrc/jit/passes/normalize_ops.h>
#include <torch/script.h>

#include "common/export.h"
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

// exportTorchScript(model, path, exampleInput): traces model.forward in eval mode and saves the module.
Napi::Value exportTorchScript(const Args& a) {
  auto model = ModuleWrap::As<ZooModel>(a[0], a.where("model"), "zoo model");
  const std::string path = a.string(1, "path");
  const torch::Tensor& example = a.tensor(2, "exampleInput");
  if (example.dim() != 4 || !c10::isFloatingType(example.scalar_type())) {
    throw JsRangeError(a.where("exampleInput") + " must be a floating N x C x H x W batch");
  }
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
        [&](torch::jit::Stack inputs) -> torch::jit::Stack { return {model->forward(inputs.at(0).toTensor())}; },
        [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false, &root);
    std::shared_ptr<torch::jit::Graph> graph = traced.first->graph;
    torch::jit::FixupTraceScopeBlocks(graph, &root);
    torch::jit::NormalizeOps(graph);
    auto* fn = root._ivalue()->compilation_unit()->create_function(c10::QualifiedName(*root.type()->name(), "forward"), graph);
    root.type()->addMethod(fn);
    root.save(path);
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
