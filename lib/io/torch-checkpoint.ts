// PyTorch checkpoints (.pth/.pt) read without running Python or any code from the file.
//
// torch.save writes one of two layouts (PyTorch's serialization notes describe both):
//  - zip (the default since PyTorch 1.6): `<archive>/data.pkl` is the pickled object, each tensor storage
//    is a member `<archive>/data/<key>`, `<archive>/byteorder` says 'little' or 'big' (absent in
//    older files: little), `<archive>/version` the format version.
//  - legacy (`_use_new_zipfile_serialization=False`): five pickles in a row (a magic number, the protocol
//    version 1001, a sys-info dict, the object, the sorted list of storage keys), then for each key an
//    int64 element count and the raw elements, both little-endian.
// In both, a tensor is pickled as a call of torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, hooks) whose storage is a persistent id ('storage', torch.<Type>Storage, key,
// location, numel). The pickles run on the allow-list machine of ./pickle: these rebuild functions are
// implemented here (they only record offset/size/stride), every other callable is refused. Only the
// storages of the tensors that are returned are read, and each tensor is copied out of its storage
// (strided and offset views included), so results never alias each other.
import * as fs from 'fs';

import { describe } from '../checks';
import type { Dtype } from '../dtype';
import { Tensor, tensor } from '../tensor';
import { loadSafetensors } from './safetensors';
import {
  PyDict,
  PyGlobal,
  PyTuple,
  TorchCheckpointError,
  UnsafePickleError,
  pyDescribe,
  unpickle,
  type GlobalSpec,
  type PyValue,
} from './pickle';
import { ZipReader } from './torch-zip';

export { TorchCheckpointError, UnsafePickleError } from './pickle';

/** Element types of PyTorch storages that reviewkd reads, by storage class name. */
const STORAGE_TYPES: Record<string, { torch: string; bytes: 1 | 2 | 4 | 8 }> = {
  FloatStorage: { torch: 'float32', bytes: 4 },
  DoubleStorage: { torch: 'float64', bytes: 8 },
  HalfStorage: { torch: 'float16', bytes: 2 },
  BFloat16Storage: { torch: 'bfloat16', bytes: 2 },
  LongStorage: { torch: 'int64', bytes: 8 },
  IntStorage: { torch: 'int32', bytes: 4 },
  ShortStorage: { torch: 'int16', bytes: 2 },
  CharStorage: { torch: 'int8', bytes: 1 },
  ByteStorage: { torch: 'uint8', bytes: 1 },
  BoolStorage: { torch: 'bool', bytes: 1 },
};

/** Container keys searched, in this order, when the file is not a bare state dict. */
export const STATE_DICT_KEYS: readonly string[] = ['state_dict', 'model', 'net', 'student', 'model_state_dict'];

/** Most tensor dimensions accepted (PyTorch allows 64; weights use at most 5). */
const MAX_DIMS = 64;
/** Largest pickle (data.pkl) read; a ResNet-152 state dict's is about 60 kB. */
const MAX_PICKLE_BYTES = 256 << 20;
/** Legacy files are read whole; beyond this, re-save in the zip format. */
const MAX_LEGACY_BYTES = 2 ** 31 - 1;

/**
 * The most bytes that reading a file may produce: its tensors are views of the storages it holds, so more
 * than a small multiple of its size means broadcast (stride 0) views blown up, or a deflate bomb.
 */
function outputBudget(fileSize: number): number {
  return 4 * fileSize + (64 << 20);
}

/** One storage named by a persistent id. */
class StorageRef {
  constructor(readonly key: string, readonly type: string, readonly numel: number) {}
  get info(): { torch: string; bytes: 1 | 2 | 4 | 8 } {
    return STORAGE_TYPES[this.type];
  }
}

/** A tensor as the pickle describes it: a strided view of a storage. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly numel: number,
  ) {}
}

/** Options of {@link loadTorchCheckpoint} and {@link inspectTorchCheckpoint}. */
export interface TorchCheckpointOptions {
  /**
   * The top-level key that holds the state dict, e.g. 'model' or 'ema'. Default: the file itself when it
   * is a dict of tensors, else the first of 'state_dict', 'model', 'net', 'student', 'model_state_dict'
   * that holds one (searched again inside it, a few levels deep).
   */
  key?: string;
  /** Keep only the tensors whose names start with this prefix, with it removed (e.g. 'module.' of DataParallel). */
  prefix?: string;
}

