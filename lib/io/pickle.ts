// An allow-list interpreter for Python pickles that never executes anything.
//
// A pickle is a program for a small stack machine (Python's `pickletools` documentation lists every
// opcode, protocols 0-5). Unpickling with Python's `pickle` module resolves GLOBAL names to arbitrary
// importable objects and calls them (REDUCE, INST, OBJ, NEWOBJ), or calls __setstate__ (BUILD): that is
// how a checkpoint runs code. This machine builds plain JS values instead, and the only names it
// resolves are those in the `globals` table its caller passes: each is either a type token (usable as
// an argument, never called) or a callable implemented here in TypeScript by the caller. Every other
// name is refused at the GLOBAL/STACK_GLOBAL opcode, before anything uses it, with an error naming it.
// INST, OBJ, NEWOBJ, NEWOBJ_EX, the extension-registry opcodes and out-of-band buffers are refused
// outright; BUILD is accepted only as the attribute dict of an OrderedDict (the `_metadata` PyTorch
// attaches to every state_dict), which is data and is dropped.
//
// Every length field is checked against the bytes that remain before anything is allocated, and the
// stack, mark stack and memo sizes are capped, so work and memory stay linear in the input size.

/** A problem with a checkpoint's bytes: truncated, malformed, or over a size limit. */
export class TorchCheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchCheckpointError';
  }
}

/** The checkpoint asks for something the allow-list refuses: a callable, a class or an opcode that would run code. */
export class UnsafePickleError extends TorchCheckpointError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePickleError';
  }
}

/** A Python tuple (lists are JS arrays). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python dict or collections.OrderedDict: entries in insertion order; later equal keys replace earlier ones. */
export class PyDict {
  readonly keys: PyValue[] = [];
  readonly values: PyValue[] = [];
  private readonly index = new Map<string, number>();
  constructor(readonly ordered = false) {}

  /** Sets `key` (a primitive key replaces an equal one, like Python's dict; other keys are appended). */
  set(key: PyValue, value: PyValue): void {
    const id = primitiveKey(key);
    const at = id === undefined ? undefined : this.index.get(id);
    if (at !== undefined) {
      this.values[at] = value;
      return;
    }
    if (id !== undefined) this.index.set(id, this.keys.length);
    this.keys.push(key);
    this.values.push(value);
  }
  /** The value under a string key, or undefined. */
  get(key: string): PyValue | undefined {
    const at = this.index.get(`s:${key}`);
    return at === undefined ? undefined : this.values[at];
  }
  /** Number of entries. */
  get size(): number {
    return this.keys.length;
  }
}

/** A Python set or frozenset (items in pickle order; no deduplication is needed to read tensors). */
export class PySet {
  readonly items: PyValue[] = [];
  constructor(readonly frozen: boolean) {}
}

/** A name from the allow-list used as a value (a type token, or a callable not yet called). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  /** 'module.name', the key of the allow-list. */
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Any value the machine builds; `object` covers what the caller's callables and persistent loads return. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | object;

function primitiveKey(key: PyValue): string | undefined {
  // Python's 1 == 1.0 == True hash alike; state dicts key by str, optimizer states by int.
  if (typeof key === 'string') return `s:${key}`;
  if (typeof key === 'number') return `n:${key}`;
  if (typeof key === 'bigint') return `n:${key}`;
  if (typeof key === 'boolean') return `n:${key ? 1 : 0}`;
  if (key === null) return 'None';
  return undefined;
}

/** What a name in the allow-list is. */
export type GlobalSpec =
  | { kind: 'type' }
  | { kind: 'callable'; call: (args: PyValue[], at: number) => PyValue };

/** Caps on the machine's working set; the defaults fit any real state dict by orders of magnitude. */
export interface PickleLimits {
  /** Values on the stack at once. */
  maxStack: number;
  /** Nested MARKs open at once. */
  maxMarks: number;
  /** Memo entries. */
  maxMemo: number;
  /** Bytes of one str/bytes value. */
  maxStringBytes: number;
  /** Bytes of one arbitrary-precision integer (LONG1/LONG4/LONG). */
  maxIntBytes: number;
}

/** The limits {@link unpickle} applies unless its options override them. */
export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = {
  maxStack: 1 << 20,
  maxMarks: 4096,
  maxMemo: 1 << 22,
  maxStringBytes: 64 << 20,
  maxIntBytes: 64,
};

