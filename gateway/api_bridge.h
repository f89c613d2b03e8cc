// How one call's attempts cross from the caller's API to a target's
// (../shared/spec/TRANSLATION.md): which candidates can serve the call, and
// the HTTP request each attempt sends, translated when the target speaks the
// other API. The answers are translated back by the Call with translate/'s
// translators.
#ifndef REBOUND_GATEWAY_API_BRIDGE_H_
#define REBOUND_GATEWAY_API_BRIDGE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/config.h"
#include "translate/api.h"
#include "translate/request.h"
#include "upstream/upstream_request.h"

namespace rebound {

// Thread safety: one call, one thread.
class ApiBridge {
 public:
  // `caller` (its body included) and `primary` must outlive the bridge.
  ApiBridge(const CallerRequest* caller, const ModelProvider* primary);

  translate::Api caller_api() const { return caller_api_; }
  // The API an attempt at `target` is answered in: the caller's unless the
  // request is translated for `target`.
  translate::Api AnswerApi(const ModelProvider& target) const;
  bool Translates(const ModelProvider& target) const {
    return AnswerApi(target) != caller_api_;
  }

  // RetryState's candidate filter (never asked about the primary): why
  // `target` cannot take a failover of this call, empty when it can.
  //   "other_api: <path> is not translated"  (only chat and messages are)
  //   "cross_interface: skip"                 (the primary's policy says so)
  //   "no_credential: ..."                    (passthrough_auth without a key)
  //   "not_translatable: <field>"             (translate/request.h)
  std::string SkipReason(const ModelProvider& target);

  // What an attempt sends (Call::Attempt is the attempt's own state).
  struct Outgoing {
    UpstreamRequest request;
    std::vector<std::string> dropped_fields;  // left out by the translation
    bool include_usage = false;  // OpenAI caller: stream_options.include_usage
  };
  // The request for an attempt at `target`. Errors (InvalidArgument): the
  // body is not a JSON object, or `target` (the primary: fallbacks were
  // filtered) cannot serve the call, with SkipReason's words.
  absl::StatusOr<Outgoing> Build(const ModelProvider& target);

 private:
  // The request translated for `target`, cached: failover attempts at
  // models of one API share the translation unless model or max_tokens
  // differ.
  const absl::StatusOr<translate::TranslatedRequest>& TranslatedFor(const ModelProvider& target);

  const CallerRequest* caller_;
  const ModelProvider* primary_;
  translate::Api caller_api_;
  struct Cached {
    std::string model;
    int64_t default_max_tokens = 0;
    absl::StatusOr<translate::TranslatedRequest> translated;
  };
  std::optional<Cached> cached_;
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_API_BRIDGE_H_
