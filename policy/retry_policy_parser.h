// Reads one `retry_policy` block (RETRY.md section 1) into a RetryPolicy.
// Internal to the policy library; used by the config loader.
#ifndef REBOUND_POLICY_RETRY_POLICY_PARSER_H_
#define REBOUND_POLICY_RETRY_POLICY_PARSER_H_

#include "policy/config.h"
#include "policy/yaml_reader.h"

namespace rebound {

// Parses `v` (a map; `{}` gives every default) and runs the checks of
// RETRY.md section 2 that need only this policy: value ranges, status codes,
// backoff and latency settings and the warnings about them. Checks that need
// the other providers (fallback targets, strategies that can never find a
// target) are in validation.h. Problems are reported through `reader`; the
// returned policy holds whatever could be read and must not be used when
// errors were reported.
RetryPolicy ParseRetryPolicy(YamlReader* reader, const Located& v);

}  // namespace rebound

#endif  // REBOUND_POLICY_RETRY_POLICY_PARSER_H_
