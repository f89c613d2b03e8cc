// The harness of the retry engine's tests (retry_state_test.cc and
// retry_extensions_test.cc): configurations loaded from YAML, the
// process-wide tables, attempt results to feed in, and matchers on the
// decisions. Time is simulated; nothing sleeps.
#ifndef REBOUND_TESTS_UNIT_RETRY_STATE_HARNESS_H_
#define REBOUND_TESTS_UNIT_RETRY_STATE_HARNESS_H_

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/config_loader.h"
#include "retry/retry_state.h"

namespace rebound {

// Readable failures.
inline void PrintTo(const Decision& d, std::ostream* os) {
  switch (d.kind) {
    case Decision::Kind::kAttempt:
      *os << "Attempt(" << (d.target ? d.target->model_id : "null") << ", wait "
          << absl::FormatDuration(d.wait) << ")";
      return;
    case Decision::Kind::kDeliver:
      *os << "Deliver";
      return;
    case Decision::Kind::kExhausted:
      *os << "Exhausted(" << ToString(d.end_reason) << ", code " << static_cast<int>(d.code)
          << ", pushback " << absl::FormatDuration(d.pushback) << ", budget "
          << d.retry_budget_exhausted << ", " << d.message << ")";
      return;
  }
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

absl::Time Ms(int64_t ms) { return kT0 + absl::Milliseconds(ms); }

MATCHER_P2(AttemptAt, model_id, wait_ms,
           absl::StrCat("attempt at ", model_id, " after ", wait_ms, " ms")) {
  return arg.kind == Decision::Kind::kAttempt && arg.target != nullptr &&
         arg.target->model_id == model_id && arg.wait == absl::Milliseconds(wait_ms);
}

MATCHER(Delivers, "deliver the answer as it is") { return arg.kind == Decision::Kind::kDeliver; }

MATCHER_P2(ExhaustedWith, reason, code,
           absl::StrCat("exhausted (", std::string(ToString(reason)), ") with code ",
                        static_cast<int>(code))) {
  return arg.kind == Decision::Kind::kExhausted && arg.end_reason == reason && arg.code == code;
}

// ---------------------------------------------------------------------------
// Configurations

// Loads `yaml`; the test fails when it does not load.
std::shared_ptr<const Config> LoadYaml(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  LoadResult r = LoadConfigFromString(yaml, "test.yaml", [](std::string_view) {
    return std::optional<std::string>();
  });
  std::string diagnostics;
  for (const Diagnostic& d : r.diagnostics) diagnostics += d.ToString() + "\n";
  EXPECT_TRUE(r.ok()) << diagnostics;
  return r.config;
}

// `text` with every line indented by `spaces`.
std::string Indent(std::string_view text, int spaces) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out += std::string(spaces, ' ');
    out.append(text.substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
  return out;
}

// One model_providers entry; `policy` (unindented YAML) becomes its
// retry_policy, "" = none, "{}" = every default.
std::string Provider(std::string_view model, std::string_view policy = "",
                     std::string_view extra = "") {
  std::string out = absl::StrCat("  - model: ", std::string(model),
                                 "\n    base_url: http://127.0.0.1:1\n    access_key: key-x\n");
  out += Indent(extra, 4);
  if (policy == "{}") {
    out += "    retry_policy: {}\n";
  } else if (!policy.empty()) {
    out += "    retry_policy:\n" + Indent(policy, 6);
  }
  return out;
}

// SCENARIOS.md's providers: primary openai/gpt-4o with `policy`, secondary
// anthropic/claude-3-5-sonnet (openai interface), tertiary
// mistral/mistral-large, then `more` entries.
std::string ScenarioYaml(std::string_view policy, std::string_view more = "") {
  return "model_providers:\n" + Provider("openai/gpt-4o", policy, "default: true") +
         Provider("anthropic/claude-3-5-sonnet", "", "provider_interface: openai") +
         Provider("mistral/mistral-large") + std::string(more);
}

// Policy "P429" of SCENARIOS.md.
constexpr char kP429[] = R"(default_strategy: different_provider
default_max_attempts: 2
on_status_codes:
  - codes: [429]
    strategy: different_provider
    max_attempts: 2
)";

// ---------------------------------------------------------------------------
// The harness: one configuration, the process-wide tables, and requests.

class Gateway {
 public:
  explicit Gateway(std::string_view yaml) : config_(LoadYaml(yaml)) {}

  const ModelProvider* M(std::string_view id) const {
    const ModelProvider* m = config_ ? config_->Find(id) : nullptr;
    EXPECT_NE(m, nullptr) << id;
    return m;
  }

