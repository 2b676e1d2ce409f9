import type { MethodPlugin } from './plugin';

/** OFD: pre-ReLU features, a margin from the teacher's BatchNorm statistics, partial L2. */
export const method: MethodPlugin = {
  name: 'ofd',
  paper: 'Heo, Kim, Yun, Park, Kwak, Choi. A Comprehensive Overhaul of Feature Distillation. ICCV 2019',
  summary: "partial L2 between a connector of the student's pre-ReLU features and the teacher's, clipped at a per-channel margin",
  term: 'ofd',
  reads: 'features',
  preact: { student: true, teacher: true },
  weight: { default: 1e-3, doc: 'weight of the OFD loss' },
  warmup: true,
  params: [],
  defaultsSource: 'weight 1e-3 on the per-sample sum (the OFD paper\'s 1/1000; mdistiller)',
};
