// Defaults of the paper's CIFAR-100 pairs (the authors' CIFAR-100 scripts for the ReviewKD paper, Chen et al., CVPR 2021), in one table.

export interface PairDefaults {
  /** λ of the review loss. */
  lambda: number;
  /** Base learning rate at batch 128. */
  lr: number;
}

/** λ per (student, teacher) pair of the reference scripts; keys are zoo names. */
export const REVIEWKD_LAMBDA: Readonly<Record<string, number>> = Object.freeze({
  'wrn-16-2<-wrn-40-2': 5.0,
  'wrn-40-1<-wrn-40-2': 5.0,
  'shufflenetv1<-wrn-40-2': 5.0,
  'resnet8x4<-resnet32x4': 5.0,
  'shufflenetv1<-resnet32x4': 5.0,
  'shufflenetv2<-resnet32x4': 8.0,
  'resnet20<-resnet56': 0.6,
  'resnet32<-resnet110': 1.0,
  // ImageNet (the reference's ImageNet README commands).
  'resnet18<-resnet34': 1.0,
  'mobilenetv1<-resnet50': 8.0,
});

/** The reference lowers the learning rate to 0.02 for ShuffleNet and MobileNet students. */
export function defaultLr(student: string): number {
  return /shuffle|mobile/i.test(student) ? 0.02 : 0.1;
}

/** λ and lr for a pair: the table's λ when the pair is listed, else 1. */
export function pairDefaults(student: string, teacher: string | undefined): PairDefaults {
  const lambda = teacher !== undefined ? REVIEWKD_LAMBDA[`${student}<-${teacher}`] : undefined;
  return { lambda: lambda ?? 1, lr: defaultLr(student) };
}
