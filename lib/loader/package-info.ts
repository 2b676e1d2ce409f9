// What the package pins about LibTorch (package.json "libtorch"), and where the package is installed.
import * as path from 'path';

/** The pinned CPU torch wheel: one exact file, so one checksum. */
export interface PinnedWheel {
  file: string;
  sha256: string;
  url: string;
  /** pip's platform options, so `pip download` fetches the wheel for this platform whatever Python runs pip. */
  pipTarget: string[];
}

interface PackageJson {
  version: string;
  libtorch: { version: string; cudaCheckVersion: string; wheel: PinnedWheel };
}

/** The installed package's folder (dist/loader/ → two levels up). */
export function packageRoot(): string {
  return path.resolve(__dirname, '..', '..');
}

function packageJson(): PackageJson {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(packageRoot(), 'package.json')) as PackageJson;
}

/** The torch version the prebuilt binary is built against and the wheel fallback fetches, e.g. '2.13.0'. */
export function pinnedTorchVersion(): string {
  return packageJson().libtorch.version;
}

/** The pinned CPU wheel (file name, sha256, URL, pip platform options). */
export function pinnedWheel(): PinnedWheel {
  return packageJson().libtorch.wheel;
}

/** The CUDA torch version the CI compile check builds against (never loaded). */
export function cudaCheckTorchVersion(): string {
  return packageJson().libtorch.cudaCheckVersion;
}
