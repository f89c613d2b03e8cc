#include "upstream/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace rebound {

EventLoop::EventLoop() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    perror("rebound: event loop");
    std::abort();  // Out of file descriptors at start-up: nothing sensible to do.
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EventLoop::~EventLoop() {
  Stop();
  Join();
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::StartThread() {
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Join() {
  if (thread_.joinable()) thread_.join();
}

void EventLoop::Stop() {
  stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void EventLoop::Post(absl::AnyInvocable<void() &&> task) {
  bool was_empty;
  {
    absl::MutexLock lock(&mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  // One wake-up per batch: the loop drains the whole queue each time.
  if (was_empty) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
}

EventLoop::TimerId EventLoop::AddTimer(MonoTime deadline, absl::AnyInvocable<void() &&> fn) {
  TimerId id = next_timer_id_++;
  timers_.emplace(std::make_pair(deadline, id), std::move(fn));
  timer_deadlines_.emplace(id, deadline);
  return id;
}

void EventLoop::CancelTimer(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase({it->second, id});
  timer_deadlines_.erase(it);
}

void EventLoop::WatchFd(int fd, uint32_t events, FdCallback cb) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  bool known = fds_.count(fd) > 0;
  fds_[fd] = std::move(cb);
  if (epoll_ctl(epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 && known) {
    // The fd was closed and reused behind our back: register it afresh.
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void EventLoop::UnwatchFd(int fd) {
  if (fds_.erase(fd) > 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

int EventLoop::NextTimeoutMs() const {
  if (timers_.empty()) return -1;
  int64_t wait_ns = timers_.begin()->first.first - MonoNow();
  if (wait_ns <= 0) return 0;
  // Round up so a timer never fires early.
  int64_t ms = (wait_ns + 999'999) / 1'000'000;
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

void EventLoop::RunDueTimers() {
  MonoTime now = MonoNow();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    std::move(node.mapped())();
  }
}

void EventLoop::RunPostedTasks() {
  std::vector<absl::AnyInvocable<void() &&>> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) std::move(task)();
}

void EventLoop::Run() {
  thread_id_.store(std::this_thread::get_id());
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  while (true) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, NextTimeoutMs());
    if (n < 0 && errno != EINTR) {
      perror("rebound: epoll_wait");
      std::abort();
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t value;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &value, sizeof(value));
        continue;
      }
      auto it = fds_.find(fd);
      // Copy: the callback may unwatch (and so destroy) itself.
      if (it != fds_.end()) {
        FdCallback cb = it->second;
        cb(events[i].events);
      }
    }
    RunPostedTasks();
    RunDueTimers();
    if (stopping_.load()) {
      RunPostedTasks();
      break;
    }
  }
}

}  // namespace rebound
