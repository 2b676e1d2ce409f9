// Builds the addon (reviewkd.node) from the sources in the package (native/, CMakeLists.txt) with
// cmake-js against a LibTorch the resolution found, and writes its build record. Used by the loader's
// source-build fallback on a user's machine (in a child process: a build takes minutes and its output
// goes to the terminal) and by the project's own set-up. A build whose inputs have not changed is skipped.
//   node dist/loader/native-build.js --out DIR [--force] [--sanitize]    builds into DIR/build/Release
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { cudaBuildArgs } from './cuda-build-args';
import { withDirLock } from './dir-lock';
import { fingerprintFiles } from './hashing';
import { type FoundLibTorch, resolveLibTorch } from './libtorch-resolution';
import { packageRoot } from './package-info';
import { readBuildRecord, writeBuildRecord } from './records';
import { setting } from './settings';

type Log = (msg: string) => void;

/** torch >= 2.14 headers need C++20; older ones build with the C++17 the project is written in. */
function cxxStandardFor(version: string): 17 | 20 {
  const [major, minor] = String(version).split('.').map((n) => parseInt(n, 10));
  return major > 2 || (major === 2 && minor >= 14) ? 20 : 17;
}

function listFiles(dir: string, filter: (f: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p, filter));
    else if (filter(p)) out.push(p);
  }
  return out;
}

/** Fingerprint of everything a build depends on: the sources, the LibTorch, Node, the CUDA architectures. */
function buildFingerprint(torch: FoundLibTorch, sanitize: boolean): string {
  const root = packageRoot();
  const sources = [...listFiles(path.join(root, 'native'), (f) => /\.(cc|h)$/.test(f)), path.join(root, 'CMakeLists.txt')];
  const extra = [torch.root, torch.version, torch.variant, process.version, setting('TORCH_CUDA_ARCH_LIST') ?? '', setting('REVIEWKD_NVIDIA_INCLUDE_DIRS') ?? ''];
  return fingerprintFiles(sources, root, sanitize ? [...extra, 'sanitize'] : extra);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: Log): void {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: packageRoot(), stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Options of buildNativeAddon. */
export interface NativeBuildOptions {
  /** The binary goes to outRoot/build/Release. */
  outRoot: string;
  /** Rebuild even when the inputs are unchanged. */
  force?: boolean;
  /** AddressSanitizer + UndefinedBehaviorSanitizer build (the project's test:asan stage; never for users). */
  sanitize?: boolean;
  log?: Log;
}

/**
 * Builds outRoot/build/Release/reviewkd.node against the LibTorch the resolution finds, unless a build
 * of the same inputs is there. Returns the binary's path. Throws on a failed build (its output is above).
 */
export function buildNativeAddon({ outRoot, force = false, sanitize = false, log = (m) => process.stderr.write(`${m}\n`) }: NativeBuildOptions): string {
  return withDirLock(outRoot, '.build.lock', () => {
    const torch = resolveLibTorch({ log });
    const outDir = path.join(outRoot, 'build', 'Release');
    const binary = path.join(outDir, 'reviewkd.node');
    const fingerprint = buildFingerprint(torch, sanitize);
    if (!force && readBuildRecord(binary)?.fingerprint === fingerprint && fs.existsSync(binary)) return binary;

    log(`reviewkd: building the native addon against LibTorch ${torch.version} (${torch.variant}) from ${torch.source}: ${torch.root}`);
    const started = Date.now();
    const root = packageRoot();
    // cmake-js is a dependency: in an installed package npm may have hoisted it above this folder.
    const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
    const args = [
      cmakeJs, 'compile', '--directory', root, '--out', path.join(outRoot, 'build'),
      '--parallel', String(Math.max(1, os.cpus().length)),
      `--CDCMAKE_PREFIX_PATH=${torch.cmakePrefixPath}`,
      `--CDRK_LIBTORCH_VERSION=${torch.version}`,
      `--CDRK_LIBTORCH_VARIANT=${torch.variant}`,
      `--CDRK_CXX_STANDARD=${cxxStandardFor(torch.version)}`,
      `--CDRK_SANITIZE=${sanitize ? 'ON' : 'OFF'}`,
    ];
    if (spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0) args.push('--CDCMAKE_CXX_COMPILER_LAUNCHER=ccache');
    // ccache must ignore the precompiled header's timestamps, or it never hits.
    // CCACHE_BASEDIR: paths below the package are hashed relative to it, so a clone in another folder hits too.
    const env: NodeJS.ProcessEnv = { ...process.env, CCACHE_SLOPPINESS: 'pch_defines,time_macros,include_file_mtime,include_file_ctime', CCACHE_BASEDIR: root };
    if (torch.variant === 'cuda') {
      const cuda = cudaBuildArgs(torch.root);
      args.push(...cuda.args);
      env.PATH = `${cuda.pathPrefix}${path.delimiter}${env.PATH ?? ''}`;
      log(`reviewkd: CUDA toolkit ${cuda.toolkit}${cuda.nvrtc ? `, nvrtc ${cuda.nvrtc}` : ''}`);
    }
    // `compile` in a folder configured earlier only builds, so changed settings (the -D values above) would
    // be ignored: configure again first (the objects stay; only what the new settings change is rebuilt).
    if (fs.existsSync(path.join(outRoot, 'build', 'CMakeCache.txt'))) run(process.execPath, [cmakeJs, 'configure', ...args.slice(2)], env, log);
    run(process.execPath, args, env, log);
    writeBuildRecord(outDir, {
      libtorch: { version: torch.version, variant: torch.variant, root: torch.root, libDir: torch.libDir, source: torch.source },
      fingerprint,
      builtAt: new Date().toISOString(),
      buildSeconds: (Date.now() - started) / 1000,
    });
    log(`reviewkd: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return binary;
  });
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const out = argv.indexOf('--out');
  if (out < 0 || !argv[out + 1] || argv.some((a, i) => a.startsWith('--') && !['--out', '--force', '--sanitize'].includes(a) && i !== out + 1)) {
    process.stderr.write('usage: node dist/loader/native-build.js --out DIR [--force] [--sanitize]\n');
    process.exit(2);
  }
  try {
    buildNativeAddon({ outRoot: path.resolve(argv[out + 1]), force: argv.includes('--force'), sanitize: argv.includes('--sanitize') });
  } catch (err) {
    process.stderr.write(`reviewkd: native build failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