/** What {@link inspectTorchCheckpoint} finds, without reading any tensor data. */
export interface TorchCheckpointInfo {
  /** 'zip' (torch.save's default) or 'legacy' (`_use_new_zipfile_serialization=False`). */
  format: 'zip' | 'legacy';
  /** The container key path that held the state dict ([] for a bare state dict). */
  container: string[];
  /** The string keys of the top-level dict ([] when the top level is not a dict). */
  topLevelKeys: string[];
  /** The tensors that {@link loadTorchCheckpoint} would return, with PyTorch's dtype names. */
  tensors: { name: string; dtype: string; shape: number[] }[];
}

// ---------------------------------------------------------------- the allow-list

function fail(where: string, why: string): never {
  throw new TorchCheckpointError(`${where}: ${why}`);
}

function int(where: string, v: PyValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(where, `${what} must be a non-negative integer; got ${pyDescribe(v)}`);
  return v as number;
}

function intTuple(where: string, v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : fail(where, `${what} must be a tuple; got ${pyDescribe(v)}`);
  if (items.length > MAX_DIMS) fail(where, `${what} has ${items.length} dimensions (at most ${MAX_DIMS})`);
  return items.map((x, i) => int(where, x, `${what}[${i}]`));
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(where: string, args: PyValue[], minArgs: number, maxArgs: number): TensorRef {
  if (args.length < minArgs || args.length > maxArgs) fail(where, `a tensor rebuild takes ${minArgs}-${maxArgs} arguments; got ${args.length}`);
  const [storage, offsetV, sizeV, strideV] = args;
  if (!(storage instanceof StorageRef)) fail(where, `a tensor's storage must be a persistent-id storage; got ${pyDescribe(storage)}`);
  const offset = int(where, offsetV, 'the storage offset');
  const shape = intTuple(where, sizeV, 'the size');
  const stride = intTuple(where, strideV, 'the stride');
  if (stride.length !== shape.length) fail(where, `size has ${shape.length} dimensions but stride has ${stride.length}`);
  // The view must lie inside its storage; checked in safe integers before anything is allocated.
  let numel = 1;
  let last = offset;
  for (let d = 0; d < shape.length; d++) {
    numel *= shape[d];
    if (shape[d] > 0) last += (shape[d] - 1) * stride[d];
    if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) fail(where, `the tensor of size [${shape.join(', ')}] is too large`);
  }
  const s = storage as StorageRef;
  if (numel > 0 && last >= s.numel) {
    fail(where, `a tensor of size [${shape.join(', ')}], stride [${stride.join(', ')}] at offset ${offset} reaches element ${last} of a ${s.numel}-element storage`);
  }
  if (numel === 0 && offset > s.numel) fail(where, `storage offset ${offset} is past the end of a ${s.numel}-element storage`);
  return new TensorRef(s, offset, shape, stride, numel);
}

/** An nn.Parameter loads as its tensor. */
function parameterOf(where: string, data: PyValue): TensorRef {
  if (!(data instanceof TensorRef)) fail(where, `a Parameter must wrap a tensor; got ${pyDescribe(data)}`);
  return data as TensorRef;
}

/**
 * The callables and types a state dict needs: a subset of what PyTorch's `weights_only` unpickler
 * permits (no quantized, sparse or subclass tensors, dtypes, torch.Size or user-added names). Each
 * callable is implemented here and only builds a description; nothing named in a file is looked up or run.
 */
