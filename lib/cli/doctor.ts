// `reviewkd doctor`: which LibTorch and which binary the loader uses on this machine, and why.
import { doctor, formatDoctorReport } from '../doctor';
import { type CommandSpec, parseOrHelp } from './args';

/** The spec of `reviewkd doctor`. */
export const spec: CommandSpec = {
  name: 'doctor',
  summary: 'Show what the loader finds: LibTorch (version, path, variant), the binaries and why each fits or not, CUDA devices, threads.',
  usage: 'reviewkd doctor [--json]',
  options: [{ name: 'json', type: 'boolean', help: 'print the report as JSON' }],
  examples: ['reviewkd doctor', 'LIBTORCH=/opt/libtorch reviewkd doctor --json'],
};

/** Runs `reviewkd doctor`; exits 0 when the addon loads, 1 otherwise. */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(spec, argv);
  if (!parsed) return 0;
  const report = doctor();
  process.stdout.write(parsed.values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.ok ? 0 : 1;
}
