// Every environment setting the loader, the wheel fetch and the source build read, in one table: `doctor`
// lists them all from here, docs/install.md explains them, and the code reads them only through the
// helpers below (one spelling of "on"/"off", one place for the Node used by helper processes).
import * as os from 'os';
import * as path from 'path';

/** One environment variable the package reads on a user's machine. */
export interface Setting {
  name: string;
  /** What it changes, for `reviewkd doctor` and errors. */
  doc: string;
  /** The variables read, first set wins (default: just `name`); e.g. curl's lower-case proxy names. */
  readFrom?: string[];
}

/** Every setting, grouped by the step that reads it (the order `doctor` prints them in). */
export const SETTINGS: readonly Setting[] = [
  { name: 'LIBTORCH', doc: 'a LibTorch folder (include/, lib/, share/cmake/Torch) to use before any other' },
  { name: 'PYTHON', doc: "the Python whose torch package is tried second, and that runs pip (default python3)" },
  { name: 'REVIEWKD_PYTHON_TORCH', doc: "0 skips python3's torch (use the pinned wheel and the prebuilt binary)" },
  { name: 'REVIEWKD_CACHE', doc: 'the cache folder (default $XDG_CACHE_HOME/reviewkd or ~/.cache/reviewkd)' },
  { name: 'XDG_CACHE_HOME', doc: 'the base of the default cache folder' },
  { name: 'REVIEWKD_OFFLINE', doc: '1 never fetches the pinned torch wheel' },
  { name: 'REVIEWKD_TORCH_WHEEL', doc: 'a local copy of the pinned torch wheel (checked against its sha256)' },
  { name: 'REVIEWKD_TORCH_INDEX', doc: 'the package index pip is pointed at for the CPU torch wheel' },
  { name: 'REVIEWKD_PIP_RETRIES', doc: "pip's --retries when fetching the wheel (default 2)" },
  { name: 'REVIEWKD_TORCH_WHEEL_URL', doc: 'the URL of the direct download, the last way to get the wheel' },
  { name: 'HTTPS_PROXY', doc: 'an http:// proxy for the direct download (https_proxy first)', readFrom: ['https_proxy', 'HTTPS_PROXY'] },
  { name: 'NO_PROXY', doc: 'hosts the direct download reaches without the proxy (no_proxy first)', readFrom: ['no_proxy', 'NO_PROXY'] },
  { name: 'REVIEWKD_BUILD_FROM_SOURCE', doc: '0 forbids building the addon from source when no binary fits' },
  { name: 'CXX', doc: 'the C++ compiler of a source build (default c++)' },
  { name: 'CUDA_HOME', doc: 'the CUDA toolkit of a source build against a CUDA LibTorch (else CUDA_PATH)', readFrom: ['CUDA_HOME', 'CUDA_PATH'] },
  { name: 'CUDA_nvrtc_LIBRARY', doc: 'libnvrtc for a CUDA source build, when it is not beside torch' },
  { name: 'REVIEWKD_NVIDIA_INCLUDE_DIRS', doc: 'folders (;-separated) with nccl.h and the cuBLAS/cuSPARSE/cuSOLVER headers for a CUDA source build, when they are not beside torch' },
  { name: 'TORCH_CUDA_ARCH_LIST', doc: 'the GPU architectures a CUDA source build compiles for (needed without a GPU)' },
  { name: 'REVIEWKD_NODE', doc: 'the Node binary for helper processes (Electron apps whose RunAsNode fuse is off)' },
  { name: 'REVIEWKD_SKIP_INSTALL', doc: "1 makes npm's install step do nothing (the same work then happens on first use)" },
  { name: 'REVIEWKD_ADDON', doc: 'developers: load exactly this reviewkd.node (e.g. the sanitizer build), skipping the choice' },
  { name: 'REVIEWKD_CPU_MEMORY_REUSE', doc: "how a step's freed CPU memory is kept for the next: cache (default), malloc, or 0 to return it to the OS at once" },
  { name: 'REVIEWKD_FUSED_KERNELS', doc: "0 turns off reviewkd's own CPU kernels (BatchNorm, BatchNorm + residual + ReLU, ABF's attention mix), so LibTorch's operators run instead" },
  { name: 'REVIEWKD_AVX512BF16', doc: "0 keeps the fused kernels' portable bfloat16 loops on a CPU with AVX512-BF16 (read by the addon at the first bf16 pass)" },
  { name: 'REVIEWKD_LIBJPEG', doc: "the libjpeg-turbo that image streams' JPEG decoder opens (default libjpeg.so.62), or 0: decode JPEGs with sharp" },
  { name: 'REVIEWKD_DEBUG', doc: 'set: the CLI prints the stack trace of an unexpected error' },
  // Data-parallel training (lib/distributed/env.ts): what torchrun, Slurm or `reviewkd --nproc` set.
  { name: 'RANK', doc: "this process's rank in a distributed run (torchrun; else SLURM_PROCID)" },
  { name: 'WORLD_SIZE', doc: 'the number of ranks of a distributed run (torchrun; else SLURM_NTASKS)' },
  { name: 'LOCAL_RANK', doc: "this process's rank on its machine (else SLURM_LOCALID)" },
  { name: 'LOCAL_WORLD_SIZE', doc: 'the number of ranks on this machine' },
  { name: 'MASTER_ADDR', doc: 'the address of rank 0, which hosts the rendezvous store (default 127.0.0.1)' },
  { name: 'MASTER_PORT', doc: 'the port of the rendezvous store (default 29500)' },
  { name: 'TORCHELASTIC_USE_AGENT_STORE', doc: "True: torchrun's agent hosts the store and every rank is a client" },
  { name: 'TORCHELASTIC_RESTART_COUNT', doc: "torchrun's restart count (keys the store per attempt)" },
  { name: 'TORCHELASTIC_ERROR_FILE', doc: "where a failing rank writes its error (torchrun's JSON format)" },
  { name: 'SLURM_PROCID', doc: 'Slurm: the rank, when RANK is not set' },
  { name: 'SLURM_NTASKS', doc: 'Slurm: the world size, when WORLD_SIZE is not set' },
  { name: 'SLURM_LOCALID', doc: 'Slurm: the local rank, when LOCAL_RANK is not set' },
  { name: 'SLURM_NTASKS_PER_NODE', doc: 'Slurm: the local world size, when LOCAL_WORLD_SIZE is not set' },
  { name: 'GLOO_SOCKET_IFNAME', doc: 'the network interface Gloo uses (e.g. eth0); default: the address that reaches the master' },
  { name: 'REVIEWKD_DIST_TIMEOUT', doc: 'seconds a collective may wait for the other ranks before the run stops (default 300)' },
];

const BY_NAME = new Map(SETTINGS.map((s) => [s.name, s]));

/** The value of a setting, or undefined when unset or blank. Names outside SETTINGS are a programming error. */
export function setting(name: string): string | undefined {
  const entry = BY_NAME.get(name);
  if (!entry) throw new Error(`internal: ${name} is not in SETTINGS (lib/loader/settings.ts)`);
  for (const variable of entry.readFrom ?? [name]) {
    const value = process.env[variable];
    if (value !== undefined && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/**
 * A yes/no setting: true for 1/true/yes/on, false for 0/false/no/off, `fallback` when unset. Anything else
 * is an error naming the setting, so a typo never silently means "off".
 */
export function flagSetting(name: string, fallback: boolean): boolean {
  const value = setting(name);
  if (value === undefined) return fallback;
  const v = value.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`${name}=${value} is not understood: use 1 or 0`);
}

/** The per-user cache: LibTorch unpacked from the wheel, bindings, source builds, trial results. */
export function cacheRoot(): string {
  const own = setting('REVIEWKD_CACHE');
  if (own) return path.resolve(own);
  return path.join(setting('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'reviewkd');
}
