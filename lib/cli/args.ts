// Argument and config-file handling shared by every command: flags are parsed with node's built-in
// util.parseArgs (no dependency, strict about unknown flags), then each value is converted and checked
// against a small declarative spec, so every error names the flag or config field it is about.
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import { describe } from '../checks';

/** A bad command line or config file: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** How a value is read: from a flag (always a string) or from a JSON/YAML config (typed). */
export type OptionType = 'string' | 'int' | 'number' | 'boolean' | 'numbers';

/** One option of a command. `name` is the kebab-case flag; config files may use it or its camelCase. */
export interface OptionSpec {
  name: string;
  type: OptionType;
  /** One line for --help. */
  help: string;
  short?: string;
  /** Placeholder shown in --help (default from the type). */
  arg?: string;
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** The value is a path that must exist ('file', 'dir' or either). */
  exists?: 'file' | 'dir' | 'any';
  /** Not accepted in a config file (e.g. --config itself). */
  flagOnly?: boolean;
}

/** A command: its options, positionals and help text. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** e.g. 'reviewkd eval <run dir | weights.safetensors> [options]' */
  usage: string;
  /** Longer help after the usage line. */
  description?: string;
  options: OptionSpec[];
  /** [min, max] count of positionals (default [0, 0]). */
  positionals?: [number, number];
  examples?: string[];
}

/** Parsed values keyed by camelCase option name, plus positionals. */
export interface Parsed {
  values: Record<string, unknown>;
  /** The camelCase names given explicitly on the command line (not from the config file). */
  fromFlags: Set<string>;
  positionals: string[];
  help: boolean;
}

/** 'weight-decay' -> 'weightDecay'. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** 'weightDecay' -> 'weight-decay'. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}


/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** " (did you mean 'x'?)" when a known name is close to `given`. */
export function suggest(given: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dd = distance(given.toLowerCase(), k.toLowerCase());
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(given.length / 3)) ? ` (did you mean '${best}'?)` : '';
}

function range(spec: OptionSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` between ${spec.min} and ${spec.max}`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return '';
}

function checkRange(spec: OptionSpec, n: number, where: string, shown: string): void {
  if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new UsageError(`${where} is out of range: must be${range(spec)}; got ${shown}`);
  }
}

function checkExists(spec: OptionSpec, p: string, where: string): void {
  if (!spec.exists) return;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new UsageError(`${where}: ${spec.exists === 'dir' ? 'folder' : 'file'} '${p}' does not exist`);
  }
  if (spec.exists === 'file' && !st.isFile()) throw new UsageError(`${where}: '${p}' is not a file`);
  if (spec.exists === 'dir' && !st.isDirectory()) throw new UsageError(`${where}: '${p}' is not a folder`);
}

/** Converts a flag's string value (`where` is e.g. "option --epochs"). */
function fromFlag(spec: OptionSpec, raw: string | boolean, where: string): unknown {
  if (spec.type === 'boolean') return raw === true;
  const s = String(raw);
  switch (spec.type) {
    case 'int': {
      if (!/^[+-]?\d+$/.test(s.trim())) throw new UsageError(`${where} must be an integer${range(spec)}; got '${s}'`);
      const n = Number(s);
      checkRange(spec, n, where, s);
      return n;
    }
    case 'number': {
      const n = s.trim() === '' ? NaN : Number(s);
      if (!Number.isFinite(n)) throw new UsageError(`${where} must be a number${range(spec)}; got '${s}'`);
      checkRange(spec, n, where, s);
      return n;
    }
    case 'numbers': {
      const parts = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
      const ns = parts.map(Number);
      if (ns.some((n) => !Number.isFinite(n))) throw new UsageError(`${where} must be a comma-separated list of numbers; got '${s}'`);
      ns.forEach((n) => checkRange(spec, n, where, String(n)));
      return ns;
    }
    default: {
      if (spec.choices && !spec.choices.includes(s)) throw new UsageError(`${where} must be one of ${spec.choices.join(', ')}; got '${s}'${suggest(s, spec.choices)}`);
      checkExists(spec, s, where);
      return s;
    }
  }
}

/** Checks a typed value from a config file (`where` is e.g. "config run.yaml: field 'epochs'"). */
function fromConfig(spec: OptionSpec, v: unknown, where: string, baseDir: string): unknown {
  switch (spec.type) {
    case 'boolean':
      if (typeof v !== 'boolean') throw new UsageError(`${where} must be true or false; got ${describe(v)}`);
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new UsageError(`${where} must be an integer${range(spec)}; got ${describe(v)}`);
      checkRange(spec, v, where, String(v));
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new UsageError(`${where} must be a number${range(spec)}; got ${describe(v)}`);
      checkRange(spec, v, where, String(v));
      return v;
    case 'numbers': {
      if (typeof v === 'number') v = [v];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw new UsageError(`${where} must be a list of numbers; got ${describe(v)}`);
      (v as number[]).forEach((n) => checkRange(spec, n, where, String(n)));
      return v;
    }
    default: {
      if (typeof v !== 'string') throw new UsageError(`${where} must be a string; got ${describe(v)}`);
      if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`${where} must be one of ${spec.choices.join(', ')}; got '${v}'${suggest(v, spec.choices)}`);
      // Paths in a config file are relative to the file, so a config travels with its data.
      const value = spec.exists && !path.isAbsolute(v) ? path.resolve(baseDir, v) : v;
      checkExists(spec, value, where);
      return value;
    }
  }
}

