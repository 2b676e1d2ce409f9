// What the library runs on: LibTorch build, threads, CUDA devices, native memory counters.
import { loadedBinary, native } from './native';

/** A summary of the native runtime, for logs and bug reports. */
export interface RuntimeInfo {
  /** The reviewkd package version. */
  version: string;
  libtorch: {
    /** e.g. '2.13.0+cpu' */
    version: string;
    variant: 'cpu' | 'cuda';
    /** The LibTorch folder the addon loads from. */
    path?: string;
    /** How it was found: 'LIBTORCH', 'python3', 'wheel-cache' or 'system'. */
    source?: string;
  };
  /** The loaded .node file. */
  binary?: string;
  /** Intra-op threads LibTorch uses. */
  threads: number;
  interopThreads: number;
  /** `unavailableReason`: why CUDA cannot be used (the CPU build, no NVIDIA driver, no device); absent when it can. */
  cuda: { available: boolean; deviceCount: number; unavailableReason?: string };
}

/** Reports the LibTorch version, CPU/CUDA variant, path and thread counts. */
export function info(): RuntimeInfo {
  const b = native().buildInfo();
  const { path: binary, libtorch } = loadedBinary();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../package.json') as { version: string };
  return {
    version: pkg.version,
    libtorch: { version: b.libtorchVersion, variant: b.variant as 'cpu' | 'cuda', path: libtorch?.root, source: libtorch?.source },
    binary,
    threads: b.numThreads,
    interopThreads: b.numInteropThreads,
    cuda: { available: b.cudaAvailable, deviceCount: b.cudaDeviceCount, ...(b.cudaUnavailableReason ? { unavailableReason: b.cudaUnavailableReason } : {}) },
  };
}

/**
 * Sets the number of threads LibTorch uses inside one op on the compute thread, where every async call
 * (steps, forwards, evaluation) runs; it applies from the next async call. Synchronous tensor ops on a JS
 * thread always use one thread (see docs/electron-and-workers.md).
 */
export function setNumThreads(n: number): void {
  native().setNumThreads(n);
}

/** The number of intra-op threads of the compute thread (see setNumThreads). */
export function getNumThreads(): number {
  return native().getNumThreads();
}

/**
 * Turns reviewkd's own CPU kernels (BatchNorm, ABF's attention mix) on or off for the whole process: they
 * are on by default (the setting `REVIEWKD_FUSED_KERNELS=0` starts with them off). Off, every op runs
 * LibTorch's own kernels: for comparing results or speed, or to rule the kernels out when a result looks
 * wrong. Call it between training steps.
 *
 * @example
 * rk.setFusedKernels(false);
 * rk.setFusedKernels(true);
 */
export function setFusedKernels(on: boolean): void {
  if (typeof on !== 'boolean') throw new TypeError(`setFusedKernels: argument 'on' must be a boolean; got ${typeof on}`);
  native().setFusedKernels(on);
}

/** Whether reviewkd's own CPU kernels are in use (see setFusedKernels). */
export function fusedKernelsEnabled(): boolean {
  return native().fusedKernelsEnabled();
}

/** CUDA queries; both work (returning false / 0) with a CPU-only LibTorch. */
export const cuda = {
  /** True when this LibTorch has CUDA and a device is visible. */
  isAvailable(): boolean {
    return native().cudaIsAvailable();
  },
  /** The number of visible CUDA devices. */
  deviceCount(): number {
    return native().cudaDeviceCount();
  },
  /** Why CUDA cannot be used here (the CPU build, no NVIDIA driver, no device), or undefined when it can. */
  unavailableReason(): string | undefined {
    return native().buildInfo().cudaUnavailableReason || undefined;
  },
};

/** Native memory held by live (undisposed) tensors, across the process: for leak checks. */
export function memory(): { liveTensors: number; liveBytes: number } {
  return native().memoryStats();
}
