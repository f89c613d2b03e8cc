// Validation of a pushed policy (RETRY.md section 2, run on every push).
//
// A policy is the `model_providers` section of a rebound configuration
// (alias `llm_providers`, plus plano's harmless top-level `version`). The
// replica keeps its own `server` and `control_plane` sections, so a push that
// carries anything else is rejected rather than silently ignored: the
// operator would otherwise believe it took effect.
#ifndef REBOUND_CONTROLPLANE_POLICY_CHECK_H_
#define REBOUND_CONTROLPLANE_POLICY_CHECK_H_

#include <string_view>
#include <vector>

#include "policy/diagnostic.h"

namespace rebound::controlplane {

// The file name diagnostics carry.
inline constexpr std::string_view kPolicyFileName = "policy";

struct PolicyCheck {
  bool ok = false;  // no error (warnings may be present)
  std::vector<Diagnostic> diagnostics;  // every error and warning, ordered by line
};

// Validates with the same loader and rules the replicas use for a pushed
// policy (LoadOptions::pushed_policy). Access-key variables ($VAR, ${VAR})
// resolve to a placeholder here: keys live in each replica's environment,
// never at the control plane, and a replica that cannot resolve one, or
// whose control_plane.allowed_env does not list it, NACKs the version with
// the reason. A variable anywhere else (base_url, a header) is an error: no
// replica would apply it.
PolicyCheck CheckPolicy(std::string_view yaml);

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_POLICY_CHECK_H_