function allowList(where: string): Map<string, GlobalSpec> {
  // Each callable gets `w`: the file and the byte offset of the REDUCE that calls it, for messages.
  const callables: Record<string, (args: PyValue[], w: string) => PyValue> = {
    // An empty OrderedDict; its entries follow as SETITEMS, its `_metadata` attribute as BUILD.
    'collections.OrderedDict': (args, w) => {
      if (args.length !== 0) fail(w, `collections.OrderedDict is accepted only with no arguments; got ${args.length}`);
      return new PyDict(true);
    },
    'torch._utils._rebuild_tensor_v2': (args, w) => rebuildTensor(w, args, 6, 7),
    // The pre-1.0 form, without requires_grad and hooks.
    'torch._utils._rebuild_tensor': (args, w) => rebuildTensor(w, args, 4, 4),
    'torch._utils._rebuild_parameter': (args, w) => {
      if (args.length !== 3) fail(w, `_rebuild_parameter takes 3 arguments; got ${args.length}`);
      return parameterOf(w, args[0]);
    },
    // Parameters with Python attributes: the attributes are data and are dropped.
    'torch._utils._rebuild_parameter_with_state': (args, w) => {
      if (args.length !== 4) fail(w, `_rebuild_parameter_with_state takes 4 arguments; got ${args.length}`);
      return parameterOf(w, args[0]);
    },
    // Tensors with Python attributes: (rebuild function, class, its args, state). Only plain tensors and
    // Parameters as the class, only the rebuild functions above as the function.
    'torch._tensor._rebuild_from_type_v2': (args, w) => {
      if (args.length !== 4) fail(w, `_rebuild_from_type_v2 takes 4 arguments; got ${args.length}`);
      const [fn, cls, inner] = args;
      if (!(cls instanceof PyGlobal) || !['torch.Tensor', 'torch.nn.parameter.Parameter'].includes(cls.qualified)) {
        throw new UnsafePickleError(`${w}: _rebuild_from_type_v2 of ${pyDescribe(cls)} is refused: only torch.Tensor and torch.nn.parameter.Parameter are accepted`);
      }
      const rebuild = fn instanceof PyGlobal && fn.qualified.startsWith('torch._utils._rebuild_') && Object.hasOwn(callables, fn.qualified) ? callables[fn.qualified] : undefined;
      if (!rebuild) throw new UnsafePickleError(`${w}: _rebuild_from_type_v2 with ${pyDescribe(fn)} is refused: only the tensor rebuild functions are accepted`);
      if (!(inner instanceof PyTuple)) fail(w, `_rebuild_from_type_v2 arguments must be a tuple; got ${pyDescribe(inner)}`);
      const t = rebuild((inner as PyTuple).items, w);
      return cls.qualified === 'torch.nn.parameter.Parameter' ? parameterOf(w, t) : t;
    },
  };
  const globals = new Map<string, GlobalSpec>();
  for (const [name, call] of Object.entries(callables)) globals.set(name, { kind: 'callable', call: (args, at) => call(args, `${where}: pickle byte ${at}`) });
  for (const type of Object.keys(STORAGE_TYPES)) globals.set(`torch.${type}`, { kind: 'type' });
  globals.set('torch.Tensor', { kind: 'type' });
  globals.set('torch.nn.parameter.Parameter', { kind: 'type' });
  return globals;
}

/** The names the reader accepts: callables (implemented without running anything) and type tokens. */
export const ALLOWED_GLOBALS: readonly string[] = [...allowList('').keys()].sort();

/** A sentence added to a refusal, when the refused name suggests what the user meant to do. */
function hint(qualified: string): string | undefined {
  if (/^torch\.\w+Storage$/.test(qualified)) {
    return `tensors of that storage type are not supported (supported: ${Object.values(STORAGE_TYPES).map((s) => s.torch).join(', ')})`;
  }
  if (qualified.startsWith('numpy.')) return 'numpy values are not accepted: store Python numbers or tensors instead';
  if (qualified.startsWith('torch.nn.modules.') || qualified.startsWith('__main__.')) {
    return 'a whole pickled module or object is refused: save and load model.state_dict() instead';
  }
  return undefined;
}

// ---------------------------------------------------------------- the two layouts

/** A parsed checkpoint: the object, and how to read the bytes of a storage. */
interface Parsed {
  format: 'zip' | 'legacy';
  root: PyValue;
  fileSize: number;
  /** The storage's elements, little-endian, in an ArrayBuffer-aligned Uint8Array. */
  storageBytes(ref: StorageRef): Uint8Array;
  close(): void;
}

