// Where a run stands: the one shape of what a checkpoint's sidecar records besides the tensors (epoch,
// position, history, best, time, and the statistics of the epoch so far), so that an epoch end, a step
// checkpoint and an interruption all write the same thing and resume reads it back in one place.
import type { NativeStepStats } from './binding';
import type { EpochLog } from './log';

/** Statistics summed over the steps of an epoch so far. */
export type StepSums = Omit<NativeStepStats, 'consecutiveBad'>;

/** The best test top-1 so far and its epoch. */
export type Best = { top1: number; epoch: number } | null;

export interface RunState {
  /**
   * The 0-based index of the epoch in progress (what the schedules take), or of the next one after an
   * epoch end. Records and names shown to people use 1-based numbers (`history[i].epoch` is i + 1).
   */
  epoch: number;
  /** Batches of that epoch already taken (0 at an epoch start). */
  position: number;
  /** Steps taken over the whole run; orders checkpoints. */
  globalStep: number;
  history: EpochLog[];
  /** `epoch` 1-based. */
  best: Best;
  /** Seconds of training so far, earlier sessions included. */
  elapsed: number;
  /** The epoch in progress: its sums, skipped 1-image batches and seconds. */
  partial: { sums: StepSums; skipped: number; seconds: number };
}

export function zeroSums(lossNames: readonly string[]): StepSums {
  return { losses: Object.fromEntries(lossNames.map((n) => [n, 0])), loss: 0, correct: 0, samples: 0, steps: 0, badSteps: 0 };
}

export function addStats(sums: StepSums, s: NativeStepStats): StepSums {
  const losses: Record<string, number> = { ...sums.losses };
  for (const [k, v] of Object.entries(s.losses)) losses[k] = (losses[k] ?? 0) + v;
  return { losses, loss: sums.loss + s.loss, correct: sums.correct + s.correct, samples: sums.samples + s.samples, steps: sums.steps + s.steps, badSteps: sums.badSteps + s.badSteps };
}

function isStepSums(v: unknown, names: readonly string[]): v is StepSums {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const losses = o.losses as Record<string, unknown> | undefined;
  return ['loss', 'correct', 'samples', 'steps', 'badSteps'].every((k) => typeof o[k] === 'number') &&
    typeof losses === 'object' && losses !== null && names.every((n) => typeof losses[n] === 'number');
}

/**
 * Whether a sidecar holds a usable RunState for this run: its loss names and, through `batchesPerEpoch`,
 * its batch size (a position beyond the epoch means another batch size).
 */
export function isRunState(meta: Record<string, unknown>, lossNames: readonly string[], batchesPerEpoch: number): boolean {
  const p = meta.partial as { sums?: unknown; skipped?: unknown; seconds?: unknown } | null;
  return Number.isInteger(meta.epoch) && (meta.epoch as number) >= 0 &&
    Number.isInteger(meta.position) && (meta.position as number) >= 0 && (meta.position as number) <= batchesPerEpoch &&
    Array.isArray(meta.history) && typeof meta.elapsed === 'number' && (meta.best === null || typeof meta.best === 'object') &&
    p !== null && typeof p === 'object' && isStepSums(p.sums, lossNames) &&
    typeof p.skipped === 'number' && typeof p.seconds === 'number';
}
