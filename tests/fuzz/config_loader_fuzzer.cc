// Fuzz target: the YAML configuration loader (LoadConfigFromString), the
// whole of parsing and validation, on arbitrary text.
//
// Invariants beyond "no crash, no hang, no leak":
//   - a config is returned exactly when there is no error diagnostic;
//   - every diagnostic is one line of text with a message (a hostile file
//     must not forge extra lines in `--check` output or logs);
//   - no diagnostic carries a secret taken from the environment;
//   - a config that loads writes back (ToYaml) to YAML that loads, with the
//     same environment, into an equal config, and that YAML is canonical
//     (config_yaml.h's contract).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "policy/config.h"
#include "policy/config_loader.h"
#include "policy/config_yaml.h"
#include "policy/diagnostic.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kSecretMarker = "fuzz-secret";

// A fixed environment: the names the seed configs use, with values that are
// easy to recognise in output.
const rebound::EnvLookup& Env() {
  static const auto* vars = new std::map<std::string, std::string, std::less<>>{
      {"OPENAI_API_KEY", "sk-fuzz-secret-openai"},
      {"ANTHROPIC_API_KEY", "sk-ant-fuzz-secret"},
      {"MISTRAL_API_KEY", "fuzz-secret-mistral"},
      {"KEY", "fuzz-secret-key"},
      {"EMPTY_KEY", ""},
      {"HOST", "api.example.com"},
  };
  static const auto* env =
      new rebound::EnvLookup([](std::string_view name) -> std::optional<std::string> {
        auto it = vars->find(name);
        if (it == vars->end()) return std::nullopt;
        return it->second;
      });
  return *env;
}

void CheckDiagnostics(const rebound::LoadResult& result, std::string_view input) {
  FUZZ_CHECK(result.ok() == !rebound::HasErrors(result.diagnostics));
  // Secrets can only be told apart from the file's own text when the file
  // does not contain the marker itself.
  const bool check_secrets = input.find(kSecretMarker) == std::string_view::npos;
  for (const rebound::Diagnostic& d : result.diagnostics) {
    FUZZ_CHECK(!d.message.empty());
    FUZZ_CHECK(d.line >= 0);
    const std::string text = d.ToString();
    const bool one_line = text.find_first_of("\r\n") == std::string::npos;
    const bool no_secret = !check_secrets || text.find(kSecretMarker) == std::string::npos;
    if (!one_line || !no_secret) std::fprintf(stderr, "diagnostic: %s\n", text.c_str());
    FUZZ_CHECK(one_line);
    FUZZ_CHECK(no_secret);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const rebound::LoadResult first = rebound::LoadConfigFromString(yaml, "fuzz.yaml", Env());
  CheckDiagnostics(first, yaml);
  if (!first.ok()) return 0;

  const std::string canonical = rebound::ToYaml(*first.config);
  const rebound::LoadResult second =
      rebound::LoadConfigFromString(canonical, "canonical.yaml", Env());
  if (!second.ok()) {
    std::fprintf(stderr, "canonical YAML does not load:\n%s\n", canonical.c_str());
    for (const auto& d : second.diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  }
  FUZZ_CHECK(second.ok());
  const std::string again = rebound::ToYaml(*second.config);
  if (!(*second.config == *first.config) || again != canonical) {
    std::fprintf(stderr, "round trip differs:\n--- first\n%s\n--- second\n%s\n", canonical.c_str(),
                 again.c_str());
  }
  FUZZ_CHECK(*second.config == *first.config);
  FUZZ_CHECK(again == canonical);
  return 0;
}