/** How to run one pickle. */
export interface UnpickleOptions {
  /** Names the file (and member) in every message. */
  where: string;
  /** The allow-list: 'module.name' → what it is. */
  globals: ReadonlyMap<string, GlobalSpec>;
  /** Turns a persistent id (BINPERSID) into a value; without it persistent ids are refused. */
  persistentLoad?: (pid: PyValue, at: number) => PyValue;
  /** Extra words for a refused name (e.g. which dtypes exist), or undefined. */
  hint?: (qualified: string) => string | undefined;
  limits?: Partial<PickleLimits>;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

// Opcodes that are refused whatever the allow-list says, and why.
const REFUSED: Record<string, string> = {
  INST: 'it imports a class by name and calls it',
  OBJ: 'it calls a class object with arguments',
  NEWOBJ: 'it calls cls.__new__ on a class',
  NEWOBJ_EX: 'it calls cls.__new__ on a class',
  EXT1: 'it names a callable through the copyreg extension registry',
  EXT2: 'it names a callable through the copyreg extension registry',
  EXT4: 'it names a callable through the copyreg extension registry',
  NEXT_BUFFER: 'out-of-band buffers are not part of a checkpoint',
  READONLY_BUFFER: 'out-of-band buffers are not part of a checkpoint',
  PERSID: 'PyTorch writes storages with BINPERSID; a text persistent id is not a PyTorch storage',
};

/** Python's repr of a short value, for messages. */
export function pyDescribe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number' || typeof v === 'bigint') return `int/float ${String(v)}`;
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (Array.isArray(v)) return `list of length ${v.length}`;
  if (v instanceof PyTuple) return `tuple of length ${v.items.length}`;
  if (v instanceof PyDict) return `${v.ordered ? 'OrderedDict' : 'dict'} of ${v.size} entries`;
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyGlobal) return v.qualified;
  return (v as object).constructor?.name ?? 'object';
}

/** The allowed names, sorted, for messages. */
function allowedList(globals: ReadonlyMap<string, GlobalSpec>): string {
  return globals.size ? [...globals.keys()].sort().join(', ') : '(none: this part of the file holds only plain values)';
}

// Python's repr escapes for protocol-0 STRING (quoted) and UNICODE (raw-unicode-escape) lines.
function unescapeString(s: string, fail: (why: string) => never): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
    if (n in simple) out += simple[n];
    else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else fail(`unsupported escape '\\${n ?? ''}' in a STRING`);
  }
  return out;
}

function rawUnicodeEscape(s: string, fail: (why: string) => never): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt((u4 ?? u8) as string, 16);
    if (cp > 0x10ffff) fail(`code point U+${cp.toString(16)} out of range in a UNICODE`);
    return String.fromCodePoint(cp);
  });
}

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/**
 * Runs one pickle that starts at `start` in `data` and returns the value left by STOP and the offset
 * just past it. Throws {@link UnsafePickleError} for anything outside the allow-list and
 * {@link TorchCheckpointError} for malformed or oversized input; never calls anything but the
 * callables of `options.globals`.
 */
