// `reviewkd report`: an HTML page with PNG plots comparing run folders (rk.report.writeReport).
import * as fs from 'fs';
import * as path from 'path';

import { writeReport } from '../report';
import { UsageError, type CommandSpec, parseOrHelp } from './args';

/** The spec of `reviewkd report`. */
export const spec: CommandSpec = {
  name: 'report',
  summary: 'Write an HTML report with accuracy/loss curves and a top-1 comparison (paper numbers for recipe runs).',
  usage: 'reviewkd report <run folder>... [--out <dir>] [--title <text>]',
  positionals: [1, 1000],
  options: [
    { name: 'out', type: 'string', arg: 'dir', help: 'output folder (default report)' },
    { name: 'title', type: 'string', arg: 'text', help: "page title (default 'reviewkd report')" },
    { name: 'json', type: 'boolean', help: 'print the written paths and the run table as JSON' },
  ],
  examples: ['reviewkd report runs/resnet56 runs/r20-reviewkd runs/r20-kd --out report'],
};

/** Runs `reviewkd report`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  for (const d of parsed.positionals) {
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new UsageError(`argument <run folder>: '${d}' does not exist or is not a folder`);
    if (!fs.existsSync(path.join(d, 'log.jsonl'))) throw new UsageError(`argument <run folder>: '${d}' is not a run folder (no log.jsonl)`);
  }
  const out = (parsed.values.out as string | undefined) ?? 'report';
  const r = await writeReport(out, parsed.positionals, parsed.values.title ? { title: parsed.values.title as string } : {});
  if (parsed.values.json) {
    const runs = r.runs.map(({ history, summary, ...rest }) => ({ ...rest, epochs: history.length }));
    process.stdout.write(`${JSON.stringify({ html: r.html, images: r.images, runs }, null, 2)}\n`);
  } else process.stdout.write(`wrote ${r.html} and ${r.images.length} plots (${r.runs.length} runs)\n`);
  return 0;
}
