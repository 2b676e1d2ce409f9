import type { MethodPlugin } from './plugin';

/** Similarity-preserving KD: batch similarity matrices of the last stage feature. */
export const method: MethodPlugin = {
  name: 'sp',
  paper: 'Tung, Mori. Similarity-Preserving Knowledge Distillation. ICCV 2019',
  summary: 'squared Frobenius distance of the row-normalised batch Gram matrices of the last stage, / N²',
  term: 'sp',
  reads: 'features',
  weight: { default: 3000, doc: 'weight of the SP loss' },
  warmup: true,
  params: [],
  defaultsSource: 'weight 3000 (the SP paper; CRD benchmark code / mdistiller)',
};
