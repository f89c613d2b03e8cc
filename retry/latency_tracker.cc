#include "retry/latency_tracker.h"

#include <algorithm>

namespace rebound {

LatencyTracker::LatencyTracker(size_t max_keys) : max_keys_(max_keys < 1 ? 1 : max_keys) {}

bool LatencyTracker::RecordSlow(const BlockKey& key, absl::Time now, absl::Duration window,
                                int min_triggers) {
  if (min_triggers <= 1) return true;  // nothing to count: every slow answer triggers
  const std::string name = key.ToString();
  absl::MutexLock lock(&mu_);
  auto it = events_.find(name);
  if (it == events_.end()) {
    if (events_.size() >= max_keys_) {
      // Full: drop the keys whose window has passed; if none has, the key
      // whose events are the stalest. Keys are configured models and
      // providers, so this is a defence, not a hot path.
      for (auto e = events_.begin(); e != events_.end();) {
        if (e->second.expires <= now) {
          events_.erase(e++);
        } else {
          ++e;
        }
      }
      if (events_.size() >= max_keys_) {
        auto stalest = std::min_element(events_.begin(), events_.end(), [](auto& a, auto& b) {
          return a.second.expires < b.second.expires;
        });
        events_.erase(stalest);
      }
    }
    it = events_.emplace(name, Events{}).first;
  }
  std::vector<absl::Time>& times = it->second.times;
  // Events that left the window no longer count.
  times.erase(times.begin(), std::find_if(times.begin(), times.end(),
                                          [&](absl::Time t) { return now - t < window; }));
  times.push_back(now);
  if (static_cast<int>(times.size()) >= min_triggers) {
    events_.erase(it);
    return true;
  }
  it->second.expires = now + window;
  return false;
}

size_t LatencyTracker::Sweep(absl::Time now) {
  absl::MutexLock lock(&mu_);
  size_t removed = 0;
  for (auto e = events_.begin(); e != events_.end();) {
    if (e->second.expires <= now) {
      events_.erase(e++);
      ++removed;
    } else {
      ++e;
    }
  }
  return removed;
}

size_t LatencyTracker::size() const {
  absl::MutexLock lock(&mu_);
  return events_.size();
}

}  // namespace rebound
