// rk.recipes: the paper's CIFAR-100 and ImageNet set-ups as named recipes (the ReviewKD paper,
// Chen et al., CVPR 2021, and the authors' CIFAR-100 scripts and ImageNet code), each with the published numbers it should reproduce. λ comes from the training engine's table
// (lib/train/recipes.ts, REVIEWKD_LAMBDA) wherever the reference publishes one, so the two never drift.
import type { Method } from '../train/trainer';
import { REVIEWKD_LAMBDA, defaultLr } from '../train/recipes';

/** Published top-1 (%) for a teacher → student column of the paper's tables (CIFAR-100 or ImageNet). */
export interface PaperNumbers {
  teacher: number;
  student: number;
  kd?: number;
  fitnet?: number;
  at?: number;
  rkd?: number;
  crd?: number;
  ofd?: number;
  reviewkd: number;
  /** Where the numbers come from (the paper and its table). */
  source: string;
  /** Later methods' published numbers for the same pair, by method name ('dkd', 'kd+ls', 'dkd+ls'). */
  peers?: { numbers: Record<string, number>; source: string };
  /** ImageNet: the same column's top-5 (%), by row name. */
  top5?: Record<string, number>;
}

/** A named training set-up: everything `reviewkd train|distill --recipe NAME` fills in. */
export interface Recipe {
  /** '<dataset>/<teacher>-<student>' for distillation, '<dataset>/<model>' for a baseline (teacher) run; dataset 'cifar100' or 'imagenet'. */
  name: string;
  kind: 'train' | 'distill';
  /** 'cifar100' (in memory) or 'imagenet' (an image stream: the ILSVRC folder or tar shards, decoded batch by batch). */
  dataset: 'cifar100' | 'imagenet';
  /** Zoo name of the model trained (the student; for 'train' recipes the model itself). */
  student: string;
  teacher?: string;
  method: Method;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /**
   * ×gamma after finishing each milestone epoch (0-based; the CIFAR reference's rule, one epoch later than
   * MultiStepLR): the ImageNet recipes list 29, 59, 89, so epochs 30, 60 and 90 (0-based) start at the lower rate, as the reference.
   */
  schedule: { type: 'step'; milestones: number[]; gamma: number };
  /** Feature-loss warm-up min(1, epoch/20). */
  lossWarmupEpochs: number;
  /** λ of the review loss (distill recipes). */
  lambda?: number;
  /** Channels of the review head's fused maps when the reference fixes them (ImageNet: 512 for ResNet18, 256 for MobileNetV1). */
  midChannels?: number;
  /** 'paper': from the reference script (REVIEWKD_LAMBDA); 'chosen': no published value, see `note`. */
  lambdaSource?: 'paper' | 'chosen';
  /**
   * The reference CIFAR code never switches the teacher to eval mode, so its BatchNorm uses batch
   * statistics: recipes set 'batch' to reproduce it (the library default is 'eval').
   */
  teacherBN?: 'batch' | 'eval';
  /** Published numbers: the pair's column of the paper's CIFAR-100 tables (distill), or the model's row value (train). */
  paper?: PaperNumbers;
  /** The top-1 this recipe's run is compared with in reports. */
  paperTop1?: number;
  /** Runnable in the official code? Some reference branches are not (the VGG/MobileNetV2 branches; the authors' repository, issue #24). */
  note?: string;
}

/** The CIFAR-100 training recipe of the authors' scripts, shared by every recipe. */
const CIFAR100_BASE = Object.freeze({
  dataset: 'cifar100' as const,
  epochs: 240,
  batchSize: 128,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  lossWarmupEpochs: 20,
});

/**
 * λ for pairs the reference never published (its VGG/MobileNetV2 branches are not runnable):
 * 5.0, the value the reference uses for its other 4-5 level cross-width and cross-architecture pairs
 * (WRN, ShuffleNetV1, resnet8x4). A user reported R50 → MobileNetV2 69.88 with λ=30 but also a
 * different lr and batch (mdistiller#39), so that value is not adopted for the 240-epoch recipe.
 */
export const CHOSEN_LAMBDA = 5.0;

const S61 = 'Chen et al., CVPR 2021, CIFAR-100 results (same architecture style)';
const S62 = 'Chen et al., CVPR 2021, CIFAR-100 results (different architecture styles)';
const PEERS = 'DKD: Zhao et al., CVPR 2022; KD+LS, DKD+LS: Sun et al., CVPR 2024 (CIFAR-100 tables)';
const peers = (dkd: number, kdLs: number, dkdLs: number) => ({ numbers: { dkd, 'kd+ls': kdLs, 'dkd+ls': dkdLs }, source: PEERS });

