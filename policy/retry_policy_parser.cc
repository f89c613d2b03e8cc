#include "policy/retry_policy_parser.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "policy/limits.h"

namespace rebound {
namespace {

// RETRY.md 3.2: every request has a hard cap of 10 attempts in all.
constexpr int kMaxAttemptsPerRequest = 10;
constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;
// 1xx are interim responses, never the answer to a request, and 2xx is
// success, never retried (RETRY.md 3.1): neither ever reaches a retry
// decision, so listing one is a mistake to report, not a rule to keep.
constexpr int kMinSuccess = 200;
constexpr int kMinFailure = 300;
constexpr absl::string_view kFailuresOnly = "on_status_codes lists failures (300-599)";
// Thresholds below this fire on ordinary network jitter (RETRY.md 2).
constexpr int64_t kAggressiveLatencyMs = 1000;

// Where a strategy is written decides whether larger_context may be.
enum class StrategyUse { kGeneral, kContextOverflow };

std::optional<Strategy> ReadStrategy(YamlReader* r, const Located& v,
                                     StrategyUse use = StrategyUse::kGeneral) {
  std::optional<Strategy> s =
      r->Enum<Strategy>(v, {{"same_model", Strategy::kSameModel},
                            {"same_provider", Strategy::kSameProvider},
                            {"different_provider", Strategy::kDifferentProvider},
                            {"larger_context", Strategy::kLargerContext}});
  if (s == Strategy::kLargerContext && use != StrategyUse::kContextOverflow) {
    r->reporter().Error(v.line, v.path,
                        "larger_context is only for an on_errors entry whose errors are "
                        "[context_length_exceeded]: only a prompt too long for a model's window "
                        "is answered by a model with a larger one");
    return std::nullopt;
  }
  return s;
}

std::optional<BlockScope> ReadScope(YamlReader* r, const Located& v) {
  return r->Enum<BlockScope>(v,
                             {{"model", BlockScope::kModel}, {"provider", BlockScope::kProvider}});
}

std::optional<ApplyTo> ReadApplyTo(YamlReader* r, const Located& v) {
  return r->Enum<ApplyTo>(v, {{"global", ApplyTo::kGlobal}, {"request", ApplyTo::kRequest}});
}

// An attempt budget: >= 1, and a warning when the per-request cap makes part
// of it unreachable.
std::optional<int> ReadMaxAttempts(YamlReader* r, const Located& v) {
  std::optional<int> n = r->Int32(v, 1, limits::kMaxAttempts);
  if (n && *n > kMaxAttemptsPerRequest) {
    r->reporter().Warning(v.line, v.path,
                          absl::StrCat(*n, " is above the hard cap of ", kMaxAttemptsPerRequest,
                                       " attempts per request; at most ", kMaxAttemptsPerRequest,
                                       " attempts are made"));
  }
  return n;
}

// `then:`, a class's escalation step.
EscalationStep ReadEscalation(YamlReader* r, const Located& v, StrategyUse use) {
  EscalationStep step;
  if (!r->ExpectMap(v)) return step;
  MapFields f(r, v);
  if (auto x = f.Take("strategy")) {
    if (auto s = ReadStrategy(r, *x, use)) step.strategy = *s;
  } else {
    r->reporter().Error(v.line, JoinPath(v.path, "strategy"),
                        "is required: the strategy of the retries after the class's own "
                        "max_attempts, e.g. different_provider");
  }
  if (auto x = f.Take("max_attempts")) {
    if (auto n = ReadMaxAttempts(r, *x)) step.max_attempts = *n;
  }
  f.Finish({"strategy", "max_attempts"});
  return step;
}

// `strategy`, `max_attempts` and, where `then_allowed`, `then` of one error
// class; the policy defaults fill whatever the block leaves out.
ClassPolicy ReadClassPolicy(YamlReader* r, MapFields& f, const ClassPolicy& defaults,
                            bool then_allowed = true, StrategyUse use = StrategyUse::kGeneral) {
  ClassPolicy policy = defaults;
  std::optional<Located> strategy = f.Take("strategy");
  if (strategy) {
    if (auto s = ReadStrategy(r, *strategy, use)) policy.strategy = *s;
  }
  if (auto v = f.Take("max_attempts")) {
    if (auto n = ReadMaxAttempts(r, *v)) policy.max_attempts = *n;
  }
  if (!then_allowed) return policy;
  if (auto v = f.Take("then")) {
    policy.then = ReadEscalation(r, *v, use);
    if (policy.then->strategy == policy.strategy && strategy) {
      r->reporter().Warning(v->line, v->path,
                            absl::StrCat("then uses the class's own strategy (",
                                         AbslView(ToString(policy.strategy)),
                                         "): max_attempts alone says the same"));
    }
    if (policy.max_attempts + policy.then->max_attempts > kMaxAttemptsPerRequest) {
      r->reporter().Warning(v->line, v->path,
                            absl::StrCat("max_attempts ", policy.max_attempts, " + then ",
                                         policy.then->max_attempts, " is above the hard cap of ",
                                         kMaxAttemptsPerRequest, " attempts per request"));
    }
  }
  return policy;
}

bool IsDecimal(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// The class of `code` (100-299), which is never retried, for messages.
absl::string_view NeverRetried(int64_t code) {
  return code < kMinSuccess ? "informational (1xx)" : "success (2xx)";
}

// Appends the codes of one `codes` entry: an integer or an "A-B" range.
// Returns false (after reporting) when the entry is invalid.
bool ExpandCodeEntry(YamlReader* r, const Located& v, std::vector<int>* codes) {
  constexpr absl::string_view kWhat = "must be a status code (300-599) or a range \"A-B\"";
  if (!v.node.IsScalar()) {
    absl::string_view got = v.node.IsMap()        ? "a map"
                            : v.node.IsSequence() ? "a list"
                                                  : "nothing (an empty value)";
    r->reporter().Error(v.line, v.path, absl::StrCat(kWhat, ", got ", got));
    return false;
  }
  const std::string& text = v.node.Scalar();
  bool quoted = v.node.Tag() != "?";
  // A '-' only, for a message naming the negative number; "+429" is not a
  // way anyone writes a status code.
  std::string_view plain = text;
  if (!plain.empty() && plain[0] == '-') plain.remove_prefix(1);
  if (!quoted && IsDecimal(plain)) {
    int64_t code = 0;
    if (!absl::SimpleAtoi(text, &code) || code < kMinStatus || code > kMaxStatus) {
      r->reporter().Error(v.line, v.path,
                          absl::StrCat("status code ", text, " is outside 100-599"));
      return false;
    }
    if (code < kMinFailure) {
      r->reporter().Error(
          v.line, v.path,
          absl::StrCat("status code ", code,
                       code < kMinSuccess ? " is informational (1xx), never the final answer; "
                                          : " is a success (2xx), which is never retried; ",
                       kFailuresOnly));
      return false;
    }
    codes->push_back(static_cast<int>(code));
    return true;
  }
  // A range: exactly one '-', a decimal number on each side, spaces allowed.
  size_t dash = text.find('-');
  absl::string_view low, high;
  if (dash != std::string::npos && text.find('-', dash + 1) == std::string::npos) {
    low = absl::StripAsciiWhitespace(absl::string_view(text).substr(0, dash));
    high = absl::StripAsciiWhitespace(absl::string_view(text).substr(dash + 1));
  }
  int64_t a = 0, b = 0;
  if (!IsDecimal(std::string_view(low.data(), low.size())) ||
      !IsDecimal(std::string_view(high.data(), high.size())) || !absl::SimpleAtoi(low, &a) ||
      !absl::SimpleAtoi(high, &b)) {
    r->reporter().Error(v.line, v.path, absl::StrCat(kWhat, ", got ", QuoteForMessage(text)));
    return false;
  }
  if (a > b) {
    r->reporter().Error(
        v.line, v.path,
        absl::StrCat("range ", QuoteForMessage(text),
                     " is inverted; write the lower code first (\"", b, "-", a, "\")"));
    return false;
  }
  if (a < kMinStatus || b > kMaxStatus) {
    r->reporter().Error(v.line, v.path,
                        absl::StrCat("range ", QuoteForMessage(text),
                                     " reaches outside 100-599; every code must be a valid HTTP "
                                     "status"));
    return false;
  }
  if (a < kMinFailure) {
    r->reporter().Error(v.line, v.path,
                        absl::StrCat("range ", QuoteForMessage(text), " includes ",
                                     NeverRetried(a), " codes; ", kFailuresOnly));
    return false;
  }
  for (int64_t c = a; c <= b; ++c) codes->push_back(static_cast<int>(c));
  return true;
}

// What the rules of one policy listed so far.
struct CodeTally {
  std::map<int, size_t> owners;  // code -> index of the first rule listing it
  size_t expanded = 0;           // codes of every rule, ranges expanded
  bool full = false;             // limits::kMaxStatusCodesPerPolicy was passed
};

// Whether `more` codes still fit in the policy. Reports (once per policy)
// when they do not; the remaining entries are then skipped unread.
bool CodesFit(YamlReader* r, const Located& entry, size_t more, CodeTally* tally) {
  if (tally->full) return false;
  if (tally->expanded + more <= limits::kMaxStatusCodesPerPolicy) return true;
  tally->full = true;
  r->reporter().Error(entry.line, entry.path,
                      absl::StrCat("expands this policy's status codes to ", tally->expanded + more,
                                   "; at most ", limits::kMaxStatusCodesPerPolicy,
                                   " are allowed (a range counts each of its codes)"));
  return false;
}

StatusCodeRule ReadStatusCodeRule(YamlReader* r, const Located& v, size_t index,
                                  const ClassPolicy& defaults, CodeTally* tally,
                                  std::string_view list_path) {
  StatusCodeRule rule;
  rule.policy = defaults;
  if (!r->ExpectMap(v)) return rule;
  MapFields f(r, v);
  std::optional<Located> codes = f.Take("codes");
  if (!codes) {
    r->reporter().Error(
        v.line, JoinPath(v.path, "codes"),
        "is required: the status codes this entry handles, e.g. [429, \"500-504\"]");
  } else if (r->ExpectListOfAtMost(*codes, limits::kMaxCodeEntriesPerRule,
                                   "status codes or ranges")) {
    std::vector<Located> items = r->Items(*codes);
    if (items.empty()) {
      r->reporter().Error(codes->line, codes->path, "must list at least one status code or range");
    }
    for (const Located& item : items) {
      if (tally->full) break;
      std::vector<int> expanded;  // at most 300 codes: one valid range
      if (!ExpandCodeEntry(r, item, &expanded)) continue;
      if (!CodesFit(r, item, expanded.size(), tally)) break;
      tally->expanded += expanded.size();
      // RETRY.md 2: a code in two entries is a warning; the first entry wins.
      std::vector<int> taken;
      size_t owner = 0;
      for (int code : expanded) {
        auto [it, inserted] = tally->owners.emplace(code, index);
        if (!inserted && it->second != index) {
          taken.push_back(code);
          owner = it->second;
        }
      }
      if (!taken.empty()) {
        r->reporter().Warning(
            item.line, item.path,
            absl::StrCat(taken.size() == 1 ? "status code " : "status codes ",
                         absl::StrJoin(taken, ", "), taken.size() == 1 ? " is" : " are",
                         " already listed in ", IndexPath(list_path, owner),
                         "; the first entry wins, so this entry never handles ",
                         taken.size() == 1 ? "it" : "them"));
      }
      rule.codes.insert(rule.codes.end(), expanded.begin(), expanded.end());
    }
  }
  rule.policy = ReadClassPolicy(r, f, defaults);
  f.Finish({"codes", "strategy", "max_attempts", "then"});
  return rule;
}

// Why retrying the same model cannot help with `error`; empty when it can.
absl::string_view SameModelIsPointless(ProviderErrorClass error) {
  switch (error) {
    case ProviderErrorClass::kContentFilter:
      return "the same model refuses the same prompt again";
    case ProviderErrorClass::kQuotaExhausted:
      return "a spent quota stays spent; waiting does not help";
    case ProviderErrorClass::kContextLengthExceeded:
      return "the prompt does not fit the same model's window again";
    default:
      return "";
  }
}

ErrorRule ReadErrorRule(YamlReader* r, const Located& v, const ClassPolicy& defaults,
                        std::map<ProviderErrorClass, size_t>* owners, size_t index,
                        std::string_view list_path) {
  ErrorRule rule;
  rule.policy = defaults;
  if (!r->ExpectMap(v)) return rule;
  MapFields f(r, v);
  std::optional<Located> errors = f.Take("errors");
  if (!errors) {
    r->reporter().Error(v.line, JoinPath(v.path, "errors"),
                        "is required: the provider errors this entry handles, e.g. "
                        "[context_length_exceeded]");
  } else if (r->ExpectListOfAtMost(*errors, std::size(kAllProviderErrorClasses),
                                   "error classes")) {
    std::vector<Located> items = r->Items(*errors);
    if (items.empty()) {
      r->reporter().Error(errors->line, errors->path, "must list at least one error class");
    }
    for (const Located& item : items) {
      std::optional<std::string> name = r->String(item);
      if (!name) continue;
      std::optional<ProviderErrorClass> c = ProviderErrorClassFromString(*name);
      if (!c) {
        std::vector<std::string> known;
        for (ProviderErrorClass k : kAllProviderErrorClasses) known.emplace_back(ToString(k));
        r->reporter().Error(item.line, item.path,
                            absl::StrCat(QuoteForMessage(*name), " is not an error class; one of ",
                                         absl::StrJoin(known, ", ")));
        continue;
      }
      auto [it, inserted] = owners->emplace(*c, index);
      if (!inserted && it->second != index) {
        r->reporter().Warning(item.line, item.path,
                              absl::StrCat(*name, " is already listed in ",
                                           IndexPath(list_path, it->second),
                                           "; the first entry wins, so this entry never "
                                           "handles it"));
      }
      rule.errors.push_back(*c);
    }
  }
  const bool context_only =
      !rule.errors.empty() &&
      std::all_of(rule.errors.begin(), rule.errors.end(), [](ProviderErrorClass c) {
        return c == ProviderErrorClass::kContextLengthExceeded;
      });
  const bool strategy_written = f.Has("strategy");
  rule.policy = ReadClassPolicy(r, f, defaults, /*then_allowed=*/true,
                                context_only ? StrategyUse::kContextOverflow
                                             : StrategyUse::kGeneral);
  auto check_same_model = [&](Strategy s, const std::string& key, bool written) {
    if (s != Strategy::kSameModel) return;
    for (ProviderErrorClass c : rule.errors) {
      absl::string_view why = SameModelIsPointless(c);
      if (why.empty()) continue;
      r->reporter().ErrorAt(key, absl::StrCat("same_model for ", AbslView(ToString(c)),
                                              written ? "" : " (default_strategy)", ": ", why,
                                              "; use another strategy"));
      return;
    }
  };
  check_same_model(rule.policy.strategy, JoinPath(v.path, "strategy"), strategy_written);
  if (rule.policy.then) {
    check_same_model(rule.policy.then->strategy, JoinPath(v.path, "then.strategy"), true);
  }
  if (auto x = f.Take("block_duration_seconds")) {
    if (auto n = r->Seconds(*x)) rule.block_duration_seconds = *n;
  }
  if (auto x = f.Take("block_scope")) {
    if (auto s = ReadScope(r, *x)) rule.block_scope = *s;
  }
  f.Finish({"errors", "strategy", "max_attempts", "then", "block_duration_seconds",
            "block_scope"});
  return rule;
}

HedgePolicy ReadHedge(YamlReader* r, const Located& v) {
  HedgePolicy h;
  if (!r->ExpectMap(v)) return h;
  MapFields f(r, v);
  if (auto x = f.Take("after_ms")) {
    if (auto n = r->Milliseconds(*x)) h.after_ms = *n;
  } else {
    r->reporter().Error(v.line, JoinPath(v.path, "after_ms"),
                        "is required: how long an attempt may go without a first byte before "
                        "the request is also sent to another candidate");
  }
  if (auto x = f.Take("strategy")) {
    if (auto s = ReadStrategy(r, *x)) h.strategy = *s;
  }
  if (auto x = f.Take("max_hedges")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxHedges)) h.max_hedges = *n;
  }
  f.Finish({"after_ms", "strategy", "max_hedges"});
  return h;
}

HighLatencyPolicy ReadHighLatency(YamlReader* r, const Located& v, const ClassPolicy& defaults) {
  HighLatencyPolicy h;
  h.policy = defaults;
  if (!r->ExpectMap(v)) return h;
  MapFields f(r, v);
  if (auto x = f.Take("threshold_ms")) {
    if (auto n = r->Milliseconds(*x)) {
      h.threshold_ms = *n;
      if (*n < kAggressiveLatencyMs) {
        r->reporter().Warning(
            x->line, x->path,
            absl::StrCat(*n, " ms is an aggressive latency threshold: below ", kAggressiveLatencyMs,
                         " ms ordinary network jitter creates blocks"));
      }
    }
  } else {
    r->reporter().Error(v.line, JoinPath(v.path, "threshold_ms"),
                        "is required: the latency in milliseconds above which a response counts "
                        "as slow");
  }
  if (auto x = f.Take("measure")) {
    if (auto m = r->Enum<LatencyMeasure>(
            *x, {{"ttfb", LatencyMeasure::kTtfb}, {"total", LatencyMeasure::kTotal}})) {
      h.measure = *m;
    }
  }
  std::optional<Located> min_triggers = f.Take("min_triggers");
  if (min_triggers) {
    if (auto n = r->Int32(*min_triggers, 1, limits::kMaxMinTriggers)) h.min_triggers = *n;
  }
  bool has_window = false;
  if (auto x = f.Take("trigger_window_seconds")) {
    has_window = true;
    if (auto n = r->Seconds(*x)) h.trigger_window_seconds = *n;
  }
  if (min_triggers && h.min_triggers > 1 && !has_window) {
    r->reporter().Error(min_triggers->line, min_triggers->path,
                        absl::StrCat("min_triggers ", h.min_triggers,
                                     " needs trigger_window_seconds: the window in which that "
                                     "many slow responses must fall"));
  }
  h.policy = ReadClassPolicy(r, f, defaults, /*then_allowed=*/false);
  if (auto x = f.Take("block_duration_seconds")) {
    if (auto n = r->Seconds(*x)) h.block_duration_seconds = *n;
  }
  std::optional<Located> scope = f.Take("scope");
  if (scope) {
    if (auto s = ReadScope(r, *scope)) h.scope = *s;
  }
  if (auto x = f.Take("apply_to")) {
    if (auto a = ReadApplyTo(r, *x)) h.apply_to = *a;
  }
  if (h.scope == BlockScope::kProvider && h.policy.strategy == Strategy::kSameModel) {
    r->reporter().WarningAt(
        scope ? scope->path : JoinPath(v.path, "scope"),
        "scope: provider with strategy same_model: a slow response blocks the whole provider, "
        "and the same_model retry then targets that blocked provider");
  }
  f.Finish({"threshold_ms", "measure", "min_triggers", "trigger_window_seconds", "strategy",
            "max_attempts", "block_duration_seconds", "scope", "apply_to"});
  return h;
}

BackoffPolicy ReadBackoff(YamlReader* r, const Located& v, Strategy default_strategy) {
  BackoffPolicy b;
  if (!r->ExpectMap(v)) return b;
  MapFields f(r, v);
  if (auto x = f.Take("apply_to")) {
    if (auto a = r->Enum<BackoffApplyTo>(*x, {{"same_model", BackoffApplyTo::kSameModel},
                                              {"same_provider", BackoffApplyTo::kSameProvider},
                                              {"global", BackoffApplyTo::kGlobal}})) {
      b.apply_to = *a;
      if (*a == BackoffApplyTo::kSameModel && default_strategy == Strategy::kDifferentProvider) {
        r->reporter().Warning(x->line, x->path,
                              "apply_to: same_model with default_strategy: different_provider: "
                              "default retries move to another provider, so this backoff only "
                              "applies to classes whose strategy is same_model");
      } else if (*a == BackoffApplyTo::kSameProvider && default_strategy == Strategy::kSameModel) {
        r->reporter().Warning(x->line, x->path,
                              "apply_to: same_provider with default_strategy: same_model: default "
                              "retries never change the model; apply_to: same_model says what is "
                              "meant");
      }
    }
  } else {
    r->reporter().Error(v.line, JoinPath(v.path, "apply_to"),
                        "is required when backoff is set: same_model, same_provider or global");
  }
  bool base_ok = true, max_ok = true;
  if (auto x = f.Take("base_ms")) {
    std::optional<int64_t> n = r->Milliseconds(*x);
    base_ok = n.has_value();
    if (n) b.base_ms = *n;
  }
  std::optional<Located> max_key = f.Take("max_ms");
  if (max_key) {
    std::optional<int64_t> n = r->Milliseconds(*max_key);
    max_ok = n.has_value();
    if (n) b.max_ms = *n;
  }
  if (base_ok && max_ok && b.max_ms <= b.base_ms) {
    r->reporter().ErrorAt(max_key ? max_key->path : JoinPath(v.path, "max_ms"),
                          absl::StrCat("max_ms (", b.max_ms, max_key ? "" : ", the default",
                                       ") must be greater than base_ms (", b.base_ms, ")"));
  }
  if (auto x = f.Take("jitter")) {
    if (auto j = r->Bool(*x)) b.jitter = *j;
  }
  f.Finish({"apply_to", "base_ms", "max_ms", "jitter"});
  return b;
}

RetryAfterPolicy ReadRetryAfter(YamlReader* r, const Located& v, Strategy default_strategy) {
  RetryAfterPolicy ra;
  if (!r->ExpectMap(v)) return ra;
  MapFields f(r, v);
  std::optional<Located> scope = f.Take("scope");
  if (scope) {
    if (auto s = ReadScope(r, *scope)) ra.scope = *s;
  }
  if (auto x = f.Take("apply_to")) {
    if (auto a = ReadApplyTo(r, *x)) ra.apply_to = *a;
  }
  if (auto x = f.Take("max_retry_after_seconds")) {
    if (auto n = r->Seconds(*x)) ra.max_retry_after_seconds = *n;
  }
  if (auto x = f.Take("same_model_max_wait_ms")) {
    if (auto n = r->Milliseconds(*x)) {
      ra.same_model_max_wait_ms = *n;
      if (*n > ra.max_retry_after_seconds * 1000) {
        r->reporter().Warning(x->line, x->path,
                              absl::StrCat(*n, " ms is above max_retry_after_seconds (",
                                           ra.max_retry_after_seconds,
                                           " s): Retry-After values are capped there first"));
      }
    }
  }
  if (scope && ra.scope == BlockScope::kProvider && default_strategy == Strategy::kSameModel) {
    r->reporter().Warning(scope->line, scope->path,
                          "scope: provider with default_strategy: same_model: a Retry-After "
                          "blocks the whole provider, and the same_model retry then waits for "
                          "that block or ends the request");
  }
  f.Finish({"scope", "apply_to", "max_retry_after_seconds", "same_model_max_wait_ms"});
  return ra;
}

}  // namespace

