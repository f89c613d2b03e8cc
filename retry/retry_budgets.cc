#include "retry/retry_budgets.h"

#include "absl/strings/string_view.h"

namespace rebound {
namespace {

// Debian's Abseil has its own absl::string_view; the map's transparent hash
// takes that one.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::shared_ptr<RetryBudgets> RetryBudgets::Build(const Config& config,
                                                  const RetryBudgets* previous) {
  const RetryBudgetSettings& settings = config.server.retry_budget;
  if (!settings.enabled) return nullptr;
  std::shared_ptr<RetryBudgets> set(new RetryBudgets());
  for (const ModelProvider& m : config.providers) {
    if (set->budgets_.contains(Key(m.provider))) continue;
    std::shared_ptr<RetryBudget> budget;
    if (previous != nullptr) {
      auto it = previous->budgets_.find(Key(m.provider));
      if (it != previous->budgets_.end() && it->second->settings() == settings) {
        budget = it->second;
      }
    }
    if (budget == nullptr) budget = std::make_shared<RetryBudget>(settings);
    set->budgets_.emplace(m.provider, std::move(budget));
  }
  return set;
}

RetryBudget* RetryBudgets::Find(std::string_view provider) const {
  auto it = budgets_.find(Key(provider));
  return it == budgets_.end() ? nullptr : it->second.get();
}

void RetryBudgets::RecordFirstAttempt(std::string_view provider, absl::Time now) {
  if (RetryBudget* b = Find(provider)) b->RecordFirstAttempt(now);
}

bool RetryBudgets::TryWithdrawRetry(std::string_view provider, absl::Time now) {
  RetryBudget* b = Find(provider);
  return b == nullptr || b->TryWithdrawRetry(now);
}

}  // namespace rebound
