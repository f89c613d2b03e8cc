// The per-provider cap on concurrent upstream transfers
// (server.max_connections_per_provider), shared by every upstream loop of
// the process. Each loop used to get limit / upstream_threads of its own, so
// with two loops a provider could be refused on one while the other had
// room, and a limit below the loop count rounded up per loop.
#ifndef REBOUND_UPSTREAM_CONNECTION_LIMIT_H_
#define REBOUND_UPSTREAM_CONNECTION_LIMIT_H_

#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace rebound {

// Thread-safe: one small mutex around a count per provider.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(int max_per_provider) : max_(max_per_provider) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  int max() const { return max_; }
  // Takes one of `provider`'s slots; false when all max() are taken.
  bool TryAcquire(std::string_view provider);
  // Gives back a slot TryAcquire took.
  void Release(std::string_view provider);
  int InUse(std::string_view provider) const;

 private:
  const int max_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> in_use_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rebound

#endif  // REBOUND_UPSTREAM_CONNECTION_LIMIT_H_
