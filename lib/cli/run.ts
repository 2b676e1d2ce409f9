// What `reviewkd train` and `reviewkd distill` share: the options, recipe/config/flag merging, the run
// folder (config.json, the Trainer's logs and checkpoints, student.safetensors, summary.json), and a
// clean Ctrl-C through the Trainer's AbortSignal.
import * as fs from 'fs';
import * as path from 'path';

import type { ImageDataset, ImageStream } from '../data';
import type { Device } from '../dtype';
import * as models from '../models';
import type { Model } from '../models';
import * as recipes from '../recipes';
import type { Recipe } from '../recipes';
import { setNumThreads } from '../runtime';
import { manualSeed } from '../tensor';
import { Trainer, type Method, type FitOptions, type FitResult, type TrainerOptions } from '../train/trainer';
import { RUN_FIELDS, flagOf, helpOf, runOptionsFrom } from '../train/run-options';
import { methodFields, methodNames, methodPlugins, resolveMethod, MethodError, type MethodOptions } from '../train/methods';
import type { EpochLog } from '../train/log';
import { UsageError, suggest, kebab, type OptionSpec, type Parsed, THREADS_OPTION } from './args';
import { DATASETS, loadData } from './data';
import { checkDevice, cpuFallbackNote } from './device';
import { explainMismatch } from './mismatch';
import { LAUNCH_OPTIONS, groupFromLauncher, launchRanks } from './launch';
import { recordError, type ProcessGroup } from '../distributed';
import { loadWeights, resolveWeights, WHICH_WEIGHTS, type WhichWeights } from './weights';

/** Options of both training commands. */
export const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'config', type: 'string', arg: 'file.json|.yaml', help: 'read options from a JSON or YAML file (flags win)', exists: 'file', flagOnly: true },
  { name: 'recipe', type: 'string', arg: 'name', help: "a named recipe ('reviewkd recipes' lists them); other options override it" },
  { name: 'data', type: 'string', arg: 'path', help: 'dataset folder or archive (CIFAR-10/100 binary, IDX folder, image folder); format detected', exists: 'any' },
  { name: 'dataset', type: 'string', choices: DATASETS, help: 'force the format; fashion-mnist needs no --data when installed' },
  { name: 'image-size', type: 'int', min: 4, max: 4096, help: 'image folders: resize images to n x n' },
  { name: 'holdout', type: 'number', min: 0, max: 0.9, help: 'image folders without test/: fraction held out for testing (default 0.1)' },
  { name: 'limit', type: 'int', min: 2, help: 'use only the first n training images' },
  { name: 'test-limit', type: 'int', min: 1, help: 'use only the first n test images' },
  ...runOptionSpecs('common'),
  { name: 'device', type: 'string', arg: 'cpu|cuda|cuda:N', help: 'where to train (default cpu)' },
  THREADS_OPTION,
  ...LAUNCH_OPTIONS,
  { name: 'out', type: 'string', arg: 'dir', help: 'run folder (default runs/<timestamp>-<model>)' },
  { name: 'resume', type: 'boolean', help: 'continue the run in --out from its newest checkpoint' },
  { name: 'json', type: 'boolean', help: 'print summary.json on stdout when done' },
];

/** Options of `reviewkd distill` only. */
export const DISTILL_OPTIONS: OptionSpec[] = [
  { name: 'student', type: 'string', arg: 'model', help: "student model name ('reviewkd models')" },
  { name: 'teacher', type: 'string', arg: 'path', help: 'teacher weights: a run folder or a .safetensors file', exists: 'any' },
  { name: 'teacher-model', type: 'string', arg: 'model', help: 'teacher model name (default: recorded with the weights)' },
  { name: 'teacher-weights', type: 'string', choices: WHICH_WEIGHTS, help: 'which weights of a teacher run folder (default auto: best, final, latest)' },
  { name: 'method', type: 'string', arg: 'name[+name..]', help: `distillation method or '+' combination (default reviewkd): ${methodNames().join(', ')}` },
  ...runOptionSpecs('distill'),
  ...methodOptionSpecs(),
];

