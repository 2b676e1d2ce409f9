// Model: a network of the zoo (or an imported TorchScript network) with its forwards, its stage
// features and safetensors weights. Parameters, buffers, modes and moves come from Module.
import { loadWeightsFile, saveSafetensors } from '../io';
import { Module, type LoadReport } from '../module';
import { optionsOf } from '../nn/checks';
import { native } from '../native';
import type { NativeModule } from '../native-types';
import { Tensor, zeros } from '../tensor';
import { info as registryInfo } from './registry';

/** Logits and stage features from one forward pass. */
export interface ModelOutput {
  /** N × numClasses. */
  logits: Tensor;
  /**
   * Stage features shallow → deep (stem excluded), then the pooled feature as an N × C × 1 × 1 map.
   * See docs/models.md for each family's stages.
   */
  features: Tensor[];
}

/** Options of the feature forwards. */
export interface FeatureOptions {
  /**
   * Stage features before their final activation, as the spec describes per family (CIFAR ResNet: the
   * residual sum before the stage's last ReLU; WRN: the next BatchNorm without ReLU; ...). The pooled
   * feature is always pooled from the post-activation map. Default false.
   */
  preact?: boolean;
}

function requireTensor(fn: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) {
    throw new TypeError(`${fn}: argument 'x' must be a Tensor; got ${x === null ? 'null' : Array.isArray(x) ? 'an Array' : typeof x}`);
  }
}

function preactOption(fn: string, options: FeatureOptions | undefined): boolean {
  if (options === undefined || options === null) return false;
  if (typeof options !== 'object') throw new TypeError(`${fn}: argument 'options' must be an object like {preact: true}; got ${typeof options}`);
  const preact = options.preact ?? false;
  if (typeof preact !== 'boolean') throw new TypeError(`${fn}: option 'preact' must be a boolean; got ${typeof preact}`);
  return preact;
}

/**
 * A trainable network with stage features. Create one with {@link create} or
 * {@link loadTorchScript}. Every forward runs on a worker thread and returns a Promise; run one call
 * at a time per model (training-mode forwards update BatchNorm statistics).
 *
 * @example
 * const net = rk.models.create('resnet20', { numClasses: 100 }).eval();
 * const logits = await net.forward(rk.randn([8, 3, 32, 32]));
 */
export class Model extends Module {
  /** @internal Wraps a native zoo or TorchScript module; use rk.models.create / loadTorchScript. */
  constructor(handle: NativeModule) {
    super(handle);
  }

  /** The registry name ('resnet20', 'wrn-40-2', ...) or 'torchscript'. */
  get name(): string {
    return native().modelInfo(this.handle).name;
  }

  /** Image channels the model expects (null for TorchScript models: their contract is their own). */
  get inChannels(): number | null {
    return native().modelInfo(this.handle).inChannels;
  }

  /**
   * Logits (N × numClasses) for a batch `x` (N × C × H × W, the model's dtype and device).
   * @example
   * const logits = await net.forward(images);
   */
  forward(x: Tensor): Promise<Tensor> {
    requireTensor(`${this.kind}.forward`, x);
    return native()
      .modelForward(this.handle, x.handle)
      .then((h) => new Tensor(h));
  }

  /**
   * The stage features (shallow → deep, stem excluded) plus the pooled N × C × 1 × 1 feature last.
   * @example
   * const feats = await teacher.features(images, { preact: true });
   * feats.map((f) => f.shape); // resnet56: [[N,16,32,32], [N,32,16,16], [N,64,8,8], [N,64,1,1]]
   */
  async features(x: Tensor, options?: FeatureOptions): Promise<Tensor[]> {
    const out = await this.forwardWithFeatures(x, options);
    out.logits.dispose();
    return out.features;
  }

  /**
   * Logits and features from a single forward pass (what distillation needs).
   * @example
   * const { logits, features } = await student.forwardWithFeatures(images);
   */
  async forwardWithFeatures(x: Tensor, options?: FeatureOptions): Promise<ModelOutput> {
    const fn = `${this.kind}.forwardWithFeatures`;
    requireTensor(fn, x);
    const preact = preactOption(fn, options);
    const handles = await native().modelForwardWithFeatures(this.handle, x.handle, preact);
    const tensors = handles.map((h) => new Tensor(h));
    return { logits: tensors[0], features: tensors.slice(1) };
  }

  /**
   * Stores the 4-d weights in channels-last memory format (`false` restores contiguous NCHW). LibTorch's
   * convolutions then run their channels-last kernels; inputs need no conversion. Returns this.
   * @example
   * net.channelsLast();
   */
  channelsLast(enable = true): this {
    if (typeof enable !== 'boolean') throw new TypeError(`${this.kind}.channelsLast: argument 'enable' must be a boolean; got ${typeof enable}`);
    native().modelSetChannelsLast(this.handle, enable);
    return this;
  }

