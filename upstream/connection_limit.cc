#include "upstream/connection_limit.h"

namespace rebound {

bool ConnectionLimit::TryAcquire(std::string_view provider) {
  absl::MutexLock lock(&mu_);
  auto it = in_use_.find(absl::string_view(provider.data(), provider.size()));
  if (it == in_use_.end()) {
    if (max_ <= 0) return false;
    in_use_.emplace(std::string(provider), 1);
    return true;
  }
  if (it->second >= max_) return false;
  ++it->second;
  return true;
}

void ConnectionLimit::Release(std::string_view provider) {
  absl::MutexLock lock(&mu_);
  auto it = in_use_.find(absl::string_view(provider.data(), provider.size()));
  if (it == in_use_.end()) return;
  if (--it->second <= 0) in_use_.erase(it);
}

int ConnectionLimit::InUse(std::string_view provider) const {
  absl::MutexLock lock(&mu_);
  auto it = in_use_.find(absl::string_view(provider.data(), provider.size()));
  return it == in_use_.end() ? 0 : it->second;
}

}  // namespace rebound
