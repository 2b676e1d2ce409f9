// rk.distributed: a process group over PyTorch's c10d (a TCPStore rendezvous, Gloo for CPU tensors, NCCL
// for CUDA tensors), set up from a launcher's environment or from options. Every collective returns a
// Promise (the waiting happens off the event loop) and fails after the group's timeout with an error
// naming the ranks that did not report.
import { describe } from '../checks';
import { native } from '../native';
import { cuda } from '../runtime';
import type { NativeBinding, NativeTensor } from '../native-types';
import { Tensor, tensor } from '../tensor';
import type { DistributedBinding, NativeProcessGroup } from './binding';
import { DEFAULT_MASTER_PORT, launcherEnv } from './env';

/** Reductions of {@link ProcessGroup.allReduce}. 'avg' is the sum divided by the world size (floating types). */
export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';

/** Options of {@link init}; each one left out comes from the launcher's environment (docs/distributed.md). */
export interface InitOptions {
  rank?: number;
  worldSize?: number;
  localRank?: number;
  localWorldSize?: number;
  /** Address of rank 0, which hosts the rendezvous store (MASTER_ADDR; default 127.0.0.1). */
  masterAddr?: string;
  /** Port of the store (MASTER_PORT; default 29500). */
  masterPort?: number;
  /** 'gloo' (CPU tensors), 'nccl' (CUDA tensors) or 'auto' (default: by `device`). */
  backend?: 'auto' | 'gloo' | 'nccl';
  /** The device the collectives' tensors live on, for backend 'auto' (default 'cpu'). */
  device?: string;
  /** Milliseconds a rendezvous or a collective may wait for the other ranks (REVIEWKD_DIST_TIMEOUT; default 300,000). */
  timeoutMs?: number;
  /** The network interface Gloo uses (GLOO_SOCKET_IFNAME). */
  interface?: string;
  /** false when a launcher's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True); default: rank 0 hosts it. */
  hostStore?: boolean;
  /** Gloo's worker threads per rank (default 2). */
  threads?: number;
}

/** The default collective timeout: 5 minutes, as torch.distributed's. */
export const DEFAULT_TIMEOUT_MS = 300_000;

function binding(): DistributedBinding {
  return native() as NativeBinding & DistributedBinding;
}

function intOption(name: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw new RangeError(`rk.distributed.init: option '${name}' must be an integer in [${lo}, ${hi}]; got ${describe(v)}`);
  }
  return v;
}

/** One rank's membership in a data-parallel job. Create it with {@link init}. */
export class ProcessGroup {
  /** This process's rank, 0..worldSize-1. Rank 0 writes logs, checkpoints and summaries. */
  readonly rank: number;
  readonly worldSize: number;
  /** This process's rank on its machine (picks its GPU). */
  readonly localRank: number;
  readonly localWorldSize: number;
  /** 'gloo' or 'nccl'. */
  readonly backend: string;
  /** @internal */
  readonly handle: NativeProcessGroup;

  /** @internal Use {@link init}. */
  constructor(handle: NativeProcessGroup, localRank: number, localWorldSize: number) {
    this.handle = handle;
    this.rank = handle.rank;
    this.worldSize = handle.worldSize;
    this.backend = handle.backend;
    this.localRank = localRank;
    this.localWorldSize = localWorldSize;
  }

  /** True on rank 0. */
  get isMain(): boolean {
    return this.rank === 0;
  }

  /** The collective timeout in milliseconds. */
  get timeoutMs(): number {
    return this.handle.timeoutMs;
  }

  /** Whether {@link destroy} was called. */
  get destroyed(): boolean {
    return this.handle.destroyed;
  }

  /** Reduces `tensors` over all ranks, in place (every rank gets the result). Tensors of one dtype travel together. */
  allReduce(tensors: Tensor | Tensor[], op: ReduceOp = 'sum'): Promise<void> {
    return this.handle.allReduce(handles('allReduce', tensors), op);
  }

  /** Copies `tensors` of rank `root` (default 0) into every rank's `tensors`, in place. */
  broadcast(tensors: Tensor | Tensor[], root = 0): Promise<void> {
    return this.handle.broadcast(handles('broadcast', tensors), root);
  }

  /** Every rank's `t` (same shape and dtype on all ranks), in rank order. */
  async allGather(t: Tensor): Promise<Tensor[]> {
    const [h] = handles('allGather', t);
    return (await this.handle.allGather(h)).map((x) => new Tensor(x));
  }

  /** Resolves once every rank has called it. */
  barrier(): Promise<void> {
    return this.handle.barrier();
  }

  /** allReduce of plain numbers (float64), e.g. metrics: resolves to the reduced values. */
  async allReduceNumbers(values: readonly number[], op: ReduceOp = 'sum'): Promise<number[]> {
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'number')) throw new TypeError('ProcessGroup.allReduceNumbers: argument \'values\' must be an Array of numbers');
    if (values.length === 0) return [];
    const t = tensor(Float64Array.from(values), { dtype: 'float64' });
    try {
      await this.handle.allReduce([t.handle], op);
      return Array.from(t.toArray() as Float64Array);
    } finally {
      t.dispose();
    }
  }

  /** Every rank's string (e.g. a JSON description), in rank order. */
  async allGatherStrings(value: string): Promise<string[]> {
    if (typeof value !== 'string') throw new TypeError('ProcessGroup.allGatherStrings: argument \'value\' must be a string');
    const bytes = Buffer.from(value, 'utf8');
    const lengths = await this.gatherLengths(bytes.length);
    const max = lengths.reduce((a, b) => Math.max(a, b), 1);
    const padded = new Uint8Array(max);
    padded.set(bytes);
    const t = tensor(padded, { dtype: 'uint8' });
    try {
      const all = await this.allGather(t);
      return all.map((x, r) => {
        const s = Buffer.from(x.toArray() as Uint8Array).subarray(0, lengths[r]).toString('utf8');
        x.dispose();
        return s;
      });
    } finally {
      t.dispose();
    }
  }

  private async gatherLengths(n: number): Promise<number[]> {
    const t = tensor(Float64Array.from([n]), { dtype: 'float64' });
    try {
      const all = await this.allGather(t);
      return all.map((x) => {
        const v = (x.toArray() as Float64Array)[0];
        x.dispose();
        return v;
      });
    } finally {
      t.dispose();
    }
  }

  /** Leaves the group: releases the backend and the store connection. Later collectives throw. */
  destroy(): void {
    this.handle.destroy();
  }
}