RetryPolicy ParseRetryPolicy(YamlReader* r, const Located& v) {
  RetryPolicy p;
  if (!r->ExpectMap(v)) return p;
  MapFields f(r, v);

  // The defaults first: every class left unspecified inherits them.
  if (auto x = f.Take("default_strategy")) {
    if (auto s = ReadStrategy(r, *x)) p.default_strategy = *s;
  }
  if (auto x = f.Take("default_max_attempts")) {
    if (auto n = ReadMaxAttempts(r, *x)) p.default_max_attempts = *n;
  }
  const ClassPolicy defaults{p.default_strategy, p.default_max_attempts, std::nullopt};
  p.on_timeout = defaults;

  if (auto x = f.Take("fallback_models");
      x && r->ExpectListOfAtMost(*x, limits::kMaxFallbackModels, "fallback models")) {
    for (const Located& item : r->Items(*x)) {
      // Invalid entries are kept (as reported) so that validation, which
      // finds lines by index, stays aligned with the file.
      std::optional<std::string> model = r->String(item);
      if (!model) {
        p.fallback_models.emplace_back();
        continue;
      }
      size_t slash = model->find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == model->size()) {
        r->reporter().Error(item.line, item.path,
                            absl::StrCat(QuoteForMessage(*model),
                                         " is not a model id: fallback_models entries are "
                                         "provider/model ids of configured models"));
      }
      p.fallback_models.push_back(*model);
    }
  }

  if (auto x = f.Take("on_status_codes");
      x && r->ExpectListOfAtMost(*x, limits::kMaxStatusCodeRules, "on_status_codes rules")) {
    CodeTally tally;
    std::vector<Located> items = r->Items(*x);
    for (size_t i = 0; i < items.size(); ++i) {
      p.on_status_codes.push_back(ReadStatusCodeRule(r, items[i], i, defaults, &tally, x->path));
    }
  }

  if (auto x = f.Take("on_errors");
      x && r->ExpectListOfAtMost(*x, limits::kMaxErrorRules, "on_errors rules")) {
    std::map<ProviderErrorClass, size_t> owners;
    std::vector<Located> items = r->Items(*x);
    for (size_t i = 0; i < items.size(); ++i) {
      p.on_errors.push_back(ReadErrorRule(r, items[i], defaults, &owners, i, x->path));
    }
  }

  if (auto x = f.Take("on_timeout"); x && r->ExpectMap(*x)) {
    MapFields t(r, *x);
    p.on_timeout = ReadClassPolicy(r, t, defaults);
    t.Finish({"strategy", "max_attempts", "then"});
  }

  if (auto x = f.Take("on_high_latency")) p.on_high_latency = ReadHighLatency(r, *x, defaults);
  if (auto x = f.Take("backoff")) p.backoff = ReadBackoff(r, *x, p.default_strategy);
  if (auto x = f.Take("retry_after_handling")) {
    p.retry_after = ReadRetryAfter(r, *x, p.default_strategy);
  }
  if (auto x = f.Take("max_retry_duration_ms")) {
    if (auto n = r->Milliseconds(*x)) p.max_retry_duration_ms = *n;
  }
  if (auto x = f.Take("cross_interface")) {
    if (auto c = r->Enum<CrossInterface>(
            *x, {{"translate", CrossInterface::kTranslate}, {"skip", CrossInterface::kSkip}})) {
      p.cross_interface = *c;
    }
  }
  if (auto x = f.Take("hedge")) p.hedge = ReadHedge(r, *x);

  f.Finish({"fallback_models", "default_strategy", "default_max_attempts", "on_status_codes",
            "on_timeout", "on_high_latency", "backoff", "retry_after_handling",
            "max_retry_duration_ms", "cross_interface", "on_errors", "hedge"});
  return p;
}

}  // namespace rebound