  /**
   * Saves parameters and buffers to a safetensors file under their PyTorch state_dict names, so
   * `model.load_state_dict(safetensors.torch.load_file(path))` works in Python for the same definition.
   * `metadata` is stored in the header (the model name is added as `model`).
   * @example
   * student.save('student.safetensors');
   */
  save(path: string, metadata: Record<string, string> = {}): void {
    saveSafetensors(path, this.stateDict(), { model: this.kind, ...metadata });
  }

  /**
   * Writes the model as TorchScript (`torch.jit.load(path)` in Python, `torch::jit::load` in C++): its
   * eval-mode forward (x -> logits) is traced with `exampleInput` (default: 2 blank images of the
   * registry's input size), and its parameters and buffers keep their PyTorch state_dict names.
   * Shape-dependent control flow is fixed by the trace, as with torch.jit.trace.
   *
   * `normalize` puts the input normalisation in front of the network, `(x / scale - mean) / std` per
   * channel (`scale` default 255), so the file takes raw images: pixel values 0–255 with scale 255, 0–1
   * with scale 1. The example input is then in that raw range. `description` is saved as JSON in the
   * extra file 'reviewkd.json' (`torch.jit.load(path, _extra_files={'reviewkd.json': ''})` reads it).
   * @example
   * student.exportTorchScript('student.pt');
   * student.exportTorchScript('raw.pt', { normalize: { mean: train.mean, std: train.std } });
   */
  exportTorchScript(path: string, options: { exampleInput?: Tensor; normalize?: { mean: number[]; std: number[]; scale?: number }; description?: Record<string, unknown> } = {}): void {
    const fn = `${this.kind}.exportTorchScript`;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${fn}: argument 'path' must be a file path`);
    options = optionsOf(fn, options);
    let example = options.exampleInput;
    let owned = false;
    if (example === undefined) {
      const info = native().modelInfo(this.handle);
      const side = this.name === 'torchscript' ? 32 : registryInfo(this.name).inputSize;
      const firstParam = Object.values(this.namedParameters())[0];
      example = zeros([2, info.inChannels ?? 3, side, side], { dtype: firstParam?.dtype === 'float64' ? 'float64' : 'float32', device: firstParam?.device });
      owned = true;
    }
    requireTensor(fn, example);
    const norm = options.normalize;
    if (norm !== undefined) {
      const ok = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
      if (typeof norm !== 'object' || norm === null || !ok(norm.mean) || !ok(norm.std)) {
        if (owned) example.dispose();
        throw new TypeError(`${fn}: option 'normalize' must be {mean: number[], std: number[], scale?: number}`);
      }
    }
    try {
      native().exportTorchScript(this.handle, path, example.handle, {
        ...(norm ? { mean: norm.mean, std: norm.std, scale: norm.scale ?? 255 } : {}),
        ...(options.description ? { extraJson: JSON.stringify(options.description) } : {}),
      });
    } finally {
      if (owned) example.dispose();
    }
  }

  /**
   * Loads weights from a safetensors file or a PyTorch checkpoint (`.pth`/`.pt` from torch.save, told
   * apart by the file's first bytes and read by the allow-list reader of io.loadTorchCheckpoint, which
   * runs nothing from the file). With `strict` (default) any missing, unexpected or mis-shaped key is an
   * error that lists them all and nothing is copied; `{strict: false}` loads the matching keys and
   * returns what did not match. `prefix` selects and strips a key prefix (e.g. 'module.' of a
   * DataParallel checkpoint); `key` names the checkpoint entry that holds the state dict when it is not
   * found by itself (e.g. 'ema').
   * @example
   * const report = teacher.load('resnet32x4.safetensors', { strict: false });
   * teacher.load('resnet34-b627a593.pth');
   * teacher.load('ckpt_epoch_240.pth', { key: 'model', prefix: 'module.' });
   */
  load(path: string, options: { strict?: boolean; prefix?: string; key?: string } = {}): LoadReport {
    options = optionsOf(`${this.kind}.load`, options);
    const record = loadWeightsFile(path, options.key === undefined ? {} : { key: options.key });
    try {
      return this.loadStateDict(record, options);
    } catch (e) {
      if (e instanceof Error) e.message = `${this.kind}.load('${path}'): ${e.message}`;
      throw e;
    } finally {
      for (const t of Object.values(record)) t.dispose();
    }
  }
}
