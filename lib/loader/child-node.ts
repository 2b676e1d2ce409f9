// The loader's helper processes (the child-process trial of a binary, the wheel fetch, the source build)
// all run a Node script synchronously: LibTorch is resolved from synchronous code, the first native call.
import { type SpawnSyncOptions, type SpawnSyncReturns, spawnSync } from 'child_process';

import { setting } from './settings';

/**
 * The Node that runs helper processes: this process's own executable, which in Electron acts as Node
 * with ELECTRON_RUN_AS_NODE=1 (that needs Electron's RunAsNode fuse on). REVIEWKD_NODE names another
 * Node binary instead.
 */
export function childNode(): string {
  return setting('REVIEWKD_NODE') ?? process.execPath;
}

/** Runs `node <args>` with childNode() and waits for it; the environment is this process's plus `env`. */
export function spawnNodeSync(args: string[], options: SpawnSyncOptions & { env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(childNode(), args, {
    encoding: 'utf8',
    ...options,
    env: { ...process.env, ...options.env, ELECTRON_RUN_AS_NODE: '1' },
  }) as SpawnSyncReturns<string>;
}
