import type { MethodPlugin } from './plugin';

/** NST: maximum mean discrepancy between the channels' activation distributions (polynomial kernel). */
export const method: MethodPlugin = {
  name: 'nst',
  paper: 'Huang, Wang. Like What You Like: Knowledge Distill via Neuron Selectivity Transfer. arXiv 2017',
  summary: 'MMD² with kernel (xᵀy)² between L2-normalised channel maps, every stage',
  term: 'nst',
  reads: 'features',
  weight: { default: 50, doc: 'weight of the NST loss' },
  warmup: true,
  params: [],
  defaultsSource: 'weight 50 (CRD benchmark code / mdistiller)',
};
