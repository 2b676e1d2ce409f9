// Trainer: fit, evaluate, distill and resume, driving the native fused step (native/engine) from
// TypeScript. The hot path is one async native call per step; loss statistics are read back every
// `statsEvery` steps, never per step.
import { toTensors, checkDataset, BatchSampler, isImageStream, type ImageDataset, type ImageStream } from '../data';
import type { Device } from '../dtype';
import type { Model } from '../models';
import { native } from '../native';
import { Module } from '../module';
import { ReviewHead, type LevelShape } from '../nn';
import { optionsOf } from '../nn/checks';
import { keep } from '../scope';
import { Tensor, tensor, zeros, noGrad } from '../tensor';
import type { NativeDistiller, NativeStepStats } from './binding';
import { methodNames, resolveMethod, validateMethod, MethodError, type MethodOptions, type ResolvedMethod } from './methods';
import { listCheckpoints, removeOrphans, saveCheckpoint } from './checkpoint';
import { CheckpointPolicy } from './checkpoint-policy';
import { runFitLoop, type FitHost, type LoopConfig } from './fit-loop';
export { NumericalFaultError } from './fit-loop';
import { resumeFrom } from './resume';
import { zeroSums, type RunState, type StepSums } from './run-state';
import { RunLogger, type EpochLog, type ProgressMode } from './log';
import { pairDefaults } from './recipes';
import { runDefault } from './run-options';
import { resolveLossWarmup, type RampedTerm, type Schedule } from './schedule';
import { preprocessingMetadata, preprocessingOf, type Preprocessing } from './preprocessing';
import { StreamFeeder, batchTensors, evaluateStream } from './stream-feed';
import type { ProcessGroup } from '../distributed';
import { DataParallel, perRankSeed, resumeNote, type ParallelParts } from './data-parallel';

/**
 * The training objective: 'vanilla' is cross-entropy alone (also how teachers are trained); otherwise a
 * method name ('reviewkd', 'dkd', 'kd', ...) or a '+' combination ('reviewkd+dkd', 'kd+ls'). The methods
 * are the plugins of lib/train/methods (docs/methods.md).
 */
export type Method = string;
/** Every single method name ('vanilla' first); combine them with '+'. */
export const METHODS: readonly string[] = Object.freeze(methodNames());

export interface TrainerOptions {
  student: Model;
  /** Required for every method but 'vanilla'. Its weights never change. */
  teacher?: Model;
  method?: Method;
  /** In-memory data, or an image stream (rk.data.openImageStream: decoded batch by batch, cropped at decode). */
  train: ImageDataset | ImageStream;
  test?: ImageDataset | ImageStream;
  device?: Device;
  /**
   * Weights and parameters of the chosen methods by schema key: '<method>Weight' (e.g. reviewkdWeight,
   * the paper's λ; default: the pair's published λ) and '<method><Param>' (e.g. dkdBeta, kdTemperature,
   * reviewkdHclLevels, fitnetHintLevel). docs/methods.md lists every key and its default.
   */
  methodOptions?: MethodOptions;
  /** 'eval' (default): the teacher's BatchNorm uses running statistics. 'batch': batch statistics, as the reference CIFAR code. */
  teacherBN?: 'eval' | 'batch';
  /** Teacher features before the last activation (default: what the method needs; true, as the reference). */
  teacherPreact?: boolean;
  /** Student features before the last activation (default: what the method needs; false, as the reference). */
  studentPreact?: boolean;
  /**
   * On-device augmentation: random crop with zero padding and horizontal flip (default {padding: 4,
   * flip: true}, the CIFAR pipeline), or `{randomResizedCrop: true, flip: true}` (the image-folder /
   * ImageNet pipeline; `scale` and `ratio` ranges as torchvision's defaults [0.08, 1], [3/4, 4/3]);
   * false disables. Evaluation never augments.
   */
  augment?: false | { padding?: number; flip?: boolean; randomResizedCrop?: boolean; scale?: [number, number]; ratio?: [number, number] };
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
  /** Seeds the data order and the augmentation (default 0). */
  seed?: number;
  /** Weight of the cross-entropy term (default 1; the logit-standardization recipe uses 0.1 with KD weight 9). */
  ceWeight?: number;
  /**
   * Fast path: 4-d weights and inputs in channels-last memory format (default false). The student's and
   * teacher's weights are converted in place (same values, another layout) and stay so after dispose().
   */
  channelsLast?: boolean;
  /** Fast path: forwards (training and evaluate) under bf16 autocast, fp32 master weights and losses (default 'off'; false = 'off'). */
  autocast?: 'bf16' | 'off' | false;
  /**
   * CUDA fast path (default false): after 3 ordinary warm-up steps the whole step is captured once in a
   * CUDA graph for the run's batch size and replayed; a batch of another size (the last partial one), an
   * injected fault, a data-parallel or streamed step runs uncaptured. Needs the CUDA variant and a CUDA
   * device: anywhere else Trainer.create fails saying so.
   */
  cudaGraphs?: boolean;
  /**
   * Data-parallel training over this group (rk.distributed.init()): fit's batchSize is the global batch,
   * each rank trains its shard and gradients are averaged; only rank 0 writes (docs/distributed.md).
   */
  processGroup?: ProcessGroup;
}