/** The flags of the run-option table (lib/train/run-options.ts): those of both commands, or distill's own. */
function runOptionSpecs(which: 'common' | 'distill'): OptionSpec[] {
  return RUN_FIELDS.filter((f) => flagOf(f) !== null && Boolean(f.distillOnly) === (which === 'distill')).map((f) => ({
    name: flagOf(f) as string,
    type: f.flag?.startsWith('no-') ? 'boolean' : f.type,
    ...(f.min !== undefined ? { min: f.min } : {}),
    ...(f.max !== undefined ? { max: f.max } : {}),
    ...(f.choices ? { choices: f.choices } : {}),
    help: helpOf(f),
  }));
}

/** One flag per method weight and parameter (--<method>-weight, --<method>-<param>), from the method plugins. */
function methodOptionSpecs(): OptionSpec[] {
  const out: OptionSpec[] = [];
  for (const plugin of methodPlugins().values()) {
    for (const f of methodFields(plugin)) {
      const p = f.param;
      const type = p ? p.type : 'number';
      const dflt = p ? (p.default === undefined ? '' : ` (default ${Array.isArray(p.default) ? p.default.join(',') : String(p.default)})`) : typeof plugin.weight.default === 'number' ? ` (default ${plugin.weight.default})` : '';
      out.push({
        name: kebab(f.key),
        type,
        ...(p?.min !== undefined ? { min: p.min } : { min: 0 }),
        ...(p?.max !== undefined ? { max: p.max } : {}),
        ...(p?.choices ? { choices: p.choices } : {}),
        help: `${p ? `${plugin.name}: ` : ''}${f.doc}${dflt}`,
      });
    }
  }
  return out;
}

/** The method options (schema keys such as dkdBeta) among resolved values. */
function methodOptionsOf(values: Record<string, unknown>): MethodOptions {
  const out: MethodOptions = {};
  for (const plugin of methodPlugins().values()) {
    for (const f of methodFields(plugin)) {
      const v = values[f.key];
      if (v !== undefined) out[f.key] = v as MethodOptions[string];
    }
  }
  return out;
}

/** Options of `reviewkd train` only. */
export const TRAIN_OPTIONS: OptionSpec[] = [
  { name: 'model', type: 'string', arg: 'name', help: "model to train ('reviewkd models')" },
  { name: 'method', type: 'string', choices: ['vanilla'], help: 'vanilla (cross-entropy); use distill for the rest' },
];

/** Everything a training run is made from, after merging recipe < config file < flags. */
interface Resolved {
  [key: string]: unknown;
  recipe?: string;
  student: string;
  teacher?: string;
  teacherModel?: string;
  teacherWeights?: WhichWeights;
  method: Method;
  epochs: number;
  batch?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  noNesterov?: boolean;
  schedule?: string;
  milestones?: number[];
  gamma?: number;
  warmupEpochs?: number;
  lossWarmup?: number;
  teacherBn?: 'eval' | 'batch';
  noAugment?: boolean;
  seed: number;
  device?: string;
  out?: string;
  progress?: string;
}

