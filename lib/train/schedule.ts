// Learning-rate schedules and the KD warm-up factor, as pure functions of the position in training.
import { runDefault } from './run-options';

/**
 * 'step': multiply by `gamma` after finishing each epoch in `milestones` — the ReviewKD CIFAR rule, one
 * epoch later than PyTorch's MultiStepLR (defaults 0.1 and the reference's [150, 180, 210] of 240 epochs,
 * scaled to the run's length: the same fractions 150/240, 180/240, 210/240 of `epochs`, rounded). 'cosine': cosine decay to 0 over all steps. 'constant'.
 * `warmupEpochs` ramps linearly from 0 to the schedule's value over the first epochs, per step.
 */
export type Schedule =
  | { type: 'step'; milestones?: number[]; gamma?: number }
  | { type: 'cosine' }
  | { type: 'constant' };

export interface SchedulePosition {
  epoch: number;
  /** Step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  epochs: number;
}

/** The reference's step milestones [150, 180, 210] of 240 epochs, at the same fractions of `epochs`. */
export function defaultMilestones(epochs: number): number[] {
  return [150, 180, 210].map((m) => Math.round((m * epochs) / 240));
}

/** The learning rate for one step. */
export function learningRate(base: number, schedule: Schedule, warmupEpochs: number, pos: SchedulePosition): number {
  let lr = base;
  if (schedule.type === 'step') {
    const milestones = schedule.milestones ?? defaultMilestones(pos.epochs);
    const gamma = schedule.gamma ?? runDefault<number>('gamma', 'schedule');
    const passed = milestones.filter((m) => m < pos.epoch).length;
    lr = base * gamma ** passed;
  } else if (schedule.type === 'cosine') {
    const t = (pos.epoch * pos.stepsPerEpoch + pos.step) / Math.max(1, pos.epochs * pos.stepsPerEpoch);
    lr = 0.5 * base * (1 + Math.cos(Math.PI * t));
  }
  if (warmupEpochs > 0 && pos.epoch < warmupEpochs) {
    const t = (pos.epoch * pos.stepsPerEpoch + pos.step + 1) / (warmupEpochs * pos.stepsPerEpoch);
    lr *= Math.min(1, t);
  }
  return lr;
}

/** The warm-up factor of the ramped losses (ReviewKD's feature loss, DKD): min(1, epoch / warmupEpochs), constant within an epoch (0 in epoch 0). */
export function lossWarmup(epoch: number, warmupEpochs: number): number {
  return warmupEpochs > 0 ? Math.min(1, epoch / warmupEpochs) : 1;
}
