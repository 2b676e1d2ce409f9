// The `reviewkd` command line: dispatches to one file per command. Usage errors exit 2 with a message
// naming the flag or field; other failures exit 1 with the library's message; Ctrl-C during training 130
// (SIGTERM 143, SIGHUP 129), after a checkpoint.
import * as fs from 'fs';
import * as path from 'path';

import { UsageError, suggest } from './args';
import { setting } from '../loader/settings';

/** One command: its one-line summary and its entry point (loaded lazily, so --help is instant). */
const COMMANDS: Record<string, { summary: string; load: () => { main(argv: string[]): Promise<number> } }> = {
  train: { summary: 'train a teacher or a baseline (method vanilla)', load: () => require('./train') },
  distill: { summary: 'distil a student from a teacher (reviewkd, reviewkd+kd, kd, fitnet, at, vanilla)', load: () => require('./distill') },
  eval: { summary: 'evaluate a run folder or weights file (top-1, top-5; --json)', load: () => require('./eval') },
  export: { summary: "write a run's student weights as safetensors or TorchScript (with their preprocessing)", load: () => require('./export') },
  convert: { summary: 'convert a PyTorch .pth/.pt checkpoint to safetensors (nothing in it is run)', load: () => require('./convert') },
  info: { summary: 'LibTorch version/variant/path, devices, threads', load: () => require('./info') },
  doctor: { summary: 'what the loader finds (LibTorch, binaries, CUDA, threads) and why', load: () => require('./doctor') },
  models: { summary: 'list the model zoo', load: () => require('./models') },
  recipes: { summary: "list or show the paper's CIFAR-100 recipes", load: () => require('./recipes') },
  bench: { summary: 'benchmarks', load: () => require('./bench') },
  report: { summary: 'HTML report with plots comparing runs', load: () => require('./report') },
};

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'Usage: reviewkd <command> [options]   (reviewkd <command> --help for its options)',
    '',
    'Train and distill CNNs with ReviewKD on LibTorch.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Exit codes: 0 ok, 1 error, 2 usage error (bad flag, config field or value), 130 interrupted (Ctrl-C), 143 stopped by SIGTERM, 129 by SIGHUP (a checkpoint is written first).',
  ].join('\n') + '\n';
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and resolves to the exit code; never
 * throws. Errors go to stderr.
 * @example process.exitCode = await run(process.argv.slice(2));
 */
export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === 'help' && rest[0] && COMMANDS[rest[0]]) return run([rest[0], '--help']);
    process.stdout.write(usage());
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`reviewkd: unknown command '${command}'${suggest(command, Object.keys(COMMANDS))}\n\n${usage()}`);
    return 2;
  }
  try {
    return await entry.load().main(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`reviewkd ${command}: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`reviewkd ${command}: error: ${e?.message ?? String(err)}\n`);
    if (setting('REVIEWKD_DEBUG') !== undefined) process.stderr.write(`${e?.stack ?? ''}\n`);
    return 1;
  }
}

/** The `bin/reviewkd.js` entry: runs and sets the exit code. */
export function cli(): void {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`reviewkd: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