/** The summary.json of a run. */
export interface RunSummary {
  name: string;
  command: string;
  method: Method;
  student: string;
  teacher: string | null;
  dataset: string;
  /** The data path the run used (so `eval` and `--resume` find it again). */
  data?: string;
  epochs: number;
  /** Epochs actually finished. */
  epochsDone: number;
  /** Best test top-1 over epochs (%), the metric the paper reports; null without a test set or before the first evaluation. */
  top1: number | null;
  /** Test top-5 (%) at the best top-1 epoch; null with 5 classes or fewer (it would always be 100 %). */
  top5: number | null;
  /** The epoch of the best top-1, 1-based (as the console and the logs count). */
  bestEpoch: number | null;
  /** Whether the run had a test set (top1 is null without one, or when it stopped before evaluating). */
  hasTest: boolean;
  /** Test top-1/top-5 after the last epoch. */
  final: { top1: number | null; top5: number | null };
  params: number;
  /** Mean training throughput over epochs (over the steps taken, when no epoch finished). */
  imagesPerSecond: number;
  seconds: number;
  seed: number;
  /** The outer weight of each method's loss (e.g. {reviewkd: 0.6}: ReviewKD's λ). */
  weights?: Record<string, number>;
  /** Mean of each loss in the last epoch, by name ('ce', then each method's terms). */
  losses?: Record<string, number>;
  teacherBN?: 'eval' | 'batch';
  device: string;
  aborted: boolean;
  recipe?: { name: string; paperTop1?: number; paper?: Recipe['paper']; lambdaSource?: Recipe['lambdaSource'] };
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function checkModel(name: string, option: string): void {
  try {
    models.info(name);
  } catch {
    throw new UsageError(`${option}: unknown model '${name}'${suggest(name, models.list().map((m) => m.name))}; 'reviewkd models' lists them`);
  }
}

/** A recipe by name, as a UsageError naming --recipe when unknown. */
export function recipeOrUsage(name: string): Recipe {
  try {
    return recipes.get(name);
  } catch {
    const names = recipes.list().map((r) => r.name);
    throw new UsageError(`option --recipe: unknown recipe '${name}'${suggest(name, names)}; 'reviewkd recipes' lists them`);
  }
}


/** Merges recipe < saved config (resume) < config file < flags, and checks what the command needs. */
function resolve(kind: 'train' | 'distill', parsed: Parsed): Resolved {
  let v: Record<string, unknown> = { ...parsed.values };
  if (v.resume) {
    if (typeof v.out !== 'string') throw new UsageError('option --resume needs --out <run folder> (the run to continue)');
    const saved = path.join(v.out, 'config.json');
    if (!fs.existsSync(saved)) throw new UsageError(`option --resume: '${v.out}' is not a run folder of 'reviewkd ${kind}' (no config.json)`);
    const prev = JSON.parse(fs.readFileSync(saved, 'utf8')) as { command?: string; options?: Record<string, unknown> };
    if (prev.command && prev.command !== kind) throw new UsageError(`option --resume: '${v.out}' is a 'reviewkd ${prev.command}' run; resume it with that command`);
    v = { ...(prev.options ?? {}), ...v };
  }
  if (typeof v.recipe === 'string') {
    const r = recipeOrUsage(v.recipe);
    if (r.kind !== kind) {
      throw new UsageError(`option --recipe: '${r.name}' is a '${r.kind}' recipe; use 'reviewkd ${r.kind} --recipe ${r.name}'`);
    }
    const fromRecipe: Record<string, unknown> = {
      recipe: r.name,
      [kind === 'train' ? 'model' : 'student']: r.student,
      ...(r.teacher ? { teacherModel: r.teacher } : {}),
      method: r.method,
      epochs: r.epochs,
      batch: r.batchSize,
      lr: r.lr,
      momentum: r.momentum,
      noNesterov: !r.nesterov,
      weightDecay: r.weightDecay,
      schedule: r.schedule.type,
      milestones: r.schedule.milestones,
      gamma: r.schedule.gamma,
      ...(kind === 'distill' ? { lossWarmup: r.lossWarmupEpochs, reviewkdWeight: r.lambda, teacherBn: r.teacherBN } : {}),
      ...(kind === 'distill' && r.midChannels ? { reviewkdMidChannels: r.midChannels } : {}),
      // ImageNet recipes stream their data (train/ and val/ in the ILSVRC layout).
      ...(r.dataset === 'imagenet' ? { dataset: 'imagenet' } : {}),
    };
    // A recipe run made shorter or longer keeps the recipe's proportions: its step milestones and loss
    // warm-up (150,180,210 and 20 of 240 epochs) become the same fractions of --epochs, as the defaults do.
    if (typeof v.epochs === 'number' && v.epochs !== r.epochs) {
      fromRecipe.milestones = r.schedule.milestones.map((m) => Math.round((m * (v.epochs as number)) / r.epochs));
      if (r.lossWarmupEpochs > 0) delete fromRecipe.lossWarmup; // the trainer's default scales 20 of 240 and says so
    }
    v = { ...fromRecipe, ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) };
  }
  const student = (kind === 'train' ? v.model : v.student) as string | undefined;
  if (!student) throw new UsageError(kind === 'train' ? 'option --model (or --recipe) is required' : 'option --student (or --recipe) is required');
  checkModel(student, kind === 'train' ? 'option --model' : 'option --student');
  const method = (v.method as string | undefined) ?? (kind === 'train' ? 'vanilla' : 'reviewkd');
  if (kind === 'distill') {
    try {
      v.method = resolveMethod(method, { student }).name;
    } catch (err) {
      if (err instanceof MethodError) throw new UsageError(`option --method: ${err.message}`);
      throw err;
    }
  }
  if (kind === 'distill' && v.method !== 'vanilla') {
    if (typeof v.teacher !== 'string') throw new UsageError('option --teacher (a run folder or .safetensors file of the trained teacher) is required');
    if (typeof v.teacherModel === 'string') checkModel(v.teacherModel, 'option --teacher-model');
  }
  if (v.epochs === undefined) throw new UsageError('option --epochs (or --recipe) is required');
  if (typeof v.device === 'string') checkDevice(v.device);
  const milestones = v.milestones as number[] | undefined;
  if (milestones?.some((m) => !Number.isInteger(m))) throw new UsageError(`option --milestones must list whole epochs; got ${milestones.join(',')}`);
  return {
    ...v,
    student,
    method: (v.method as Method | undefined) ?? method,
    epochs: v.epochs as number,
    seed: (v.seed as number | undefined) ?? 0,
  } as Resolved;
}

