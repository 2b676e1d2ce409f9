import type { MethodPlugin } from './plugin';

/** RKD: distance- and angle-wise relations among the pooled features of a batch. */
export const method: MethodPlugin = {
  name: 'rkd',
  paper: 'Park, Kim, Lu, Cho. Relational Knowledge Distillation. CVPR 2019',
  summary: 'Huber loss between normalised pairwise distances and between triplet angles of the pooled features',
  term: 'rkd',
  reads: 'features',
  weight: { default: 1, doc: 'weight of the RKD loss' },
  warmup: true,
  params: [
    { key: 'distanceWeight', type: 'number', default: 25, min: 0, max: 1e6, doc: 'RKD weight of the distance term' },
    { key: 'angleWeight', type: 'number', default: 50, min: 0, max: 1e6, doc: 'RKD weight of the angle term' },
  ],
  defaultsSource: 'distance 25, angle 50 (the RKD paper; mdistiller)',
};
