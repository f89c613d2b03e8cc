// A single-threaded event loop: epoll for file descriptors, a timer heap for
// deadlines, and a task queue that other threads post into.
//
// Every upstream transfer, backoff wait and timeout of rebound runs on one of
// a few EventLoops; nothing sleeps and no thread is created per request.
//
// Thread safety: Post() and Stop() may be called from any thread. Every other
// method must be called on the loop's own thread (from a callback or a
// posted task).
#ifndef REBOUND_UPSTREAM_EVENT_LOOP_H_
#define REBOUND_UPSTREAM_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/timers.h"

namespace rebound {

class EventLoop : public Timers {
 public:
  using FdCallback = std::function<void(uint32_t epoll_events)>;

  EventLoop();
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs callbacks on the calling thread until Stop(). Tasks posted before
  // Stop() are run before Run() returns.
  void Run();
  // Starts a thread that calls Run(); Join() waits for it.
  void StartThread();
  void Join();

  void Stop();
  void Post(absl::AnyInvocable<void() &&> task);

  // Runs `fn` once at `deadline` (MonoTime). Returns an id for CancelTimer.
  TimerId AddTimer(MonoTime deadline, absl::AnyInvocable<void() &&> fn);
  // Timers:
  TimerId AddTimerAfter(absl::Duration delay, absl::AnyInvocable<void() &&> fn) override {
    return AddTimer(MonoAfter(delay), std::move(fn));
  }
  void CancelTimer(TimerId id) override;

  // Watches `fd` for `events` (EPOLLIN/EPOLLOUT); replaces an earlier watch.
  void WatchFd(int fd, uint32_t events, FdCallback cb);
  void UnwatchFd(int fd);

  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  void RunDueTimers();
  void RunPostedTasks();
  int NextTimeoutMs() const;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Post() and Stop() wake epoll_wait with it
  std::atomic<bool> stopping_{false};
  std::atomic<std::thread::id> thread_id_{};
  std::thread thread_;

  absl::Mutex mu_;
  std::vector<absl::AnyInvocable<void() &&>> posted_ ABSL_GUARDED_BY(mu_);

  // Timers ordered by (deadline, id); `timer_deadlines_` finds one by id.
  std::map<std::pair<MonoTime, TimerId>, absl::AnyInvocable<void() &&>> timers_;
  std::unordered_map<TimerId, MonoTime> timer_deadlines_;
  TimerId next_timer_id_ = 1;

  std::unordered_map<int, FdCallback> fds_;
};

}  // namespace rebound

#endif  // REBOUND_UPSTREAM_EVENT_LOOP_H_
