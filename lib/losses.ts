// rk.losses: HCL and the classic distillation losses, each usable alone. All return scalar tensors that
// back-propagate.
import { native } from './native';
import { optionsOf, requireTensor, requireTensorList } from './nn/checks';
import type { HintRegressor } from './nn/hint-regressor';
import { Tensor } from './tensor';
import { Module } from './module';
import type { Model } from './models';
import type { NativeTerm, NativeTermInputs, TermParamValue, TermParamValues } from './native-types';

/** What a loss term is built from: feature shapes ([C, H, W], pooled feature last) and the data set. */
export interface TermSetup {
  studentShapes: number[][];
  teacherShapes: number[][];
  numClasses?: number;
  /** Training samples (CRD's memory bank has one row per sample). */
  datasetSize?: number;
  /** One int64 label per training sample. */
  datasetLabels?: Tensor;
  /** The teacher (OFD reads its BatchNorm statistics). */
  teacher?: Model;
}

/** A term's inputs; give what the term needs (logits, labels, features, dataset indices). */
export interface TermInputs {
  studentLogits?: Tensor;
  teacherLogits?: Tensor;
  /** int64 class indices (default zeros). */
  labels?: Tensor;
  /** int64 dataset indices of the samples (default 0..N-1). */
  indices?: Tensor;
  studentFeatures?: Tensor[];
  teacherFeatures?: Tensor[];
  /** Seeds the generator of terms that sample (CRD's negatives); default 0. */
  seed?: number;
}

/** One distillation method's loss term, on its own (the fused training step runs the same code). */
export class LossTerm {
  /** The names compute() returns. */
  readonly lossNames: readonly string[];
  /** Reads logits / features. */
  readonly needs: Readonly<{ teacherLogits: boolean; features: boolean }>;
  /** The term's trainable modules (review head, regressors, embeddings) as one Module, or null. */
  readonly module: Module | null;
  private readonly handle: NativeTerm;

  /** @internal Use {@link createTerm}. */
  constructor(readonly name: string, setup: TermSetup, params: TermParamValues) {
    const s = optionsOf('createTerm', setup) as TermSetup;
    if (typeof name !== 'string') throw new TypeError(`createTerm: argument 'name' must be a term name; got ${typeof name}`);
    if (s.datasetLabels !== undefined) requireTensor('createTerm', 'setup.datasetLabels', s.datasetLabels);
    if (s.teacher !== undefined && (typeof s.teacher !== 'object' || s.teacher === null || !('handle' in s.teacher))) {
      throw new TypeError("createTerm: option 'teacher' must be a model from rk.models");
    }
    this.handle = new (native().NativeTerm)(name, {
      studentShapes: s.studentShapes,
      teacherShapes: s.teacherShapes,
      ...(s.numClasses !== undefined ? { numClasses: s.numClasses } : {}),
      ...(s.datasetSize !== undefined ? { datasetSize: s.datasetSize } : {}),
      ...(s.datasetLabels ? { datasetLabels: s.datasetLabels.handle } : {}),
      ...(s.teacher ? { teacher: s.teacher.handle } : {}),
    }, optionsOf('createTerm', params) as TermParamValues);
    this.lossNames = Object.freeze(this.handle.lossNames());
    this.needs = Object.freeze(this.handle.needs());
    const m = this.handle.module();
    this.module = m ? new Module(m) : null;
  }

  /** The term's losses by name (scalar tensors that back-propagate). */
  compute(inputs: TermInputs): Record<string, Tensor> {
    const out = this.handle.compute(termInputs('LossTerm.compute', inputs));
    return Object.fromEntries(Object.entries(out).map(([k, h]) => [k, new Tensor(h)]));
  }

  /** The term's non-gradient update after an optimizer step (CRD's memory bank); a no-op for most terms. */
  afterUpdate(inputs: TermInputs): void {
    this.handle.afterUpdate(termInputs('LossTerm.afterUpdate', inputs));
  }

  /** Frees the term's module. */
  dispose(): void {
    this.module?.dispose();
  }
}

function termInputs(fn: string, inputs: TermInputs): NativeTermInputs {
  const i = optionsOf(fn, inputs) as TermInputs;
  const one = (key: keyof TermInputs) => (i[key] === undefined ? undefined : requireTensor(fn, key, i[key]).handle);
  const list = (key: 'studentFeatures' | 'teacherFeatures') => (i[key] === undefined ? undefined : requireTensorList(fn, key, i[key]).map((t) => t.handle));
  return {
    studentLogits: one('studentLogits'),
    teacherLogits: one('teacherLogits'),
    labels: one('labels'),
    indices: one('indices'),
    studentFeatures: list('studentFeatures'),
    teacherFeatures: list('teacherFeatures'),
    ...(i.seed !== undefined ? { seed: i.seed } : {}),
  };
}

