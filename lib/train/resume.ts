// Resume: the newest checkpoint of a run folder that can be restored, trying older ones when one is
// unusable (bad sidecar fields, a damaged tensors file, tensors that do not fit the trainer).
import { listCheckpoints, loadCheckpointTensors } from './checkpoint';
import type { RunLogger } from './log';
import { isRunState, type RunState } from './run-state';
import type { Tensor } from '../tensor';

export interface ResumePoint {
  /** The checkpoint's name, e.g. 'epoch-0003'. */
  name: string;
  state: RunState;
}

/**
 * Restores the newest usable checkpoint of `runDir` through `restore` and returns where the run stands;
 * undefined when the folder has no checkpoint. Throws, listing each problem, when every checkpoint is
 * unusable.
 */
export function resumeFrom(
  runDir: string,
  run: { lossNames: readonly string[]; batchesPerEpoch: number; restore: (record: Record<string, Tensor>) => void; logger: RunLogger },
): ResumePoint | undefined {
  const found = listCheckpoints(runDir).filter((c) => c.name.startsWith('epoch-') || c.name.startsWith('interrupted-') || c.name.startsWith('step-'));
  // Newest first; a checkpoint whose sidecar fields are unusable is reported and the next older one tried.
  const problems: string[] = [];
  for (const candidate of found) {
    if (!isRunState(candidate.meta, run.lossNames, run.batchesPerEpoch)) {
      problems.push(`${candidate.name}: the sidecar's epoch/position/history/partial fields are missing or invalid (or were written for another batch size)`);
      continue;
    }
    let record: Record<string, Tensor>;
    try {
      record = loadCheckpointTensors(runDir, candidate);
    } catch (err) {
      problems.push(`${candidate.name}: ${(err as Error).message}`);
      continue;
    }
    try {
      run.restore(record);
    } catch (err) {
      problems.push(`${candidate.name}: ${(err as Error).message}`);
      continue;
    } finally {
      Object.values(record).forEach((t) => t.dispose());
    }
    const m = candidate.meta as unknown as RunState;
    // Runs checkpointed before epochs were numbered from 1 in records have a history starting at epoch 0.
    const zeroBased = m.history.length > 0 && m.history[0].epoch === 0;
    const history = zeroBased ? m.history.map((h) => ({ ...h, epoch: h.epoch + 1 })) : m.history;
    const best = zeroBased && m.best ? { ...m.best, epoch: m.best.epoch + 1 } : m.best;
    const state: RunState = {
      epoch: m.epoch, position: m.position, globalStep: candidate.meta.globalStep, history, best, elapsed: m.elapsed, partial: m.partial,
    };
    for (const problem of problems) run.logger.message(`skipped unusable checkpoint ${problem}`);
    run.logger.message(`resumed from ${candidate.name} (epoch ${state.epoch + 1}, step ${state.position})`);
    return { name: candidate.name, state };
  }
  if (problems.length > 0) throw new Error(`Trainer.fit: no usable checkpoint to resume from in ${runDir}:\n  ${problems.join('\n  ')}`);
  return undefined;
}
