// Writes a Config back as YAML, for round trips and for showing the policy in
// force (e.g. a control-plane push or `--check` output).
#ifndef REBOUND_POLICY_CONFIG_YAML_H_
#define REBOUND_POLICY_CONFIG_YAML_H_

#include <string>

#include "policy/config.h"

namespace rebound {

// The canonical YAML of `config`: every field explicit (defaults included)
// except a provider's base_url when it is the built-in default for that
// provider (provider_defaults.h), status codes compressed into "A-B" ranges
// where they run consecutively.
// LoadConfigFromString of the result, with the same environment, yields a
// Config equal to `config` (for a config that loaded without errors).
//
// Credentials are written as `access_key_source`: a `$VAR` reference stays a
// reference, but a literal key is written as it is, so treat the output with
// the same care as the file it came from.
std::string ToYaml(const Config& config);

}  // namespace rebound

#endif  // REBOUND_POLICY_CONFIG_YAML_H_
