#include "gateway/gateway_core.h"

#include "absl/strings/str_cat.h"
#include "codec/redact.h"
#include "gateway/request_validation.h"

namespace rebound {
namespace {

// How long a caller refused for max_in_flight is told to wait.
constexpr int64_t kOverloadPushbackMs = 100;

}  // namespace

namespace {

// The process's hedge budget for `settings`: `previous` (and what it has
// counted) when the settings did not change, null when disabled.
std::shared_ptr<RetryBudget> BuildHedgeBudget(const RetryBudgetSettings& settings,
                                              std::shared_ptr<RetryBudget> previous) {
  if (!settings.enabled) return nullptr;
  if (previous != nullptr && previous->settings() == settings) return previous;
  return std::make_shared<RetryBudget>(settings);
}

}  // namespace

GatewayCore::GatewayCore(std::shared_ptr<const Config> config,
                         std::vector<std::unique_ptr<UpstreamWorker>>* workers, Metrics* metrics,
                         BlockTable* blocks, LatencyTracker* latency)
    : config_(std::move(config)),
      workers_(workers),
      metrics_(metrics),
      blocks_(blocks),
      latency_(latency) {
  absl::MutexLock lock(&mu_);
  retry_budgets_ = RetryBudgets::Build(*config_, nullptr);
  hedge_budget_ = BuildHedgeBudget(config_->server.hedge_budget, nullptr);
  secrets_ = std::make_shared<const std::vector<std::string>>(ConfiguredSecrets(*config_));
}

void GatewayCore::SetConfig(std::shared_ptr<const Config> config) {
  auto secrets = std::make_shared<const std::vector<std::string>>(ConfiguredSecrets(*config));
  absl::MutexLock lock(&mu_);
  retry_budgets_ = RetryBudgets::Build(*config, retry_budgets_.get());
  hedge_budget_ = BuildHedgeBudget(config->server.hedge_budget, hedge_budget_);
  secrets_ = std::move(secrets);
  config_ = std::move(config);
}

void GatewayCore::SetCallerTokens(std::shared_ptr<const BearerTokens> tokens) {
  absl::MutexLock lock(&mu_);
  caller_tokens_ = std::move(tokens);
}

CallSettings GatewayCore::Settings() const {
  absl::MutexLock lock(&mu_);
  return CallSettings{config_, caller_tokens_, retry_budgets_, secrets_, hedge_budget_};
}

std::optional<Refusal> GatewayCore::Admit(const Config& config) {
  int now_in_flight = in_flight_.fetch_add(1) + 1;
  metrics_->in_flight().Increment();
  if (draining_.load()) {
    return Refusal{grpc::StatusCode::UNAVAILABLE, v1::ERROR_REASON_SHUTTING_DOWN,
                   "the gateway is shutting down; retry on another replica", 0};
  }
  if (now_in_flight > config.server.max_in_flight) {
    return Refusal{grpc::StatusCode::RESOURCE_EXHAUSTED, v1::ERROR_REASON_OVERLOADED,
                   absl::StrCat("the gateway is at its limit of ", config.server.max_in_flight,
                                " calls in flight"),
                   kOverloadPushbackMs};
  }
  return std::nullopt;
}

void GatewayCore::CallEnded() {
  metrics_->in_flight().Decrement();
  if (in_flight_.fetch_sub(1) == 1) {
    // Wakes WaitForIdle: its condition is re-checked when the lock is released.
    absl::MutexLock lock(&idle_mu_);
  }
}

bool GatewayCore::WaitForIdle(absl::Time deadline) {
  // The condition is re-evaluated whenever idle_mu_ is released, and the
  // call that brings in_flight_ to 0 takes and releases it after doing so.
  absl::MutexLock lock(&idle_mu_);
  const absl::Condition idle(
      +[](std::atomic<int>* in_flight) { return in_flight->load() == 0; }, &in_flight_);
  return idle_mu_.AwaitWithDeadline(idle, deadline);
}

std::string GatewayCore::NewRequestId() {
  return rebound::NewRequestId(absl::Now(),
                               next_request_serial_.fetch_add(1, std::memory_order_relaxed));
}

UpstreamWorker& GatewayCore::NextWorker() {
  return *(*workers_)[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers_->size()];
}

UpstreamWorker* GatewayCore::WorkerOn(const EventLoop* loop) {
  for (auto& worker : *workers_) {
    if (&worker->loop == loop) return worker.get();
  }
  return nullptr;
}

std::vector<EventLoop*> GatewayCore::loops() const {
  std::vector<EventLoop*> out;
  for (auto& worker : *workers_) out.push_back(&worker->loop);
  return out;
}

CallEnv GatewayCore::MakeEnv(const CallSettings& settings, UpstreamWorker& worker,
                             std::string_view api) {
  CallEnv env;
  env.timers = &worker.loop;
  env.upstream = worker.client.get();
  env.metrics = metrics_;
  env.blocks = blocks_;
  env.latency = latency_;
  env.max_response_bytes = settings.config->server.max_response_bytes;
  env.stream_pause_timeout = absl::Milliseconds(settings.config->server.stream_pause_timeout_ms);
  env.secrets = settings.secrets;
  env.retry_budgets = settings.retry_budgets;
  env.hedge_budget = settings.hedge_budget;
  env.api = api;
  return env;
}

}  // namespace rebound