/**
 * Builds one distillation method's loss term by name ('kd', 'dkd', 'dist', 'rkd', 'pkt', 'sp', 'nst',
 * 'crd', 'vid', 'ofd', 'reviewkd', 'fitnet', 'at'; `rk.losses.termNames()` lists them) from feature
 * shapes and its parameters (each method's page in docs/methods.md lists them). The fused training
 * step runs the same code.
 *
 * @example
 * const term = rk.losses.createTerm('dkd', { studentShapes: [], teacherShapes: [] }, { beta: 8, temperature: 4 });
 * const { tckd, nckd } = term.compute({ studentLogits, teacherLogits, labels });
 */
export function createTerm(name: string, setup: TermSetup, params: TermParamValues = {}): LossTerm {
  return new LossTerm(name, setup, params);
}

/** The loss terms the native addon provides. */
export function termNames(): string[] {
  return native().termNames();
}

/** Shapes [C, H, W] of feature maps (N x C x H x W) or of vectors (N x C, taken as C x 1 x 1). */
export function shapesOf(fn: string, name: string, features: Tensor[]): number[][] {
  return requireTensorList(fn, name, features).map((f, i) => {
    if (f.shape.length === 2) return [f.shape[1], 1, 1];
    if (f.shape.length !== 4) throw new RangeError(`${fn}: ${name}[${i}] must be N x C or N x C x H x W; got shape [${f.shape.join(', ')}]`);
    return f.shape.slice(1);
  });
}

/**
 * Hierarchical context loss, summed over aligned pairs: per pair, MSE at full resolution plus MSEs of
 * adaptive-average-pooled levels (default [4, 2, 1], a level skipped when >= the map height) with
 * halving weights, normalised by the total weight. Lists of different length or pairs of different
 * shape are an error naming the pair. `levels: []` gives plain MSE.
 *
 * @example
 * const loss = rk.losses.hcl(headOutputs, teacherFeatures);
 */
export function hcl(studentMaps: Tensor[], teacherMaps: Tensor[], options: { levels?: number[] } = {}): Tensor {
  options = optionsOf('hcl', options);
  const s = requireTensorList('hcl', 'studentMaps', studentMaps);
  const t = requireTensorList('hcl', 'teacherMaps', teacherMaps);
  return new Tensor(native().hcl(s.map((x) => x.handle), t.map((x) => x.handle), options.levels ?? null));
}

/**
 * Cross-entropy of logits (N×classes) against int64 class indices (N), batch mean.
 *
 * @example
 * const loss = rk.losses.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: { labelSmoothing?: number } = {}): Tensor {
  options = optionsOf('crossEntropy', options);
  requireTensor('crossEntropy', 'logits', logits);
  requireTensor('crossEntropy', 'targets', targets);
  return new Tensor(native().crossEntropy(logits.handle, targets.handle, options.labelSmoothing ?? 0));
}

/**
 * Hinton's KD: KL(teacher ‖ student) of temperature-softened distributions, batch mean, times T².
 * `standardize` first z-scores each sample's logits over the classes, teacher and student separately
 * (logit standardization, Sun et al., CVPR 2024): the loss then ignores each network's logit offset and
 * scale.
 *
 * @example
 * const loss = rk.losses.kd(studentLogits, teacherLogits, { temperature: 4 });
 * const ls = rk.losses.kd(studentLogits, teacherLogits, { temperature: 2, standardize: true });
 */
export function kd(studentLogits: Tensor, teacherLogits: Tensor, options: { temperature?: number; standardize?: boolean } = {}): Tensor {
  const o = optionsOf<typeof options>('kd', options);
  requireTensor('kd', 'studentLogits', studentLogits);
  requireTensor('kd', 'teacherLogits', teacherLogits);
  return runTerm('kd', logitSetup(studentLogits), { temperature: o.temperature, standardize: o.standardize }, { studentLogits, teacherLogits });
}

/**
 * Decoupled KD (Zhao et al., CVPR 2022): α·TCKD + β·NCKD, where TCKD = T²·KL between the teacher's and
 * the student's binary [target, non-target] probabilities and NCKD = T²·KL between their distributions
 * over the non-target classes (each batch mean). Defaults α 1, β 8, T 4; `standardize` as in
 * {@link kd}. The warm-up of the paper (min(epoch / 20, 1)) is the caller's. For the two parts
 * separately, use `createTerm('dkd', ...)`, whose compute() returns `{ tckd, nckd }`.
 *
 * @example
 * const loss = rk.losses.dkd(studentLogits, teacherLogits, labels, { beta: 8, temperature: 4 });
 */
