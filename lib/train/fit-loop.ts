// The training loop of Trainer.fit: epochs of batches through the native step, statistics read back
// every `statsEvery` steps, evaluation, epoch records, checkpoints (through the CheckpointPolicy) and the
// abort signal. It holds no tensors: the trainer's FitHost does the native work.
import type { BatchSampler } from '../data';
import type { NativeStepStats } from './binding';
import type { CheckpointPolicy } from './checkpoint-policy';
import type { EpochLog, RunLogger } from './log';
import { addStats, zeroSums, type Best, type RunState, type StepSums } from './run-state';
import { learningRate, lossWarmup, type Schedule } from './schedule';

/** What the loop needs from the trainer. */
export interface FitHost {
  readonly lossNames: readonly string[];
  /** One native step on these sample indices. */
  step(batch: Int32Array, warmup: number, lr: number): Promise<void>;
  takeStats(): NativeStepStats;
  /** Test-set evaluation, or null when the trainer has no test set. */
  evaluate(): Promise<{ top1: number; top5: number; loss: number } | null>;
  /** Saves the student as the best weights so far (`epoch` 1-based). */
  saveBest(epoch: number, top1: number): void;
  /** Data-parallel runs: whether any rank stops here (every rank must stop at the same step). */
  agreeStop?(local: boolean): Promise<boolean>;
  /** Data-parallel runs: the epoch's statistics over all ranks. */
  reduceSums?(sums: StepSums): Promise<StepSums>;
}

/** Validated fit options. */
export interface LoopConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: Schedule;
  warmupEpochs: number;
  lossWarmupEpochs: number;
  statsEvery: number;
  evaluateEvery: number;
  maxBadSteps: number;
  signal?: AbortSignal;
  /** After each step; `epoch` 1-based, `step` the steps taken in it. */
  onStep?: (info: { epoch: number; step: number; stepsPerEpoch: number; lr: number }) => void;
  onEpochEnd?: (log: EpochLog, run: { history: EpochLog[]; best: Best }) => void | Promise<void>;
}

/** Thrown when too many consecutive steps had a non-finite loss or gradient. */
export class NumericalFaultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NumericalFaultError';
  }
}