export function unpickle(data: Uint8Array, start: number, options: UnpickleOptions): { value: PyValue; end: number } {
  const limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
  const where = options.where;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = start;
  let opAt = start;
  let op = '';

  const fail = (why: string): never => {
    throw new TorchCheckpointError(`${where}: pickle byte ${opAt}${op ? ` (${op})` : ''}: ${why}`);
  };
  const refuse = (why: string): never => {
    throw new UnsafePickleError(`${where}: pickle byte ${opAt}: ${why}`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`truncated: needs ${n} more bytes, ${data.length - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = (): number => {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    // A length beyond the remaining bytes is refused before it is used to allocate anything.
    if (v > BigInt(data.length - pos)) fail(`a length of ${v} bytes exceeds the ${data.length - pos} bytes left`);
    return Number(v);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: a text argument has no newline');
    if (end - pos > limits.maxStringBytes) fail(`a text argument of ${end - pos} bytes exceeds the limit of ${limits.maxStringBytes}`);
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const bytes = (n: number): Uint8Array => {
    if (n > limits.maxStringBytes) fail(`a string of ${n} bytes exceeds the limit of ${limits.maxStringBytes}`);
    need(n);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const push = (v: PyValue): void => {
    if (stack.length >= limits.maxStack) fail(`more than ${limits.maxStack} values on the stack`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    if (!marks.length) fail('no MARK to pop to');
    const at = marks.pop() as number;
    return stack.splice(at);
  };
  const memoPut = (index: number, v: PyValue): void => {
    if (!memo.has(index) && memo.size >= limits.maxMemo) fail(`more than ${limits.maxMemo} memo entries`);
    memo.set(index, v);
  };
  const memoGet = (index: number): PyValue => {
    if (!memo.has(index)) fail(`memo entry ${index} was never stored`);
    return memo.get(index) as PyValue;
  };
  const textInt = (s: string): number => {
    if (!/^[0-9]{1,10}$/.test(s)) fail(`bad memo index '${s.slice(0, 20)}'`);
    return Number(s);
  };
  const longBytes = (n: number): number | bigint => {
    if (n > limits.maxIntBytes) fail(`an integer of ${n} bytes exceeds the limit of ${limits.maxIntBytes}`);
    const b = bytes(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v;
  };
  const resolve = (module: string, name: string): PyValue => {
    const qualified = `${module}.${name}`;
    const spec = options.globals.get(qualified);
    if (!spec) {
      const shown = /^[\w.]{1,200}$/.test(qualified) ? qualified : JSON.stringify(qualified.slice(0, 200));
      const extra = options.hint?.(qualified);
      refuse(`${op} '${shown}' is not on the allow-list, so the file is refused (nothing was run)${extra ? `; ${extra}` : ''}. Allowed: ${allowedList(options.globals)}`);
    }
    return new PyGlobal(module, name);
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) fail(`SETITEM(S) on a ${pyDescribe(target)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of values');
    for (let i = 0; i < items.length; i += 2) (target as PyDict).set(items[i], items[i + 1]);
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(target)) fail(`APPEND(S) on a ${pyDescribe(target)}, not a list`);
    if ((target as PyValue[]).length + items.length > limits.maxStack) fail(`a list of more than ${limits.maxStack} items`);
    for (const it of items) (target as PyValue[]).push(it);
  };

  for (;;) {
    opAt = pos;
    op = '';
    const code = u8();
    op = OPCODE_NAMES[code] ?? '';
    if (!op) fail(`unknown opcode 0x${code.toString(16).padStart(2, '0')}`);
    if (op in REFUSED) refuse(`opcode ${op} is refused: ${REFUSED[op]}`);
    switch (op) {
      case 'PROTO': {
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 'FRAME': // protocol 4 framing is only a buffering hint; the frame must fit in the data.
        u64();
        break;
      case 'STOP': {
        if (marks.length) fail('STOP with an open MARK');
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack (expected 1)`);
        return { value: stack[0], end: pos };
      }
      case 'MARK':
        if (marks.length >= limits.maxMarks) fail(`more than ${limits.maxMarks} nested MARKs`);
        marks.push(stack.length);
        break;
      case 'POP':
        if (marks.length && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 'POP_MARK':
        popMark();
        break;
      case 'DUP':
        push(top());
        break;
      // ---- scalars
      case 'NONE':
        push(null);
        break;
      case 'NEWTRUE':
        push(true);
        break;
      case 'NEWFALSE':
        push(false);
        break;
      case 'BININT':
        need(4);
        pos += 4;
        push(view.getInt32(pos - 4, true));
        break;
      case 'BININT1':
        push(u8());
        break;
      case 'BININT2':
        push(u16());
        break;
      case 'LONG1':
        push(longBytes(u8()));
        break;
      case 'LONG4': {
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('LONG4 with a negative length');
        push(longBytes(n));
        break;
      }
      case 'INT': {
        const s = line().trim();
        if (s === '00' || s === '01') push(s === '01');
        else {
          if (!/^[-+]?[0-9]{1,150}$/.test(s)) fail(`bad INT '${s.slice(0, 40)}'`);
          const v = BigInt(s);
          push(Number.isSafeInteger(Number(v)) ? Number(v) : v);
        }
        break;
      }
      case 'LONG': {
        const s = line().trim().replace(/L$/, '');
        if (!/^[-+]?[0-9]{1,150}$/.test(s)) fail(`bad LONG '${s.slice(0, 40)}'`);
        const v = BigInt(s);
        push(Number.isSafeInteger(Number(v)) ? Number(v) : v);
        break;
      }
      case 'FLOAT': {
        const s = line().trim();
        const v = Number(s);
        if (!/^[-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|inf|nan)$/i.test(s) || (Number.isNaN(v) && !/nan/i.test(s))) fail(`bad FLOAT '${s.slice(0, 40)}'`);
        push(/^[-+]?inf$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(s) ? NaN : v);
        break;
      }
      case 'BINFLOAT':
        need(8);
        pos += 8;
        push(view.getFloat64(pos - 8, false));
        break;
      // ---- strings and bytes
      case 'BINUNICODE':
        push(utf8.decode(bytes(u32())));
        break;
      case 'SHORT_BINUNICODE':
        push(utf8.decode(bytes(u8())));
        break;
      case 'BINUNICODE8':
        push(utf8.decode(bytes(u64())));
        break;
      case 'UNICODE':
        push(rawUnicodeEscape(line(), fail));
        break;
      case 'STRING': {
        const s = line();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) fail('a STRING must be quoted');
        push(unescapeString(s.slice(1, -1), fail));
        break;
      }
      case 'BINSTRING': {
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) fail('BINSTRING with a negative length');
        push(latin1.decode(bytes(n)));
        break;
      }
      case 'SHORT_BINSTRING':
        push(latin1.decode(bytes(u8())));
        break;
      case 'BINBYTES':
        push(bytes(u32()));
        break;
      case 'SHORT_BINBYTES':
        push(bytes(u8()));
        break;
      case 'BINBYTES8':
      case 'BYTEARRAY8':
        push(bytes(u64()));
        break;
      // ---- containers
      case 'EMPTY_TUPLE':
        push(new PyTuple([]));
        break;
      case 'TUPLE':
        push(new PyTuple(popMark()));
        break;
      case 'TUPLE1':
      case 'TUPLE2':
      case 'TUPLE3': {
        const n = op === 'TUPLE1' ? 1 : op === 'TUPLE2' ? 2 : 3;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        push(new PyTuple(items));
        break;
      }
      case 'EMPTY_LIST':
        push([]);
        break;
      case 'LIST':
        push(popMark());
        break;
      case 'APPEND': {
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 'APPENDS': {
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 'EMPTY_DICT':
        push(new PyDict());
        break;
      case 'DICT': {
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 'SETITEM': {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 'SETITEMS': {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 'EMPTY_SET':
        push(new PySet(false));
        break;
      case 'ADDITEMS': {
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet) || s.frozen) fail(`ADDITEMS on a ${pyDescribe(s)}, not a set`);
        if ((s as PySet).items.length + items.length > limits.maxStack) fail(`a set of more than ${limits.maxStack} items`);
        for (const it of items) (s as PySet).items.push(it);
        break;
      }
      case 'FROZENSET': {
        const s = new PySet(true);
        for (const it of popMark()) s.items.push(it); // a loop: spreading a million items overflows the call stack
        push(s);
        break;
      }
      // ---- memo
      case 'PUT':
        memoPut(textInt(line()), top());
        break;
      case 'BINPUT':
        memoPut(u8(), top());
        break;
      case 'LONG_BINPUT':
        memoPut(u32(), top());
        break;
      case 'MEMOIZE':
        memoPut(memo.size, top());
        break;
      case 'GET':
        push(memoGet(textInt(line())));
        break;
      case 'BINGET':
        push(memoGet(u8()));
        break;
      case 'LONG_BINGET':
        push(memoGet(u32()));
        break;
      // ---- names, calls, persistent ids: only through the allow-list
      case 'GLOBAL': {
        const module = line();
        const name = line();
        push(resolve(module, name));
        break;
      }
      case 'STACK_GLOBAL': {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolve(module as string, name as string));
        break;
      }
      case 'REDUCE': {
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) refuse(`REDUCE calls a ${pyDescribe(fn)}, which is not an allowed callable`);
        const spec = options.globals.get((fn as PyGlobal).qualified);
        if (!spec || spec.kind !== 'callable') refuse(`REDUCE calls ${(fn as PyGlobal).qualified}, which is allowed only as a type, never called`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments must be a tuple; got a ${pyDescribe(args)}`);
        push((spec as { call: (a: PyValue[], at: number) => PyValue }).call((args as PyTuple).items, opAt));
        break;
      }
      case 'BUILD': {
        const state = pop();
        const target = top();
        // state_dict() attaches `_metadata` (module versions) as an attribute of the OrderedDict. Setting
        // attributes on anything else is how __setstate__ gadgets start, so only this case is accepted.
        if (!(target instanceof PyDict) || !target.ordered) refuse(`BUILD on a ${pyDescribe(target)} is refused: only an OrderedDict's attribute dict is accepted`);
        if (!(state instanceof PyDict)) refuse(`BUILD with a ${pyDescribe(state)} state is refused: only an attribute dict is accepted`);
        break;
      }
      case 'BINPERSID': {
        const pid = pop();
        if (!options.persistentLoad) refuse('BINPERSID is refused here: this pickle may not reference storages');
        push((options.persistentLoad as (p: PyValue, at: number) => PyValue)(pid, opAt));
        break;
      }
      default:
        fail(`opcode ${op} is not supported`);
    }
  }
}
