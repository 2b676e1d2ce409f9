// The run options of Trainer.create and Trainer.fit in one table: type, default, range, one doc line and
// CLI flag. The trainer takes its defaults from it, and `reviewkd train|distill` derives its flags, their
// --help lines, its config-file keys (the flag in camelCase) and the mapping to the trainer from it.
// Method weights and parameters come from the method plugins (lib/train/methods) the same way.

export type RunOptionType = 'int' | 'number' | 'boolean' | 'string' | 'numbers';

export interface RunField {
  /** The Trainer.create / Trainer.fit option (scope 'schedule': a field of fit's `schedule` object). */
  key: string;
  scope: 'trainer' | 'fit' | 'schedule';
  type: RunOptionType;
  /** The default (absent: required, or decided by the run, see defaultDoc). */
  default?: number | boolean | string;
  /** How the default is decided when it depends on the run. */
  defaultDoc?: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  doc: string;
  /**
   * The CLI flag when it is not kebab(key); 'no-<x>' flags switch a default-true boolean off. null: not
   * on the command line (callbacks, or set through another flag).
   */
  flag?: string | null;
  /** Only `reviewkd distill` has the flag (it means nothing without a teacher). */
  distillOnly?: boolean;
}

/** Every scalar run option. */
export const RUN_FIELDS: readonly RunField[] = Object.freeze([
  { key: 'epochs', scope: 'fit', type: 'int', min: 1, max: 100000, doc: 'epochs (recipes: 240)', defaultDoc: 'required' },
  { key: 'batchSize', scope: 'fit', type: 'int', default: 128, min: 2, max: 1 << 20, doc: 'batch size', flag: 'batch' },
  { key: 'lr', scope: 'fit', type: 'number', min: 0, max: 10, doc: 'base learning rate', defaultDoc: '0.1; 0.02 for ShuffleNet/MobileNet students' },
  { key: 'momentum', scope: 'trainer', type: 'number', default: 0.9, min: 0, max: 1, doc: 'SGD momentum' },
  { key: 'weightDecay', scope: 'trainer', type: 'number', default: 5e-4, min: 0, max: 1, doc: 'weight decay' },
  { key: 'nesterov', scope: 'trainer', type: 'boolean', default: true, doc: 'Nesterov momentum (--no-nesterov: plain momentum)', flag: 'no-nesterov' },
  { key: 'type', scope: 'schedule', type: 'string', default: 'step', choices: ['step', 'cosine', 'constant'], doc: 'learning-rate schedule', flag: 'schedule' },
  { key: 'milestones', scope: 'schedule', type: 'numbers', min: 0, doc: 'step schedule: epochs after which lr *= gamma', defaultDoc: '150,180,210 of 240: the same fractions of --epochs' },
  { key: 'gamma', scope: 'schedule', type: 'number', default: 0.1, min: 0, max: 1, doc: 'step schedule factor' },
  { key: 'warmupEpochs', scope: 'fit', type: 'int', default: 0, min: 0, doc: 'linear lr warm-up epochs' },
  { key: 'ceWeight', scope: 'trainer', type: 'number', default: 1, min: 0, max: 10000, doc: 'weight of the cross-entropy term (the logit-standardization recipe: 0.1)', distillOnly: true },
  { key: 'lossWarmupEpochs', scope: 'fit', type: 'int', min: 0, doc: 'warm-up epochs of the ramped losses (feature losses, DKD): weight x min(1, (epoch-1)/n); 0 disables', defaultDoc: "20 of 240 epochs: 1/12 of --epochs, rounded down", flag: 'loss-warmup', distillOnly: true },
  { key: 'seed', scope: 'trainer', type: 'int', default: 0, min: 0, max: 2 ** 31 - 1, doc: 'seed of the weights, data order and augmentation' },
  { key: 'teacherBN', scope: 'trainer', type: 'string', default: 'eval', choices: ['eval', 'batch'], doc: "teacher BatchNorm: running statistics ('eval') or batch statistics ('batch', the reference CIFAR code; recipes use it)", flag: 'teacher-bn', distillOnly: true },
  { key: 'augment', scope: 'trainer', type: 'boolean', default: true, doc: 'no random crop / flip (on by default: crop with padding 4, horizontal flip)', flag: 'no-augment' },
  { key: 'channelsLast', scope: 'trainer', type: 'boolean', default: false, doc: 'fast path: weights and inputs in channels-last memory format' },
  { key: 'autocast', scope: 'trainer', type: 'string', default: 'off', choices: ['bf16', 'off'], doc: 'fast path: forwards under bf16 autocast, fp32 weights and losses' },
  { key: 'cudaGraphs', scope: 'trainer', type: 'boolean', default: false, doc: 'CUDA fast path: the step captured in a CUDA graph after 3 warm-up steps and replayed (the last partial batch runs uncaptured)' },
  { key: 'keepLast', scope: 'fit', type: 'int', default: 2, min: 1, doc: 'epoch checkpoints kept besides best' },
  { key: 'evaluateEvery', scope: 'fit', type: 'int', default: 1, min: 0, doc: 'evaluate every n epochs (0 = only at the end)', flag: 'eval-every' },
  { key: 'checkpointEvery', scope: 'fit', type: 'int', default: 0, min: 0, doc: 'also checkpoint every n steps within an epoch (0: epoch ends only)' },
  { key: 'maxBadSteps', scope: 'fit', type: 'int', default: 10, min: 1, doc: 'consecutive non-finite steps tolerated before stopping' },
  { key: 'statsEvery', scope: 'fit', type: 'int', default: 50, min: 1, doc: 'read loss statistics back every n steps' },
  { key: 'dropLast', scope: 'fit', type: 'boolean', default: false, doc: 'drop the last incomplete batch of each epoch' },
  { key: 'progress', scope: 'fit', type: 'string', default: 'auto', choices: ['auto', 'bar', 'lines', 'none'], doc: "progress output on stderr ('auto': a bar on a terminal, else lines)" },
  { key: 'progressEvery', scope: 'fit', type: 'number', default: 10, min: 0.1, max: 86400, doc: 'seconds between progress lines when stderr is not a terminal' },
] satisfies RunField[]);