export interface FitOptions {
  epochs: number;
  batchSize?: number;
  /** Base learning rate (default 0.02 for ShuffleNet/MobileNet students, else 0.1). */
  lr?: number;
  schedule?: Schedule;
  /** Linear learning-rate warm-up over the first epochs (default 0). */
  warmupEpochs?: number;
  /**
   * Warm-up of the distillation losses that ramp (feature losses such as ReviewKD's, and DKD):
   * weight × min(1, e / lossWarmupEpochs) in the epoch of 0-based index e; 0 disables. Default: the
   * references' 20 epochs of 240 at the same fraction of this run (1/12, rounded down: 20 at 240 epochs,
   * 1 at 12, none below 12), as the step milestones scale; the run says so in one line when it differs
   * from 20, and warns when a ramped loss would have weight 0 throughout.
   */
  lossWarmupEpochs?: number;
  dropLast?: boolean;
  /** Read loss statistics back every N steps (default 50). */
  statsEvery?: number;
  /** Evaluate on the test set every N epochs (default 1; 0 = only at the end). */
  evaluateEvery?: number;
  /** Folder for log.jsonl, log.csv and checkpoints. */
  runDir?: string;
  /** Epoch checkpoints kept besides 'best' (default 2). */
  keepLast?: number;
  /** Continue from the newest intact checkpoint in runDir. */
  resume?: boolean;
  /**
   * Consecutive non-finite steps (NaN/Inf loss or gradient) tolerated before training stops with an
   * error (default 10). Such steps are always skipped on the device; they are noticed at the next
   * statistics readback (every `statsEvery` steps, and at each epoch end).
   */
  maxBadSteps?: number;
  /** After each step: `epoch` is 1-based (as in records and logs), `step` the steps taken in that epoch. */
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; lr: number }) => void;
  /**
   * After each epoch, with its record (`epoch` 1-based) and the run so far: every epoch's record (those
   * of earlier sessions of a resumed run included) and the best test top-1.
   */
  onEpochEnd?: (log: EpochLog, run: { history: EpochLog[]; best: { top1: number; epoch: number } | null }) => void | Promise<void>;
  /** Stops after the current step, writing a checkpoint first when runDir is set. */
  signal?: AbortSignal;
  /** Also checkpoint every N steps within an epoch (step-<globalStep>, keepLast of them kept); default 0 = only at epoch ends. */
  checkpointEvery?: number;
  progress?: ProgressMode;
  /** Seconds between progress lines when stderr is not a terminal (logs, CI, nohup); default 10. */
  progressEvery?: number;
}

export interface EvaluateResult {
  top1: number;
  top5: number;
  loss: number;
  count: number;
  /** Accuracy per class in %, NaN for classes absent from the data. */
  perClass: number[];
}

export interface FitResult {
  history: EpochLog[];
  best: { top1: number; epoch: number } | null;
  aborted: boolean;
  /** The epoch/step the run resumed from, when it did. */
  resumedFrom?: { epoch: number; position: number };
}

/**
 * Which trainer call holds each model. A model is trained or evaluated by one call at a time: two trainers
 * sharing a student would interleave their updates step by step, and a teacher whose BatchNorm uses
 * batch statistics changes with every forward. A teacher in eval mode is only read and may be shared.
 */
const modelClaims = new WeakMap<Model, { trainer: Trainer; what: string }>();

const fail = (msg: string): never => {
  throw new RangeError(`Trainer: ${msg}`);
};

/** Shapes ([C, H, W]) of the features of a model, probed with one eval-mode forward of 2 blank images. */
async function probe(model: Model, ds: { channels: number; height: number; width: number }, device: Device, preact: boolean): Promise<{ classes: number; shapes: LevelShape[] }> {
  const wasTraining = model.training;
  model.eval();
  const x = zeros([2, ds.channels, ds.height, ds.width], { device });
  try {
    const out = await model.forwardWithFeatures(x, { preact });
    const classes = out.logits.shape[1];
    const shapes = out.features.map((f) => f.shape.slice(1) as LevelShape);
    out.logits.dispose();
    out.features.forEach((f) => f.dispose());
    return { classes, shapes };
  } finally {
    x.dispose();
    model.train(wasTraining);
  }
}

