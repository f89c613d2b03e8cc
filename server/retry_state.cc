#include "server/retry_state.h"

namespace rebound {

RetryState::RetryState(const Config* config, const ModelProvider* primary,
                       NarrowingOptions options)
    : config_(config), primary_(primary), options_(std::move(options)) {}

Decision RetryState::Begin(absl::Time /*now*/) {
  Decision d;
  d.kind = Decision::Kind::kAttempt;
  d.target = primary_;
  return d;
}

// One attempt per call until the retry engine lands: every answer is
// delivered as it is (RETRY.md section 7, "without a retry policy").
Decision RetryState::OnAttemptDone(const AttemptResult& result, absl::Time /*now*/) {
  attempts_.push_back(result);
  Decision d;
  d.kind = Decision::Kind::kDeliver;
  return d;
}

}  // namespace rebound