/** [teacher, student, paper numbers, note?] for every distillation pair. */
const PAIRS: [string, string, PaperNumbers, string?][] = [
  ['resnet56', 'resnet20', { teacher: 72.34, student: 69.06, kd: 70.66, fitnet: 69.21, at: 70.55, rkd: 69.61, crd: 71.16, ofd: 70.98, reviewkd: 71.89, source: S61, peers: peers(71.97, 71.43, 72.32) }],
  ['resnet110', 'resnet32', { teacher: 74.31, student: 71.14, kd: 73.08, fitnet: 71.06, at: 72.31, rkd: 71.82, crd: 73.48, ofd: 73.23, reviewkd: 73.89, source: S61 }],
  ['resnet32x4', 'resnet8x4', { teacher: 79.42, student: 72.5, kd: 73.33, fitnet: 73.5, at: 73.44, rkd: 71.9, crd: 75.51, ofd: 74.95, reviewkd: 75.63, source: S61, peers: peers(76.32, 76.62, 77.01) }],
  ['wrn-40-2', 'wrn-16-2', { teacher: 75.61, student: 73.26, kd: 74.92, fitnet: 73.58, at: 74.08, rkd: 73.35, crd: 75.48, ofd: 75.24, reviewkd: 76.12, source: S61, peers: peers(76.23, 76.11, 76.39) }],
  ['wrn-40-2', 'wrn-40-1', { teacher: 75.61, student: 71.98, kd: 73.54, fitnet: 72.24, at: 72.77, rkd: 72.22, crd: 74.14, ofd: 74.33, reviewkd: 75.09, source: S61 }],
  ['vgg13', 'vgg8', { teacher: 74.64, student: 70.36, kd: 72.98, fitnet: 71.02, at: 71.43, rkd: 71.48, crd: 73.94, ofd: 73.95, reviewkd: 74.84, source: S61 },
    'the reference vgg branch is not runnable in the released code (vgg.py missing); λ not published'],
  ['resnet32x4', 'shufflenetv1', { teacher: 79.42, student: 70.5, kd: 74.07, crd: 75.11, reviewkd: 77.45, source: S62 }],
  ['wrn-40-2', 'shufflenetv1', { teacher: 75.61, student: 70.5, kd: 74.83, crd: 76.05, reviewkd: 77.14, source: S62 }],
  ['resnet32x4', 'shufflenetv2', { teacher: 79.42, student: 71.82, kd: 74.45, crd: 75.65, reviewkd: 77.78, source: S62 }],
  ['cifar-resnet50', 'mobilenetv2-0.5', { teacher: 79.34, student: 64.6, kd: 67.35, crd: 69.11, reviewkd: 69.89, source: S62 },
    'the reference mobile branch is not runnable in the released code (mobilenetv2.py missing); λ not published'],
  ['vgg13', 'mobilenetv2-0.5', { teacher: 74.64, student: 64.6, kd: 67.37, crd: 69.73, reviewkd: 70.37, source: S62 },
    'the reference mobile branch is not runnable in the released code (mobilenetv2.py missing); λ not published'],
  ['cifar-resnet50', 'vgg8', { teacher: 79.34, student: 70.36, kd: 73.81, crd: 74.3, reviewkd: 75.34, source: `${S62}; SDD paper, [UNCONFIRMED] in the ReviewKD paper` },
    'column reported by the SDD paper only; the reference vgg branch is not runnable; λ not published'],
];

function distillRecipe([teacher, student, paper, note]: (typeof PAIRS)[number]): Recipe {
  const published = REVIEWKD_LAMBDA[`${student}<-${teacher}`];
  return {
    name: `cifar100/${teacher}-${student}`,
    kind: 'distill',
    ...CIFAR100_BASE,
    student,
    teacher,
    method: 'reviewkd',
    lr: defaultLr(student),
    schedule: { type: 'step', milestones: [150, 180, 210], gamma: 0.1 },
    lambda: published ?? CHOSEN_LAMBDA,
    lambdaSource: published !== undefined ? 'paper' : 'chosen',
    teacherBN: 'batch',
    paper,
    paperTop1: paper.reviewkd,
    ...(note ? { note } : {}),
  };
}

/** Baselines (teachers and the students trained alone), with the published top-1 of the model. */
function baselineRecipes(): Recipe[] {
  const seen = new Map<string, number>();
  for (const [teacher, student, paper] of PAIRS) {
    if (!seen.has(teacher)) seen.set(teacher, paper.teacher);
    if (!seen.has(student)) seen.set(student, paper.student);
  }
  return [...seen].map(([model, top1]) => ({
    name: `cifar100/${model}`,
    kind: 'train' as const,
    ...CIFAR100_BASE,
    student: model,
    method: 'vanilla' as const,
    lr: defaultLr(model),
    schedule: { type: 'step' as const, milestones: [150, 180, 210], gamma: 0.1 },
    paperTop1: top1,
  }));
}

/**
 * The ImageNet recipe of the authors' ImageNet code: 100 epochs, global batch 256, lr 0.1 × batch/256,
 * SGD momentum 0.9 without Nesterov, weight decay 1e-4, ×0.1 at epochs 30/60/90, teacher in eval mode
 * (torchvision's weights), no feature-loss warm-up; RandomResizedCrop(224) + flip, val Resize(256) + CenterCrop(224).
 */
const IMAGENET_BASE = Object.freeze({
  dataset: 'imagenet' as const,
  epochs: 100,
  batchSize: 256,
  lr: 0.1,
  momentum: 0.9,
  nesterov: false,
  weightDecay: 1e-4,
  lossWarmupEpochs: 0,
});
const imagenetSchedule = () => ({ type: 'step' as const, milestones: [29, 59, 89], gamma: 0.1 });

