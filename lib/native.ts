// Loads the native addon on first use, after checking that the LibTorch it was built against is still
// the one on disk (LibTorch has no stable C++ ABI: a mismatch must be refused, not dlopen'ed).
import * as fs from 'fs';
import * as path from 'path';

import type { NativeBinding } from './native-types';

const packageRoot = path.resolve(__dirname, '..');

/** Build metadata written next to a source-built binary by scripts/setup.js. */
export interface BuildRecord {
  libtorch: { version: string; variant: 'cpu' | 'cuda'; root: string; libDir: string; source: string };
  builtAt: string;
  buildSeconds: number;
}

let binding: NativeBinding | undefined;
let bindingPath: string | undefined;
let buildRecord: BuildRecord | undefined;

function locateBinary(): string {
  // node-gyp-build looks in prebuilds/<platform>-<arch>/ first, then build/Release/.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gypBuild = require('node-gyp-build') as { path(dir: string): string };
  try {
    return gypBuild.path(packageRoot);
  } catch {
    throw new Error(
      'reviewkd: the native addon is not built yet (no prebuilds/ binary for this platform and no build/Release/reviewkd.node). ' +
        `Run \`npm run setup\` in ${packageRoot} (it finds LibTorch and builds the addon).`,
    );
  }
}

/** @internal Refuses a LibTorch on disk that differs from the one the binary was built against. */
export function checkLibTorch(record: BuildRecord): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { readVersion } = require('../scripts/libtorch.js') as { readVersion(root: string): string | null };
  const { root, version } = record.libtorch;
  if (!fs.existsSync(root)) {
    throw new Error(
      `reviewkd: the addon was built against LibTorch ${version} at ${root}, which no longer exists. ` +
        'Run `npm run setup -- --force` to rebuild against the LibTorch you have now.',
    );
  }
  const found = readVersion(root);
  if (found !== version) {
    throw new Error(
      `reviewkd: LibTorch version mismatch: the addon was built against ${version} but ${root} now holds ${found ?? 'an unknown version'}. ` +
        'LibTorch has no stable C++ ABI, so this binary cannot be used. Run `npm run setup -- --force` to rebuild.',
    );
  }
}

/** The native binding, loaded (and version-checked) on first call. */
export function native(): NativeBinding {
  if (binding) return binding;
  const file = locateBinary();
  const recordFile = path.join(path.dirname(file), 'reviewkd-build.json');
  if (fs.existsSync(recordFile)) {
    buildRecord = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as BuildRecord;
    checkLibTorch(buildRecord);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  binding = require(file) as NativeBinding;
  bindingPath = file;
  return binding;
}

/** Where the loaded binary and its build record are (undefined before the first native call). */
export function loadedBinary(): { path?: string; record?: BuildRecord } {
  return { path: bindingPath, record: buildRecord };
}
