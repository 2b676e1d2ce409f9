import type { MethodPlugin } from './plugin';

/** β per CIFAR-100 pair as published with DKD (mdistiller's configs). */
const BETA: Readonly<Record<string, number>> = { 'resnet20<-resnet56': 2, 'resnet32<-resnet110': 2, 'wrn-16-2<-wrn-40-2': 6, 'wrn-40-1<-wrn-40-2': 6, 'resnet8x4<-resnet32x4': 8 };

/** Decoupled KD: target-class and non-target-class KL terms weighted separately. */
export const method: MethodPlugin = {
  name: 'dkd',
  paper: 'Zhao, Cui, Song, Qiu, Liang. Decoupled Knowledge Distillation. CVPR 2022',
  summary: 'T² · (α · KL(b_T ‖ b_S) + β · KL(p̂_T ‖ p̂_S)) over target/non-target mass and non-target classes',
  term: 'dkd',
  reads: 'logits',
  weight: { default: 1, doc: 'weight of the DKD loss (its warm-up ramps it)' },
  warmup: true,
  params: [
    { key: 'alpha', type: 'number', default: 1, min: 0, max: 1e4, doc: 'DKD weight of the target-class term (TCKD)' },
    { key: 'beta', type: 'number', default: 8, min: 0, max: 1e4, doc: "DKD weight of the non-target term (NCKD); default per pair as published, else 8" },
    { key: 'temperature', type: 'number', default: 4, min: 0.01, max: 1000, doc: 'DKD temperature' },
  ],
  pairDefaults: (pair): Record<string, number> => {
    const beta = pair.teacher ? BETA[`${pair.student}<-${pair.teacher}`] : undefined;
    return beta === undefined ? {} : { beta };
  },
  defaultsSource: 'DKD paper / mdistiller CIFAR-100 configs: α 1, β 8 (2 for resnet56→resnet20 and resnet110→resnet32, 6 for the WRN pairs), T 4, warm-up 20 epochs',
};
