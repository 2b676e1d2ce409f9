// safetensors files: the weights interchange format (PyTorch state_dict names, no pickle).
// Reading and writing happen in native/io; this layer checks argument kinds and wraps handles.
import { native } from '../native';
import type { NativeTensor } from '../native-types';
import { Tensor } from '../tensor';
import { describe } from '../checks';


function checkPath(fn: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`${fn}: argument 'path' must be a non-empty string; got ${describe(path)}`);
  }
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Tensor);
}

// Own properties are defined rather than assigned, so a tensor named "__proto__" stays a key.
function defineOwn<V>(out: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Loads every tensor of a safetensors file onto the CPU, keyed by name.
 *
 * The file is validated completely before tensor memory is allocated (header length, JSON, dtypes,
 * shapes, offsets that tile the data buffer exactly); any problem throws an Error naming the file,
 * the tensor and the problem. Supported dtypes: F64, F32, F16, BF16, I64, I32, U8, BOOL.
 *
 * @example
 * const weights = io.loadSafetensors('resnet20.safetensors');
 * weights['conv1.weight'].shape; // [16, 3, 3, 3]
 */
export function loadSafetensors(path: string): Record<string, Tensor> {
  checkPath('loadSafetensors', path);
  return loadSafetensorsWithMetadata(path).tensors;
}

/**
 * Like {@link loadSafetensors}, and also returns the file's `__metadata__` (string → string; empty
 * when the file has none).
 *
 * @example
 * const { tensors, metadata } = io.loadSafetensorsWithMetadata('student.safetensors');
 * console.log(metadata.model, Object.keys(tensors).length);
 */
export function loadSafetensorsWithMetadata(path: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  checkPath('loadSafetensorsWithMetadata', path);
  const raw = native().safetensorsRead(path);
  const tensors: Record<string, Tensor> = {};
  for (const name of Object.keys(raw.tensors)) defineOwn(tensors, name, new Tensor(raw.tensors[name]));
  return { tensors, metadata: raw.metadata };
}

/**
 * Saves tensors to a safetensors file that PyTorch's `safetensors.torch.load_file` reads.
 *
 * Tensors on any device and with any strides are copied to contiguous CPU memory first; they are laid
 * out like the reference writer (largest dtype first, then by name, 8-byte aligned buffer). The write
 * is atomic: a temporary file in the same directory is written, flushed to disk and renamed over
 * `path`, so on any error an existing file at `path` is left as it was.
 *
 * @param record tensors by name; names must be non-empty and not `__metadata__`.
 * @param metadata optional string → string map stored as the header's `__metadata__`.
 * @example
 * io.saveSafetensors('student.safetensors', { 'fc.weight': w, 'fc.bias': b }, { model: 'resnet8x4' });
 */
export function saveSafetensors(path: string, record: Record<string, Tensor>, metadata?: Record<string, string>): void {
  const fn = 'saveSafetensors';
  checkPath(fn, path);
  if (!isPlainRecord(record)) throw new TypeError(`${fn}: argument 'record' must be an object of Tensors by name; got ${describe(record)}`);
  const handles: Record<string, NativeTensor> = {};
  for (const name of Object.keys(record)) {
    const t = record[name];
    if (!(t instanceof Tensor)) throw new TypeError(`${fn}: argument 'record' entry '${name}' must be a Tensor; got ${describe(t)}`);
    defineOwn(handles, name, t.handle);
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainRecord(metadata)) throw new TypeError(`${fn}: argument 'metadata' must be an object of strings; got ${describe(metadata)}`);
    for (const key of Object.keys(metadata)) {
      if (typeof metadata[key] !== 'string') {
        throw new TypeError(`${fn}: argument 'metadata' entry '${key}' must be a string; got ${describe(metadata[key])}`);
      }
    }
  }
  native().safetensorsWrite(path, handles, metadata ?? null);
}
