import type { MethodPlugin } from './plugin';

/** Attention transfer (p = 2) over every stage. */
export const method: MethodPlugin = {
  name: 'at',
  paper: 'Zagoruyko, Komodakis. Paying More Attention to Attention. ICLR 2017',
  summary: 'MSE of L2-normalised spatial attention maps (mean of squared activations) at every stage',
  term: 'at',
  reads: 'features',
  weight: { default: 1000, doc: 'weight of the attention loss' },
  warmup: true,
  params: [],
  defaultsSource: 'weight 1000 (the AT paper, CRD benchmark code, mdistiller)',
};