function meanRate(history: EpochLog[]): number {
  return history.length ? history.reduce((s, h) => s + h.imagesPerSecond, 0) / history.length : 0;
}

/** The exit code of a run stopped by each signal (128 + the signal number, as shells report it). */
const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

/** Writes summary.json through a temporary file and a rename: a reader or a kill never sees half a file. */
function writeSummary(out: string, summary: RunSummary): void {
  const file = path.join(out, 'summary.json');
  const temp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temp, `${JSON.stringify(summary, null, 2)}\n`);
  fs.renameSync(temp, file);
}

/** Builds the summary.json object of a finished (or interrupted) run. */
function summarize(name: string, kind: string, o: Resolved, datasetName: string, dataPath: string | undefined, student: Model, trainer: Trainer, r: FitResult, wallSeconds: number, stepRate: number): RunSummary {
  const h = r.history;
  const last = h[h.length - 1];
  const bestRecord = r.best ? h.find((x) => x.epoch === r.best?.epoch) : undefined;
  // Top-5 of 5 classes or fewer is 100 % by definition: not a measurement worth reporting.
  const top5 = (v: number | undefined) => (trainer.options.train.numClasses > 5 ? (v ?? null) : null);
  const recipe = o.recipe ? recipes.get(o.recipe) : undefined;
  return {
    name,
    command: kind,
    method: o.method,
    student: o.student,
    teacher: o.method === 'vanilla' ? null : (trainer.options.teacher?.name ?? null),
    dataset: datasetName,
    ...(dataPath ? { data: dataPath } : {}),
    epochs: o.epochs,
    epochsDone: h.length,
    top1: r.best?.top1 ?? null,
    top5: top5(bestRecord?.testTop5),
    bestEpoch: r.best?.epoch ?? null,
    hasTest: trainer.options.test !== undefined,
    final: { top1: last?.testTop1 ?? null, top5: top5(last?.testTop5) },
    params: student.numParameters(),
    imagesPerSecond: h.length > 0 ? meanRate(h) : stepRate,
    seconds: last?.elapsed ?? wallSeconds,
    seed: o.seed,
    ...(o.method !== 'vanilla' ? { weights: { ...trainer.weights }, teacherBN: o.teacherBn ?? 'eval' } : {}),
    ...(last ? { losses: last.losses } : {}),
    device: trainer.device,
    aborted: r.aborted,
    ...(recipe ? { recipe: { name: recipe.name, paperTop1: recipes.paperTop1For(recipe, o.method), ...(recipe.paper ? { paper: recipe.paper } : {}), ...(recipe.lambdaSource ? { lambdaSource: recipe.lambdaSource } : {}) } } : {}),
  };
}

