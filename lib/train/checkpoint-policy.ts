// When the trainer writes checkpoints and which it keeps: one at each epoch end (keepLast of them), one
// every `checkpointEvery` steps within an epoch (keepLast of them, dropped at the next epoch end), and
// one when the run is interrupted (dropped at the next epoch end). Without a run folder it writes nothing.
import { listCheckpoints, pruneCheckpoints } from './checkpoint';
import type { RunState } from './run-state';

export class CheckpointPolicy {
  constructor(
    private readonly runDir: string | undefined,
    private readonly keepLast: number,
    private readonly checkpointEvery: number,
    /** Writes the trainer's tensors and `state` as checkpoint `name` in the run folder. */
    private readonly write: (runDir: string, name: string, state: RunState) => void,
  ) {}

  get enabled(): boolean {
    return this.runDir !== undefined;
  }

  /** Whether a step checkpoint is due after `globalStep` (never on an epoch's last step: the epoch end writes one). */
  stepDue(globalStep: number, position: number, stepsPerEpoch: number): boolean {
    return this.runDir !== undefined && this.checkpointEvery > 0 && globalStep % this.checkpointEvery === 0 && position < stepsPerEpoch;
  }

  step(state: RunState): void {
    if (!this.runDir) return;
    this.write(this.runDir, `step-${String(state.globalStep).padStart(8, '0')}`, state);
    pruneCheckpoints(this.runDir, 'step-', this.keepLast);
  }

  /** Named by the 1-based epoch it interrupted: interrupted-0001 stopped within epoch 1. */
  interrupted(state: RunState): void {
    if (!this.runDir) return;
    this.write(this.runDir, `interrupted-${String(state.epoch + 1).padStart(4, '0')}`, state);
  }

  /**
   * `state` is the start of the next epoch, so its 0-based `epoch` is the 1-based number of the epoch
   * just finished: epoch-0001 is the end of epoch 1.
   */
  epochEnd(state: RunState): void {
    if (!this.runDir) return;
    this.write(this.runDir, `epoch-${String(state.epoch).padStart(4, '0')}`, state);
    // Older ones go only after the new checkpoint is complete; interrupted and step ones are superseded.
    pruneCheckpoints(this.runDir, 'epoch-', this.keepLast);
    pruneCheckpoints(this.runDir, 'interrupted-', 0);
    pruneCheckpoints(this.runDir, 'step-', 0);
  }

  /** The newest epoch checkpoint's path, for error messages. */
  lastGood(): string | undefined {
    if (!this.runDir) return undefined;
    const kept = listCheckpoints(this.runDir).filter((c) => c.name.startsWith('epoch-'))[0]?.name;
    return kept ? `${this.runDir}/${kept}` : undefined;
  }
}
