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