/** Runs `reviewkd train` / `reviewkd distill`; resolves to the exit code. */
export async function runTraining(kind: 'train' | 'distill', parsed: Parsed): Promise<number> {
  const o = resolve(kind, parsed);
  // --nproc: this process only launches the ranks (launch.ts); each rank runs this function again.
  if (o.nproc !== undefined) return launchRanks(kind, process.argv.slice(3), o);
  if (typeof o.threads === 'number') setNumThreads(o.threads);
  // Started by a launcher (--nproc, torchrun, srun): join the job; only rank 0 writes the run folder.
  const group = await groupFromLauncher((o.device as string | undefined) ?? 'cpu', o.distTimeout as number | undefined);
  try {
    return await trainRank(kind, parsed, o, group);
  } catch (err) {
    if (group) recordError(err);
    throw err;
  } finally {
    group?.destroy();
  }
}

async function trainRank(kind: 'train' | 'distill', parsed: Parsed, o: Resolved, group: ProcessGroup | undefined): Promise<number> {
  const writer = !group || group.isMain;
  const device = group && o.device === 'cuda' ? (`cuda:${group.localRank}` as Device) : ((o.device as Device | undefined) ?? 'cpu');
  const fallback = writer && o.device === undefined ? cpuFallbackNote() : undefined;
  if (fallback) process.stderr.write(`${fallback}\n`);

  const loaded = await loadData({
    data: o.data as string | undefined,
    dataset: o.dataset as string | undefined,
    imageSize: o.imageSize as number | undefined,
    holdout: o.holdout as number | undefined,
    limit: o.limit as number | undefined,
    testLimit: o.testLimit as number | undefined,
    seed: o.seed,
    // An image stream crops at decode: --no-augment gives it the evaluation transform (resize + centre crop).
    trainTransform: o.augment === false ? 'eval' : 'train',
  });
  const train = loaded.train as ImageDataset | ImageStream;
  if (!train) throw new UsageError(`option --data: '${loaded.path}' has no training images`);
  if (o.recipe && loaded.format !== recipes.get(o.recipe).dataset) {
    process.stderr.write(`reviewkd: note: recipe ${o.recipe} is a ${recipes.get(o.recipe).dataset} recipe; the data is ${loaded.format}\n`);
  }

  manualSeed(o.seed);
  const shape = { numClasses: train.numClasses, inChannels: train.channels };
  const student = models.create(o.student, shape);
  let teacher: Model | undefined;
  if (kind === 'distill' && o.method !== 'vanilla') {
    const src = resolveWeights(o.teacher as string, 'option --teacher', (o.teacherWeights as WhichWeights | undefined) ?? 'auto');
    const teacherName = o.teacherModel ?? src.model;
    if (!teacherName) throw new UsageError(`option --teacher-model is required: '${src.file}' does not record which model it holds`);
    checkModel(teacherName, 'option --teacher-model');
    teacher = models.create(teacherName, shape);
    const mismatch = explainMismatch(teacher, src, { classes: train.numClasses, channels: train.channels, height: train.height, width: train.width, format: loaded.format }, 'the teacher');
    if (mismatch.error) throw new UsageError(`option --teacher: ${mismatch.error}`);
    for (const note of mismatch.notes) process.stderr.write(`reviewkd: note: ${note}\n`);
    loadWeights(teacher, src, 'option --teacher');
    o.teacherModel = teacherName;
  }

  const out = path.resolve(o.out ?? path.join('runs', `${timestamp()}-${o.student}`));
  const name = path.basename(out);
  if (writer && !o.resume && fs.existsSync(path.join(out, 'log.jsonl'))) {
    throw new UsageError(`option --out: '${out}' already holds a run (log.jsonl); pass --resume to continue it or choose another --out`);
  }
  if (writer) fs.mkdirSync(out, { recursive: true });
  // The resolved options, so --resume (and anyone reading the folder) knows how the run was made.
  const saved: Record<string, unknown> = { ...o, out, data: loaded.path, dataset: loaded.format };
  for (const k of ['resume', 'config', 'nproc', 'nnodes', 'nodeRank', 'masterAddr', 'masterPort']) delete saved[k];
  if (writer) fs.writeFileSync(path.join(out, 'config.json'), `${JSON.stringify({ command: kind, argv: process.argv.slice(2), options: saved }, null, 2)}\n`);

  // The run-option table maps each given flag to its Trainer.create / fit option (the schedule included).
  const run = runOptionsFrom(o);
  const trainer = await Trainer.create({
    student,
    ...(teacher ? { teacher } : {}),
    method: o.method,
    train,
    ...(loaded.test ? { test: loaded.test } : {}),
    device,
    methodOptions: methodOptionsOf(o),
    ...(run.trainer as Partial<TrainerOptions>),
    ...(group ? { processGroup: group } : {}),
  });


  // Ctrl-C, SIGTERM (docker stop, Kubernetes, Slurm pre-emption, timeout) and SIGHUP: the first one stops
  // after the current step (checkpoint and summary written); a second one exits now.
  const controller = new AbortController();
  let stoppedBy: StopSignal | null = null;
  const onSignal = (signal: StopSignal) => {
    if (stoppedBy) process.exit(STOP_SIGNALS[signal]);
    stoppedBy = signal;
    const what = signal === 'SIGINT' ? 'interrupted' : `received ${signal}`;
    process.stderr.write(`\nreviewkd: ${what}; stopping after this step and writing a checkpoint (${signal === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`);
    controller.abort();
  };
  const handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const started = Date.now();
  // Images per second over this session's steps, for a summary written before any epoch finished.
  let images = 0;
  const batch = (run.fit.batchSize as number | undefined) ?? 128;
  let result: FitResult;
  try {
    result = await trainer.fit({
      ...(run.fit as Partial<FitOptions>),
      epochs: o.epochs,
      runDir: out,
      resume: Boolean(o.resume),
      signal: controller.signal,
      onStep: () => {
        images += batch;
      },
      // summary.json is kept current after every epoch, so a run killed later still says how far it got.
      onEpochEnd: (_log, soFar) => {
        if (writer) writeSummary(out, summarize(name, kind, o, loaded.format, loaded.path, student, trainer, { ...soFar, aborted: false }, (Date.now() - started) / 1000, images / Math.max(1e-3, (Date.now() - started) / 1000)));
      },
    });
  } finally {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  }
  if (!writer) {
    trainer.dispose();
    return result.aborted ? STOP_SIGNALS[stoppedBy ?? 'SIGINT'] : 0;
  }
  if (!result.aborted) trainer.exportStudent(path.join(out, 'student.safetensors'), { metadata: { model: o.student, ...(o.recipe ? { recipe: o.recipe } : {}) } });
  const summary = summarize(name, kind, o, loaded.format, loaded.path, student, trainer, result, (Date.now() - started) / 1000, images / Math.max(1e-3, (Date.now() - started) / 1000));
  writeSummary(out, summary);
  trainer.dispose();
  if (parsed.values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    const acc = summary.top1 !== null
      ? `best top-1 ${summary.top1.toFixed(2)}% (epoch ${summary.bestEpoch})${summary.top5 !== null ? `, top-5 ${summary.top5.toFixed(2)}%` : ''}`
      : summary.hasTest ? `not evaluated yet (stopped in epoch ${summary.epochsDone + 1} of ${summary.epochs})` : 'no test set';
    const paper = summary.recipe?.paperTop1 !== undefined ? `; paper ${summary.recipe.paperTop1.toFixed(2)}%` : '';
    process.stdout.write(`${result.aborted ? 'interrupted' : 'done'}: ${out}\n  ${summary.student}${summary.teacher ? ` <- ${summary.teacher} (${summary.method})` : ''}: ${acc}${paper}; ${summary.imagesPerSecond.toFixed(0)} img/s, ${summary.seconds.toFixed(1)} s\n`);
    if (result.aborted) process.stdout.write(`  continue with: reviewkd ${kind} --resume --out ${out}\n`);
  }
  return result.aborted ? STOP_SIGNALS[stoppedBy ?? 'SIGINT'] : 0;
}
