// What a launcher tells each process: torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_*), Slurm's as a fallback (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID), GLOO_SOCKET_IFNAME. Read only through lib/loader/settings.ts; a value that
// is set but malformed is an error naming the variable, never silently ignored.
import { setting } from '../loader/settings';

/** The distributed settings found in the environment. */
export interface LauncherEnv {
  /** 'torchrun' (RANK/WORLD_SIZE set) or 'slurm' (SLURM_PROCID/SLURM_NTASKS). */
  source: 'torchrun' | 'slurm';
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE=True): every rank is a client. */
  agentStore: boolean;
  /** torchrun's restart count (0 without torchrun). */
  restartCount: number;
  /** GLOO_SOCKET_IFNAME, or undefined. */
  interface?: string;
  /** REVIEWKD_DIST_TIMEOUT in milliseconds, or undefined. */
  timeoutMs?: number;
}

/** The default port of the rendezvous store (torchrun's). */
export const DEFAULT_MASTER_PORT = 29500;

function intSetting(name: string, lo: number, hi: number): number | undefined {
  const raw = setting(name);
  if (raw === undefined) return undefined;
  // Slurm writes SLURM_NTASKS_PER_NODE as e.g. "4(x2)": the count before the repeat marker.
  const v = name === 'SLURM_NTASKS_PER_NODE' ? raw.replace(/\(x\d+\)$/, '').split(',')[0] : raw;
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) {
    throw new RangeError(`${name}=${raw} is not valid: expected an integer in [${lo}, ${hi}]`);
  }
  return Number(v);
}

/** The launcher environment, or null when no launcher variables are set (a single-process run). */
export function launcherEnv(): LauncherEnv | null {
  const torchrun = setting('RANK') !== undefined || setting('WORLD_SIZE') !== undefined;
  const slurm = !torchrun && setting('SLURM_PROCID') !== undefined && setting('SLURM_NTASKS') !== undefined;
  if (!torchrun && !slurm) return null;
  const [rankName, worldName, localName] = torchrun ? ['RANK', 'WORLD_SIZE', 'LOCAL_RANK'] : ['SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'];
  const worldSize = intSetting(worldName, 1, 1 << 20);
  const rank = intSetting(rankName, 0, 1 << 20);
  if (worldSize === undefined || rank === undefined) {
    throw new RangeError(`${rankName} and ${worldName} must be set together (found only ${worldSize === undefined ? rankName : worldName})`);
  }
  if (rank >= worldSize) throw new RangeError(`${rankName}=${rank} is not valid: it must be below ${worldName}=${worldSize}`);
  const localRank = intSetting(localName, 0, 1 << 20) ?? (torchrun ? rank : 0);
  const localWorldSize = intSetting(torchrun ? 'LOCAL_WORLD_SIZE' : 'SLURM_NTASKS_PER_NODE', 1, 1 << 20) ?? (torchrun ? worldSize : 1);
  if (localRank >= localWorldSize) throw new RangeError(`${localName}=${localRank} is not valid: it must be below the local world size ${localWorldSize}`);
  const masterAddr = setting('MASTER_ADDR') ?? '127.0.0.1';
  if (/\s/.test(masterAddr)) throw new RangeError(`MASTER_ADDR=${masterAddr} is not valid: expected a host name or an IP address`);
  const masterPort = intSetting('MASTER_PORT', 1, 65535) ?? DEFAULT_MASTER_PORT;
  const agentRaw = setting('TORCHELASTIC_USE_AGENT_STORE');
  if (agentRaw !== undefined && !/^(true|false|1|0)$/i.test(agentRaw)) {
    throw new RangeError(`TORCHELASTIC_USE_AGENT_STORE=${agentRaw} is not valid: expected True or False`);
  }
  const timeout = setting('REVIEWKD_DIST_TIMEOUT');
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    const s = Number(timeout);
    if (!(Number.isFinite(s) && s > 0 && s <= 86400)) throw new RangeError(`REVIEWKD_DIST_TIMEOUT=${timeout} is not valid: expected seconds in (0, 86400]`);
    timeoutMs = Math.round(s * 1000);
  }
  const ifname = setting('GLOO_SOCKET_IFNAME');
  return {
    source: torchrun ? 'torchrun' : 'slurm',
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr,
    masterPort,
    agentStore: agentRaw !== undefined && /^(true|1)$/i.test(agentRaw),
    restartCount: intSetting('TORCHELASTIC_RESTART_COUNT', 0, 1 << 30) ?? 0,
    ...(ifname ? { interface: ifname } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

/** TORCHELASTIC_ERROR_FILE, or undefined. */
export function errorFilePath(): string | undefined {
  return setting('TORCHELASTIC_ERROR_FILE');
}