export function dkd(
  studentLogits: Tensor,
  teacherLogits: Tensor,
  labels: Tensor,
  options: { alpha?: number; beta?: number; temperature?: number; standardize?: boolean } = {},
): Tensor {
  const o = optionsOf<typeof options>('dkd', options);
  requireTensor('dkd', 'studentLogits', studentLogits);
  requireTensor('dkd', 'teacherLogits', teacherLogits);
  requireTensor('dkd', 'labels', labels);
  const params = { alpha: o.alpha, beta: o.beta, temperature: o.temperature, standardize: o.standardize };
  return runTerm('dkd', logitSetup(studentLogits), params, { studentLogits, teacherLogits, labels });
}

/**
 * DIST (Huang et al., NeurIPS 2022): β·T²·(1 − mean Pearson correlation of the student's and the
 * teacher's softened probabilities per sample) + γ·T²·(the same per class, across the batch). Defaults
 * β 1, γ 1, T 4 (the paper uses 1 on ImageNet). For the two parts separately, use
 * `createTerm('dist', ...)`, whose compute() returns `{ dist_inter, dist_intra }`.
 *
 * @example
 * const loss = rk.losses.dist(studentLogits, teacherLogits, { temperature: 1 });
 */
export function dist(studentLogits: Tensor, teacherLogits: Tensor, options: { beta?: number; gamma?: number; temperature?: number } = {}): Tensor {
  const o = optionsOf<typeof options>('dist', options);
  requireTensor('dist', 'studentLogits', studentLogits);
  requireTensor('dist', 'teacherLogits', teacherLogits);
  return runTerm('dist', logitSetup(studentLogits), { beta: o.beta, gamma: o.gamma, temperature: o.temperature }, { studentLogits, teacherLogits });
}

/**
 * Relational KD (Park et al., CVPR 2019) on pooled features (N×C or N×C×1×1; the widths may differ):
 * distanceWeight × Huber loss between the pairwise distances (each divided by its mean) plus
 * angleWeight × Huber loss between the angles of all triples. Defaults 25 and 50 (the paper's). For
 * the two parts separately, use `createTerm('rkd', ...)`, whose compute() returns
 * `{ rkd_distance, rkd_angle }`.
 *
 * @example
 * const loss = rk.losses.rkd(studentPooled, teacherPooled);
 */
export function rkd(studentPooled: Tensor, teacherPooled: Tensor, options: { distanceWeight?: number; angleWeight?: number } = {}): Tensor {
  const o = optionsOf<typeof options>('rkd', options);
  return pooledTermLoss('rkd', studentPooled, teacherPooled, { distanceWeight: o.distanceWeight, angleWeight: o.angleWeight });
}

/**
 * Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018) on pooled features (N×C or N×C×1×1):
 * KL divergence between the teacher's and the student's conditional probabilities P[i, j] derived from
 * cosine similarities within the batch, averaged over the N² pairs. No inner weight (mdistiller's
 * outer weight is 30000).
 *
 * @example
 * const loss = rk.losses.pkt(studentPooled, teacherPooled);
 */
export function pkt(studentPooled: Tensor, teacherPooled: Tensor): Tensor {
  return pooledTermLoss('pkt', studentPooled, teacherPooled, {});
}

/**
 * Similarity-preserving KD (Tung & Mori, ICCV 2019) between two feature maps (N×C×H×W; C, H, W may
 * differ): ‖G_s − G_t‖²_F / N², G the row-normalised N×N Gram matrix of the flattened maps.
 *
 * @example
 * const loss = rk.losses.sp(studentFeature, teacherFeature);
 */
export function sp(studentFeature: Tensor, teacherFeature: Tensor): Tensor {
  requireTensor('sp', 'studentFeature', studentFeature);
  requireTensor('sp', 'teacherFeature', teacherFeature);
  return stageTermLoss('sp', [studentFeature], [teacherFeature], 'Feature');
}

/**
 * Neuron selectivity transfer (Huang & Wang, 2017) with the polynomial kernel (x·y)²: per pair of maps,
 * the squared MMD between the student's and the teacher's L2-normalised channel maps (batch mean), the
 * larger map adaptive-average-pooled to the smaller; summed over the pairs. Lists of different length
 * pair their deepest (last) maps.
 *
 * @example
 * const loss = rk.losses.nst(studentStageFeatures, teacherStageFeatures);
 */
export function nst(studentMaps: Tensor[], teacherMaps: Tensor[]): Tensor {
  requireTensorList('nst', 'studentMaps', studentMaps);
  requireTensorList('nst', 'teacherMaps', teacherMaps);
  return stageTermLoss('nst', studentMaps, teacherMaps, 'Maps');
}

