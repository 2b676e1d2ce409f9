// `reviewkd info`: LibTorch version, variant and path, devices and threads (rk.info()).
import { info } from '../runtime';
import { type CommandSpec, parseOrHelp } from './args';

/** The spec of `reviewkd info`. */
export const spec: CommandSpec = {
  name: 'info',
  summary: 'Show the LibTorch build (version, cpu/cuda variant, path), the devices and the threads.',
  usage: 'reviewkd info [--json]',
  options: [{ name: 'json', type: 'boolean', help: 'print rk.info() as JSON' }],
  examples: ['reviewkd info', 'reviewkd info --json'],
};

/** Runs `reviewkd info`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const i = info();
  const devices = ['cpu', ...Array.from({ length: i.cuda.deviceCount }, (_, k) => `cuda:${k}`)];
  if (parsed.values.json) {
    process.stdout.write(`${JSON.stringify({ ...i, devices }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write([
    `reviewkd   ${i.version}`,
    `libtorch   ${i.libtorch.version} (${i.libtorch.variant}, from ${i.libtorch.source})`,
    `path       ${i.libtorch.path}`,
    `addon      ${i.binary}`,
    `devices    ${devices.join(', ')}${i.cuda.available ? '' : ' (CUDA not available)'}`,
    `threads    ${i.threads} intra-op, ${i.interopThreads} inter-op`,
  ].join('\n') + '\n');
  return 0;
}
