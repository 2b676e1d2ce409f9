// The --device flag of every computing command: its form, and whether this build and machine have it.
import type { Device } from '../dtype';
import { info as runtimeInfo } from '../runtime';
import { UsageError } from './args';

/**
 * Checks a --device value: cpu, cuda or cuda:N, and a CUDA device only where this LibTorch build and this
 * machine have one. Choosing another device is the user's fix, so each refusal is a UsageError (exit 2).
 */
export function checkDevice(d: string, flag = 'option --device'): Device {
  if (!/^(cpu|cuda(:\d+)?)$/.test(d)) throw new UsageError(`${flag} must be cpu, cuda or cuda:N; got '${d}'`);
  if (d.startsWith('cuda')) {
    const rt = runtimeInfo();
    const index = d.includes(':') ? Number(d.split(':')[1]) : 0;
    if (rt.libtorch.variant !== 'cuda') {
      throw new UsageError(`${flag} ${d}: this LibTorch build (${rt.libtorch.version}) is CPU-only; use --device cpu, or install a CUDA build ('reviewkd doctor' says what was found)`);
    }
    if (!rt.cuda.available || index >= rt.cuda.deviceCount) {
      const why = rt.cuda.unavailableReason ? ` (${rt.cuda.unavailableReason})` : '';
      throw new UsageError(`${flag} ${d}: ${rt.cuda.deviceCount} CUDA device(s) visible${why}; use --device cpu${rt.cuda.deviceCount > 0 ? ` or cuda:0..cuda:${rt.cuda.deviceCount - 1}` : ''}`);
    }
  }
  return d as Device;
}

/**
 * The one-line note for a run that trains on the CPU by default although a CUDA LibTorch is loaded (a CUDA
 * torch from pip on a machine without a GPU or driver): the user may have expected the GPU. Undefined otherwise.
 */
export function cpuFallbackNote(): string | undefined {
  const rt = runtimeInfo();
  if (rt.libtorch.variant !== 'cuda' || rt.cuda.available) return undefined;
  return `reviewkd: note: CUDA LibTorch ${rt.libtorch.version} loaded, but ${rt.cuda.unavailableReason ?? 'no CUDA device is visible'}; training on the CPU`;
}
