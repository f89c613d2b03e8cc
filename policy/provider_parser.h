// Reads one `model_providers` entry (RETRY.md section 1). Internal to the
// policy library; used by the config loader.
#ifndef REBOUND_POLICY_PROVIDER_PARSER_H_
#define REBOUND_POLICY_PROVIDER_PARSER_H_

#include <optional>
#include <string>
#include <string_view>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/yaml_reader.h"

namespace rebound {

// Reads the entry at `v`, resolving `$VAR` / `${VAR}` through `env` where
// `options` allows (LoadOptions: a pushed policy only in access_key, only
// allow-listed names). Problems are reported through `reader` and never
// include the credential or any variable's value. The returned entry holds
// whatever could be read (an unreadable model id leaves provider and
// bare_model empty) and must not be used when errors were reported.
ModelProvider ParseProvider(YamlReader* reader, const Located& v, const EnvLookup& env,
                            const LoadOptions& options);

// A name `$NAME` can refer to: letters, digits and '_', not starting with a
// digit.
bool IsEnvVariableName(std::string_view name);

// "$NAME" or "${NAME}" (the whole text) -> NAME; anything else -> nullopt.
std::optional<std::string_view> VariableReference(std::string_view text);

}  // namespace rebound

#endif  // REBOUND_POLICY_PROVIDER_PARSER_H_
