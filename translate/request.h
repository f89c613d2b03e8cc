// Request bodies from one chat API to the other (TRANSLATION.md, "Request").
// Pure: text in, text out.
#ifndef REBOUND_TRANSLATE_REQUEST_H_
#define REBOUND_TRANSLATE_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "translate/api.h"

namespace rebound::translate {

struct RequestOptions {
  std::string target_model;         // the `model` the target gets (its bare model name)
  int64_t default_max_tokens = 4096;  // towards Anthropic, when the caller set none
};

struct TranslatedRequest {
  std::string body;
  // Fields with no equivalent in the target's API that were left out
  // ("seed", "top_k", ...), for the attempt record.
  std::vector<std::string> dropped;
  // OpenAI callers: stream_options.include_usage, which the answer's
  // stream translator needs (StreamOptions::include_usage).
  bool include_usage = false;
};

// `body` (a request of `from`) in the shape of `to`. from == to is not a
// translation and is refused. Errors:
//   InvalidArgument "not_translatable: <field>" when the request cannot be
//     expressed in `to` without changing its meaning (the candidate is then
//     skipped, never sent half-translated);
//   InvalidArgument "invalid request: ..." when `body` is not a JSON object of
//     the expected shape (the caller's own API would reject it too).
absl::StatusOr<TranslatedRequest> TranslateRequest(std::string_view body, Api from, Api to,
                                                   const RequestOptions& options);

}  // namespace rebound::translate

#endif  // REBOUND_TRANSLATE_REQUEST_H_
