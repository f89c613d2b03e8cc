// Loads and validates a rebound YAML configuration (RETRY.md sections 1-2).
#ifndef REBOUND_POLICY_CONFIG_LOADER_H_
#define REBOUND_POLICY_CONFIG_LOADER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/config.h"
#include "policy/diagnostic.h"

namespace rebound {

// Looks up an environment variable; injected so tests control the environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The process environment (getenv).
EnvLookup ProcessEnv();

// How the loader treats $VAR / ${VAR} references.
struct LoadOptions {
  // The text is a policy pushed by the control plane, not the replica's own
  // file. Whoever can push could otherwise make every replica send any of
  // its environment variables to a URL of the pusher's choosing
  // (`base_url: https://collector/${SECRET}`), so a pushed policy expands
  // variables in access_key only, and only the names in allowed_env; a
  // reference anywhere else, or to another name, is an error (the replica
  // NACKs). A local file (false) expands base_url and access_key from any
  // variable, as before.
  bool pushed_policy = false;
  // pushed_policy only: the names access_key may read, from the replica's
  // own control_plane.allowed_env. Empty: none at all.
  std::vector<std::string> allowed_env;
  // pushed_policy only: every name passes in access_key. For the control
  // plane's own check of a push (it has no environment and each replica
  // applies its own list); never for text a replica applies.
  bool allow_any_env_name = false;
};

struct LoadResult {
  // Set only when there is no error. Warnings may still be present.
  std::shared_ptr<const Config> config;
  std::vector<Diagnostic> diagnostics;
  // The work the load did: YAML nodes looked at, counting a node once per
  // alias that repeats it. Bounded by limits::kMaxYamlNodes times a small
  // constant whatever the input, which is what tests of hostile input check.
  int64_t nodes_visited = 0;
  bool ok() const { return config != nullptr; }
};

// Parses and validates YAML text. `file_name` is used in diagnostics only.
LoadResult LoadConfigFromString(std::string_view yaml, std::string_view file_name,
                                const EnvLookup& env, const LoadOptions& options = {});

// Reads the file and calls LoadConfigFromString. A missing or unreadable file
// is an error diagnostic.
LoadResult LoadConfigFromFile(const std::string& path, const EnvLookup& env);

}  // namespace rebound

#endif  // REBOUND_POLICY_CONFIG_LOADER_H_
