import type { MethodPlugin } from './plugin';

/** DIST: Pearson-correlation relations between the softened predictions, across samples and across classes. */
export const method: MethodPlugin = {
  name: 'dist',
  paper: 'Huang, You, Wang, Qian, Xu. Knowledge Distillation from A Stronger Teacher. NeurIPS 2022',
  summary: 'T² · (β · (1 − mean inter-class Pearson) + γ · (1 − mean intra-class Pearson)) of softmax(z/T)',
  term: 'dist',
  reads: 'logits',
  weight: { default: 2, doc: 'weight of the DIST loss' },
  warmup: false,
  params: [
    { key: 'beta', type: 'number', default: 1, min: 0, max: 1e4, doc: 'DIST weight of the inter-class relation (per sample, across classes)' },
    { key: 'gamma', type: 'number', default: 1, min: 0, max: 1e4, doc: 'DIST weight of the intra-class relation (per class, across samples)' },
    { key: 'temperature', type: 'number', default: 4, min: 0.01, max: 1000, doc: 'DIST temperature' },
  ],
  defaultsSource: 'β 1, γ 1 (the paper); τ 4 and loss weight 2 for CIFAR-100 as we read the paper\'s CIFAR setting [UNCONFIRMED: no config at hand]',
};
