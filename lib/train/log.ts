// Training logs: one JSON line and one CSV row per epoch in the run folder, and progress on stderr: a
// live bar with img/s and the epoch's and the run's ETA on a TTY; otherwise (logs, CI, nohup) a progress
// line every `progressEvery` seconds, so a long epoch is never silent, and one line per epoch.
import * as fs from 'fs';
import * as path from 'path';

/** One epoch's record, as written to log.jsonl and log.csv. */
export interface EpochLog {
  /** The epoch's number, 1-based (epoch 1 of N), as everywhere people read it. */
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

/** 'auto': 'bar' on a terminal, 'lines' otherwise. 'lines': a progress line every few seconds and one per epoch. */
export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

/** Where an epoch stands, for a progress bar or line. `epoch` is the 0-based index of the epoch in progress. */
export interface ProgressInfo {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  imagesPerSecond: number;
  /** The epoch's mean loss so far, when read back. */
  loss?: number;
  epochEta: number;
  runEta: number;
}

export class RunLogger {
  private readonly bar: boolean;
  private readonly quiet: boolean;
  private lastDraw = 0;
  private lastLine: number;

  /**
   * `lossNames`: the run's losses ('ce' first); each gets a CSV column `loss_<name>` after 'loss'.
   * `progressEvery`: seconds between progress lines when not drawing a bar.
   */
  constructor(private readonly dir: string | undefined, mode: ProgressMode, private readonly lossNames: readonly string[], private readonly label: string, private readonly progressEvery = 10) {
    const tty = Boolean(process.stderr.isTTY);
    this.bar = mode === 'bar' || (mode === 'auto' && tty);
    this.quiet = mode === 'none';
    this.lastLine = Date.now();
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      const csv = path.join(dir, 'log.csv');
      if (!fs.existsSync(csv)) fs.writeFileSync(csv, `${this.columns().join(',')}\n`);
    }
  }

  /** Whether the progress line shows the loss (the loop then reads the statistics back for it). */
  get wantsLoss(): boolean {
    return !this.bar && !this.quiet;
  }

  /**
   * Whether a progress update is due now: a bar redraws at most 10 times a second, a line every
   * `progressEvery` seconds (`lastStep`: the epoch's last step, whose line the epoch line replaces).
   */
  progressDue(lastStep: boolean): boolean {
    if (this.quiet) return false;
    const now = Date.now();
    if (this.bar) return now - this.lastDraw >= 100 || lastStep;
    return !lastStep && now - this.lastLine >= this.progressEvery * 1000;
  }

  /** Progress within an epoch: the bar on a terminal, else one line (call when {@link progressDue}). */
  progress(p: ProgressInfo): void {
    if (this.quiet) return;
    const now = Date.now();
    const where = `${this.label} epoch ${p.epoch + 1}/${p.epochs}`;
    if (this.bar) {
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((width * p.step) / Math.max(1, p.steps));
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      const run = p.epochs > 1 ? `, run ${formatSeconds(p.runEta)}` : '';
      process.stderr.write(`\r${where} [${bar}] ${p.step}/${p.steps} ${p.imagesPerSecond.toFixed(0)} img/s ETA epoch ${formatSeconds(p.epochEta)}${run}\x1b[K`);
      return;
    }
    this.lastLine = now;
    const loss = p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`;
    process.stderr.write(`${where} step ${p.step}/${p.steps} (${Math.floor((100 * p.step) / Math.max(1, p.steps))}%) ${p.imagesPerSecond.toFixed(0)} img/s${loss} ETA epoch ${formatSeconds(p.epochEta)}, run ${formatSeconds(p.runEta)}\n`);
  }

  /** Records a finished epoch; `seconds`: the time the epoch itself took. */
  epoch(record: EpochLog, epochs: number, seconds?: number): void {
    if (this.dir) {
      fs.appendFileSync(path.join(this.dir, 'log.jsonl'), `${JSON.stringify(record)}\n`);
      const values = [
        ...CSV_COLUMNS.slice(0, 3).map((c) => record[c]),
        ...this.lossNames.map((n) => record.losses[n]),
        ...CSV_COLUMNS.slice(3).map((c) => record[c]),
      ];
      fs.appendFileSync(path.join(this.dir, 'log.csv'), `${values.map((v) => (v === undefined ? '' : String(v))).join(',')}\n`);
    }
    this.lastLine = Date.now();
    if (this.quiet) return;
    const bad = record.badSteps > 0 ? ` (${record.badSteps} non-finite steps skipped)` : '';
    const test = record.testTop1 !== undefined ? ` test top1 ${record.testTop1.toFixed(2)}%` : '';
    // The terms only when there is more than cross-entropy alone (a teacher's run would repeat its loss).
    const terms = Object.keys(record.losses).length > 1 ? ` (${Object.entries(record.losses).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')})` : '';
    const time = seconds === undefined ? `total ${formatSeconds(record.elapsed)}` : `epoch time ${formatSeconds(seconds)}, total ${formatSeconds(record.elapsed)}`;
    const line = `${this.label} epoch ${record.epoch}/${epochs} loss ${record.loss.toFixed(4)}${terms} train top1 ${record.trainTop1.toFixed(2)}%${test} lr ${record.lr.toPrecision(3)} ${record.imagesPerSecond.toFixed(0)} img/s, ${time}${bad}`;
    process.stderr.write(this.bar ? `\r${line}\x1b[K\n` : `${line}\n`);
  }

  private columns(): string[] {
    return [...CSV_COLUMNS.slice(0, 3), ...this.lossNames.map((n) => `loss_${n}`), ...CSV_COLUMNS.slice(3)];
  }

  message(text: string): void {
    if (!this.quiet) process.stderr.write(`${this.bar ? '\r\x1b[K' : ''}${this.label} ${text}\n`);
  }
}

/** '12.3s', '4m05s', '2h07m'. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
