// `reviewkd models`: the model zoo (rk.models.list()).
import * as models from '../models';
import { type CommandSpec, parseOrHelp } from './args';

/** The spec of `reviewkd models`. */
export const spec: CommandSpec = {
  name: 'models',
  summary: 'List the model zoo: names, aliases, family, input size, parameters and feature shapes.',
  usage: 'reviewkd models [--dataset cifar|imagenet] [--json]',
  options: [
    { name: 'dataset', type: 'string', choices: ['cifar', 'imagenet'], help: 'only models for this input size' },
    { name: 'json', type: 'boolean', help: 'print the list as JSON' },
  ],
  examples: ['reviewkd models', 'reviewkd models --dataset cifar --json'],
};

/** Runs `reviewkd models`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  // Listing builds every model once to measure its parameters and feature shapes: seconds on a CPU.
  process.stderr.write('reviewkd models: building each model of the zoo to measure it (a few seconds)...\n');
  const t0 = Date.now();
  const list = models.list().filter((m) => !parsed.values.dataset || m.dataset === parsed.values.dataset);
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify(list.map((m) => ({ ...m, numParameters: m.numParameters })), null, 2)}\n`);
    return 0;
  }
  const rows = list.map((m) => [m.name, m.family, `${m.dataset} ${m.inputSize}px`, m.numParameters.toLocaleString('en-US'), m.featureShapes.map((s) => `${s[0]}@${s[1]}`).join(' '), m.aliases.join(', ')]);
  const head = ['name', 'family', 'input', 'params', 'features (C@H)', 'aliases'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\n`);
  process.stderr.write(`reviewkd models: ${list.length} models in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return 0;
}