// --- running one term on its own -------------------------------------------------------------------

/** Builds the term, computes it once, frees it and returns the sum of its losses (undefined params: the term's defaults). */
function runTerm(name: string, setup: TermSetup, params: Record<string, TermParamValue | undefined>, inputs: TermInputs): Tensor {
  const given = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as TermParamValues;
  const term = createTerm(name, setup, given);
  try {
    const out = term.compute(inputs);
    const parts = term.lossNames.map((n) => out[n]);
    if (parts.length === 1) return parts[0];
    const total = parts.reduce((a, b) => a.add(b));
    parts.forEach((p) => p.dispose());
    return total;
  } finally {
    term.dispose();
  }
}

function logitSetup(studentLogits: Tensor): TermSetup {
  return { studentShapes: [], teacherShapes: [], numClasses: studentLogits.shape[1] ?? 0 };
}

/** N×C vectors or N×C×H×W maps as maps (vectors reshaped to N×C×1×1, the copies pushed to `created`). */
function asMaps(fn: string, name: string, list: Tensor[], created: Tensor[]): Tensor[] {
  shapesOf(fn, name, list);
  return list.map((f) => {
    if (f.rank !== 2) return f;
    const m = f.reshape([f.shape[0], f.shape[1], 1, 1]);
    created.push(m);
    return m;
  });
}

/** A term on the pooled feature (the last feature level), given one pooled tensor per network. */
function pooledTermLoss(name: string, studentPooled: Tensor, teacherPooled: Tensor, params: Record<string, TermParamValue | undefined>): Tensor {
  requireTensor(name, 'studentPooled', studentPooled);
  requireTensor(name, 'teacherPooled', teacherPooled);
  const created: Tensor[] = [];
  try {
    const studentFeatures = asMaps(name, 'studentPooled', [studentPooled], created);
    const teacherFeatures = asMaps(name, 'teacherPooled', [teacherPooled], created);
    const setup = { studentShapes: shapesOf(name, 'studentPooled', studentFeatures), teacherShapes: shapesOf(name, 'teacherPooled', teacherFeatures) };
    return runTerm(name, setup, params, { studentFeatures, teacherFeatures });
  } finally {
    created.forEach((t) => t.dispose());
  }
}

/** A term on the stage maps (all levels but the pooled one): the lists get the pooled feature the terms expect last. */
function stageTermLoss(name: string, studentMaps: Tensor[], teacherMaps: Tensor[], suffix: string): Tensor {
  const created: Tensor[] = [];
  const withPooled = (who: string, list: Tensor[]) => {
    if (list.length === 0) throw new RangeError(`${name}: argument '${who}${suffix}' needs at least one feature map`);
    const maps = asMaps(name, `${who}${suffix}`, list, created);
    const pooled = maps[maps.length - 1].mean([2, 3], true);
    created.push(pooled);
    return [...maps, pooled];
  };
  try {
    const studentFeatures = withPooled('student', studentMaps);
    const teacherFeatures = withPooled('teacher', teacherMaps);
    const setup = { studentShapes: shapesOf(name, 'studentMaps', studentFeatures), teacherShapes: shapesOf(name, 'teacherMaps', teacherFeatures) };
    return runTerm(name, setup, {}, { studentFeatures, teacherFeatures });
  } finally {
    created.forEach((t) => t.dispose());
  }
}

/**
 * Attention transfer (p = 2) between feature maps with equal N, H, W: mean squared difference of the
 * L2-normalised spatial maps of mean squared activations.
 *
 * @example
 * const loss = rk.losses.at(studentFeature, teacherFeature);
 */
export function at(studentFeature: Tensor, teacherFeature: Tensor): Tensor {
  requireTensor('at', 'studentFeature', studentFeature);
  requireTensor('at', 'teacherFeature', teacherFeature);
  return new Tensor(native().atLoss(studentFeature.handle, teacherFeature.handle));
}

/**
 * FitNet hint: MSE between regressor(studentFeature) and teacherFeature (same N, H, W).
 *
 * @example
 * const loss = rk.losses.fitnet(regressor, studentFeature, teacherFeature);
 */
export function fitnet(regressor: HintRegressor, studentFeature: Tensor, teacherFeature: Tensor): Tensor {
  requireTensor('fitnet', 'studentFeature', studentFeature);
  requireTensor('fitnet', 'teacherFeature', teacherFeature);
  if (typeof regressor !== 'object' || regressor === null || !('handle' in regressor)) {
    throw new TypeError("fitnet: argument 'regressor' must be a HintRegressor");
  }
  return new Tensor(native().fitnetLoss(regressor.handle, studentFeature.handle, teacherFeature.handle));
}
