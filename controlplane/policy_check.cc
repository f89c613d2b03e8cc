#include "controlplane/policy_check.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <string>

#include "policy/config_loader.h"

namespace rebound::controlplane {
namespace {

// A key from the pushed text, made safe for a message: printable ASCII only,
// shortened, so a hostile push cannot forge extra diagnostic lines.
std::string SafeKey(const std::string& key) {
  std::string out;
  for (char c : key.substr(0, 64)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (key.size() > 64) out += "...";
  return out;
}

// Errors for every top-level section a policy may not carry. Runs only on
// text the loader parsed as one YAML map: yaml-cpp has inputs it never
// returns from (see config_loader.cc), and the loader screens for them.
void CheckSections(const std::string& text, std::vector<Diagnostic>* out) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return;  // the loader reported it
  }
  if (!root.IsMap()) return;
  for (const auto& entry : root) {
    const YAML::Node& key = entry.first;
    std::string name = key.IsScalar() ? key.Scalar() : "?";
    if (name == "version" || name == "model_providers" || name == "llm_providers") continue;
    std::string message =
        name == "server" || name == "control_plane"
            ? "a pushed policy carries model_providers only; server and control_plane stay in "
              "each replica's own configuration file"
            : "a pushed policy carries model_providers only (and optionally version); this "
              "section is not accepted";
    out->push_back(Diagnostic{Diagnostic::Severity::kError, std::string(kPolicyFileName),
                              static_cast<int>(key.Mark().line) + 1, SafeKey(name),
                              std::move(message)});
  }
}

}  // namespace

PolicyCheck CheckPolicy(std::string_view yaml) {
  EnvLookup placeholder = [](std::string_view) -> std::optional<std::string> {
    return std::string("placeholder-resolved-by-each-replica");
  };
  // Checked as the replicas will load it (a pushed policy): a variable
  // outside access_key is an error here too, since no replica would apply
  // it; the access_key names are each replica's own allow-list to judge.
  LoadOptions options;
  options.pushed_policy = true;
  options.allow_any_env_name = true;
  LoadResult loaded = LoadConfigFromString(yaml, kPolicyFileName, placeholder, options);
  PolicyCheck check;
  check.diagnostics = std::move(loaded.diagnostics);
  // Top-level problems (syntax, not a map, several documents, too large) are
  // the loader's errors with an empty key; only past them is the text safe
  // to walk again.
  bool parsed = std::none_of(check.diagnostics.begin(), check.diagnostics.end(),
                             [](const Diagnostic& d) {
                               return d.severity == Diagnostic::Severity::kError && d.key.empty();
                             });
  if (parsed) CheckSections(std::string(yaml), &check.diagnostics);
  if (loaded.ok() && loaded.config->providers.empty()) {
    // Every replica would fail every request: never worth publishing.
    check.diagnostics.push_back(Diagnostic{Diagnostic::Severity::kError,
                                           std::string(kPolicyFileName), 0, "model_providers",
                                           "a pushed policy must configure at least one model "
                                           "provider"});
  }
  std::stable_sort(check.diagnostics.begin(), check.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
  check.ok = !HasErrors(check.diagnostics);
  return check;
}

}  // namespace rebound::controlplane
