// Rewriting the one member of a request body that changes between attempts.
//
// RETRY.md section 8: the body reaches every upstream byte for byte, except
// the value of the top-level "model" member, which names the model the
// attempt targets. Re-serialising the JSON would reorder keys, change number
// formats and whitespace, and break the providers' prompt-cache prefixes, so
// the body is spliced instead: one validating scan finds the spans, one
// allocation builds the output.
#ifndef REBOUND_CODEC_MODEL_SPLICE_H_
#define REBOUND_CODEC_MODEL_SPLICE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rebound {

// Returns `body` unchanged except that the value of every top-level member
// whose key decodes to "model" (so "mod\u0065l" counts) is replaced, whatever
// its type, by the JSON string `model`. Nested "model" keys (in metadata,
// arrays, message content) are never touched; whitespace and key order are
// kept. Duplicate top-level "model" members are all replaced, so no parser
// can pick a stale one. When there is no such member, `"model":<model>` is
// inserted as the first member, right after the opening '{' (followed by ','
// when the object has members).
//
// Errors: INVALID_ARGUMENT "request body is not a JSON object: <reason> at
// byte N" when `body` is not exactly one valid JSON object (json_scan.h rules,
// surrounding whitespace allowed).
absl::StatusOr<std::string> SpliceTopLevelModel(std::string_view body, std::string_view model);

// True when the top-level "stream" member of the JSON object `body` is the
// literal `true` (a string "true" is not). When "stream" appears more than
// once the last one counts, as with the Python and JavaScript parsers the
// providers run. Errors like SpliceTopLevelModel.
absl::StatusOr<bool> BodyRequestsStream(std::string_view body);

}  // namespace rebound

#endif  // REBOUND_CODEC_MODEL_SPLICE_H_