function handles(fn: string, tensors: Tensor | Tensor[]): NativeTensor[] {
  const list = Array.isArray(tensors) ? tensors : [tensors];
  if (list.length === 0) throw new RangeError(`ProcessGroup.${fn}: no tensors given`);
  return list.map((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`ProcessGroup.${fn}: argument 'tensors'${Array.isArray(tensors) ? `[${i}]` : ''} must be a Tensor`);
    return t.handle;
  });
}

/**
 * Joins the job this process was launched into (torchrun, srun, `reviewkd --nproc`) or the one that
 * `options` describe; resolves once every rank has joined. Throws a clear error for a port in use, an
 * unreachable master (after the timeout) or a malformed environment variable.
 */
export async function init(options: InitOptions = {}): Promise<ProcessGroup> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError('rk.distributed.init: argument \'options\' must be an object');
  const known = ['rank', 'worldSize', 'localRank', 'localWorldSize', 'masterAddr', 'masterPort', 'backend', 'device', 'timeoutMs', 'interface', 'hostStore', 'threads'];
  for (const k of Object.keys(options)) if (!known.includes(k)) throw new TypeError(`rk.distributed.init: unknown option '${k}' (known: ${known.join(', ')})`);
  const env = launcherEnv();
  const o = options;
  if (o.rank === undefined && !env) {
    throw new Error('rk.distributed.init: no launcher environment (RANK and WORLD_SIZE, or SLURM_PROCID and SLURM_NTASKS) and no options.rank/options.worldSize: start the job with `reviewkd ... --nproc N`, torchrun or srun, or pass {rank, worldSize}');
  }
  const worldSize = intOption('worldSize', o.worldSize ?? env?.worldSize, 1, 1 << 20);
  const rank = intOption('rank', o.rank ?? env?.rank, 0, worldSize - 1);
  const localWorldSize = intOption('localWorldSize', o.localWorldSize ?? env?.localWorldSize ?? worldSize, 1, 1 << 20);
  const localRank = intOption('localRank', o.localRank ?? env?.localRank ?? rank % localWorldSize, 0, localWorldSize - 1);
  const masterAddr = o.masterAddr ?? env?.masterAddr ?? '127.0.0.1';
  if (typeof masterAddr !== 'string' || masterAddr.trim() === '') throw new TypeError(`rk.distributed.init: option 'masterAddr' must be a host name or address; got ${describe(masterAddr)}`);
  const masterPort = intOption('masterPort', o.masterPort ?? env?.masterPort ?? DEFAULT_MASTER_PORT, 1, 65535);
  const timeoutMs = intOption('timeoutMs', o.timeoutMs ?? env?.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1, 2 ** 40);
  const threads = intOption('threads', o.threads ?? 2, 1, 64);
  const device = o.device ?? 'cpu';
  if (typeof device !== 'string') throw new TypeError("rk.distributed.init: option 'device' must be a string ('cpu', 'cuda', 'cuda:1')");
  const requested = o.backend ?? 'auto';
  if (!['auto', 'gloo', 'nccl'].includes(requested)) throw new RangeError(`rk.distributed.init: option 'backend' must be 'auto', 'gloo' or 'nccl'; got ${describe(requested)}`);
  const backend = requested === 'auto' ? (device.startsWith('cuda') ? 'nccl' : 'gloo') : (requested as 'gloo' | 'nccl');
  if (backend === 'nccl' && !binding().ncclAvailable()) {
    throw new Error("rk.distributed.init: backend 'nccl' is not in this build of reviewkd (it needs the CUDA variant compiled with nccl.h); use backend 'gloo'");
  }
  // Checked before the rendezvous: without a usable GPU an NCCL group could never form, and rank 0 would
  // otherwise wait for its peers until the timeout (30 minutes by default) before failing.
  if (backend === 'nccl' && !cuda.isAvailable()) {
    throw new Error(`rk.distributed.init: backend 'nccl' needs a CUDA device, and CUDA cannot be used here (${cuda.unavailableReason() ?? 'no CUDA device is visible'}); use device 'cpu' (backend 'gloo')`);
  }
  const hostStore = o.hostStore ?? !env?.agentStore;
  if (typeof hostStore !== 'boolean') throw new TypeError("rk.distributed.init: option 'hostStore' must be a boolean");
  const ifname = o.interface ?? env?.interface ?? '';
  // torchrun's agent store outlives restarts and is shared with the agent: key ours per attempt.
  const storePrefix = `reviewkd/attempt_${env?.restartCount ?? 0}/default_pg`;
  const handle = await binding().createProcessGroup({ rank, worldSize, masterAddr, masterPort, hostStore, storePrefix, timeoutMs, backend, interface: ifname, threads });
  return new ProcessGroup(handle, localRank, localWorldSize);
}

/** Whether this process was started by a launcher (torchrun, srun, `reviewkd --nproc`). */
export function isLaunched(): boolean {
  return launcherEnv() !== null;
}
