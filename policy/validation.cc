#include "policy/validation.h"

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace rebound {
namespace {

// Model ids and provider names come from the file; they are quoted with
// QuoteForMessage so a control character in one cannot split a diagnostic.

// An entry whose model id could not be read is already reported; the checks
// below treat it as absent instead of piling follow-up errors onto it.
bool Usable(const ModelProvider& p) { return !p.provider.empty() && !p.bare_model.empty(); }

bool IsModelId(const std::string& id) {
  size_t slash = id.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < id.size();
}

// Whether a failover from `primary` may go to a model of another
// provider_interface: translated unless the policy says cross_interface: skip.
bool CrossesInterfaces(const ModelProvider& primary) {
  return primary.retry_policy && primary.retry_policy->cross_interface == CrossInterface::kTranslate;
}

// Whether `strategy` could ever pick a model other than `primary`'s.
bool CanQualify(Strategy strategy, const ModelProvider& primary,
                const std::vector<ModelProvider>& providers) {
  if (strategy == Strategy::kSameModel) return true;
  for (const ModelProvider& q : providers) {
    if (!Usable(q) || q.model_id == primary.model_id) continue;
    if (q.interface != primary.interface && !CrossesInterfaces(primary)) continue;
    if (strategy == Strategy::kLargerContext) {
      if (q.context_window > primary.context_window) return true;
      continue;
    }
    bool same_provider = q.provider == primary.provider;
    if (same_provider == (strategy == Strategy::kSameProvider)) return true;
  }
  return false;
}

// CanQualify for one primary, each strategy computed once: a policy may name
// the same strategy in every one of its rules, and each answer scans every
// provider.
class QualifyCache {
 public:
  QualifyCache(const ModelProvider& primary, const std::vector<ModelProvider>& providers)
      : primary_(primary), providers_(providers) {}
  const ModelProvider& primary() const { return primary_; }
  bool CanQualify(Strategy strategy) {
    std::optional<bool>& known = known_[static_cast<size_t>(strategy)];
    if (!known) known = rebound::CanQualify(strategy, primary_, providers_);
    return *known;
  }

 private:
  const ModelProvider& primary_;
  const std::vector<ModelProvider>& providers_;
  std::array<std::optional<bool>, 4> known_;  // one per Strategy
};

void CheckStrategy(Strategy strategy, const std::string& key, bool is_default_value,
                   QualifyCache& cache, Reporter* reporter) {
  if (cache.CanQualify(strategy)) return;
  const ModelProvider& primary = cache.primary();
  std::string which =
      strategy == Strategy::kSameProvider
          ? absl::StrCat("has the provider ", QuoteForMessage(primary.provider))
      : strategy == Strategy::kLargerContext
          ? absl::StrCat("has a context_window larger than ", primary.context_window,
                         primary.context_window == 0 ? " (this model sets none)" : "")
          : absl::StrCat("has a provider other than ", QuoteForMessage(primary.provider));
  reporter->WarningAt(
      key, absl::StrCat(AbslView(ToString(strategy)), is_default_value ? " (the default)" : "",
                        " can never find a target: no other configured model ",
                        CrossesInterfaces(primary)
                            ? std::string()
                            : absl::StrCat("with the ", AbslView(ToString(primary.interface)),
                                           " interface (cross_interface: skip) "),
                        which,
                        ", so these retries end the request instead"));
}

// The first usable provider of each model id, for lookups that would
// otherwise scan every provider.
using ModelIndex = std::map<std::string_view, size_t>;

void CheckFallbacks(const ModelProvider& p, const std::string& path,
                    const std::vector<ModelProvider>& providers, const ModelIndex& index,
                    Reporter* reporter) {
  const std::vector<std::string>& fallbacks = p.retry_policy->fallback_models;
  std::string list_path = JoinPath(path, "retry_policy.fallback_models");
  for (size_t k = 0; k < fallbacks.size(); ++k) {
    const std::string& id = fallbacks[k];
    if (!IsModelId(id)) continue;  // reported while reading
    std::string key = IndexPath(list_path, k);
    bool repeated = false;
    for (size_t j = 0; j < k && !repeated; ++j) {
      if (fallbacks[j] == id) {
        reporter->WarningAt(key, absl::StrCat(QuoteForMessage(id), " is already listed at ",
                                              IndexPath(list_path, j), "; it is tried once"));
        repeated = true;
      }
    }
    if (repeated) continue;
    if (id == p.model_id) {
      reporter->WarningAt(key, absl::StrCat(QuoteForMessage(id),
                                            " is this entry's own model; fallbacks are other "
                                            "models (strategy same_model retries the primary)"));
      continue;
    }
    auto found = index.find(id);
    const ModelProvider* target = found == index.end() ? nullptr : &providers[found->second];
    if (target == nullptr) {
      reporter->ErrorAt(key, absl::StrCat(QuoteForMessage(id),
                                          " names no configured model; every fallback must be "
                                          "the model of a model_providers entry"));
      continue;
    }
    if (target->interface != p.interface && !CrossesInterfaces(p)) {
      reporter->WarningAt(
          key, absl::StrCat(QuoteForMessage(id), " uses the ", AbslView(ToString(target->interface)),
                            " interface and this model the ", AbslView(ToString(p.interface)),
                            " one; cross_interface: skip means it is never tried"));
    }
  }
}

}  // namespace

void ValidateProviders(const std::vector<ModelProvider>& providers, std::string_view providers_key,
                       Reporter* reporter) {
  ModelIndex index;
  for (size_t i = 0; i < providers.size(); ++i) {
    if (Usable(providers[i])) index.emplace(providers[i].model_id, i);
  }
  const ModelProvider* first_default = nullptr;
  std::string first_default_path;
  for (size_t i = 0; i < providers.size(); ++i) {
    const ModelProvider& p = providers[i];
    if (!Usable(p)) continue;
    std::string path = IndexPath(providers_key, i);

    if (size_t j = index.at(p.model_id); j != i) {
      reporter->ErrorAt(JoinPath(path, "model"),
                        absl::StrCat("duplicate model id ", QuoteForMessage(p.model_id),
                                     "; it is already configured at line ",
                                     reporter->LineOf(IndexPath(providers_key, j)),
                                     ". Each model id may appear once"));
    }

    if (p.is_default) {
      if (first_default == nullptr) {
        first_default = &p;
        first_default_path = path;
      } else {
        reporter->ErrorAt(
            JoinPath(path, "default"),
            absl::StrCat("more than one provider has default: true (",
                         QuoteForMessage(first_default->model_id), " at line ", reporter->LineOf(JoinPath(first_default_path, "default")),
                         " already does); at most one may be the default"));
      }
    }

    if (!p.retry_policy) continue;
    const RetryPolicy& policy = *p.retry_policy;
    CheckFallbacks(p, path, providers, index, reporter);
    QualifyCache qualify(p, providers);

    // Strategies written in the file, plus default_strategy even when it is
    // the default: it governs every class that names no strategy.
    std::string policy_path = JoinPath(path, "retry_policy");
    std::string default_key = JoinPath(policy_path, "default_strategy");
    CheckStrategy(policy.default_strategy, default_key, !reporter->Written(default_key), qualify,
                  reporter);
    for (size_t k = 0; k < policy.on_status_codes.size(); ++k) {
      std::string key =
          JoinPath(IndexPath(JoinPath(policy_path, "on_status_codes"), k), "strategy");
      if (reporter->Written(key) &&
          policy.on_status_codes[k].policy.strategy != policy.default_strategy) {
        CheckStrategy(policy.on_status_codes[k].policy.strategy, key, false, qualify, reporter);
      }
    }
    std::string timeout_key = JoinPath(policy_path, "on_timeout.strategy");
    if (reporter->Written(timeout_key) && policy.on_timeout.strategy != policy.default_strategy) {
      CheckStrategy(policy.on_timeout.strategy, timeout_key, false, qualify, reporter);
    }
    for (size_t k = 0; k < policy.on_errors.size(); ++k) {
      std::string rule_path = IndexPath(JoinPath(policy_path, "on_errors"), k);
      const ClassPolicy& c = policy.on_errors[k].policy;
      std::string key = JoinPath(rule_path, "strategy");
      if (reporter->Written(key) && c.strategy != policy.default_strategy) {
        CheckStrategy(c.strategy, key, false, qualify, reporter);
      }
      if (c.then) CheckStrategy(c.then->strategy, JoinPath(rule_path, "then.strategy"), false,
                                qualify, reporter);
    }
    for (size_t k = 0; k < policy.on_status_codes.size(); ++k) {
      const ClassPolicy& c = policy.on_status_codes[k].policy;
      if (!c.then) continue;
      CheckStrategy(c.then->strategy,
                    JoinPath(IndexPath(JoinPath(policy_path, "on_status_codes"), k),
                             "then.strategy"),
                    false, qualify, reporter);
    }
    if (policy.on_timeout.then) {
      CheckStrategy(policy.on_timeout.then->strategy,
                    JoinPath(policy_path, "on_timeout.then.strategy"), false, qualify, reporter);
    }
    if (policy.hedge) {
      CheckStrategy(policy.hedge->strategy, JoinPath(policy_path, "hedge.strategy"),
                    !reporter->Written(JoinPath(policy_path, "hedge.strategy")), qualify,
                    reporter);
    }
    std::string latency_key = JoinPath(policy_path, "on_high_latency.strategy");
    if (policy.on_high_latency && reporter->Written(latency_key) &&
        policy.on_high_latency->policy.strategy != policy.default_strategy) {
      CheckStrategy(policy.on_high_latency->policy.strategy, latency_key, false, qualify,
                    reporter);
    }
  }
}

}  // namespace rebound
