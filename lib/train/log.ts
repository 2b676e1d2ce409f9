// Training logs: one JSON line and one CSV row per epoch in the run folder, and progress on stderr
// (a live bar with ETA and img/s on a TTY, one quiet line per epoch otherwise).
import * as fs from 'fs';
import * as path from 'path';

/** One epoch's record, as written to log.jsonl and log.csv. */
export interface EpochLog {
  epoch: number;
  lr: number;
  /** Mean of each loss over the epoch's steps, by name: 'ce', then each method's terms (unweighted). */
  losses: Record<string, number>;
  /** Mean of the weighted total. */
  loss: number;
  /** Accuracy on the (augmented) training batches, in %. */
  trainTop1: number;
  testTop1?: number;
  testTop5?: number;
  testLoss?: number;
  imagesPerSecond: number;
  /** Seconds since the run started (time spent in earlier, resumed sessions included). */
  elapsed: number;
  /** Steps skipped in this epoch (batches smaller than 2). */
  skippedSteps: number;
  /** Steps whose loss or gradient was not finite: detected on the device and not applied. */
  badSteps: number;
}

const CSV_COLUMNS = ['epoch', 'lr', 'loss', 'trainTop1', 'testTop1', 'testTop5', 'testLoss', 'imagesPerSecond', 'elapsed', 'skippedSteps', 'badSteps'] as const;

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export class RunLogger {
  private readonly bar: boolean;
  private readonly quiet: boolean;
  private lastDraw = 0;

  /** `lossNames`: the run's losses ('ce' first); each gets a CSV column `loss_<name>` after 'loss'. */
  constructor(private readonly dir: string | undefined, mode: ProgressMode, private readonly lossNames: readonly string[], private readonly label: string) {
    const tty = Boolean(process.stderr.isTTY);
    this.bar = mode === 'bar' || (mode === 'auto' && tty);
    this.quiet = mode === 'none';
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      const csv = path.join(dir, 'log.csv');
      if (!fs.existsSync(csv)) fs.writeFileSync(csv, `${this.columns().join(',')}\n`);
    }
  }

  /** Progress within an epoch (drawn at most 10 times a second). */
  progress(epoch: number, epochs: number, step: number, steps: number, imagesPerSecond: number, etaSeconds: number): void {
    if (!this.bar || this.quiet) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && step < steps) return;
    this.lastDraw = now;
    const width = 24;
    const filled = Math.round((width * step) / Math.max(1, steps));
    const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
    process.stderr.write(`\r${this.label} epoch ${epoch + 1}/${epochs} [${bar}] ${step}/${steps} ${imagesPerSecond.toFixed(0)} img/s ETA ${formatSeconds(etaSeconds)}   `);
  }

  /** Records a finished epoch. */
  epoch(record: EpochLog, epochs: number): void {
    if (this.dir) {
      fs.appendFileSync(path.join(this.dir, 'log.jsonl'), `${JSON.stringify(record)}\n`);
      const values = [
        ...CSV_COLUMNS.slice(0, 3).map((c) => record[c]),
        ...this.lossNames.map((n) => record.losses[n]),
        ...CSV_COLUMNS.slice(3).map((c) => record[c]),
      ];
      fs.appendFileSync(path.join(this.dir, 'log.csv'), `${values.map((v) => (v === undefined ? '' : String(v))).join(',')}\n`);
    }
    if (this.quiet) return;
    const bad = record.badSteps > 0 ? ` (${record.badSteps} non-finite steps skipped)` : '';
    const test = record.testTop1 !== undefined ? ` test top1 ${record.testTop1.toFixed(2)}%` : '';
    const line = `${this.label} epoch ${record.epoch + 1}/${epochs} loss ${record.loss.toFixed(4)} (${Object.entries(record.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}) train top1 ${record.trainTop1.toFixed(2)}%${test} lr ${record.lr.toPrecision(3)} ${record.imagesPerSecond.toFixed(0)} img/s ${formatSeconds(record.elapsed)}${bad}`;
    process.stderr.write(this.bar ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  private columns(): string[] {
    return [...CSV_COLUMNS.slice(0, 3), ...this.lossNames.map((n) => `loss_${n}`), ...CSV_COLUMNS.slice(3)];
  }

  message(text: string): void {
    if (!this.quiet) process.stderr.write(`${this.bar ? '\r\x1b[K' : ''}${this.label} ${text}\n`);
  }
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
