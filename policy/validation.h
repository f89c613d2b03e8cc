// The checks of RETRY.md section 2 that look across providers. Internal to
// the policy library; the config loader runs them after reading every entry.
#ifndef REBOUND_POLICY_VALIDATION_H_
#define REBOUND_POLICY_VALIDATION_H_

#include <string_view>
#include <vector>

#include "policy/config.h"
#include "policy/yaml_reader.h"

namespace rebound {

// `providers[i]` was read from `<providers_key>[i]`; entries that failed to
// read are present too (their errors are already reported) so indices and
// lines stay aligned, and are skipped here. Reports: duplicate model ids,
// more than one `default: true`, fallback entries naming no configured model,
// naming the primary or listed twice, fallbacks with another interface, and
// failover strategies for which no configured model could ever qualify.
void ValidateProviders(const std::vector<ModelProvider>& providers, std::string_view providers_key,
                       Reporter* reporter);

}  // namespace rebound

#endif  // REBOUND_POLICY_VALIDATION_H_