  struct RequestOptions {
    std::string primary = "openai/gpt-4o";
    NarrowingOptions narrowing;
    absl::Time deadline = absl::InfiniteFuture();
    RandomSource random = [] { return 0.5; };
    RetryBudgetGate* retry_budget = nullptr;
    CandidateFilter candidate_filter;
    RetryBudget* hedge_budget = nullptr;
  };

  std::unique_ptr<RetryState> Request(RequestOptions o) {
    RetryState::Options options;
    options.narrowing = std::move(o.narrowing);
    options.global_blocks = &blocks;
    options.latency = &latency;
    options.random = std::move(o.random);
    options.deadline = o.deadline;
    options.retry_budget = o.retry_budget;
    options.candidate_filter = std::move(o.candidate_filter);
    options.hedge_budget = o.hedge_budget;
    return std::make_unique<RetryState>(config_.get(), M(o.primary), std::move(options));
  }
  std::unique_ptr<RetryState> Request(std::string primary = "openai/gpt-4o") {
    RequestOptions o;
    o.primary = std::move(primary);
    return Request(std::move(o));
  }

  // Attempt results.
  AttemptResult Http(std::string_view model, int status, HttpHeaders headers = {}) const {
    AttemptResult r;
    r.kind = status >= 200 && status < 300 ? AttemptResult::Kind::kSuccess
                                           : AttemptResult::Kind::kHttpError;
    r.target = M(model);
    r.http_status = status;
    r.headers = std::move(headers);
    if (r.kind != AttemptResult::Kind::kSuccess) r.error_type = absl::StrCat("http_", status);
    r.ttfb = absl::Milliseconds(20);
    r.duration = absl::Milliseconds(30);
    return r;
  }
  AttemptResult Ok(std::string_view model, absl::Duration ttfb = absl::Milliseconds(100),
                   absl::Duration total = absl::Milliseconds(200)) const {
    AttemptResult r = Http(model, 200);
    r.ttfb = ttfb;
    r.duration = total;
    return r;
  }
  AttemptResult Timeout(std::string_view model, int64_t ms) const {
    AttemptResult r;
    r.kind = AttemptResult::Kind::kTimeout;
    r.target = M(model);
    r.timeout_kind = TimeoutKind::kFirstByte;
    r.timeout_ms = ms;
    r.error_type = absl::StrCat("timeout_", ms, "ms");
    r.duration = absl::Milliseconds(ms);
    return r;
  }
  AttemptResult Transport(std::string_view model, std::string error = "connection_refused") const {
    AttemptResult r;
    r.kind = AttemptResult::Kind::kTransportError;
    r.target = M(model);
    r.error_type = std::move(error);
    return r;
  }
  AttemptResult Stream(std::string_view model) const {
    AttemptResult r;
    r.kind = AttemptResult::Kind::kStreamInterrupted;
    r.target = M(model);
    r.http_status = 200;
    r.error_type = "stream_interrupted";
    return r;
  }
  // An attempt the I/O layer cut at the decision's attempt_end.
  AttemptResult Cut(std::string_view model, TimeoutKind kind, int64_t ms) const {
    AttemptResult r = Timeout(model, ms);
    r.timeout_kind = kind;
    return r;
  }
  AttemptResult TooLarge(std::string_view model) const {
    AttemptResult r;
    r.kind = AttemptResult::Kind::kResponseTooLarge;
    r.target = M(model);
    r.http_status = 200;
    return r;
  }
  AttemptResult Overloaded(std::string_view model) const {
    AttemptResult r;
    r.kind = AttemptResult::Kind::kOverloaded;
    r.target = M(model);
    r.error_type = "overloaded";
    return r;
  }

  std::shared_ptr<const Config> config_;
  BlockTable blocks;
  LatencyTracker latency;
};

// A provider entry outside any configuration, for the pure helpers.
ModelProvider Bare(std::string id) {
  ModelProvider m;
  m.provider = id.substr(0, id.find('/'));
  m.bare_model = id.substr(id.find('/') + 1);
  m.model_id = std::move(id);
  return m;
}

HttpHeaders RetryAfter(std::string value) { return {{"Retry-After", std::move(value)}}; }

std::vector<std::string> Models(const RetryState& s) {
  std::vector<std::string> out;
  for (const AttemptResult& a : s.attempts()) out.push_back(a.target->model_id);
  return out;
}

std::vector<std::string> ErrorTypes(const RetryState& s) {
  std::vector<std::string> out;
  for (const AttemptResult& a : s.attempts()) out.push_back(a.error_type);
  return out;
}


}  // namespace
}  // namespace rebound

#endif  // REBOUND_TESTS_UNIT_RETRY_STATE_HARNESS_H_