/**
 * Trains a student alone or distils it from a teacher. Create with {@link Trainer.create} (it probes the
 * feature shapes and builds the review head from them).
 *
 * @example
 * const trainer = await rk.train.Trainer.create({ student, teacher, method: 'reviewkd', train, test });
 * const { history } = await trainer.fit({ epochs: 240, batchSize: 128, runDir: 'runs/r20' });
 * console.log(await trainer.evaluate());
 */
export class Trainer {
  /** The canonical method name, e.g. 'reviewkd+dkd' or 'vanilla'. */
  readonly method: Method;
  /** The outer weight of each method's loss (e.g. {reviewkd: 0.6}). */
  readonly weights: Readonly<Record<string, number>>;
  /** The review head (ReviewKD), built from probed shapes; drop it after training. */
  readonly head?: ReviewHead;
  /** Every loss term's trainable modules (review head, regressors, embeddings, memory banks), by method term. */
  readonly termModules: Readonly<Record<string, Module>>;
  /** The loss names of this run, 'ce' first, then each term's (e.g. ['ce', 'hcl', 'tckd', 'nckd']). */
  readonly lossNames: readonly string[];
  /** The loss terms that the loss warm-up ramps, with their outer weights. */
  private readonly rampedTerms: readonly RampedTerm[];
  private readonly distiller: NativeDistiller;
  private readonly trainTensors: { images: Tensor; labels: Tensor };
  private readonly testTensors?: { images: Tensor; labels: Tensor };
  private running = false;

  private constructor(
    readonly options: Readonly<TrainerOptions>,
    readonly device: Device,
    parts: { resolved: ResolvedMethod; preact: { student: boolean; teacher: boolean }; student: LevelShape[]; teacher: LevelShape[]; train: { images: Tensor; labels: Tensor }; test?: { images: Tensor; labels: Tensor } },
  ) {
    const { resolved } = parts;
    this.method = resolved.name;
    this.weights = Object.freeze({ ...resolved.weights });
    this.rampedTerms = resolved.terms.filter((t) => t.warmup).map((t) => ({ name: t.name, weight: t.weight }));
    this.trainTensors = parts.train;
    this.testTensors = parts.test;
    const ds = options.train;
    // A stream is cropped and flipped when it is decoded: the device only normalises.
    const augment = options.augment === false || isImageStream(ds) ? null : { padding: 4, flip: true, ...(options.augment ?? {}) };
    const Ctor = native().NativeDistiller as new (...args: unknown[]) => NativeDistiller;
    this.distiller = new Ctor(
      options.student.handle,
      resolved.terms.length > 0 ? (options.teacher as Model).handle : null,
      parts.train.images.handle,
      parts.train.labels.handle,
      {
        terms: resolved.terms,
        ceWeight: options.ceWeight ?? runDefault('ceWeight'),
        teacherBN: options.teacherBN ?? runDefault('teacherBN'),
        teacherPreact: parts.preact.teacher,
        studentPreact: parts.preact.student,
        augment: augment !== null,
        padding: augment?.padding ?? 0,
        flip: augment?.flip ?? false,
        randomResizedCrop: augment?.randomResizedCrop ?? false,
        ...(augment?.scale ? { scaleMin: augment.scale[0], scaleMax: augment.scale[1] } : {}),
        ...(augment?.ratio ? { ratioMin: augment.ratio[0], ratioMax: augment.ratio[1] } : {}),
        mean: ds.mean,
        std: ds.std,
        momentum: options.momentum ?? runDefault('momentum'),
        weightDecay: options.weightDecay ?? runDefault('weightDecay'),
        nesterov: options.nesterov ?? runDefault('nesterov'),
        seed: perRankSeed(options.seed ?? runDefault<number>('seed'), options.processGroup),
        channelsLast: options.channelsLast ?? runDefault('channelsLast'),
        autocast: options.autocast || runDefault('autocast'),
        cudaGraphs: options.cudaGraphs ?? runDefault('cudaGraphs'),
      },
      { studentShapes: parts.student, teacherShapes: parts.teacher, numClasses: ds.numClasses },
    );
    this.lossNames = Object.freeze(Object.keys(this.distiller.takeStats().losses));
    const modules: Record<string, Module> = {};
    for (const { term, module } of this.distiller.termModules()) {
      if (term === 'reviewkd') {
        const head = keep(ReviewHead.fromHandle(module, parts.student, parts.teacher));
        this.head = head;
        modules[term] = head;
      } else modules[term] = keep(new Module(module));
    }
    this.termModules = Object.freeze(modules);
  }

