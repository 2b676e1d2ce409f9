// The extra CMake settings a build against a CUDA LibTorch needs, shared by a user's source build against
// a pip-installed CUDA torch and the CI compile check:
//   - the CUDA toolkit (nvcc): CUDA_HOME, else CUDA_PATH, else /usr/local/cuda, else nvcc on PATH;
//   - libnvrtc: torch's CMake config asks for it, and a pip-installed torch has it in the nvidia-* wheels
//     beside torch in site-packages, where CMake does not look (override: CUDA_nvrtc_LIBRARY);
//   - TORCH_CUDA_ARCH_LIST: only needed when no GPU is visible at build time (read by torch's CMake).
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';

import { setting } from './settings';

/** The first file under dir (depth-first) whose name matches pattern, or null. */
export function findFile(dir: string, pattern: RegExp, depth = 6): string | null {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return null;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory() && depth > 0) {
      const found = findFile(p, pattern, depth - 1);
      if (found) return found;
    } else if (pattern.test(entry.name)) {
      return p;
    }
  }
  return null;
}

/** The CUDA toolkit root holding bin/nvcc, or null. */
function findCudaToolkit(): string | null {
  const candidates = [setting('CUDA_HOME'), '/usr/local/cuda'].filter((d): d is string => !!d);
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'bin', 'nvcc'))) return dir;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return path.dirname(path.dirname(fs.realpathSync(which.stdout.trim())));
  return null;
}

/** cmake-js arguments (--CD...) and the PATH addition for a CUDA LibTorch at torchRoot. */
export interface CudaBuildArgs {
  args: string[];
  pathPrefix: string;
  toolkit: string;
  nvrtc: string | null;
}

/** The CUDA build settings for the LibTorch at torchRoot; throws with the fix when nvcc is missing. */
export function cudaBuildArgs(torchRoot: string): CudaBuildArgs {
  const toolkit = findCudaToolkit();
  if (!toolkit) {
    throw new Error(
      'building against a CUDA LibTorch needs the CUDA toolkit (nvcc), and none was found in CUDA_HOME, /usr/local/cuda or on PATH. ' +
        "Install the toolkit whose major version matches torch's CUDA (python3 -c 'import torch; print(torch.version.cuda)'), " +
        "e.g. `sudo apt-get install cuda-toolkit-13-0` from NVIDIA's repository, or set CUDA_HOME.",
    );
  }
  const args = [`--CDCUDAToolkit_ROOT=${toolkit}`];
  const nvrtc = setting('CUDA_nvrtc_LIBRARY') ?? findFile(path.join(torchRoot, '..', 'nvidia'), /^libnvrtc\.so\.\d+$/);
  if (nvrtc) args.push(`--CDCUDA_nvrtc_LIBRARY=${nvrtc}`);
  // The NCCL backend's headers when they are not in the nvidia-* packages beside torch (CMakeLists.txt).
  const nvidiaIncludes = setting('REVIEWKD_NVIDIA_INCLUDE_DIRS');
  if (nvidiaIncludes) args.push(`--CDRK_NVIDIA_INCLUDE_DIRS=${nvidiaIncludes}`);
  return { args, pathPrefix: path.join(toolkit, 'bin'), toolkit, nvrtc };
}
