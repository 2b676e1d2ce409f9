// npm's install step, an accelerator only: it does now what the first `require('reviewkd')` call into
// the addon would do anyway (find or fetch LibTorch, pick and try the binary, build from source if none
// fits), so the first training run starts at once. It never fails the install: package managers that
// skip install scripts (pnpm 10, --ignore-scripts) get the same result on first use.
// REVIEWKD_SKIP_INSTALL=1 skips it.
import { loadedBinary, native } from '../native';
import { flagSetting } from './settings';

/** Prepares the addon and says so on stderr; returns normally whatever happens. */
export function prepareOnInstall(): void {
  try {
    if (flagSetting('REVIEWKD_SKIP_INSTALL', false)) return;
    const info = native().buildInfo();
    const { kind, path } = loadedBinary();
    process.stderr.write(`reviewkd: ready (${kind} ${path}, LibTorch ${info.libtorchVersion})\n`);
  } catch (err) {
    process.stderr.write(`reviewkd: could not prepare the native addon during install; it will be tried again on first use.\n${(err as Error).message}\n`);
  }
}

if (require.main === module) prepareOnInstall();
