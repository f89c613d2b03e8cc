// One thread that runs small tasks at given times: the control plane's
// timers (periodic resync and sweeps, resuming a rate-limited stream's
// reads). gRPC's callback API has no timers of its own, and a thread per
// stream would not scale.
//
// Tasks must be short and must not block: they share the one thread.
#ifndef REBOUND_CONTROLPLANE_SCHEDULER_H_
#define REBOUND_CONTROLPLANE_SCHEDULER_H_

#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rebound::controlplane {

class Scheduler {
 public:
  Scheduler();
  // Stops; tasks not yet run are destroyed without running (whatever they
  // captured is released).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `task` on the scheduler thread at `when` (now, if in the past).
  // Thread-safe. After Stop, tasks are destroyed without running.
  void At(absl::Time when, std::function<void()> task);
  void After(absl::Duration delay, std::function<void()> task) {
    At(absl::Now() + delay, std::move(task));
  }
  // Stops the thread and destroys pending tasks. Idempotent; not from a task.
  void Stop();

 private:
  void Run();

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::multimap<absl::Time, std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_SCHEDULER_H_
