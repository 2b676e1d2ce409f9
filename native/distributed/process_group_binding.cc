// NativeProcessGroup: rendezvous and collectives as Promises. A collective is issued on the JS thread
// (that fixes its order, which must be the same on every rank) and awaited on a libuv worker, never on
// the compute thread, so a rank waiting for its peers does not hold up another trainer's step.
#include "distributed/process_group_binding.h"

#include <memory>

#include "common/args.h"
#include "common/errors.h"
#include "common/export.h"
#include "common/options.h"
#include "common/receiver.h"
#include "common/settle.h"
#include "distributed/backend_factory.h"
#include "distributed/process_group.h"
#include "tensor/tensor_wrap.h"

namespace rk {

namespace {

inline constexpr napi_type_tag kProcessGroupTag = {0x7265766965776b64ULL, 0x0000000000000010ULL};

// Runs `work` on a libuv worker (not the compute thread) and settles a Promise with toJs(result).
template <typename R>
class WaitTask : public Napi::AsyncWorker {
 public:
  WaitTask(Napi::Env env, std::function<R()> work, std::function<Napi::Value(Napi::Env, R&)> toJs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), toJs_(std::move(toJs)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = work_();
    } catch (...) {
      SetError(messageOf(std::current_exception()));
    }
  }
  void OnOK() override {
    settle(Env(), deferred_, [&] { deferred_.Resolve(toJs_(Env(), result_)); });
  }
  void OnError(const Napi::Error& e) override {
    settle(Env(), deferred_, [&] { deferred_.Reject(e.Value()); });
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<R()> work_;
  std::function<Napi::Value(Napi::Env, R&)> toJs_;
  R result_{};
};

template <typename R>
Napi::Value runWait(Napi::Env env, std::function<R()> work, std::function<Napi::Value(Napi::Env, R&)> toJs) {
  auto* task = new WaitTask<R>(env, std::move(work), std::move(toJs));  // freed by node-addon-api
  Napi::Promise p = task->Promise();
  task->Queue();
  return p;
}

Napi::Value undefinedOf(Napi::Env env, int&) { return env.Undefined(); }

ReduceKind readOp(const Args& a, size_t i) {
  if (!a.has(i)) return ReduceKind::Sum;
  const std::string op = a.string(i, "op");
  if (op == "sum") return ReduceKind::Sum;
  if (op == "avg") return ReduceKind::Avg;
  if (op == "max") return ReduceKind::Max;
  if (op == "min") return ReduceKind::Min;
  if (op == "product") return ReduceKind::Product;
  throw JsRangeError(a.where(i, "op") + " must be 'sum', 'avg', 'max', 'min' or 'product'; got '" + op + "'");
}

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProcessGroup",
                       {InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"), InstanceMethod<&ProcessGroupWrap::Broadcast>("broadcast"),
                        InstanceMethod<&ProcessGroupWrap::AllGather>("allGather"), InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                        InstanceMethod<&ProcessGroupWrap::Destroy>("destroy"),
                        InstanceMethod<&ProcessGroupWrap::TakeGradientSeconds>("takeGradientSeconds"),
                        InstanceAccessor<&ProcessGroupWrap::GetRank>("rank"), InstanceAccessor<&ProcessGroupWrap::GetWorldSize>("worldSize"),
                        InstanceAccessor<&ProcessGroupWrap::GetBackend>("backend"),
                        InstanceAccessor<&ProcessGroupWrap::GetTimeoutMs>("timeoutMs"),
                        InstanceAccessor<&ProcessGroupWrap::GetDestroyed>("destroyed")});
  }

  // Only createProcessGroup() constructs these (with an External holding the group).
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
    info.This().As<Napi::Object>().TypeTag(&kProcessGroupTag);
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "NativeProcessGroup cannot be constructed directly: use createProcessGroup(options)");
    }
    group_ = *info[0].As<Napi::External<std::shared_ptr<ProcessGroup>>>().Data();
  }

  static std::shared_ptr<ProcessGroup> From(const Napi::Value& v, const std::string& argName) {
    if (!hasTag(v, kProcessGroupTag)) throw JsTypeError(argName + " must be a process group (from rk.distributed.init()); got " + describe(v));
    return Unwrap(v.As<Napi::Object>())->group_;
  }

 private:
  ProcessGroup& live(const char* fn) {
    if (group_->destroyed()) throw std::runtime_error(std::string("ProcessGroup.") + fn + ": the process group was destroyed");
    return *group_;
  }

  // allReduce(tensors: Tensor[], op = 'sum') -> Promise<void>, in place.
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "ProcessGroup.allReduce");
      const auto tensors = a.tensorList(0, "tensors");
      const ReduceKind op = readOp(a, 1);
      auto done = live("allReduce").allReduceStart(tensors, op);
      auto keep = group_;
      return runWait<int>(info.Env(), [done, keep] { done(); return 0; }, undefinedOf);
    });
  }

  // broadcast(tensors: Tensor[], root = 0) -> Promise<void>, in place.
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "ProcessGroup.broadcast");
      const auto tensors = a.tensorList(0, "tensors");
      const int root = a.has(1) ? static_cast<int>(a.integer(1, "root", 0, group_->worldSize() - 1)) : 0;
      auto done = live("broadcast").broadcastStart(tensors, root);
      auto keep = group_;
      return runWait<int>(info.Env(), [done, keep] { done(); return 0; }, undefinedOf);
    });
  }

  // allGather(tensor) -> Promise<Tensor[]> (one per rank, rank order; every rank's tensor has the same shape).
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args a(info, "ProcessGroup.allGather");
      const torch::Tensor& t = a.tensor(0, "tensor");
      auto done = live("allGather").allGatherStart(t);
      auto keep = group_;
      return runWait<std::vector<torch::Tensor>>(
          info.Env(), [done, keep] { return done(); },
          [](Napi::Env env, std::vector<torch::Tensor>& ts) -> Napi::Value {
            Napi::Array out = Napi::Array::New(env, ts.size());
            for (size_t i = 0; i < ts.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorWrap::Wrap(env, ts[i]));
            return out;
          });
    });
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto done = live("barrier").barrierStart();
      auto keep = group_;
      return runWait<int>(info.Env(), [done, keep] { done(); return 0; }, undefinedOf);
    });
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      group_->destroy();
      return info.Env().Undefined();
    });
  }

  Napi::Value TakeGradientSeconds(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), group_->takeGradientSeconds()); });
  }

  Napi::Value GetRank(const Napi::CallbackInfo& info) {
    checkReceiver(info, kProcessGroupTag, "NativeProcessGroup");
    return Napi::Number::New(info.Env(), group_->rank());
  }
  Napi::Value GetWorldSize(const Napi::CallbackInfo& info) {
    checkReceiver(info, kProcessGroupTag, "NativeProcessGroup");
    return Napi::Number::New(info.Env(), group_->worldSize());
  }
  Napi::Value GetBackend(const Napi::CallbackInfo& info) {
    checkReceiver(info, kProcessGroupTag, "NativeProcessGroup");
    return Napi::String::New(info.Env(), group_->backendName());
  }
  Napi::Value GetTimeoutMs(const Napi::CallbackInfo& info) {
    checkReceiver(info, kProcessGroupTag, "NativeProcessGroup");
    return Napi::Number::New(info.Env(), static_cast<double>(group_->timeout().count()));
  }
  Napi::Value GetDestroyed(const Napi::CallbackInfo& info) {
    checkReceiver(info, kProcessGroupTag, "NativeProcessGroup");
    return Napi::Boolean::New(info.Env(), group_->destroyed());
  }

  std::shared_ptr<ProcessGroup> group_;
};