  /** Validates the setup (before any step), probes feature shapes, builds the loss terms and uploads the data. */
  static async create(options: TrainerOptions): Promise<Trainer> {
    if (typeof options !== 'object' || options === null) throw new TypeError('Trainer.create: argument \'options\' must be an object');
    if (!options.student || typeof options.student.forwardWithFeatures !== 'function') throw new TypeError("Trainer.create: option 'student' must be a model from rk.models");
    const methodOptions = optionsOf('Trainer.create (methodOptions)', options.methodOptions ?? {}) as MethodOptions;
    let resolved: ResolvedMethod;
    try {
      resolved = resolveMethod(options.method ?? 'vanilla', { student: options.student.name, teacher: options.teacher?.name }, methodOptions);
    } catch (err) {
      if (err instanceof MethodError) fail(`option 'method': ${err.message}`);
      throw err;
    }
    const method = resolved.name;
    const needsTeacher = resolved.terms.length > 0;
    if (needsTeacher && (!options.teacher || typeof options.teacher.forwardWithFeatures !== 'function')) {
      throw new TypeError(`Trainer.create: method '${method}' needs option 'teacher' (a model from rk.models)`);
    }
    const streamed = isImageStream(options.train);
    if (options.processGroup !== undefined) DataParallel.check(options.processGroup);
    if (streamed && typeof options.augment === 'object') fail("option 'augment' applies to in-memory data; an image stream crops and flips at decode (openImageStream's transform, scale, ratio and flip options)");
    const train = streamed ? (options.train as ImageStream) : checkDataset(options.train as ImageDataset, 'Trainer.create (train)');
    const test = options.test ? (isImageStream(options.test) ? options.test : checkDataset(options.test, 'Trainer.create (test)')) : undefined;
    if (train.count < 2) fail(`the training set has ${train.count} image(s); BatchNorm needs batches of at least 2`);
    if (test && (test.channels !== train.channels || test.height !== train.height || test.width !== train.width || test.numClasses !== train.numClasses)) {
      fail(`the test set (${test.channels}x${test.height}x${test.width}, ${test.numClasses} classes) does not match the training set (${train.channels}x${train.height}x${train.width}, ${train.numClasses} classes)`);
    }
    if (test && train.classNames && test.classNames && train.classNames.join('\n') !== test.classNames.join('\n')) {
      fail('the test set lists different class names than the training set');
    }
    const device = options.device ?? 'cpu';
    const teacher = needsTeacher ? options.teacher : undefined;
    const models: [string, Model | undefined][] = [['student', options.student], ['teacher', teacher]];
    for (const [role, model] of models) {
      if (!model) continue;
      if (model.inChannels !== null && model.inChannels !== train.channels) {
        fail(`the ${role} (${model.name}) takes ${model.inChannels}-channel images but the data has ${train.channels} channel(s)`);
      }
      model.to({ device });
    }

    const preact = { student: options.studentPreact ?? resolved.studentPreact ?? false, teacher: options.teacherPreact ?? resolved.teacherPreact ?? true };
    const s = await probe(options.student, train, device, preact.student);
    if (s.classes !== train.numClasses) fail(`the student (${options.student.name}) has ${s.classes} outputs but the data has ${train.numClasses} classes`);
    let t: { classes: number; shapes: LevelShape[] } = { classes: train.numClasses, shapes: [] };
    if (teacher) {
      t = await probe(teacher, train, device, preact.teacher);
      if (t.classes !== train.numClasses) fail(`the teacher (${teacher.name}) has ${t.classes} outputs but the data has ${train.numClasses} classes`);
    }
    try {
      validateMethod(resolved, {
        student: options.student.name, teacher: teacher?.name, studentShapes: s.shapes, teacherShapes: t.shapes, numClasses: train.numClasses, datasetIndices: !streamed,
      });
    } catch (err) {
      if (err instanceof MethodError) fail(err.message);
      throw err;
    }

    // A stream's batches are handed to each step; the step's own data is a 2-image stand-in until then.
    const trainTensors = isImageStream(train)
      ? { images: zeros([2, train.channels, train.height, train.width], { dtype: 'uint8', device }), labels: zeros([2], { dtype: 'int64', device }) }
      : toTensors(train, { device });
    const testTensors = test && !isImageStream(test) ? toTensors(test, { device }) : undefined;
    for (const x of [trainTensors, testTensors]) {
      if (x) {
        keep(x.images);
        keep(x.labels);
      }
    }
    try {
      return new Trainer(options, device, { resolved, preact, student: s.shapes, teacher: t.shapes, train: trainTensors, test: testTensors });
    } catch (err) {
      for (const x of [trainTensors, testTensors]) {
        x?.images.dispose();
        x?.labels.dispose();
      }
      // A term that refuses the pair (e.g. a hint level beyond the stages) names itself in the message.
      if (err instanceof RangeError && !err.message.startsWith('Trainer')) fail(err.message);
      throw err;
    }
  }

