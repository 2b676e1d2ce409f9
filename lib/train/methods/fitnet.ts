import type { MethodPlugin } from './plugin';

/** FitNet: a 1x1 regressor from one student stage to the teacher's, MSE. */
export const method: MethodPlugin = {
  name: 'fitnet',
  paper: 'Romero, Ballas, Kahou, Chassang, Gatta, Bengio. FitNets: Hints for Thin Deep Nets. ICLR 2015',
  summary: 'MSE between a 1x1 regression of one student stage feature and the teacher feature',
  term: 'fitnet',
  reads: 'features',
  weight: { default: 100, doc: 'weight of the hint loss' },
  warmup: true,
  params: [{ key: 'hintLevel', type: 'int', default: 1, min: 0, max: 15, doc: 'FitNet: which stage pair carries the hint' }],
  defaultsSource: 'weight 100 (CRD benchmark code / mdistiller); hint level 1 (the second stage)',
};