// Per environment (context-aware addon): the constructor createProcessGroup wraps results with.
struct ProcessGroupClass {
  Napi::FunctionReference constructor;
};

// createProcessGroup({rank, worldSize, masterAddr, masterPort, hostStore, storePrefix, timeoutMs, backend,
// interface, threads}) -> Promise<NativeProcessGroup>; the rendezvous runs on a libuv worker.
Napi::Value createProcessGroup(const Args& a, const std::shared_ptr<ProcessGroupClass>& cls) {
  OptionsReader o(a[0], "createProcessGroup");
  ProcessGroupConfig c;
  c.worldSize = static_cast<int>(o.integer("worldSize", std::nullopt, 1, 1 << 20));
  c.rank = static_cast<int>(o.integer("rank", std::nullopt, 0, c.worldSize - 1));
  c.masterAddr = o.string("masterAddr", c.masterAddr);
  if (c.masterAddr.empty()) throw JsRangeError(o.where("masterAddr") + " must not be empty");
  c.masterPort = static_cast<int>(o.integer("masterPort", c.masterPort, 1, 65535));
  c.hostStore = o.boolean("hostStore", c.hostStore);
  c.storePrefix = o.string("storePrefix", c.storePrefix);
  c.timeout = std::chrono::milliseconds(o.integer("timeoutMs", c.timeout.count(), 1, int64_t{1} << 40));
  c.backend = o.string("backend", c.backend);
  if (c.backend != "gloo" && c.backend != "nccl") throw JsRangeError(o.where("backend") + " must be 'gloo' or 'nccl'; got '" + c.backend + "'");
  if (c.backend == "nccl" && !ncclAvailable()) makeNcclBackend({}, {});  // throws the explanation
  c.interface = o.string("interface", c.interface);
  c.threads = static_cast<int>(o.integer("threads", c.threads, 1, 64));
  return runWait<std::shared_ptr<ProcessGroup>>(
      a.env(), [c] { return std::make_shared<ProcessGroup>(c); },
      [cls](Napi::Env env, std::shared_ptr<ProcessGroup>& group) -> Napi::Value {
        return cls->constructor.New({Napi::External<std::shared_ptr<ProcessGroup>>::New(
            env, new std::shared_ptr<ProcessGroup>(group), [](Napi::Env, std::shared_ptr<ProcessGroup>* p) { delete p; })});
      });
}

}  // namespace

GradientHook gradientHookFrom(const Napi::Value& v, const std::string& argName) {
  std::shared_ptr<ProcessGroup> group = ProcessGroupWrap::From(v, argName);
  if (group->backendName() != "gloo" && group->backendName() != "nccl") throw JsRangeError(argName + ": unsupported backend");
  return [group](const std::vector<torch::Tensor>& grads, torch::Tensor& found) { group->averageGradients(grads, found); };
}

void registerDistributed(Napi::Env env, Napi::Object exports) {
  auto cls = std::make_shared<ProcessGroupClass>();
  Napi::Function ctor = ProcessGroupWrap::Define(env);
  cls->constructor = Napi::Persistent(ctor);
  cls->constructor.SuppressDestruct();  // released with the environment, never after it
  exports.Set("NativeProcessGroup", ctor);
  exportFunction(env, exports, "createProcessGroup", [cls](const Args& a) { return createProcessGroup(a, cls); });
  exportFunction(env, exports, "ncclAvailable", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), ncclAvailable()); });
}

}  // namespace rk
