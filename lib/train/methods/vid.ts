import type { MethodPlugin } from './plugin';

/** VID: the teacher's features under a Gaussian predicted from the student's, per stage. */
export const method: MethodPlugin = {
  name: 'vid',
  paper: 'Ahn, Hu, Damianou, Lawrence, Dai. Variational Information Distillation for Knowledge Transfer. CVPR 2019',
  summary: 'Gaussian negative log-likelihood of each teacher stage feature given a regression of the student\'s, learned variance',
  term: 'vid',
  reads: 'features',
  weight: { default: 1, doc: 'weight of the VID loss' },
  warmup: true,
  params: [{ key: 'initVariance', type: 'number', default: 5, min: 1e-3, max: 1e3, doc: 'VID initial predicted variance' }],
  defaultsSource: 'weight 1, initial variance 5 (CRD benchmark code / mdistiller)',
};
