// A typed face for scripts/libtorch.js, the plain-JavaScript LibTorch resolution that the set-up script
// also uses before TypeScript is compiled.
import * as path from 'path';

/** A LibTorch found on this machine. */
export interface FoundLibTorch {
  root: string;
  libDir: string;
  cmakePrefixPath: string;
  /** e.g. '2.13.0+cpu' */
  version: string;
  variant: 'cpu' | 'cuda';
  /** 'LIBTORCH', 'python3', 'wheel-cache' or 'system'. */
  source: string;
  /** Why each source tried before this one was not used. */
  skipped: string[];
}

interface LibTorchScript {
  resolveLibTorch(options?: { log?: (msg: string) => void; allowFetch?: boolean }): FoundLibTorch;
  readVersion(root: string): string | null;
  cacheRoot(): string;
  PINNED_TORCH: string;
}

/** scripts/libtorch.js, loaded from the package root. */
export function libtorchScript(): LibTorchScript {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(packageRoot(), 'scripts', 'libtorch.js')) as LibTorchScript;
}

/** The installed package's folder (dist/loader/ → two levels up). */
export function packageRoot(): string {
  return path.resolve(__dirname, '..', '..');
}

/**
 * The Node that runs the loader's helper processes (the child-process trial, the source build, the wheel
 * fetch): this process's own executable, which in Electron acts as Node with ELECTRON_RUN_AS_NODE=1
 * (that needs Electron's RunAsNode fuse on). REVIEWKD_NODE names another Node binary instead.
 */
export function childNode(): string {
  return process.env.REVIEWKD_NODE || process.execPath;
}
