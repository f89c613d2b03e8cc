// The current policy: its YAML text and version (a counter that only grows
// plus the SHA-256 of the text, as xDS versions resources), persisted under
// the state directory so that a restarted control plane serves the last
// pushed policy.
//
// Thread-safe. Push holds the store's lock across validation and the fsyncs:
// pushes are rare operator actions, and serialising them keeps the counter,
// the file and the in-memory copy in one order.
#ifndef REBOUND_CONTROLPLANE_POLICY_STORE_H_
#define REBOUND_CONTROLPLANE_POLICY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "policy/diagnostic.h"

namespace rebound::controlplane {

struct StoredPolicy {
  uint64_t counter = 0;
  std::string hash;  // lowercase hex SHA-256 of yaml
  std::string yaml;
};

struct PushOutcome {
  enum class Result { kAccepted, kRejected, kUnchanged, kDryRun };
  Result result = Result::kRejected;
  bool accepted = false;   // false: errors in diagnostics, nothing changed
  bool unchanged = false;  // same text as the current policy: not republished
  uint64_t counter = 0;    // the published (dry run: would-be) version
  std::string hash;
  std::vector<Diagnostic> diagnostics;
};
std::string_view ToString(PushOutcome::Result result);

class PolicyStore {
 public:
  // The file inside the state directory.
  static constexpr std::string_view kStateFileName = "policy.state";

  // Opens (creating it if needed) the state directory and loads the policy
  // persisted there. An unusable directory is an error. A state file that is
  // unreadable or corrupt is not: the store starts without a policy, and
  // `*load_error` says what was wrong so the caller can log it; the next
  // accepted push replaces the file.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const std::string& state_dir,
                                                           std::string* load_error);

  // Validates `yaml` (CheckPolicy) and, unless `dry_run`, persists and
  // publishes it with the next counter: one above both the current version
  // and the counter floor (ObserveReplicaCounter). Text identical to the
  // current policy is `unchanged` and keeps its version, unless that version
  // is below the floor (every replica would refuse it): then it is
  // republished above the floor. A rejected push, or one whose file cannot
  // be written, changes nothing.
  PushOutcome Push(std::string_view yaml, bool dry_run);

  // The published policy; nullopt before the first push.
  std::optional<StoredPolicy> Current() const;

  // A replica reported running policy counter `counter` (its Hello, or the
  // in_force of an ACK or NACK). The next published version is numbered
  // above the highest reported and above the current one, so that after a
  // state loss, or at a control plane that fell behind another, a push is
  // not refused as older by the replicas. Not persisted: replicas report it
  // again when they reconnect.
  void ObserveReplicaCounter(uint64_t counter);
  // The highest counter reported so far (0: none).
  uint64_t CounterFloor() const;

  // The encoding of the state file (exposed for tests).
  static std::string Encode(const StoredPolicy& policy);
  static absl::StatusOr<StoredPolicy> Decode(std::string_view text);

 private:
  explicit PolicyStore(std::string state_dir) : state_dir_(std::move(state_dir)) {}
  absl::Status Persist(const StoredPolicy& policy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string state_dir_;
  mutable absl::Mutex mu_;
  std::optional<StoredPolicy> current_ ABSL_GUARDED_BY(mu_);
  uint64_t counter_floor_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_POLICY_STORE_H_
