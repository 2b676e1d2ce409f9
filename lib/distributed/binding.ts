// The native process group (native/distributed/process_group_binding.cc), typed for lib/distributed.
import type { NativeTensor } from '../native-types';

/** What createProcessGroup takes; the TypeScript layer validates and fills every field. */
export interface NativeProcessGroupOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Rank 0 hosts the TCPStore (false when a launcher's agent already does). */
  hostStore: boolean;
  storePrefix: string;
  timeoutMs: number;
  backend: 'gloo' | 'nccl';
  /** GLOO_SOCKET_IFNAME; '' = the address this host reaches the master by. */
  interface: string;
  threads: number;
}

export interface NativeProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: string;
  readonly timeoutMs: number;
  readonly destroyed: boolean;
  allReduce(tensors: NativeTensor[], op?: string): Promise<void>;
  broadcast(tensors: NativeTensor[], root?: number): Promise<void>;
  allGather(tensor: NativeTensor): Promise<NativeTensor[]>;
  barrier(): Promise<void>;
  destroy(): void;
  /** Seconds the training steps spent averaging gradients since the last call. */
  takeGradientSeconds(): number;
}

export interface DistributedBinding {
  createProcessGroup(options: NativeProcessGroupOptions): Promise<NativeProcessGroup>;
  /** Whether this build can make an NCCL backend (the CUDA variant compiled with nccl.h). */
  ncclAvailable(): boolean;
}