function storagePid(where: string, storages: Map<string, StorageRef>, pid: PyValue, legacy: boolean): StorageRef {
  const items = pid instanceof PyTuple ? pid.items : [];
  if (items[0] !== 'storage' || items.length !== (legacy ? 6 : 5)) {
    throw new UnsafePickleError(`${where}: BINPERSID ${pyDescribe(pid)} is refused: only PyTorch storage ids ('storage', type, key, location, numel) are accepted`);
  }
  const [, type, key, , numelV] = items;
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.hasOwn(STORAGE_TYPES, type.name)) {
    fail(where, `a storage id names ${pyDescribe(type)}, not a supported torch storage type`);
  }
  if (typeof key !== 'string' || !/^\w{1,64}$/.test(key)) fail(where, `a storage key must be a short word; got ${pyDescribe(key)}`);
  if (legacy && items[5] !== null) fail(where, 'storage views of the pre-1.0 legacy format are not supported; re-save the file with a current PyTorch');
  const numel = int(where, numelV, 'a storage size');
  const known = storages.get(key as string);
  if (known) {
    if (known.type !== (type as PyGlobal).name || known.numel !== numel) fail(where, `storage '${key}' is described twice differently`);
    return known;
  }
  const ref = new StorageRef(key as string, (type as PyGlobal).name, numel);
  storages.set(ref.key, ref);
  return ref;
}

function openZip(path: string, fd: number, fileSize: number): Parsed {
  const zip = new ZipReader(fd, fileSize, path);
  const pickles = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    const names = [...zip.entries.keys()];
    if (names.some((n) => n.endsWith('/constants.pkl') || n.includes('/code/'))) {
      fail(path, 'this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint: load it with rk.models.loadTorchScript');
    }
    fail(path, pickles.length ? `${pickles.length} data.pkl records (${pickles.join(', ')})` : 'no <archive>/data.pkl record: not a torch.save checkpoint');
  }
  const archive = pickles[0].slice(0, -'/data.pkl'.length);
  const orderEntry = zip.entries.get(`${archive}/byteorder`);
  const order = orderEntry ? Buffer.from(zip.read(orderEntry, 16)).toString('latin1') : 'little';
  if (order !== 'little' && order !== 'big') fail(path, `byteorder record says '${order.slice(0, 16)}' (expected 'little' or 'big')`);
  const where = `${path} (${pickles[0]})`;
  const storages = new Map<string, StorageRef>();
  const data = zip.read(zip.entries.get(pickles[0]) as NonNullable<ReturnType<typeof zip.entries.get>>, Math.min(MAX_PICKLE_BYTES, outputBudget(fileSize)));
  const { value, end } = unpickle(data, 0, {
    where,
    globals: allowList(where),
    persistentLoad: (pid, at) => storagePid(`${where}: pickle byte ${at}`, storages, pid, false),
    hint,
  });
  if (end !== data.length) fail(where, `${data.length - end} bytes after the pickle's STOP`);
  return {
    format: 'zip',
    root: value,
    fileSize,
    storageBytes: (ref) => {
      const name = `${archive}/data/${ref.key}`;
      const entry = zip.entries.get(name);
      if (!entry) fail(path, `storage record '${name}' is missing`);
      const bytes = ref.numel * ref.info.bytes;
      if (entry.size !== bytes) fail(path, `storage record '${name}' has ${entry.size} bytes; ${ref.numel} ${ref.info.torch} elements need ${bytes}`);
      // A stored record is bounded by the file; a deflated one only by what it claims, hence the budget.
      const out = zip.read(entry, Math.min(bytes, outputBudget(fileSize)));
      if (order === 'big') byteSwap(out, ref.info.bytes);
      return out;
    },
    close: () => fs.closeSync(fd),
  };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function openLegacy(path: string, fd: number, fileSize: number): Parsed {
  if (fileSize > MAX_LEGACY_BYTES) fail(path, `legacy-format files larger than ${MAX_LEGACY_BYTES} bytes are not supported; re-save in the zip format`);
  const data = new Uint8Array(fileSize);
  let done = 0;
  while (done < fileSize) {
    const n = fs.readSync(fd, data, done, fileSize - done, done);
    if (n <= 0) fail(path, 'the file ended early');
    done += n;
  }
  fs.closeSync(fd);
  // The header pickles hold only numbers and plain dicts: no name at all is allowed in them.
  const none = new Map<string, GlobalSpec>();
  let pos = 0;
  const header = (what: string): PyValue => {
    const r = unpickle(data, pos, { where: `${path} (legacy ${what})`, globals: none, hint });
    pos = r.end;
    return r.value;
  };
  if (header('magic number') !== LEGACY_MAGIC) fail(path, 'not a PyTorch legacy checkpoint (wrong magic number)');
  const protocol = header('protocol version');
  if (protocol !== 1001) fail(path, `legacy protocol version ${pyDescribe(protocol)} is not supported (expected 1001)`);
  const sysInfo = header('sys info');
  if (!(sysInfo instanceof PyDict)) fail(path, `the legacy sys info is a ${pyDescribe(sysInfo)}, not a dict`);
  const where = `${path} (legacy object)`;
  const storages = new Map<string, StorageRef>();
  const object = unpickle(data, pos, { where, globals: allowList(where), persistentLoad: (pid, at) => storagePid(`${where}: pickle byte ${at}`, storages, pid, true), hint });
  pos = object.end;
  const keys = header('storage keys');
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) fail(path, `the legacy storage-key list is a ${pyDescribe(keys)}`);
  // The raw storages follow in key order, each an int64 element count then the elements (little-endian
  // whatever the writer's byte order: PyTorch's legacy writer converts).
  const spans = new Map<string, [number, number]>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const key of keys as string[]) {
    const ref = storages.get(key);
    if (!ref) fail(path, `storage '${key}' is listed but no tensor uses it, so its element size is unknown`);
    if (pos + 8 > fileSize) fail(path, `storage '${key}' is truncated (no size at offset ${pos})`);
    const count = view.getBigInt64(pos, true);
    if (count !== BigInt(ref.numel)) fail(path, `storage '${key}' has ${count} elements on disk; the pickle says ${ref.numel}`);
    const bytes = ref.numel * ref.info.bytes;
    if (pos + 8 + bytes > fileSize) fail(path, `storage '${key}' (${bytes} bytes at offset ${pos + 8}) is truncated`);
    spans.set(key, [pos + 8, bytes]);
    pos += 8 + bytes;
  }
  for (const key of storages.keys()) if (!spans.has(key)) fail(path, `storage '${key}' is used but not in the storage-key list`);
  return {
    format: 'legacy',
    root: object.value,
    fileSize,
    storageBytes: (ref) => {
      const [start, length] = spans.get(ref.key) as [number, number];
      const bytes = data.subarray(start, start + length);
      // Typed-array views need the element alignment; copy only when the file does not give it.
      return bytes.byteOffset % ref.info.bytes === 0 ? bytes : bytes.slice();
    },
    close: () => undefined,
  };
}