const BY_KEY = new Map(RUN_FIELDS.filter((f) => f.scope !== 'schedule').map((f) => [f.key, f]));

/** The default of a run option (the one place it is written). */
export function runDefault<T extends number | boolean | string>(key: string, scope: RunField['scope'] = 'trainer'): T {
  const f = scope === 'schedule' ? RUN_FIELDS.find((x) => x.scope === 'schedule' && x.key === key) : BY_KEY.get(key);
  if (!f || f.default === undefined) throw new Error(`run option '${key}' has no default`);
  return f.default as T;
}

/** 'weightDecay' -> 'weight-decay'. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The CLI flag of a field, or null. */
export function flagOf(f: RunField): string | null {
  return f.flag === null ? null : (f.flag ?? kebab(f.key));
}

/** One --help line: the doc and the default. */
export function helpOf(f: RunField): string {
  if (f.flag?.startsWith('no-')) return f.doc;
  const d = f.defaultDoc ?? (f.default === undefined ? undefined : String(f.default));
  return d === undefined || d === 'required' ? f.doc : `${f.doc} (default ${d})`;
}

/**
 * Trainer.create and Trainer.fit options from parsed CLI values (keyed by the flag in camelCase): each
 * field that was given, under its option name (a 'no-<x>' flag sets x to false). The schedule fields
 * become fit's `schedule` object; milestones and gamma only mean something to the step schedule.
 */
export function runOptionsFrom(values: Record<string, unknown>): { trainer: Record<string, unknown>; fit: Record<string, unknown> } {
  const out = { trainer: {} as Record<string, unknown>, fit: {} as Record<string, unknown>, schedule: {} as Record<string, unknown> };
  for (const f of RUN_FIELDS) {
    const flag = flagOf(f);
    if (flag === null) continue;
    const v = values[flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())];
    if (v === undefined) continue;
    if (flag.startsWith('no-')) {
      if (v === true) out[f.scope][f.key] = false;
    } else out[f.scope][f.key] = v;
  }
  const schedule = out.schedule;
  if (Object.keys(schedule).length > 0) {
    const type = (schedule.type as string | undefined) ?? runDefault<string>('type', 'schedule');
    out.fit.schedule = type === 'step' ? { ...schedule, type } : { type };
  }
  return { trainer: out.trainer, fit: out.fit };
}
