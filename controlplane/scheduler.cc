#include "controlplane/scheduler.h"

#include <utility>

namespace rebound::controlplane {

Scheduler::Scheduler() : thread_([this] { Run(); }) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::At(absl::Time when, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;  // `task` is destroyed on return
  tasks_.emplace(when, std::move(task));
  // The new task may be due before the one the thread is waiting for.
  cv_.Signal();
}

void Scheduler::Stop() {
  std::multimap<absl::Time, std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    dropped.swap(tasks_);
    cv_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  // `dropped` is destroyed here, outside the lock: a task's captures may
  // release objects whose destructors call back into other components.
}

void Scheduler::Run() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (!stopped_ && (tasks_.empty() || tasks_.begin()->first > absl::Now())) {
        absl::Time deadline =
            tasks_.empty() ? absl::Now() + absl::Seconds(1) : tasks_.begin()->first;
        cv_.WaitWithDeadline(&mu_, deadline);
      }
      if (stopped_) return;
      task = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
    }
    task();
  }
}

}  // namespace rebound::controlplane
