#include "common/compute_thread.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <ATen/Parallel.h>

// libgomp's per-thread setter, declared weak: a LibTorch built without OpenMP simply lacks it.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace rk {

namespace {

class ComputeThread {
 public:
  ComputeThread() : threads_(at::get_num_threads()) {
    // Detached and never destroyed: it may be blocked in a task while the process exits.
    std::thread([this] { loop(); }).detach();
  }

  void run(const std::function<void()>& task) {
    std::packaged_task<void()> job(task);
    std::future<void> done = job.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
    done.get();  // rethrows the task's exception
  }

  void setThreads(int n) { threads_.store(n); }
  int threads() const { return threads_.load(); }

 private:
  void loop() {
    int applied = 0;
    for (;;) {
      std::packaged_task<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      const int wanted = threads_.load();
      if (wanted != applied) {
        at::set_num_threads(wanted);  // this thread's team size (and LibTorch's default for new threads)
        applied = wanted;
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<void()>> queue_;
  std::atomic<int> threads_;
};

ComputeThread& computeThread() {
  static ComputeThread* instance = new ComputeThread();  // intentionally leaked, see above
  return *instance;
}

}  // namespace

void runOnComputeThread(const std::function<void()>& task) { computeThread().run(task); }

void useOneThreadForSyncOps() {
  computeThread();  // records LibTorch's default thread count before this thread changes its own
  // LibTorch sets each thread's OpenMP thread count lazily, once, from its global setting: do that now,
  // so it cannot later undo the per-thread setting below.
  at::init_num_threads();
  if (omp_set_num_threads) omp_set_num_threads(1);
}

void setComputeThreads(int n) { computeThread().setThreads(n); }

int computeThreads() { return computeThread().threads(); }

}  // namespace rk