/**
 * Reads a JSON (.json) or YAML (.yaml/.yml) config file into an object. YAML is parsed with the `yaml`
 * package: well kept, spec-complete YAML 1.2, no dependencies, and errors carry line/column.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`option --config: file '${file}' does not exist or cannot be read`);
  }
  const ext = path.extname(file).toLowerCase();
  let data: unknown;
  try {
    if (ext === '.json') data = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const YAML = require('yaml') as { parse(src: string): unknown };
      data = YAML.parse(text);
    } else throw new UsageError(`option --config: '${file}' must end in .json, .yaml or .yml`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`config ${file}: cannot parse it: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`config ${file}: must hold an object of option: value; got ${describe(data)}`);
  return data as Record<string, unknown>;
}

const HELP: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: 'show this help', flagOnly: true };

/**
 * Parses a command's arguments, or prints its help and returns undefined when --help was given (every
 * command then exits 0).
 */
export function parseOrHelp(spec: CommandSpec, argv: string[]): Parsed | undefined {
  const parsed = parseCommand(spec, argv);
  if (!parsed.help) return parsed;
  process.stdout.write(helpText(spec));
  return undefined;
}

/** The --threads option every computing command takes. */
export const THREADS_OPTION = { name: 'threads', type: 'int', min: 1, max: 1024, help: 'CPU threads for LibTorch' } as const;

/**
 * `--epochs -1` as `--epochs=-1`: util.parseArgs takes a value that starts with '-' for a flag and calls
 * the argument ambiguous, so a negative number after a numeric option is joined to it here. The value then
 * reaches the range check, which accepts it where the range allows and otherwise names the range.
 */
function joinNegativeValues(argv: string[], options: OptionSpec[]): string[] {
  const numeric = new Set<string>();
  for (const o of options) {
    if (o.type !== 'int' && o.type !== 'number' && o.type !== 'numbers') continue;
    numeric.add(`--${o.name}`);
    if (o.short) numeric.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (numeric.has(a) && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`); // '-n-1': a short option's value follows it directly
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parses `argv` for `spec`: flags, then (when given) the --config file below them. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const all = [...spec.options, HELP];
  const parseOptions: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const o of all) parseOptions[o.name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, all), options: parseOptions, strict: true, allowPositionals: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'([^']+)'/.exec(e.message)?.[1] ?? '';
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const bare = flag.replace(/^-+/, '').split('=')[0];
      throw new UsageError(`unknown option '${flag}' for 'reviewkd ${spec.name}'${suggest(bare, all.map((o) => o.name)).replace(/'([^']+)'\?\)$/, "'--$1'?)")}; see 'reviewkd ${spec.name} --help'`);
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new UsageError(`${e.message.split('\n')[0].replace(/^Option/, 'option')}; see 'reviewkd ${spec.name} --help'`);
    }
    throw new UsageError(`${e.message.split('\n')[0]}; see 'reviewkd ${spec.name} --help'`);
  }
  const help = parsed.values.help === true;
  const [minPos, maxPos] = spec.positionals ?? [0, 0];
  if (!help && parsed.positionals.length > maxPos) {
    throw new UsageError(`'reviewkd ${spec.name}' takes ${maxPos === 0 ? 'no' : `at most ${maxPos}`} positional argument(s); got '${parsed.positionals.slice(maxPos).join("' '")}'; see 'reviewkd ${spec.name} --help'`);
  }
  if (!help && parsed.positionals.length < minPos) throw new UsageError(`'reviewkd ${spec.name}' needs ${minPos} positional argument(s): ${spec.usage}`);

  const values: Record<string, unknown> = {};
  const fromFlags = new Set<string>();
  if (!help) {
    for (const o of spec.options) {
      const raw = parsed.values[o.name];
      if (raw === undefined) continue;
      values[camel(o.name)] = fromFlag(o, raw as string | boolean, `option --${o.name}`);
      fromFlags.add(camel(o.name));
    }
    if (typeof values.config === 'string') {
      const file = values.config;
      const config = readConfigFile(file);
      const byName = new Map<string, OptionSpec>();
      for (const o of spec.options) if (!o.flagOnly) byName.set(o.name, o);
      for (const [key, v] of Object.entries(config)) {
        const o = byName.get(key) ?? byName.get(kebab(key));
        if (!o) throw new UsageError(`config ${file}: unknown key '${key}'${suggest(key, [...byName.keys()].map(camel))}; known keys for 'reviewkd ${spec.name}': ${[...byName.keys()].map(camel).join(', ')}`);
        const k = camel(o.name);
        if (fromFlags.has(k)) continue; // flags win over the file
        values[k] = fromConfig(o, v, `config ${file}: field '${key}'`, path.dirname(path.resolve(file)));
      }
    }
  }
  return { values, fromFlags, positionals: parsed.positionals, help };
}

/** The --help text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  lines.push('', 'Options:');
  const rows = [...spec.options, HELP].map((o) => {
    const arg = o.type === 'boolean' ? '' : ` <${o.arg ?? (o.choices ? o.choices.join('|') : o.type === 'numbers' ? 'a,b,..' : o.type === 'int' || o.type === 'number' ? 'n' : 'value')}>`;
    return [`  ${o.short ? `-${o.short}, ` : ''}--${o.name}${arg}`, o.help];
  });
  const width = Math.min(40, Math.max(...rows.map((r) => r[0].length)) + 2);
  for (const [a, b] of rows) lines.push(a.length >= width ? `${a}\n${' '.repeat(width)}${b}` : `${a.padEnd(width)}${b}`);
  if (spec.options.some((o) => o.name === 'config')) {
    lines.push('', 'A --config file (.json, .yaml) holds the same options as keys (camelCase or kebab-case); flags win over it.');
  }
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return `${lines.join('\n')}\n`;
}
