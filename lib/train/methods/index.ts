// The method registry: every plugin file in this folder (one method each), and the resolution of a
// --method string ('reviewkd', 'reviewkd+dkd', 'kd+ls', ...) into the native loss terms of a run.
import * as fs from 'fs';
import * as path from 'path';

import { suggest } from '../../cli/args';
import type { TermParamValue } from '../../native-types';
import type { NativeTermSpec } from '../binding';
import { paramKey, type MethodContext, type MethodParam, type MethodPlugin, type Pair } from './plugin';

export type { MethodPlugin, MethodParam, MethodContext, Pair } from './plugin';
export { paramKey } from './plugin';

/** Values of method parameters by schema key: '<method>Weight' and '<method><Param>' (e.g. dkdBeta). */
export type MethodOptions = Record<string, TermParamValue>;

let registry: ReadonlyMap<string, MethodPlugin> | undefined;

/**
 * Every method plugin, by name. Plugins are found by listing this folder, so a new method is one file
 * here plus its native term (docs/methods.md).
 */
export function methodPlugins(): ReadonlyMap<string, MethodPlugin> {
  if (registry) return registry;
  const found = new Map<string, MethodPlugin>();
  for (const file of fs.readdirSync(__dirname).sort()) {
    if (!/\.js$/.test(file) || file === 'index.js' || file === 'plugin.js') continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(__dirname, file)) as { method?: MethodPlugin };
    if (!mod.method) continue;
    if (found.has(mod.method.name)) throw new Error(`two method plugins are named '${mod.method.name}' (${file})`);
    found.set(mod.method.name, mod.method);
  }
  registry = found;
  return registry;
}

/** Every accepted method name: 'vanilla' and each plugin (combine with '+'). */
export function methodNames(): string[] {
  return ['vanilla', ...[...methodPlugins().keys()]];
}

/** Every schema field a method contributes: its weight, then its parameters. */
export function methodFields(plugin: MethodPlugin): { key: string; param: MethodParam | null; doc: string }[] {
  if (plugin.term === null) return [];
  return [
    { key: paramKey(plugin.name, 'weight'), param: null, doc: `${plugin.name}: ${plugin.weight.doc}` },
    ...plugin.params.map((p) => ({ key: paramKey(plugin.name, p.key), param: p, doc: p.doc })),
  ];
}

/** What a --method string resolves to. */
export interface ResolvedMethod {
  /** Canonical name, e.g. 'reviewkd+dkd' ('vanilla' for none). */
  name: string;
  plugins: MethodPlugin[];
  terms: NativeTermSpec[];
  /** Outer weight of each term, by method name. */
  weights: Record<string, number>;
  studentPreact?: boolean;
  teacherPreact?: boolean;
}

/** A method string or combination that cannot run, said before any step. */
export class MethodError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'MethodError';
  }
}


/**
 * Resolves a method string: names joined by '+', 'vanilla' alone for none. Refuses unknown names, a
 * method listed twice, two logit-distillation terms on the same logits (e.g. kd+dkd), a modifier without
 * a method it modifies, and methods that need different feature taps. Parameter values come from
 * `options` (schema keys such as dkdBeta), else the pair's published default, else the plugin's.
 */