  /** Top-1/top-5 accuracy (%), mean loss and per-class accuracy of the student alone, in eval mode. */
  async evaluate(dataset?: ImageDataset | ImageStream, options: { batchSize?: number } = {}): Promise<EvaluateResult> {
    options = optionsOf('Trainer.evaluate', options);
    const stream = dataset ? (isImageStream(dataset) ? dataset : null) : isImageStream(this.options.test) ? this.options.test : null;
    if (stream) return this.evaluateStream(stream, options.batchSize ?? 64);
    let tensors = this.testTensors;
    let owned = false;
    if (dataset) {
      const ds = checkDataset(dataset as ImageDataset, 'Trainer.evaluate');
      const tr = this.options.train;
      if (ds.channels !== tr.channels || ds.height !== tr.height || ds.width !== tr.width || ds.numClasses !== tr.numClasses) {
        fail(`evaluate: the dataset (${ds.channels}x${ds.height}x${ds.width}, ${ds.numClasses} classes) does not match the training data`);
      }
      tensors = toTensors(ds, { device: this.device });
      owned = true;
    }
    if (!tensors) fail("evaluate: no dataset given and the trainer has no 'test' set");
    const t = tensors as { images: Tensor; labels: Tensor };
    this.enter('evaluate');
    try {
      return evaluateResult(await this.distiller.evaluate(t.images.handle, t.labels.handle, options.batchSize ?? 256, this.options.train.numClasses));
    } finally {
      this.leave();
      if (owned) {
        t.images.dispose();
        t.labels.dispose();
      }
    }
  }

  /** evaluate() on an image stream: decoded chunk by chunk (`prefetch` ahead), results summed. */
  private async evaluateStream(stream: ImageStream, batchSize: number): Promise<EvaluateResult> {
    const tr = this.options.train;
    if (stream.channels !== tr.channels || stream.height !== tr.height || stream.width !== tr.width || stream.numClasses !== tr.numClasses) {
      fail(`evaluate: the stream (${stream.channels}x${stream.height}x${stream.width}, ${stream.numClasses} classes) does not match the training data`);
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) fail(`evaluate: option 'batchSize' must be a positive integer; got ${String(batchSize)}`);
    this.enter('evaluate');
    try {
      return evaluateResult(await evaluateStream(stream, batchSize, stream.prefetch, (images, labels) => this.distiller.evaluate(images.handle, labels.handle, batchSize, tr.numClasses)));
    } finally {
      this.leave();
    }
  }

  private enter(what: string): void {
    if (this.running) throw new Error(`Trainer.${what}: the trainer is busy with another call; await it first (one call at a time per trainer)`);
    const claimed = this.claimedModels();
    for (const model of claimed) {
      const holder = modelClaims.get(model);
      if (holder && holder.trainer !== this) {
        throw new Error(`Trainer.${what}: model '${model.name}' is in use by another trainer's ${holder.what}(); await it first, or give each trainer its own model (one call at a time per model)`);
      }
    }
    for (const model of claimed) modelClaims.set(model, { trainer: this, what });
    this.running = true;
  }

  private leave(): void {
    for (const model of this.claimedModels()) if (modelClaims.get(model)?.trainer === this) modelClaims.delete(model);
    this.running = false;
  }

  /** The models a call of this trainer changes: the student, and a teacher whose BatchNorm uses batch statistics. */
  private claimedModels(): Model[] {
    const { student, teacher, teacherBN } = this.options;
    return teacher && this.method !== 'vanilla' && teacherBN === 'batch' ? [student, teacher] : [student];
  }

