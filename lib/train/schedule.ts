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

/**
 * The warm-up factor of the ramped losses (ReviewKD's feature loss, DKD): min(1, epoch / warmupEpochs)
 * with `epoch` the 0-based epoch index, constant within an epoch (so 0 in the first epoch, as the
 * references' loops compute it).
 */
export function lossWarmup(epoch: number, warmupEpochs: number): number {
  return warmupEpochs > 0 ? Math.min(1, epoch / warmupEpochs) : 1;
}

/** The references' loss warm-up: 20 epochs of a 240-epoch run (the ReviewKD and DKD CIFAR-100 scripts). */
export const REFERENCE_LOSS_WARMUP = { epochs: 20, of: 240 } as const;

/**
 * The default loss warm-up for a run of `epochs`: the reference's 20 of 240 epochs at the same fraction
 * (1/12) of the run, rounded down, as the step milestones scale. 240 epochs keep 20; a 2-epoch run gets
 * none, so its first epoch is not plain cross-entropy.
 */
export function defaultLossWarmup(epochs: number): number {
  return Math.floor((REFERENCE_LOSS_WARMUP.epochs * epochs) / REFERENCE_LOSS_WARMUP.of);
}

/** A ramped loss term of the run and its outer weight (e.g. {name: 'reviewkd', weight: 0.6}). */
export interface RampedTerm {
  name: string;
  weight: number;
}

/**
 * The loss warm-up a run uses (`given`, else the scaled default) and the lines to tell the user: that the
 * default was scaled to a short run, that a given warm-up outlasts the run, or that a ramped loss has
 * weight 0 throughout (its method is then switched off without a word otherwise).
 */
export function resolveLossWarmup(given: number | undefined, epochs: number, ramped: readonly RampedTerm[]): { epochs: number; messages: string[] } {
  const n = given ?? defaultLossWarmup(epochs);
  const messages: string[] = [];
  if (ramped.length === 0) return { epochs: n, messages };
  const names = ramped.map((t) => t.name).join(', ');
  const zero = ramped.filter((t) => t.weight === 0).map((t) => t.name);
  if (zero.length > 0) messages.push(`warning: ${zero.join(', ')} has weight 0: that loss is off for the whole run`);
  // lossWarmup(e, n) is 0 in every epoch only when the run is its first epoch alone.
  if (n > 0 && epochs === 1) {
    messages.push(`warning: the ${n}-epoch loss warm-up gives ${names} weight 0 throughout this 1-epoch run (it ramps from 0 in epoch 1); set the loss warm-up to 0 (--loss-warmup 0) to train with it`);
  } else if (given === undefined && n !== REFERENCE_LOSS_WARMUP.epochs) {
    messages.push(`loss warm-up of ${names}: ${n === 0 ? 'none' : `${n} epoch(s)`} (the reference's ${REFERENCE_LOSS_WARMUP.epochs} of ${REFERENCE_LOSS_WARMUP.of} epochs, scaled to this ${epochs}-epoch run; --loss-warmup / lossWarmupEpochs sets it)`);
  } else if (given !== undefined && n >= epochs) {
    messages.push(`warning: the ${n}-epoch loss warm-up outlasts this ${epochs}-epoch run: ${names} never reaches full weight (factor ${lossWarmup(0, n).toFixed(2)} in epoch 1, ${lossWarmup(epochs - 1, n).toFixed(2)} in epoch ${epochs}); a shorter --loss-warmup, or 0, trains with it`);
  }
  return { epochs: n, messages };
}
