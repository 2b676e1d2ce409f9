// The model registry: create a zoo model by name, list what exists.
import { native } from '../native';
import type { NativeModelEntry } from './binding';
import { Model } from './model';
import { describe } from '../checks';

/** Options of {@link create}. */
export interface CreateOptions {
  /** Size of the logits. Default: 100 for CIFAR models, 1000 for ImageNet models. */
  numClasses?: number;
  /** Channels of the input images. Default 3. */
  inChannels?: number;
}

/** What {@link list} tells about a model. */
export interface ModelInfo {
  /** The name to pass to {@link create}. */
  name: string;
  /** Reference-code names that resolve to this model too (e.g. 'ShuffleV1', 'mobile_half'). */
  aliases: string[];
  family: string;
  /** 'cifar' models expect 32×32 inputs, 'imagenet' models 224×224. */
  dataset: 'cifar' | 'imagenet';
  inputSize: number;
  defaultClasses: number;
  /** [C, H, W] of each feature at inputSize: stages shallow → deep, then the pooled [C, 1, 1]. */
  featureShapes: [number, number, number][];
  /** What `preact: true` returns for this family. */
  preact: string;
  /**
   * Trainable parameters with 3 input channels and the default classes (computed on first access by
   * building the model once; cached for the process).
   */
  readonly numParameters: number;
}


function toInfo(e: NativeModelEntry): ModelInfo {
  let count = e.numParameters;
  const info = { ...e } as NativeModelEntry;
  delete info.numParameters;
  return Object.defineProperty(info, 'numParameters', {
    enumerable: true,
    get: () => (count ??= native().modelDescribe(e.name).numParameters),
  }) as unknown as ModelInfo;
}

/**
 * Builds a zoo model with fresh weights (the reference initialisation of its family). `name` is a
 * registry name or alias; any 'wrn-{depth}-{width}' with depth = 6n+4 works. An unknown name throws a
 * RangeError listing the closest names.
 *
 * @example
 * const teacher = rk.models.create('resnet32x4', { numClasses: 100 });
 * const student = rk.models.create('wrn-16-2', { numClasses: 10, inChannels: 1 });
 */
export function create(name: string, options: CreateOptions = {}): Model {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`models.create: argument 'name' must be a model name; got ${describe(name)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`models.create: argument 'options' must be an object; got ${describe(options)}`);
  for (const key of ['numClasses', 'inChannels'] as const) {
    const v = options[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v))) {
      throw new TypeError(`models.create: option '${key}' must be a positive integer; got ${describe(v)}`);
    }
  }
  return new Model(native().modelCreate(name, options.numClasses ?? null, options.inChannels ?? null));
}

/**
 * Every model of the zoo with its family, reference input size, feature shapes and parameter count.
 * @example
 * for (const m of rk.models.list()) console.log(m.name, m.numParameters, m.featureShapes);
 */
export function list(): ModelInfo[] {
  return native().modelList(false).map(toInfo);
}

/**
 * The entry of one name (aliases and any 'wrn-D-W' resolve); unknown names throw like {@link create}.
 * @example
 * rk.models.info('wrn-28-10').numParameters; // 36536884
 */
export function info(name: string): ModelInfo {
  if (typeof name !== 'string') throw new TypeError(`models.info: argument 'name' must be a model name; got ${describe(name)}`);
  return toInfo(native().modelDescribe(name));
}