/** Runs the epochs from `start` on; resolves to the history, the best top-1 and whether it was aborted. */
export async function runFitLoop(
  host: FitHost,
  cfg: LoopConfig,
  sampler: BatchSampler,
  checkpoints: CheckpointPolicy,
  logger: RunLogger,
  start: RunState,
): Promise<{ history: EpochLog[]; best: Best; aborted: boolean }> {
  // `epoch` is the 0-based index of the epoch in progress (what the schedules take); everything shown to
  // people and written to logs, records and file names is 1-based (epoch 1 of N).
  let { epoch, position, globalStep, history, best, partial } = start;
  const { epochs } = cfg;
  const elapsedBefore = start.elapsed;
  const started = Date.now();
  const stepsPerEpoch = sampler.batchesPerEpoch;
  const firstStep = globalStep;
  // Steps left in the run after `step` steps of epoch `e` (0-based), for the run's ETA.
  const stepsLeft = (e: number, step: number) => (epochs - e - 1) * stepsPerEpoch + (stepsPerEpoch - step);
  for (; epoch < epochs; epoch++, position = 0) {
    const epochStart = Date.now();
    let imagesThisSession = 0;
    let sums = partial.sums;
    let skipped = partial.skipped;
    const secondsBefore = partial.seconds;
    partial = { sums: zeroSums(host.lossNames), skipped: 0, seconds: 0 };
    let stepLr = learningRate(cfg.lr, cfg.schedule, cfg.warmupEpochs, { epoch, step: position, stepsPerEpoch, epochs });
    const scale = lossWarmup(epoch, cfg.lossWarmupEpochs);
    const pull = () => {
      const s = host.takeStats();
      sums = addStats(sums, s);
      if (s.consecutiveBad >= cfg.maxBadSteps) {
        const kept = checkpoints.lastGood();
        throw new NumericalFaultError(
          `Trainer.fit: ${s.consecutiveBad} consecutive steps had a non-finite loss or gradient (epoch ${epoch + 1}); they were skipped and training stopped. ` +
            (kept ? `The last good checkpoint is ${kept}. ` : '') +
            'Lower the learning rate or the methods\' weights, check the data and the teacher weights for NaN, or raise maxBadSteps.',
        );
      }
    };
    // Where the run stands mid-epoch (what a step or interruption checkpoint records).
    const now = (): RunState => ({
      epoch, position, globalStep, history, best, elapsed: elapsedBefore + (Date.now() - started) / 1000,
      partial: { sums, skipped, seconds: secondsBefore + (Date.now() - epochStart) / 1000 },
    });
    for (const batch of sampler.batches(epoch, position)) {
      const stop = host.agreeStop ? await host.agreeStop(!!cfg.signal?.aborted) : !!cfg.signal?.aborted;
      if (stop) {
        pull();
        checkpoints.interrupted(now());
        logger.message(`stopped by the abort signal at epoch ${epoch + 1}, step ${position}${checkpoints.enabled ? ' (checkpoint written)' : ''}`);
        return { history, best, aborted: true };
      }
      position++;
      if (batch.length < 2) {
        skipped++; // a 1-image batch cannot be trained with BatchNorm
        continue;
      }
      stepLr = learningRate(cfg.lr, cfg.schedule, cfg.warmupEpochs, { epoch, step: position - 1, stepsPerEpoch, epochs });
      await host.step(batch, scale, stepLr);
      globalStep++;
      imagesThisSession += batch.length;
      if (globalStep % cfg.statsEvery === 0) pull();
      if (checkpoints.stepDue(globalStep, position, stepsPerEpoch)) {
        pull();
        checkpoints.step(now());
      }
      cfg.onStep?.({ epoch: epoch + 1, step: position, stepsPerEpoch, lr: stepLr });
      if (logger.progressDue(position === stepsPerEpoch)) {
        // A progress line shows the epoch's mean loss so far: read the statistics back for it (once per line, not per step).
        if (logger.wantsLoss) pull();
        const seconds = (Date.now() - epochStart) / 1000;
        const rate = imagesThisSession / Math.max(seconds, 1e-3);
        // The run's ETA uses wall time per step of this session, so evaluations and checkpoints count too.
        const perStep = (Date.now() - started) / 1000 / Math.max(1, globalStep - firstStep);
        logger.progress({
          epoch, epochs, step: position, steps: stepsPerEpoch, imagesPerSecond: rate,
          loss: sums.steps > 0 ? sums.loss / sums.steps : undefined,
          epochEta: ((stepsPerEpoch - position) * cfg.batchSize) / Math.max(rate, 1e-9),
          runEta: stepsLeft(epoch, position) * perStep,
        });
      }
    }
    pull();
    if (host.reduceSums) sums = await host.reduceSums(sums);
    const seconds = secondsBefore + (Date.now() - epochStart) / 1000;
    const steps = Math.max(1, sums.steps);
    const record: EpochLog = {
      epoch: epoch + 1,
      lr: stepLr,
      losses: Object.fromEntries(Object.entries(sums.losses).map(([k, v]) => [k, v / steps])),
      loss: sums.loss / steps,
      trainTop1: (100 * sums.correct) / Math.max(1, sums.samples),
      imagesPerSecond: sums.samples / Math.max(seconds, 1e-3),
      elapsed: elapsedBefore + (Date.now() - started) / 1000,
      skippedSteps: skipped,
      badSteps: sums.badSteps,
    };
    const last = epoch === epochs - 1;
    if ((cfg.evaluateEvery > 0 && (epoch + 1) % cfg.evaluateEvery === 0) || last) {
      const ev = await host.evaluate();
      if (ev) {
        record.testTop1 = ev.top1;
        record.testTop5 = ev.top5;
        record.testLoss = ev.loss;
        if (!best || ev.top1 > best.top1) {
          best = { top1: ev.top1, epoch: epoch + 1 };
          host.saveBest(epoch + 1, ev.top1);
        }
      }
    }
    history = [...history, record];
    logger.epoch(record, epochs, seconds);
    checkpoints.epochEnd({ epoch: epoch + 1, position: 0, globalStep, history, best, elapsed: record.elapsed, partial: { sums: zeroSums(host.lossNames), skipped: 0, seconds: 0 } });
    await cfg.onEpochEnd?.(record, { history, best });
  }
  return { history, best, aborted: false };
}
