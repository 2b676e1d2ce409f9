// The last resort: no binary fits the LibTorch found, so the loader builds one from the sources that ship
// in the package (native/, CMakeLists.txt) with cmake-js, into the user's cache, and says so.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { spawnNodeSync } from './child-node';
import type { FoundLibTorch } from './libtorch-resolution';
import { packageRoot } from './package-info';
import { flagSetting, setting } from './settings';

/** True unless REVIEWKD_BUILD_FROM_SOURCE=0 forbids building. */
export function sourceBuildAllowed(): boolean {
  return flagSetting('REVIEWKD_BUILD_FROM_SOURCE', true);
}

/** What is missing for a source build on this machine (an empty list when nothing is). */
export function missingBuildTools(): string[] {
  const missing: string[] = [];
  try {
    require.resolve('cmake-js/bin/cmake-js', { paths: [packageRoot()] });
  } catch {
    missing.push('the cmake-js package');
  }
  if (!fs.existsSync(path.join(packageRoot(), 'CMakeLists.txt'))) missing.push('the package sources (CMakeLists.txt)');
  const works = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30000 });
    return !r.error && r.status === 0;
  };
  if (!works('cmake', ['--version'])) missing.push('cmake');
  const cxx = setting('CXX') ?? 'c++';
  if (!works(cxx, ['--version'])) missing.push(`a C++ compiler (${cxx})`);
  return missing;
}

/** Builds the addon against torch into outDir/build/Release; progress goes to stderr. Throws on failure. */
export function buildFromSource(torch: FoundLibTorch, outDir: string, log: (msg: string) => void): string {
  log(
    `reviewkd: no prebuilt binary fits LibTorch ${torch.version} (${torch.variant}) from ${torch.source} at ${torch.root}; ` +
      `building from source into ${outDir} (once; a few minutes)`,
  );
  const started = Date.now();
  // A child process: the build is long, its output goes to the terminal, and the caller is synchronous.
  const r = spawnNodeSync([path.join(__dirname, 'native-build.js'), '--out', outDir], { stdio: ['ignore', 'inherit', 'inherit'] });
  const binary = path.join(outDir, 'build', 'Release', 'reviewkd.node');
  if (r.error || r.status !== 0 || !fs.existsSync(binary)) {
    throw new Error(`the source build failed (${r.error ? r.error.message : `exit ${r.status}`}); its output is above`);
  }
  log(`reviewkd: built from source in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return binary;
}
