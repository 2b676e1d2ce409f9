// One thread for all asynchronous LibTorch work of the process, and one OpenMP thread team.
//
// Why: with LibTorch's OpenMP backend, every thread that starts a parallel region becomes the master of
// its own team of worker threads. Once the teams hold more threads than there are cores, libgomp stops
// spinning between parallel regions (it "throttles" to ~100 spins) and its workers sleep and wake on
// every operator: measured here, a training step on a second thread ran 20-25% slower than on the main
// thread when the main thread had a team too (PyTorch shows the same, scripts/bench-pytorch.py). So:
//   - async work (training steps, forwards, evaluation) runs on this single compute thread, not on
//     whichever libuv worker is free, so only one team does the heavy work;
//   - each JS thread (the main thread, each worker_thread) runs its own synchronous tensor ops with one
//     intra-op thread, so it never creates a team at all.
#pragma once
#include <functional>

namespace rk {

// Runs task on the compute thread and waits for it (call it from a libuv worker's Execute(), never
// from the JS thread or from the compute thread itself). Rethrows what task throws.
void runOnComputeThread(const std::function<void()>& task);

// Makes the calling JS thread run its own parallel regions on one thread (see above). Call once per
// environment, from the addon's Init, before any LibTorch work on that thread.
void useOneThreadForSyncOps();

// The intra-op thread count of the compute thread: setting it takes effect before its next task.
void setComputeThreads(int n);
int computeThreads();

}  // namespace rk
