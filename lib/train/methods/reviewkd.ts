import { pairDefaults } from '../recipes';
import type { MethodPlugin } from './plugin';

/** ReviewKD: the review head (residual ABF chain) and the hierarchical context loss. */
export const method: MethodPlugin = {
  name: 'reviewkd',
  paper: 'Chen, Liu, Zhao, Jia. Distilling Knowledge via Knowledge Review. CVPR 2021',
  summary: "HCL between the review head's fused student features and the teacher's stage features",
  term: 'reviewkd',
  reads: 'features',
  preact: { teacher: true, student: false },
  weight: {
    default: (pair) => pairDefaults(pair.student, pair.teacher).lambda,
    doc: "λ of the review loss (default: the pair's published λ, else 1)",
  },
  warmup: true,
  params: [
    { key: 'hclLevels', type: 'numbers', default: [4, 2, 1], min: 1, max: 1024, doc: 'HCL pyramid levels ([] = plain MSE, the ablation)' },
    { key: 'variant', type: 'string', default: 'residual', choices: ['residual', 'no-attention', 'no-residual', 'naive'], doc: 'review head: the paper\'s residual ABF chain or an ablation' },
    { key: 'midChannels', type: 'int', default: 0, min: 0, max: 65536, doc: 'channels of the fused maps (0 = min(512, deepest student channels))' },
  ],
  defaultsSource: 'the authors\' CIFAR-100 scripts (ReviewKD, CVPR 2021): λ per pair, HCL levels [4, 2, 1], warm-up 20 epochs',
  validate: (ctx) => {
    if (ctx.studentShapes.length !== ctx.teacherShapes.length) {
      throw new RangeError(`the review head pairs features level by level, but the student (${ctx.student}) gives ${ctx.studentShapes.length} and the teacher (${ctx.teacher}) ${ctx.teacherShapes.length}`);
    }
  },
};
