#include "models/torchscript_model.h"

#include <map>
#include <sstream>
#include <stdexcept>

namespace rk {

namespace {

// A node of the mirrored module tree: holds only the registered tensors and children.
class MirrorNode : public torch::nn::Module {};

std::string describeValue(const c10::IValue& v) { return v.tagKind(); }

}  // namespace

TorchScriptModel::TorchScriptModel(torch::jit::Module module, std::string source) : module_(std::move(module)), source_(std::move(source)) {
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
    // Imported models are trainable: floating parameters require grad whatever the export said.
    if (p.value.is_floating_point() && !p.value.requires_grad()) p.value.set_requires_grad(true);
    mirror(p.name, p.value, true);
  }
  for (const auto& b : module_.named_buffers(/*recurse=*/true)) mirror(b.name, b.value, false);
  train(module_.is_training());
}

void TorchScriptModel::mirror(const std::string& dottedName, const torch::Tensor& t, bool isParameter) {
  torch::nn::Module* node = this;
  std::stringstream parts(dottedName);
  std::string part, next;
  std::getline(parts, part, '.');
  while (std::getline(parts, next, '.')) {
    auto children = node->named_children();
    if (auto* existing = children.find(part)) {
      node = existing->get();
    } else {
      node = node->register_module(part, std::make_shared<MirrorNode>()).get();
    }
    part = next;
  }
  // register_parameter keeps the tensor itself (no copy): updates show up in the scripted module.
  if (isParameter) {
    node->register_parameter(part, t, t.requires_grad());
  } else {
    node->register_buffer(part, t);
  }
}

void TorchScriptModel::train(bool on) {
  torch::nn::Module::train(on);
  module_.train(on);
}

torch::Tensor TorchScriptModel::forward(torch::Tensor x) {
  c10::IValue out = module_.forward({std::move(x)});
  if (out.isTensor()) return out.toTensor();
  if (out.isTuple() && !out.toTupleRef().elements().empty() && out.toTupleRef().elements()[0].isTensor()) {
    return out.toTupleRef().elements()[0].toTensor();
  }
  throw std::runtime_error("TorchScript model (" + source_ + "): forward(x) must return a Tensor or a tuple (logits, [features]); got " +
                           describeValue(out));
}

ModelOutput TorchScriptModel::forwardWithFeatures(torch::Tensor x, bool preact) {
  const bool usePreact = preact && hasPreactMethod();
  const char* method = usePreact ? "forward_preact" : "forward";
  c10::IValue out = usePreact ? module_.get_method("forward_preact")({std::move(x)}) : module_.forward({std::move(x)});
  const std::string where = "TorchScript model (" + source_ + "): " + method + "(x)";
  if (!out.isTuple() || out.toTupleRef().elements().size() != 2) {
    throw std::runtime_error(where + " must return a tuple (logits, List[Tensor]) to give features; got " + describeValue(out) +
                             ". See docs/models.md for the export snippet");
  }
  const auto& items = out.toTupleRef().elements();
  if (!items[0].isTensor() || !items[1].isTensorList()) {
    throw std::runtime_error(where + " must return (Tensor, List[Tensor]); got (" + describeValue(items[0]) + ", " + describeValue(items[1]) + ")");
  }
  ModelOutput result;
  result.logits = items[0].toTensor();
  for (const auto& f : items[1].toTensorVector()) result.features.push_back(f);
  if (result.features.size() < 2) throw std::runtime_error(where + " must return at least one stage feature and the pooled feature");
  for (size_t i = 0; i < result.features.size(); ++i) {
    if (result.features[i].dim() != 4) {
      throw std::runtime_error(where + ": feature " + std::to_string(i) + " must be 4-d (N, C, H, W); got shape " + c10::str(result.features[i].sizes()));
    }
  }
  const auto& pooled = result.features.back();
  if (pooled.size(2) != 1 || pooled.size(3) != 1) {
    throw std::runtime_error(where + ": the last feature must be the pooled N x C x 1 x 1 map; got shape " + c10::str(pooled.sizes()));
  }
  return result;
}

std::shared_ptr<TorchScriptModel> loadTorchScriptModel(const std::string& path, torch::Device device) {
  torch::jit::Module module = torch::jit::load(path, device);
  if (!module.find_method("forward")) throw std::runtime_error("TorchScript file " + path + " has no forward method");
  return std::make_shared<TorchScriptModel>(std::move(module), path);
}

void saveTorchScriptFixture(const std::string& path, int64_t inChannels, int64_t numClasses, bool logitsOnly) {
  // Each scripted submodule gets its own class name: the serializer keys classes by name.
  auto leaf = [](const std::string& typeName) {
    torch::jit::Module m{c10::QualifiedName(typeName)};
    m.register_attribute("training", c10::BoolType::get(), true);
    return m;
  };
  auto conv = [&](const std::string& typeName, int64_t in, int64_t out) {
    auto m = leaf(typeName);
    m.register_parameter("weight", torch::randn({out, in, 3, 3}) * std::sqrt(2.0 / (9.0 * in)), false);
    m.register_parameter("bias", torch::zeros({out}), false);
    return m;
  };
  auto bn = [&](int64_t c) {
    auto m = leaf("BN");
    m.register_parameter("weight", torch::ones({c}), false);
    m.register_parameter("bias", torch::zeros({c}), false);
    m.register_buffer("running_mean", torch::zeros({c}));
    m.register_buffer("running_var", torch::ones({c}));
    return m;
  };
  auto fc = leaf("Linear");
  fc.register_parameter("weight", torch::randn({numClasses, 16}) * 0.1, false);
  fc.register_parameter("bias", torch::zeros({numClasses}), false);

  auto root = leaf("TinyScriptedNet");
  root.register_module("conv1", conv("Conv1", inChannels, 8));
  root.register_module("bn1", bn(8));
  root.register_module("conv2", conv("Conv2", 8, 16));
  root.register_module("fc", fc);
  // Stage 1 is returned before its ReLU by forward_preact, after it by forward.
  root.define(R"JIT(
def stages(self, x: Tensor):
    h = torch.conv2d(x, self.conv1.weight, self.conv1.bias, [1, 1], [1, 1])
    pre1 = torch.batch_norm(h, self.bn1.weight, self.bn1.bias, self.bn1.running_mean, self.bn1.running_var, self.training, 0.1, 1e-5, False)
    f1 = torch.relu(pre1)
    pre2 = torch.conv2d(f1, self.conv2.weight, self.conv2.bias, [2, 2], [1, 1])
    f2 = torch.relu(pre2)
    pooled = torch.adaptive_avg_pool2d(f2, [1, 1])
    logits = torch.linear(torch.flatten(pooled, 1), self.fc.weight, self.fc.bias)
    return logits, pre1, f1, pre2, f2, pooled

def forward_preact(self, x: Tensor):
    logits, pre1, f1, pre2, f2, pooled = self.stages(x)
    return logits, [pre1, pre2, pooled]
)JIT");
  // The variant whose forward returns only logits (a plain classifier export).
  root.define(logitsOnly ? R"JIT(
def forward(self, x: Tensor):
    logits, pre1, f1, pre2, f2, pooled = self.stages(x)
    return logits
)JIT"
                         : R"JIT(
def forward(self, x: Tensor):
    logits, pre1, f1, pre2, f2, pooled = self.stages(x)
    return logits, [f1, f2, pooled]
)JIT");
  root.save(path);
}

}  // namespace rk