/**
 * Which layout the first bytes show. A safetensors file starts with its header length (8 bytes) and '{',
 * and a length can begin with 80 02 (a pickle's PROTO 2) or 50 4b 03 04 (a zip's local header); so both
 * checks also want something other than '{' at byte 8 (a zip's method field, a pickle's opcodes). The
 * legacy reader then requires the pickled magic number, naming anything else it finds there.
 */
function sniff(head: Buffer): 'zip' | 'legacy' | undefined {
  if (head.length < 9 || head[8] === 0x7b) return undefined;
  if (head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'legacy';
  return undefined;
}

/** Whether path names a regular file: opening a FIFO or a device for reading could block forever. */
function isRegularFile(path: string): boolean {
  try {
    return fs.statSync(path).isFile();
  } catch {
    return false;
  }
}

function openCheckpoint(path: string): Parsed {
  let fd: number;
  if (fs.existsSync(path) && !isRegularFile(path)) fail(path, 'not a regular file (a folder, FIFO or device cannot be a checkpoint)');
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new Error(`cannot open '${path}': ${(e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 512));
    fs.readSync(fd, head, 0, head.length, 0);
    const layout = sniff(head);
    if (layout === 'zip') return openZip(path, fd, size);
    if (layout === 'legacy') return openLegacy(path, fd, size);
    if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') {
      fail(path, "torch.save's tar layout (PyTorch before 0.4) is not supported; re-save the file with a current PyTorch");
    }
    fail(path, 'not a PyTorch checkpoint: neither a zip archive nor a legacy-format pickle (first bytes ' + head.subarray(0, 8).toString('hex') + ')');
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed by the legacy reader
    }
    throw e;
  }
}

// ---------------------------------------------------------------- finding the state dict

function isTensorDict(v: PyValue): v is PyDict {
  return v instanceof PyDict && v.size > 0 && v.keys.every((k) => typeof k === 'string') && v.values.every((x) => x instanceof TensorRef);
}

function findStateDict(path: string, root: PyValue, key: string | undefined): { dict: PyDict; container: string[] } {
  const search = (v: PyValue, trail: string[]): { dict: PyDict; container: string[] } | undefined => {
    if (isTensorDict(v)) return { dict: v, container: trail };
    if (!(v instanceof PyDict) || trail.length >= 4) return undefined;
    for (const k of STATE_DICT_KEYS) {
      const found = v.get(k);
      if (found !== undefined) {
        const r = search(found, [...trail, k]);
        if (r) return r;
      }
    }
    return undefined;
  };
  const keysOf = (v: PyValue) => (v instanceof PyDict ? v.keys.filter((k): k is string => typeof k === 'string') : []);
  const listKeys = (v: PyValue) => keysOf(v).slice(0, 12).map((k) => `'${k}'`).join(', ') + (keysOf(v).length > 12 ? ', ...' : '');
  let start = root;
  const trail: string[] = [];
  if (key !== undefined) {
    const inner = root instanceof PyDict ? root.get(key) : undefined;
    if (inner === undefined) {
      fail(path, root instanceof PyDict ? `no key '${key}' at the top level (keys: ${listKeys(root)})` : `option key '${key}' needs a dict at the top level; the file holds a ${pyDescribe(root)}`);
    }
    start = inner as PyValue;
    trail.push(key);
  }
  const found = search(start, trail);
  if (found) return found;
  if (start instanceof PyDict) {
    const mixed = start.values.some((x) => x instanceof TensorRef);
    fail(path, `no state dict (a dict of tensors by name) found${trail.length ? ` under '${trail.join('.')}'` : ''}: ${mixed ? 'the dict mixes tensors with other values' : 'it'} has keys ${listKeys(start) || '(none)'}; pass {key} to pick the entry that holds the weights`);
  }
  fail(path, `the file holds a ${pyDescribe(start)}${trail.length ? ` under '${trail.join('.')}'` : ''}, not a dict of tensors`);
}

function selectEntries(path: string, dict: PyDict, prefix: string | undefined): [string, TensorRef][] {
  const all = dict.keys.map((k, i) => [k as string, dict.values[i] as TensorRef] as [string, TensorRef]);
  if (!prefix) return all;
  const kept = all.filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t] as [string, TensorRef]);
  if (!kept.length) fail(path, `no tensor name starts with prefix '${prefix}' (names: ${all.slice(0, 5).map(([k]) => `'${k}'`).join(', ')}${all.length > 5 ? ', ...' : ''})`);
  return kept;
}

function checkOptions(fn: string, options: unknown): TorchCheckpointOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`${fn}: argument 'options' must be an object like {key, prefix}; got ${describe(options)}`);
  const o = options as Record<string, unknown>;
  for (const name of ['key', 'prefix']) {
    if (o[name] !== undefined && (typeof o[name] !== 'string' || (name === 'key' && o[name] === ''))) {
      throw new TypeError(`${fn}: option '${name}' must be a ${name === 'key' ? 'non-empty ' : ''}string; got ${describe(o[name])}`);
    }
  }
  return o as TorchCheckpointOptions;
}

function checkPath(fn: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`${fn}: argument 'path' must be a non-empty string; got ${describe(path)}`);
}

// ---------------------------------------------------------------- tensors out of storages

function byteSwap(b: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= b.length; i += width) {
    for (let lo = i, hi = i + width - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

/** The view's elements in row-major order (a fresh buffer for strided views, a subarray otherwise). */
function gather(t: TensorRef, storage: Uint8Array): Uint8Array {
  const width = t.storage.info.bytes;
  if (isContiguous(t)) return storage.subarray(t.offset * width, (t.offset + t.numel) * width);
  const out = new Uint8Array(t.numel * width);
  // Copy element-wise through views of the element width (8-byte elements as two 32-bit words, so NaN
  // payloads of float64 survive bit for bit).
  const unit = width === 8 ? 4 : width;
  const words = width === 8 ? 2 : 1;
  const Ctor = unit === 1 ? Uint8Array : unit === 2 ? Uint16Array : Uint32Array;
  const src = new Ctor(storage.buffer as ArrayBuffer, storage.byteOffset, storage.byteLength / unit);
  const dst = new Ctor(out.buffer);
  const ndim = t.shape.length;
  const index = new Array<number>(ndim).fill(0);
  let at = t.offset;
  for (let i = 0; i < t.numel; i++) {
    for (let w = 0; w < words; w++) dst[i * words + w] = src[at * words + w];
    for (let d = ndim - 1; d >= 0; d--) {
      at += t.stride[d];
      if (++index[d] < t.shape[d]) break;
      at -= t.stride[d] * t.shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** A Tensor from little-endian element bytes; int8/int16 widen to int32 (reviewkd tensors have no narrower ints). */
function toTensor(bytes: Uint8Array, torchDtype: string, shape: number[]): Tensor {
  const b = bytes.buffer;
  const o = bytes.byteOffset;
  const n = (w: number) => bytes.byteLength / w;
  const make: Record<string, () => [ArrayBufferView, Dtype | undefined]> = {
    float32: () => [new Float32Array(b, o, n(4)), 'float32'],
    float64: () => [new Float64Array(b, o, n(8)), 'float64'],
    float16: () => [new Uint16Array(b, o, n(2)), 'float16'],
    bfloat16: () => [new Uint16Array(b, o, n(2)), 'bfloat16'],
    int64: () => [new BigInt64Array(b, o, n(8)), 'int64'],
    int32: () => [new Int32Array(b, o, n(4)), 'int32'],
    int16: () => [new Int16Array(b, o, n(2)), 'int32'],
    int8: () => [new Int8Array(b, o, n(1)), 'int32'],
    uint8: () => [new Uint8Array(b, o, n(1)), 'uint8'],
    bool: () => [new Uint8Array(b, o, n(1)), 'bool'],
  };
  const [data, dtype] = make[torchDtype]();
  return tensor(data, { shape, dtype });
}

function materialize(path: string, parsed: Parsed, entries: [string, TensorRef][]): Record<string, Tensor> {
  // Refused before allocating anything (see outputBudget).
  const budget = outputBudget(parsed.fileSize);
  let total = 0;
  for (const [name, t] of entries) {
    total += t.numel * t.storage.info.bytes;
    if (total > budget) fail(path, `the tensors up to '${name}' would need ${total} bytes, more than 4x the file size; refusing to allocate them`);
  }
  const out: Record<string, Tensor> = {};
  const cache = new Map<StorageRef, Uint8Array>();
  const uses = new Map<StorageRef, number>();
  for (const [, t] of entries) uses.set(t.storage, (uses.get(t.storage) ?? 0) + 1);
  const made: Tensor[] = [];
  try {
    for (const [name, t] of entries) {
      let storage = cache.get(t.storage);
      if (!storage) {
        storage = parsed.storageBytes(t.storage);
        cache.set(t.storage, storage);
      }
      const tensorOut = toTensor(gather(t, storage), t.storage.info.torch, t.shape);
      made.push(tensorOut);
      // Defined, not assigned, so a tensor named "__proto__" stays an own key.
      Object.defineProperty(out, name, { value: tensorOut, enumerable: true, writable: true, configurable: true });
      // A storage is dropped once its last tensor is copied, to keep the peak low.
      const left = (uses.get(t.storage) as number) - 1;
      uses.set(t.storage, left);
      if (left === 0) cache.delete(t.storage);
    }
  } catch (e) {
    for (const m of made) m.dispose();
    throw e;
  }
  return out;
}

// ---------------------------------------------------------------- public API

/**
 * Loads the tensors of a PyTorch checkpoint (`torch.save` output, `.pth`/`.pt`) onto the CPU, keyed by
 * their state_dict names, without Python and without running anything from the file.
 *
 * Both layouts are read: the zip format (the default since PyTorch 1.6) and the legacy format
 * (`_use_new_zipfile_serialization=False`). The pickle is interpreted by an allow-list machine: only
 * the callables a state dict needs ({@link ALLOWED_GLOBALS}) are accepted, and any other name, and the
 * opcodes that would call a class or set attributes on an object, make it throw an
 * {@link UnsafePickleError} naming them. Malformed or oversized files throw a {@link TorchCheckpointError}.
 *
 * The state dict is the file itself when it is a dict of tensors, else the entry `options.key`, else the
 * first of 'state_dict', 'model', 'net', 'student', 'model_state_dict' that holds one. float32/64/16,
 * bfloat16, int64/32, uint8 and bool tensors keep their dtype; int8 and int16 are widened to int32.
 * Strided and offset views of shared storages are copied out, so no two results share memory.
 *
 * @example
 * const sd = io.loadTorchCheckpoint('resnet34-b627a593.pth');
 * const teacher = io.loadTorchCheckpoint('ckpt_epoch_240.pth', { key: 'model', prefix: 'module.' });
 */
export function loadTorchCheckpoint(path: string, options?: TorchCheckpointOptions): Record<string, Tensor> {
  checkPath('loadTorchCheckpoint', path);
  const o = checkOptions('loadTorchCheckpoint', options);
  const parsed = openCheckpoint(path);
  try {
    const { dict } = findStateDict(path, parsed.root, o.key);
    return materialize(path, parsed, selectEntries(path, dict, o.prefix));
  } finally {
    parsed.close();
  }
}

/**
 * Describes a PyTorch checkpoint without reading tensor data: its layout, where the state dict was
 * found, and the names, dtypes and shapes {@link loadTorchCheckpoint} would return with the same options.
 * Throws like loadTorchCheckpoint for refused or malformed files.
 *
 * @example
 * const info = io.inspectTorchCheckpoint('ckpt.pth');
 * console.log(info.format, info.container, info.tensors.length);
 */
export function inspectTorchCheckpoint(path: string, options?: TorchCheckpointOptions): TorchCheckpointInfo {
  checkPath('inspectTorchCheckpoint', path);
  const o = checkOptions('inspectTorchCheckpoint', options);
  const parsed = openCheckpoint(path);
  try {
    const { dict, container } = findStateDict(path, parsed.root, o.key);
    return {
      format: parsed.format,
      container,
      topLevelKeys: parsed.root instanceof PyDict ? parsed.root.keys.filter((k): k is string => typeof k === 'string') : [],
      tensors: selectEntries(path, dict, o.prefix).map(([name, t]) => ({ name, dtype: t.storage.info.torch, shape: t.shape })),
    };
  } finally {
    parsed.close();
  }
}

/**
 * Whether `path` is a PyTorch checkpoint rather than safetensors, from its first bytes (a zip archive, or
 * a pickle for the legacy layout). False for files that cannot be read.
 */
export function isTorchCheckpoint(path: string): boolean {
  checkPath('isTorchCheckpoint', path);
  let fd: number | undefined;
  if (!isRegularFile(path)) return false;
  try {
    fd = fs.openSync(path, 'r');
    const head = Buffer.alloc(32);
    const n = fs.readSync(fd, head, 0, 32, 0);
    return sniff(head.subarray(0, n)) !== undefined;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Loads the tensors of a weights file of either kind: a PyTorch checkpoint (told apart by its first
 * bytes, whatever the extension) through {@link loadTorchCheckpoint}, else safetensors. `options.key`
 * applies to PyTorch checkpoints only; `options.prefix` selects and strips a name prefix for both.
 *
 * @example
 * const sd = io.loadWeightsFile(process.argv[2], { prefix: 'module.' });
 */
export function loadWeightsFile(path: string, options?: TorchCheckpointOptions): Record<string, Tensor> {
  checkPath('loadWeightsFile', path);
  const o = checkOptions('loadWeightsFile', options);
  if (isTorchCheckpoint(path)) return loadTorchCheckpoint(path, o);
  const all = loadSafetensors(path);
  if (!o.prefix) return all;
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(all)) {
    if (name.startsWith(o.prefix)) Object.defineProperty(out, name.slice(o.prefix.length), { value: t, enumerable: true, writable: true, configurable: true });
    else t.dispose();
  }
  return out;
}