export function resolveMethod(spec: string, pair: Pair, options: MethodOptions = {}): ResolvedMethod {
  if (typeof spec !== 'string' || spec.trim() === '') throw new MethodError(`method must be a name such as 'reviewkd' or a combination such as 'reviewkd+dkd'; got ${JSON.stringify(spec)}`);
  const plugins = methodPlugins();
  const names = spec.split('+').map((s) => s.trim().toLowerCase());
  if (names.length === 1 && names[0] === 'vanilla') return { name: 'vanilla', plugins: [], terms: [], weights: {} };
  const chosen: MethodPlugin[] = [];
  for (const n of names) {
    if (n === 'vanilla') throw new MethodError(`'vanilla' means no distillation and cannot be combined ('${spec}')`);
    const p = plugins.get(n);
    if (!p) throw new MethodError(`unknown method '${n}' in '${spec}'${suggest(n, [...plugins.keys()])}; known: ${methodNames().join(', ')} (combine with '+')`);
    if (chosen.includes(p)) throw new MethodError(`method '${n}' is listed twice in '${spec}'`);
    chosen.push(p);
  }
  const logit = chosen.filter((p) => p.term !== null && p.reads === 'logits');
  if (logit.length > 1) {
    throw new MethodError(`'${spec}' combines two logit-distillation terms (${logit.map((p) => p.name).join(', ')}) on the same logits; choose one (e.g. 'reviewkd+${logit[0].name}')`);
  }
  for (const m of chosen.filter((p) => p.modifies)) {
    const targets = m.modifies?.methods ?? [];
    if (!chosen.some((p) => targets.includes(p.name))) {
      throw new MethodError(`'${m.name}' modifies ${targets.join(' or ')} and needs one of them in the combination (e.g. '${targets[0]}+${m.name}')`);
    }
  }
  const terms = chosen.filter((p) => p.term !== null);
  let studentPreact: boolean | undefined;
  let teacherPreact: boolean | undefined;
  for (const p of terms) {
    for (const [side, want] of [['student', p.preact?.student], ['teacher', p.preact?.teacher]] as const) {
      if (want === undefined) continue;
      const current = side === 'student' ? studentPreact : teacherPreact;
      if (current !== undefined && current !== want) {
        throw new MethodError(`'${spec}': ${p.name} needs the ${side}'s features ${want ? 'before' : 'after'} the last activation and another method the opposite; run them separately`);
      }
      if (side === 'student') studentPreact = want;
      else teacherPreact = want;
    }
  }

  checkMethodOptions(options);
  const weights: Record<string, number> = {};
  const specs: NativeTermSpec[] = terms.map((p) => {
    const pairDefaults = p.pairDefaults?.(pair) ?? {};
    const params: Record<string, TermParamValue> = {};
    for (const param of p.params) {
      const given = options[paramKey(p.name, param.key)];
      const value = given ?? pairDefaults[param.key] ?? param.default;
      if (value !== undefined) params[param.key] = value;
    }
    for (const m of chosen) if (m.modifies?.methods.includes(p.name)) Object.assign(params, m.modifies.params);
    const w = options[paramKey(p.name, 'weight')];
    const weight = typeof w === 'number' ? w : typeof p.weight.default === 'function' ? p.weight.default(pair) : p.weight.default;
    weights[p.name] = weight;
    return { name: p.term as string, weight, warmup: p.warmup, params };
  });
  return {
    name: chosen.map((p) => p.name).join('+'),
    plugins: chosen,
    terms: specs,
    weights,
    ...(studentPreact !== undefined ? { studentPreact } : {}),
    ...(teacherPreact !== undefined ? { teacherPreact } : {}),
  };
}

/** Every method-option key any plugin accepts, with the field it belongs to. */
function allMethodFields(): Map<string, { plugin: MethodPlugin; param: MethodParam | null }> {
  const out = new Map<string, { plugin: MethodPlugin; param: MethodParam | null }>();
  for (const p of methodPlugins().values()) for (const f of methodFields(p)) out.set(f.key, { plugin: p, param: f.param });
  return out;
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.join(', ')}]` : String(v);
}

/**
 * Checks method options against the plugins' parameter tables: unknown keys are refused with a
 * suggestion; values of the chosen methods must have the field's type and range. Keys of methods not
 * chosen are allowed (a config file may hold several methods' settings) but still checked.
 */
export function checkMethodOptions(options: MethodOptions): void {
  const fields = allMethodFields();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const f = fields.get(key);
    if (!f) {
      throw new MethodError(`unknown method option '${key}'${suggest(key, [...fields.keys()])}; keys are <method>Weight and <method><Param>, e.g. reviewkdWeight, dkdBeta (docs/methods.md lists them)`);
    }
    const p = f.param;
    const type = p ? p.type : 'number';
    const where = `method option '${key}'`;
    const range = (n: number) => {
      const min = p ? p.min : 0;
      const max = p?.max;
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
        throw new MethodError(`${where} must be${min !== undefined ? ` >= ${min}` : ''}${max !== undefined ? ` and <= ${max}` : ''}; got ${n}`);
      }
    };
    if (type === 'number' || type === 'int') {
      if (typeof value !== 'number' || !Number.isFinite(value) || (type === 'int' && !Number.isInteger(value))) {
        throw new MethodError(`${where} must be ${type === 'int' ? 'an integer' : 'a finite number'}; got ${describeValue(value)}`);
      }
      range(value);
    } else if (type === 'boolean') {
      if (typeof value !== 'boolean') throw new MethodError(`${where} must be true or false; got ${describeValue(value)}`);
    } else if (type === 'string') {
      if (typeof value !== 'string' || (p?.choices && !p.choices.includes(value))) {
        throw new MethodError(`${where} must be ${p?.choices ? `one of ${p.choices.join(', ')}` : 'a string'}; got ${describeValue(value)}`);
      }
    } else if (!Array.isArray(value) || value.some((x) => typeof x !== 'number' || !Number.isInteger(x))) {
      throw new MethodError(`${where} must be a list of integers; got ${describeValue(value)}`);
    } else value.forEach(range);
  }
}

/** Runs every chosen plugin's validate() on the probed shapes; errors name the method. */
export function validateMethod(resolved: ResolvedMethod, ctx: MethodContext): void {
  for (const p of resolved.plugins) {
    try {
      p.validate?.(ctx);
    } catch (err) {
      throw new MethodError(`method '${p.name}': ${(err as Error).message}`);
    }
  }
}