  /** Everything a resumed run needs, as named tensors. */
  private stateTensors(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(this.options.student.stateDict())) out[`student.${k}`] = v;
    for (const [term, m] of Object.entries(this.termModules)) for (const [k, v] of Object.entries(m.stateDict())) out[`${term}.${k}`] = v;
    // The teacher's running statistics change in 'batch' mode.
    if (this.options.teacher && this.method !== 'vanilla') for (const [k, v] of Object.entries(this.options.teacher.namedBuffers())) out[`teacher.${k}`] = v;
    this.distiller.momentumBuffers().forEach((b, i) => {
      if (b) out[`optimizer.momentum.${i}`] = new Tensor(b);
    });
    out['rng.augment'] = new Tensor(this.distiller.generatorState());
    return out;
  }

  private restoreTensors(record: Record<string, Tensor>): void {
    this.options.student.loadStateDict(record, { prefix: 'student.' });
    for (const [term, m] of Object.entries(this.termModules)) m.loadStateDict(record, { prefix: `${term}.` });
    if (this.options.teacher && this.method !== 'vanilla') {
      const buffers = Object.keys(this.options.teacher.namedBuffers());
      const teacherRecord: Record<string, Tensor> = {};
      for (const k of buffers) if (record[`teacher.${k}`]) teacherRecord[k] = record[`teacher.${k}`];
      this.options.teacher.loadStateDict(teacherRecord, { strict: false });
    }
    const count = this.distiller.momentumBuffers().length;
    this.distiller.setMomentumBuffers(Array.from({ length: count }, (_, i) => record[`optimizer.momentum.${i}`]?.handle ?? null));
    if (!record['rng.augment']) throw new Error('checkpoint has no rng.augment state');
    this.distiller.setGeneratorState(record['rng.augment'].handle);
  }

  /** Trains for `epochs` epochs (or the rest of them, when resuming). */
  async fit(options: FitOptions): Promise<FitResult> {
    if (typeof options !== 'object' || options === null) throw new TypeError("Trainer.fit: argument 'options' must be an object with at least {epochs}");
    // Before anything touches the run folder or the weights (resume loads a checkpoint into the student).
    if (this.running) this.enter('fit');
    const epochs = options.epochs;
    if (!Number.isInteger(epochs) || epochs < 1) fail(`fit: option 'epochs' must be a positive integer; got ${String(epochs)}`);
    const batchSize = options.batchSize ?? runDefault<number>('batchSize');
    if (!Number.isInteger(batchSize) || batchSize < 2) fail(`fit: option 'batchSize' must be an integer >= 2; got ${String(batchSize)}`);
    const lr = options.lr ?? pairDefaults(this.options.student.name, undefined).lr;
    if (!(lr >= 0)) fail(`fit: option 'lr' must be >= 0; got ${String(lr)}`);
    const keepLast = options.keepLast ?? runDefault<number>('keepLast');
    if (!Number.isInteger(keepLast) || keepLast < 1) fail(`fit: option 'keepLast' must be an integer >= 1 (the newest checkpoint is always kept); got ${String(keepLast)}`);
    const maxBadSteps = options.maxBadSteps ?? runDefault<number>('maxBadSteps');
    if (!Number.isInteger(maxBadSteps) || maxBadSteps < 1) fail(`fit: option 'maxBadSteps' must be a positive integer; got ${String(maxBadSteps)}`);
    const runDir = options.runDir;
    if (options.resume && !runDir) fail("fit: option 'resume' needs 'runDir'");
    const checkpointEvery = options.checkpointEvery ?? runDefault<number>('checkpointEvery');
    if (!Number.isInteger(checkpointEvery) || checkpointEvery < 0) fail(`fit: option 'checkpointEvery' must be an integer >= 0; got ${String(checkpointEvery)}`);
    const progressEvery = options.progressEvery ?? runDefault<number>('progressEvery');
    if (!(typeof progressEvery === 'number' && progressEvery > 0)) fail(`fit: option 'progressEvery' must be a number of seconds > 0; got ${String(progressEvery)}`);
    if (options.lossWarmupEpochs !== undefined && !(Number.isInteger(options.lossWarmupEpochs) && options.lossWarmupEpochs >= 0)) {
      fail(`fit: option 'lossWarmupEpochs' must be an integer >= 0; got ${String(options.lossWarmupEpochs)}`);
    }
    const lossWarmup = resolveLossWarmup(options.lossWarmupEpochs, epochs, this.rampedTerms);
    const config: LoopConfig = {
      epochs,
      batchSize,
      lr,
      schedule: options.schedule ?? ({ type: runDefault<string>('type', 'schedule') } as Schedule),
      warmupEpochs: options.warmupEpochs ?? runDefault('warmupEpochs'),
      lossWarmupEpochs: lossWarmup.epochs,
      statsEvery: options.statsEvery ?? runDefault('statsEvery'),
      evaluateEvery: options.evaluateEvery ?? runDefault('evaluateEvery'),
      maxBadSteps,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
      ...(options.onEpochEnd ? { onEpochEnd: options.onEpochEnd } : {}),
    };

    const samplerOptions = { batchSize, seed: this.options.seed ?? runDefault<number>('seed'), dropLast: options.dropLast ?? runDefault<boolean>('dropLast') };
    const trainData = this.options.train;
    // Data-parallel (data-parallel.ts): this rank's shard of each global batch; only rank 0 writes.
    const dp = this.options.processGroup ? new DataParallel(this.options.processGroup, this.parallelParts()) : null;
    const writeDir = dp && !dp.isMain ? undefined : runDir;
    const base = dp ? dp.sampler(trainData.count, samplerOptions) : new BatchSampler(trainData.count, samplerOptions);
    // A stream decodes the batches the sampler (this rank's, when data-parallel) draws, ahead of the steps.
    const feeder = isImageStream(trainData) ? new StreamFeeder(trainData, base, trainData.prefetch) : null;
    const sampler = feeder ?? base;
    const logger = new RunLogger(writeDir, dp && !dp.isMain ? 'none' : options.progress ?? runDefault<ProgressMode>('progress'), this.lossNames, `[${this.options.student.name}${this.method === 'vanilla' ? '' : ` <- ${this.options.teacher?.name} ${this.method}`}]`, progressEvery);
    for (const line of lossWarmup.messages) logger.message(line);
    const checkpoints = new CheckpointPolicy(writeDir, keepLast, checkpointEvery, (dir, name, state) => this.checkpoint(dir, name, state));
    let start: RunState = { epoch: 0, position: 0, globalStep: 0, history: [], best: null, elapsed: 0, partial: { sums: zeroSums(this.lossNames), skipped: 0, seconds: 0 } };
    let resumedFrom: FitResult['resumedFrom'];
    if (dp) await dp.checkSameConfig(this.parallelConfig({ epochs, batchSize, lr, resume: !!options.resume, dropLast: samplerOptions.dropLast }));
    if (writeDir) {
      const removed = removeOrphans(writeDir);
      if (removed.length) logger.message(`removed ${removed.length} incomplete checkpoint file(s) from an interrupted write`);
    }
    if (options.resume && writeDir) {
      const point = resumeFrom(writeDir, { lossNames: this.lossNames, batchesPerEpoch: sampler.batchesPerEpoch, restore: (record) => this.restoreTensors(record), logger });
      if (point) {
        start = point.state;
        resumedFrom = { epoch: start.epoch, position: start.position };
        const note = resumeNote(listCheckpoints(writeDir).find((c) => c.name === point.name)?.meta.worldSize, this.options.processGroup?.worldSize ?? 1);
        if (note) logger.message(note);
      }
    }

    if (dp) {
      // Every rank starts where rank 0 does: its run state, weights, buffers and momentum.
      start = await dp.broadcastRunState(start);
      if (start.globalStep > 0) resumedFrom = { epoch: start.epoch, position: start.position };
      await dp.broadcastState();
    }

    const host: FitHost = {
      lossNames: this.lossNames,
      ...(dp ? { agreeStop: (local: boolean) => dp.agreeStop(local), reduceSums: async (sums: StepSums) => (await dp.broadcastBuffers(), dp.reduceSums(sums)) } : {}),
      step: async (batch, warmup, stepLr) => {
        if (feeder) {
          const decoded = await feeder.take(batch);
          // Unreadable images left fewer than BatchNorm needs (on any rank: the ranks step together or not at all).
          if ((dp ? await dp.fewestImages(decoded.count) : decoded.count) < 2) return;
          const t = batchTensors(decoded);
          try {
            await this.distiller.stepBatch(t.images.handle, t.labels.handle, warmup, stepLr);
          } finally {
            t.images.dispose();
            t.labels.dispose();
          }
          return;
        }
        const indices = noGrad(() => tensor(batch, { dtype: 'int64' }));
        try {
          await this.distiller.step(indices.handle, warmup, stepLr);
        } finally {
          indices.dispose();
        }
      },
      takeStats: () => this.distiller.takeStats(),
      evaluate: async () => {
        if (dp) {
          const numClasses = this.options.train.numClasses;
          const test = this.options.test;
          if (isImageStream(test)) return evaluateResult(await dp.evaluateStream(test, 64, (images, labels) => this.distiller.evaluate(images.handle, labels.handle, 64, numClasses)));
          return this.testTensors ? evaluateResult(await dp.evaluate(this.testTensors, numClasses)) : null;
        }
        if (!this.testTensors && !isImageStream(this.options.test)) return null;
        // evaluate() takes the trainer for itself; the loop holds it again afterwards.
        this.leave();
        const ev = await this.evaluate();
        this.enter('fit');
        return ev;
      },
      saveBest: (epoch, top1) => {
        if (writeDir) this.options.student.save(`${writeDir}/best.safetensors`, { ...this.exportMetadata(), epoch: String(epoch), top1: top1.toFixed(4) });
      },
    };
    this.enter('fit');
    dp?.attach();
    try {
      const r = await runFitLoop(host, config, sampler, checkpoints, logger, start);
      return { ...r, resumedFrom };
    } finally {
      dp?.detach();
      feeder?.close();
      this.leave();
      // The freed activations were kept for reuse during the run (native/common/cpu_memory.cc): give them back.
      native().releaseFreedCpuMemory();
    }
  }

  /** What the data-parallel layer works on: the fused step and every module whose state it keeps equal. */
  private parallelParts(): ParallelParts {
    const { teacher, teacherBN } = this.options;
    return {
      distiller: this.distiller,
      trained: [this.options.student, ...Object.values(this.termModules)],
      ...(teacher && this.method !== 'vanilla' && teacherBN === 'batch' ? { teacherWithBatchStats: teacher } : {}),
    };
  }

  /** What every rank of a data-parallel job must agree on. */
  private parallelConfig(fit: Record<string, unknown>): Record<string, unknown> {
    const o = this.options;
    // A stream adds its identity (source, sample list digest, transform, size): ranks reading different folders are refused.
    const data = (d: ImageDataset | ImageStream | undefined) => (d ? (isImageStream(d) ? d.identity : [d.count, d.channels, d.height, d.width, d.numClasses]) : null);
    return {
      student: o.student.name, parameters: o.student.numParameters(), teacher: o.teacher?.name ?? null, method: this.method, weights: this.weights,
      train: data(o.train), test: data(o.test), device: this.device, seed: o.seed ?? runDefault<number>('seed'), ...fit,
    };
  }

  private checkpoint(runDir: string, name: string, state: RunState): void {
    const tensors = this.stateTensors();
    try {
      saveCheckpoint(runDir, name, tensors, { ...state, method: this.method, student: this.options.student.name, teacher: this.options.teacher?.name ?? null, worldSize: this.options.processGroup?.worldSize ?? 1 });
    } finally {
      // Only the handles made for the momentum buffers and the RNG state are ours to free.
      for (const [k, t] of Object.entries(tensors)) if (k.startsWith('optimizer.') || k === 'rng.augment') t.dispose();
    }
  }

  /** @internal Test hook: the next step's loss gets `value` added (NaN or Infinity inject a numerical fault). */
  injectLossOffset(value: number): void {
    this.distiller.injectLossOffset(value);
  }

  /** What the student expects of its input: the training data's size, channels, normalisation and classes. */
  get preprocessing(): Preprocessing {
    return preprocessingOf(this.options.train);
  }

  /** The metadata every export records: method, teacher, and the preprocessing (docs: README, "Deploying an export"). */
  private exportMetadata(): Record<string, string> {
    return { method: this.method, ...(this.options.teacher && this.method !== 'vanilla' ? { teacher: this.options.teacher.name } : {}), ...preprocessingMetadata(this.preprocessing) };
  }

  /**
   * Saves the student alone: safetensors with PyTorch state_dict names (default), or TorchScript for use
   * from Python or C++ without this package (`format: 'torchscript'`, or a path ending in .pt/.pth).
   * Safetensors metadata records the preprocessing (inputSize, channels, mean, std, pixelScale,
   * numClasses, classNames, library). TorchScript includes the normalisation by default, so the file takes
   * raw images: pixel values 0–255 (`inputScale: 255`, default) or 0–1 (`inputScale: 1`);
   * `normalize: false` leaves it out (the file then takes normalised input, as the model in training).
   */
  exportStudent(path: string, options: { format?: 'safetensors' | 'torchscript'; metadata?: Record<string, string>; normalize?: boolean; inputScale?: 1 | 255 } = {}): void {
    options = optionsOf('Trainer.exportStudent', options);
    if (typeof path !== 'string' || path.length === 0) throw new TypeError("Trainer.exportStudent: argument 'path' must be a file path");
    const format = options.format ?? (/\.(pt|pth|torchscript)$/i.test(path) ? 'torchscript' : 'safetensors');
    const normalize = options.normalize ?? true;
    if (typeof normalize !== 'boolean') throw new TypeError(`Trainer.exportStudent: option 'normalize' must be a boolean; got ${String(normalize)}`);
    const scale = options.inputScale ?? 255;
    if (scale !== 1 && scale !== 255) fail(`exportStudent: option 'inputScale' must be 255 (pixel values 0-255) or 1 (0-1); got ${String(scale)}`);
    if (format === 'torchscript') {
      const { train } = this.options;
      const pre = this.preprocessing;
      // A raw example when normalising (the trace starts at raw pixels), a normalised-range one otherwise.
      const example = zeros([2, train.channels, train.height, train.width], { device: this.device });
      try {
        this.options.student.exportTorchScript(path, {
          exampleInput: example,
          ...(normalize ? { normalize: { mean: pre.mean, std: pre.std, scale } } : {}),
          description: { ...pre, input: normalize ? (scale === 255 ? 'raw pixels 0-255' : 'raw pixels 0-1') : 'normalised: (pixel / 255 - mean) / std', method: this.method, ...(options.metadata ?? {}) },
        });
      } finally {
        example.dispose();
      }
      return;
    }
    if (format !== 'safetensors') fail(`exportStudent: option 'format' must be 'safetensors' or 'torchscript'; got '${String(format)}'`);
    this.options.student.save(path, { ...this.exportMetadata(), ...(options.metadata ?? {}) });
  }

  /** Frees the uploaded data and the loss terms' modules (the models stay yours). */
  dispose(): void {
    for (const t of [this.trainTensors.images, this.trainTensors.labels, this.testTensors?.images, this.testTensors?.labels]) t?.dispose();
    for (const m of Object.values(this.termModules)) m.dispose();
  }
}

/** The percentages of a native evaluate() result. */
function evaluateResult(r: { lossSum: number; top1: number; top5: number; count: number; classCorrect: number[]; classCount: number[] }): EvaluateResult {
  return {
    top1: (100 * r.top1) / Math.max(1, r.count),
    top5: (100 * r.top5) / Math.max(1, r.count),
    loss: r.lossSum / Math.max(1, r.count),
    count: r.count,
    perClass: r.classCorrect.map((c, i) => (r.classCount[i] > 0 ? (100 * c) / r.classCount[i] : NaN)),
  };
}
