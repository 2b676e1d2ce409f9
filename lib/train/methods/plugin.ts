// What a distillation method is to the trainer: one plugin object per file in this folder (the loss
// itself is a native term, native/engine/terms/<term>.cc). docs/methods.md shows how to add one.
import type { TermParamValue } from '../../native-types';

/** One tunable parameter of a method: a field of the run schema (flag --<method>-<param>, key <method><Param>). */
export interface MethodParam {
  /** The native term's parameter name, e.g. 'beta'. */
  key: string;
  type: 'number' | 'int' | 'boolean' | 'string' | 'numbers';
  default?: TermParamValue;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** One line for --help and the docs. */
  doc: string;
}

/** A teacher/student pair by zoo name (for per-pair defaults). */
export interface Pair {
  student: string;
  teacher?: string;
}

/** What validate() sees: the probed shapes ([C, H, W], pooled feature last) of both networks. */
export interface MethodContext extends Pair {
  studentShapes: number[][];
  teacherShapes: number[][];
  numClasses: number;
  /** Whether each sample's dataset index reaches the step (true for in-memory data). */
  datasetIndices: boolean;
}

export interface MethodPlugin {
  /** The name used in --method, e.g. 'dkd'. */
  name: string;
  /** Citation of the paper. */
  paper: string;
  /** One line: what the loss compares. */
  summary: string;
  /** The native loss term it runs, or null for a modifier such as 'ls'. */
  term: string | null;
  /** 'logits' terms compare the outputs; 'features' terms compare (or regress) stage features. */
  reads: 'logits' | 'features';
  /** Feature taps it needs, when it differs from the reference (teacher pre-activation, student post). */
  preact?: { student?: boolean; teacher?: boolean };
  /** The outer weight (flag --<name>-weight). */
  weight: { default: number | ((pair: Pair) => number); doc: string };
  /** Ramped by min(1, epoch / warmupEpochs) (ReviewKD's feature-loss warm-up, DKD's warm-up). */
  warmup: boolean;
  params: readonly MethodParam[];
  /** Parameter defaults that depend on the pair (e.g. DKD's beta), else the param's default. */
  pairDefaults?: (pair: Pair) => Record<string, TermParamValue>;
  /** Where the defaults come from. */
  defaultsSource: string;
  /** A modifier's effect: parameters set on the listed methods' terms when it is combined with them. */
  modifies?: { methods: readonly string[]; params: Record<string, TermParamValue> };
  /** Refuses a set-up it cannot run, with a message that says what to change. */
  validate?: (ctx: MethodContext) => void;
}

/** camelCase schema key of a method's parameter: ('dkd', 'beta') -> 'dkdBeta'. */
export function paramKey(method: string, param: string): string {
  return `${method}${param[0].toUpperCase()}${param.slice(1)}`;
}
