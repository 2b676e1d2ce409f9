import type { MethodPlugin } from './plugin';

/** Hinton's KD on temperature-softened logits. */
export const method: MethodPlugin = {
  name: 'kd',
  paper: 'Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. NIPS workshop 2015',
  summary: 'T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)), batch mean',
  term: 'kd',
  reads: 'logits',
  weight: { default: 1, doc: 'weight of the KD term' },
  warmup: false,
  params: [{ key: 'temperature', type: 'number', default: 4, min: 0.01, max: 1000, doc: 'KD temperature' }],
  defaultsSource: 'T 4 and weight 1: the ReviewKD and CRD CIFAR-100 code',
};
