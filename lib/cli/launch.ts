// `reviewkd train|distill --nproc N`: the local launcher. It starts N ranks of the same command on this
// machine (ranks node_rank*N .. node_rank*N+N-1 of nnodes*N), with torchrun's variables, a free port for
// the store when none is given, and its own process group per child so that Ctrl-C reaches the ranks
// once (forwarded by this process: each rank stops after its step and checkpoint). The launcher exits with
// one code: the first failing rank's, else 0 (130/143/129 when the run was stopped by a signal).
import * as net from 'net';
import * as os from 'os';
import { spawn, type ChildProcess } from 'child_process';

import { launcherEnv } from '../distributed/env';
import { init, type ProcessGroup } from '../distributed';
import { UsageError, type OptionSpec } from './args';

/** The launcher's flags, shared by train and distill. */
export const LAUNCH_OPTIONS: OptionSpec[] = [
  { name: 'nproc', type: 'int', min: 1, max: 1024, help: 'data-parallel: start n ranks on this machine (one process each; --batch is the global batch)', flagOnly: true },
  { name: 'nnodes', type: 'int', min: 1, max: 65536, help: 'data-parallel: machines in the job (default 1; run the same command on each with its --node-rank)', flagOnly: true },
  { name: 'node-rank', type: 'int', min: 0, max: 65535, help: "data-parallel: this machine's index, 0..nnodes-1 (default 0)", flagOnly: true },
  { name: 'master-addr', type: 'string', arg: 'host', help: 'data-parallel: address of node 0, which hosts the rendezvous store (default 127.0.0.1)', flagOnly: true },
  { name: 'master-port', type: 'int', min: 1, max: 65535, help: 'data-parallel: port of the store (default: a free port with one node, else 29500)', flagOnly: true },
  { name: 'dist-timeout', type: 'number', min: 1, max: 86400, help: 'data-parallel: seconds a collective waits for the other ranks before the run stops (default 300)', flagOnly: true },
];

const LAUNCH_FLAGS = ['--nproc', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** A free TCP port on this machine. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** argv without the launcher's own flags (and their values), for the ranks. */
function rankArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const flag = LAUNCH_FLAGS.find((f) => a === f || a.startsWith(`${f}=`));
    if (flag) {
      if (a === flag) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

const SIGNAL_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/** Runs the ranks of this machine; resolves to the job's exit code. */
export async function launchRanks(command: string, argv: string[], o: Record<string, unknown>): Promise<number> {
  if (launcherEnv()) throw new UsageError('option --nproc: this process was already started by a launcher (RANK/WORLD_SIZE are set); drop --nproc when running under torchrun or srun');
  const nproc = o.nproc as number;
  const nnodes = (o.nnodes as number | undefined) ?? 1;
  const nodeRank = (o.nodeRank as number | undefined) ?? 0;
  if (nodeRank >= nnodes) throw new UsageError(`option --node-rank: ${nodeRank} must be below --nnodes ${nnodes}`);
  const masterAddr = (o.masterAddr as string | undefined) ?? '127.0.0.1';
  if (nnodes > 1 && o.masterAddr === undefined) throw new UsageError('option --master-addr is required with --nnodes > 1 (the address of node 0)');
  const masterPort = (o.masterPort as number | undefined) ?? (nnodes > 1 ? 29500 : await freePort());
  const world = nnodes * nproc;
  // One compute thread team per rank: the machine's cores shared out, unless --threads says otherwise.
  const threads = o.threads === undefined ? ['--threads', String(Math.max(1, Math.floor(os.cpus().length / nproc)))] : [];
  const script = process.argv[1];
  const args = [script, command, ...rankArgv(argv), ...threads];
  process.stderr.write(`reviewkd: starting ranks ${nodeRank * nproc}..${nodeRank * nproc + nproc - 1} of ${world} (store ${masterAddr}:${masterPort})\n`);
  const children: ChildProcess[] = [];
  const exits: Promise<number>[] = [];
  let firstFailure: number | null = null;
  let stopSignal: NodeJS.Signals | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  const stopOthers = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    // A rank that does not stop (stuck in a collective) is killed after the grace period.
    killTimer ??= setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, 30000);
  };
  for (let local = 0; local < nproc; local++) {
    const rank = nodeRank * nproc + local;
    const env = {
      ...process.env,
      RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(local), LOCAL_WORLD_SIZE: String(nproc), GROUP_RANK: String(nodeRank),
      MASTER_ADDR: masterAddr, MASTER_PORT: String(masterPort),
      ...(o.distTimeout !== undefined ? { REVIEWKD_DIST_TIMEOUT: String(o.distTimeout) } : {}),
    };
    // detached: its own process group, so a terminal's Ctrl-C reaches the launcher only, which forwards it once.
    const child = spawn(process.execPath, args, { env, stdio: 'inherit', detached: true });
    children.push(child);
    exits.push(
      new Promise((resolve) => {
        child.on('exit', (code, signal) => {
          const c = code ?? 128 + (signal ? os.constants.signals[signal] : 1);
          if (c !== 0 && firstFailure === null && !stopSignal) {
            firstFailure = c;
            process.stderr.write(`reviewkd: rank ${rank} exited with ${signal ?? code}; stopping the other ranks\n`);
            stopOthers();
          }
          resolve(c);
        });
      }),
    );
  }
  const forward = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); // a second signal: quit now
      return;
    }
    stopSignal = signal;
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]).map((s) => [s, () => forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const codes = await Promise.all(exits);
    if (firstFailure !== null) return firstFailure;
    if (stopSignal) return SIGNAL_CODES[stopSignal] ?? 1;
    return codes.find((c) => c !== 0) ?? 0;
  } finally {
    if (killTimer) clearTimeout(killTimer);
    for (const [s, h] of handlers) process.removeListener(s, h);
  }
}

/** This rank's process group when the process was launched (torchrun, srun, --nproc), else undefined. */
export async function groupFromLauncher(device: string, timeoutSeconds?: number): Promise<ProcessGroup | undefined> {
  if (!launcherEnv()) return undefined;
  return init({ device, ...(timeoutSeconds !== undefined ? { timeoutMs: Math.round(timeoutSeconds * 1000) } : {}) });
}
