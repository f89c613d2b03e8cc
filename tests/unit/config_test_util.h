// Helpers shared by the configuration tests: loading YAML text with a fake
// environment, and matchers for diagnostics.
#ifndef REBOUND_TESTS_UNIT_CONFIG_TEST_UTIL_H_
#define REBOUND_TESTS_UNIT_CONFIG_TEST_UTIL_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/config_loader.h"

namespace rebound::testing {

using Env = std::map<std::string, std::string, std::less<>>;

// The environment the tests run with. Never the process environment.
inline const Env& DefaultEnv() {
  static const Env* env = new Env{
      {"OPENAI_API_KEY", "sk-openai-test"},
      {"ANTHROPIC_API_KEY", "sk-ant-test"},
      {"MISTRAL_API_KEY", "sk-mistral-test"},
      {"EMPTY_KEY", ""},
  };
  return *env;
}

inline EnvLookup MapEnv(Env env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// Loads `yaml` as "test.yaml". A leading newline is dropped so that a raw
// string literal's first line is line 1.
inline LoadResult Load(std::string_view yaml, const Env& env = DefaultEnv()) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  return LoadConfigFromString(yaml, "test.yaml", MapEnv(env));
}

// A file whose model_providers[0] is openai/gpt-4o (with $OPENAI_API_KEY)
// and has `policy` (unindented YAML) as its retry_policy, followed by the
// entries in `others` (indented as list items). Policy line k is file line
// 5 + k.
inline std::string WithPolicy(std::string_view policy, std::string_view others) {
  std::string out =
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: https://api.openai.com\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    retry_policy:\n";
  size_t start = 0;
  while (start < policy.size()) {
    size_t end = policy.find('\n', start);
    if (end == std::string_view::npos) end = policy.size();
    out += "      ";
    out.append(policy.substr(start, end - start));
    out += "\n";
    start = end + 1;
  }
  out.append(others);
  return out;
}

// Every diagnostic, one a line, for failure messages.
inline std::string Dump(const LoadResult& r) {
  std::string out;
  for (const Diagnostic& d : r.diagnostics) out += d.ToString() + "\n";
  return out;
}

MATCHER_P4(DiagnosticIs, severity, line, key, message_part,
           std::string(severity == Diagnostic::Severity::kError ? "error" : "warning") +
               " at line " + ::testing::PrintToString(line) + " key " +
               ::testing::PrintToString(key) + " containing " +
               ::testing::PrintToString(message_part)) {
  return arg.severity == severity && arg.line == line && arg.key == key &&
         arg.message.find(message_part) != std::string::npos && arg.file == "test.yaml";
}

inline auto Error(int line, std::string key, std::string message_part) {
  return DiagnosticIs(Diagnostic::Severity::kError, line, std::move(key), std::move(message_part));
}

inline auto Warning(int line, std::string key, std::string message_part) {
  return DiagnosticIs(Diagnostic::Severity::kWarning, line, std::move(key),
                      std::move(message_part));
}

}  // namespace rebound::testing

namespace rebound {
// So that gMock prints diagnostics readably when an expectation fails.
inline void PrintTo(const Diagnostic& d, std::ostream* os) { *os << d.ToString(); }
}  // namespace rebound

#endif  // REBOUND_TESTS_UNIT_CONFIG_TEST_UTIL_H_