const S63 = "Chen et al., CVPR 2021, ImageNet results (top-1 from the authors' README; the full rows as quoted by Sun et al., CVPR 2024, Table 3)";
const TEACHER_WEIGHTS = "the teacher is torchvision's pretrained model (resnet34-333f7ec4 / resnet50-19c8e357), loaded from safetensors";

/** [teacher, student, λ, mid channels, paper numbers] of the paper's ImageNet table. */
const IMAGENET_PAIRS: [string, string, number, number, PaperNumbers][] = [
  ['resnet34', 'resnet18', 1.0, 512, {
    teacher: 73.31, student: 69.75, at: 70.69, ofd: 70.81, crd: 71.17, reviewkd: 71.61, source: S63,
    top5: { teacher: 91.42, student: 89.07, at: 90.01, ofd: 89.98, crd: 90.13, reviewkd: 90.51 },
  }],
  ['resnet50', 'mobilenetv1', 8.0, 256, {
    teacher: 76.16, student: 68.87, at: 69.56, ofd: 71.25, crd: 71.37, reviewkd: 72.56, source: S63,
    top5: { teacher: 92.86, student: 88.76, at: 89.33, ofd: 90.34, crd: 90.41, reviewkd: 91.0 },
  }],
];

function imagenetRecipes(): Recipe[] {
  const distill = IMAGENET_PAIRS.map(([teacher, student, lambda, midChannels, paper]): Recipe => ({
    name: `imagenet/${teacher}-${student}`,
    kind: 'distill',
    ...IMAGENET_BASE,
    student,
    teacher,
    method: 'reviewkd',
    schedule: imagenetSchedule(),
    lambda,
    lambdaSource: 'paper',
    midChannels,
    teacherBN: 'eval',
    paper,
    paperTop1: paper.reviewkd,
    note: TEACHER_WEIGHTS,
  }));
  const baselines = new Map<string, number>();
  for (const [teacher, student, , , paper] of IMAGENET_PAIRS) {
    baselines.set(teacher, paper.teacher);
    baselines.set(student, paper.student);
  }
  const train = [...baselines].map(([model, top1]): Recipe => ({
    name: `imagenet/${model}`,
    kind: 'train',
    ...IMAGENET_BASE,
    student: model,
    method: 'vanilla',
    schedule: imagenetSchedule(),
    paperTop1: top1,
  }));
  return [...distill, ...train];
}

const RECIPES: readonly Recipe[] = Object.freeze([...PAIRS.map(distillRecipe), ...baselineRecipes(), ...imagenetRecipes()].map((r) => Object.freeze(r)));

/**
 * Every recipe: the distillation pairs of the paper's CIFAR-100 and ImageNet tables ('cifar100/<teacher>-<student>',
 * 'imagenet/resnet34-resnet18', 'imagenet/resnet50-mobilenetv1'; method reviewkd) and the baseline runs of their
 * models ('cifar100/<model>', 'imagenet/<model>'; method vanilla).
 * @example rk.recipes.list().filter((r) => r.kind === 'distill').map((r) => r.name)
 */
export function list(): Recipe[] {
  return RECIPES.map((r) => ({ ...r }));
}

/**
 * One recipe by name (a copy you may change). Unknown names throw a RangeError listing the known ones.
 * @example const r = rk.recipes.get('cifar100/resnet56-resnet20'); // r.lambda === 0.6
 */
export function get(name: string): Recipe {
  if (typeof name !== 'string') throw new TypeError(`recipes.get: argument 'name' must be a recipe name; got ${typeof name}`);
  const r = RECIPES.find((x) => x.name === name || x.name === `cifar100/${name}`);
  if (!r) throw new RangeError(`recipes.get: unknown recipe '${name}'; known: ${RECIPES.map((x) => x.name).join(', ')}`);
  return {
    ...r,
    schedule: { ...r.schedule, milestones: [...r.schedule.milestones] },
    ...(r.paper ? { paper: { ...r.paper, ...(r.paper.peers ? { peers: { ...r.paper.peers, numbers: { ...r.paper.peers.numbers } } } : {}), ...(r.paper.top5 ? { top5: { ...r.paper.top5 } } : {}) } } : {}),
  };
}

/**
 * The published top-1 a run of this recipe with `method` is compared with: the paper's column for the
 * methods of its tables, a later paper's number for the peers' methods, the model's own for baselines;
 * undefined when nobody published one.
 * @example rk.recipes.paperTop1For(rk.recipes.get('cifar100/resnet56-resnet20'), 'dkd') // 71.97
 */
export function paperTop1For(recipe: Recipe, method: string): number | undefined {
  if (recipe.kind === 'train' || !recipe.paper) return recipe.paperTop1;
  const p = recipe.paper;
  const own = (p as unknown as Record<string, unknown>)[method];
  if (typeof own === 'number' && method !== 'teacher' && method !== 'student') return own;
  return p.peers?.numbers[method];
}
