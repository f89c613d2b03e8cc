// Fault soak (issue 5): 10,000 calls, unary and streaming, at a steady
// open-loop rate split across two replicas of a real fleet, against three
// fake providers that each fail at random in every way the fake can (a
// seeded script per provider, so every run meets the same faults in the same
// order), while the control plane is SIGKILLed and restarted on the same port
// and state dir twice and policies are pushed. Then:
//
//   - every call got a final answer: OK, or an error carrying an ErrorDetail;
//     exactly 10,000 answers, none later than its deadline plus a slack;
//   - every answer is consistent with the faults its attempts met at the
//     fakes (request records, matched by x-request-id): an OK call was
//     served by an attempt whose fault allows success, its unary body is the
//     fake's completion and its stream is complete; the attempts a call
//     reports are the requests the fakes received for it;
//   - nothing is in flight, and each replica's memory did not grow past a
//     bound from the warm-up to the end;
//   - the fleet converged: both replicas ACKed the last pushed version, and
//     the long-lived global blocks taken at known points (one while the
//     control plane was up, one during each outage) are the control plane's
//     whole block table and are in force on both replicas.
//
// Calls are asynchronous (gRPC callback API): the sender never waits for an
// answer, so a slow or stalled call cannot lower the offered rate.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/gateway_client.h"
#include "gtest/gtest.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "rebound/v1/gateway.grpc.pb.h"
#include "tests/integration/fleet_fixture.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {
namespace {

// ---------------------------------------------------------------- the load

constexpr int kCalls = 10000;
constexpr double kCallsPerSecond = 150;  // 10,000 calls in ~67 s
constexpr int kWarmupCalls = 2000;       // RSS baseline after these were sent
// Control-plane outages start when these shares of the calls were sent.
constexpr int kFirstKillAt = kCalls * 30 / 100;
constexpr int kSecondKillAt = kCalls * 65 / 100;
constexpr absl::Duration kOutage = absl::Seconds(3);
// Policy pushes (the second between the outages, so the restarted control
// plane must serve a persisted version the replicas already ACKed).
constexpr int kFirstPushAt = kCalls * 15 / 100;
constexpr int kSecondPushAt = kCalls * 50 / 100;
constexpr int kLongBlockProbeAt = kCalls * 10 / 100;

// ---------------------------------------------------------------- timing
//
// Per-attempt timeouts and the retry budget bound every call: the first
// attempt ends within total_ms, the budget (max_retry_duration_ms) starts at
// the first failure, and an attempt started just before the budget ends runs
// at most total_ms more. Waits are bounded by the budget.
constexpr int kConnectMs = 500;
constexpr int kFirstByteMs = 800;
constexpr int kIdleMs = 300;
constexpr int kTotalMs = 1200;
constexpr int kRetryBudgetMs = 1500;
constexpr int kWorstCallMs = kTotalMs + kRetryBudgetMs + kTotalMs;
// Scheduling on a loaded 2-core machine, gRPC's deadline timer and the trip
// back to the client.
constexpr int kSlackMs = 500;
constexpr int kDeadlineMs = 5000;
constexpr absl::Duration kSlack = absl::Milliseconds(kSlackMs);
constexpr absl::Duration kDeadline = absl::Milliseconds(kDeadlineMs);
static_assert(kWorstCallMs + kSlackMs < kDeadlineMs,
              "the deadline must leave room for the slowest call the policy allows, so that "
              "every call is answered by the gateway (with an ErrorDetail) before it");
// Above the slow-but-successful faults' delay, below first_byte_ms.
constexpr int kLatencyThresholdMs = 400;
constexpr int kSlowMs = 450;
static_assert(kLatencyThresholdMs < kSlowMs && kSlowMs < kFirstByteMs);
// Retry-After and latency blocks from the random faults are capped at this,
// so that only the long probe blocks outlive the run.
constexpr int kShortBlockSeconds = 2;
constexpr int kLongBlockSeconds = 300;

constexpr char kToken[] = "sk-test-soak-cp-token-7c41e2";  // the replicas'
constexpr char kOperatorToken[] = "sk-test-soak-operator-token-e90a3f";
constexpr char kAlpha[] = "alpha/a1";
constexpr char kBeta[] = "beta/b1";
constexpr char kGamma[] = "gamma/g1";
const std::vector<std::string> kProbes = {"delta/p1", "delta/p2", "delta/p3"};

// ---------------------------------------------------------------- faults

// One fault of the catalogue: its spec and whether an attempt that met it
// can end in success, unary and streaming.
struct Fault {
  const char* spec;
  int weight;  // per mille of the requests
  bool unary_can_succeed;
  bool stream_can_succeed;
  // A successful unary answer carries the fake's completion JSON (not so
  // for malformed_event_at, whose unary body is broken JSON: the gateway
  // forwards a complete 200 body as it is).
  bool unary_body_intact = true;
};

// Every way the fake can fail, and the slow-but-successful answers.
// Retry-After faults are rare and short: each blocks its model (or
// provider) for 0.3-2 s on every replica, and at ~50 requests/s per fake a
// higher rate would keep the models blocked most of the time, turning the
// soak into a test of fast refusals.
constexpr Fault kCatalogue[] = {
    {"", 640, true, true},
    {"delay_first_token_ms=450", 10, true, true},  // high latency (ttfb)
    {"delay_headers_ms=450", 10, true, true},
    {"token_interval_ms=15", 30, true, true},
    {"response_bytes=16384", 20, true, true},
    {"malformed_event_at=2", 15, true, true, false},  // a stream drops the bad event
    {"no_done", 15, true, false},                     // an unterminated stream fails
    {"status=429", 40, false, false},                 // rate limited, no Retry-After
    {"status=429;retry_after_ms=300", 5, false, false},
    {"status=429;retry_after=1", 1, false, false},
    {"status=429;retry_after_date=+1", 1, false, false},
    {"status=429;header=x-ratelimit-reset-requests:1s", 1, false, false},
    {"status=502;retry_after=1", 1, false, false},
    {"status=503", 40, false, false},
    {"status=500", 30, false, false},
    {"status=529", 15, false, false},
    {"status=400", 5, false, false},  // final: not retried
    {"reset_before_headers", 30, false, false},
    {"close_before_headers", 20, false, false},
    {"stall", 15, false, false},  // first-byte timeout
    {"stall_after_events=2", 15, false, false},
    {"cut_after_events=2", 30, false, false},
};

// A seeded script: one fault index per request the fake will receive.
std::vector<int> Script(uint32_t seed, size_t length, int success_bonus) {
  std::vector<int> weights;
  for (const Fault& f : kCatalogue) weights.push_back(f.weight);
  weights[0] += success_bonus;
  std::mt19937 rng(seed);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::vector<int> script(length);
  for (int& f : script) f = pick(rng);
  return script;
}

// ---------------------------------------------------------------- config

std::string Timeouts() {
  return absl::StrCat("    timeouts: {connect_ms: ", kConnectMs, ", first_byte_ms: ", kFirstByteMs,
                      ", idle_ms: ", kIdleMs, ", total_ms: ", kTotalMs, "}\n");
}

struct Fakes {
  std::string alpha, beta, gamma, delta;  // base URLs
};

// The model_providers section. `version` varies what a push changes
// (backoff, fallback order) without touching the timing bounds above.
std::string Providers(const Fakes& f, int version) {
  std::string alpha_fallbacks = version >= 2 ? "[gamma/g1, beta/b1]" : "[beta/b1, gamma/g1]";
  int backoff_base = version >= 1 ? 30 : 20;
  std::string common_latency = absl::StrCat(
      "      on_high_latency: {threshold_ms: ", kLatencyThresholdMs,
      ", measure: ttfb, min_triggers: 5, trigger_window_seconds: 2, block_duration_seconds: ",
      kShortBlockSeconds, ", scope: model, apply_to: global}\n");
  std::string out = "model_providers:\n";
  absl::StrAppend(
      &out,
      ProviderEntry(kAlpha, f.alpha, "sk-test-soak-alpha-9f2d61",
                    absl::StrCat("    default: true\n", Timeouts(),
                                 "    retry_policy:\n"
                                 "      fallback_models: ", alpha_fallbacks, "\n"
                                 "      default_strategy: different_provider\n"
                                 "      default_max_attempts: 2\n"
                                 "      on_status_codes:\n"
                                 "        - {codes: [429], strategy: different_provider, max_attempts: 3}\n"
                                 "        - {codes: [\"500-504\", 529], strategy: same_model, max_attempts: 2}\n"
                                 "      on_timeout: {strategy: different_provider, max_attempts: 2}\n",
                                 common_latency,
                                 "      backoff: {apply_to: same_model, base_ms: ", backoff_base,
                                 ", max_ms: 200, jitter: true}\n"
                                 "      retry_after_handling: {scope: model, apply_to: global, "
                                 "max_retry_after_seconds: ", kShortBlockSeconds, "}\n"
                                 "      max_retry_duration_ms: ", kRetryBudgetMs, "\n")),
      ProviderEntry(kBeta, f.beta, "sk-test-soak-beta-04be7a",
                    absl::StrCat(Timeouts(),
                                 "    retry_policy:\n"
                                 "      fallback_models: [gamma/g1, alpha/a1]\n"
                                 "      default_max_attempts: 2\n"
                                 "      on_status_codes:\n"
                                 "        - {codes: [429], strategy: same_model, max_attempts: 2}\n"
                                 "      backoff: {apply_to: global, base_ms: ", backoff_base * 2,
                                 ", max_ms: 400}\n"
                                 "      retry_after_handling: {scope: provider, apply_to: global, "
                                 "max_retry_after_seconds: ", kShortBlockSeconds, "}\n"
                                 "      max_retry_duration_ms: ", kRetryBudgetMs, "\n")),
      ProviderEntry(kGamma, f.gamma, "sk-test-soak-gamma-c3d118",
                    absl::StrCat(Timeouts(),
                                 "    retry_policy:\n"
                                 "      fallback_models: [alpha/a1]\n"
                                 "      retry_after_handling: {scope: model, apply_to: request, "
                                 "max_retry_after_seconds: ", kShortBlockSeconds, "}\n"
                                 "      max_retry_duration_ms: ", kRetryBudgetMs, "\n")));
  for (const std::string& probe : kProbes) {
    absl::StrAppend(&out,
                    ProviderEntry(probe, f.delta, "sk-test-soak-delta-5e90af",
                                  absl::StrCat(Timeouts(),
                                               "    retry_policy:\n"
                                               "      default_max_attempts: 1\n"
                                               "      retry_after_handling: {scope: model, "
                                               "apply_to: global, max_retry_after_seconds: ",
                                               kLongBlockSeconds, "}\n")));
  }
  return out;
}

// ---------------------------------------------------------------- one call

struct Outcome {
  bool answered = false;
  bool streaming = false;
  int replica = 0;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::string message;
  std::optional<v1::ErrorDetail> detail;
  std::vector<v1::AttemptRecord> attempts;
  std::string served_model;
  std::string body;       // unary OK
  std::string kinds;      // streaming: S/D/R/E per event
  std::string last_data;  // streaming: the last data event before `end`
  absl::Duration duration;
};

// Collects the answers; calls finish on gRPC's threads.
class Answers {
 public:
  explicit Answers(int n) : outcomes_(n) {}

  Outcome& slot(int i) { return outcomes_[i]; }
  void Done() {
    absl::MutexLock lock(&mu_);
    ++done_;
  }
  // Waits until `n` calls are done or `timeout` passes; returns how many are.
  int WaitFor(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
    return done_;
  }
  const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  std::vector<Outcome> outcomes_;
  absl::Mutex mu_;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
};

void Finish(Outcome& out, const grpc::Status& status, absl::Time start) {
  out.duration = absl::Now() - start;
  out.code = status.error_code();
  out.message = status.error_message();
  if (!status.ok()) {
    out.detail = client::DecodeErrorDetail(status);
    if (out.detail) out.attempts.assign(out.detail->attempts().begin(), out.detail->attempts().end());
  }
  out.answered = true;
}

class UnaryCall {
 public:
  static void Start(v1::Gateway::Stub* stub, v1::CompletionRequest request, Outcome& out,
                    Answers& answers) {
    auto* call = new UnaryCall(std::move(request), out, answers);
    stub->async()->Complete(&call->context_, &call->request_, &call->response_,
                            [call](grpc::Status status) { call->OnDone(status); });
  }

 private:
  UnaryCall(v1::CompletionRequest request, Outcome& out, Answers& answers)
      : request_(std::move(request)), out_(out), answers_(answers), start_(absl::Now()) {
    context_.set_deadline(absl::ToChronoTime(start_ + kDeadline));
  }
  void OnDone(const grpc::Status& status) {
    Finish(out_, status, start_);
    if (status.ok()) {
      out_.served_model = response_.served_model();
      out_.body = response_.body();
      out_.attempts.assign(response_.attempts().begin(), response_.attempts().end());
    }
    Answers& answers = answers_;
    delete this;
    answers.Done();
  }

  grpc::ClientContext context_;
  v1::CompletionRequest request_;
  v1::CompletionResponse response_;
  Outcome& out_;
  Answers& answers_;
  absl::Time start_;
};

class StreamCall : public grpc::ClientReadReactor<v1::StreamEvent> {
 public:
  static void Start(v1::Gateway::Stub* stub, v1::CompletionRequest request, Outcome& out,
                    Answers& answers) {
    auto* call = new StreamCall(std::move(request), out, answers);
    stub->async()->StreamComplete(&call->context_, &call->request_, call);
    call->StartRead(&call->event_);
    call->StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    switch (event_.event_case()) {
      case v1::StreamEvent::kAttemptStarted: out_.kinds += 'S'; break;
      case v1::StreamEvent::kData:
        out_.kinds += 'D';
        out_.last_data = event_.data().data();
        break;
      case v1::StreamEvent::kReset: out_.kinds += 'R'; break;
      case v1::StreamEvent::kEnd:
        out_.kinds += 'E';
        out_.served_model = event_.end().served_model();
        out_.attempts.assign(event_.end().attempts().begin(), event_.end().attempts().end());
        break;
      default: out_.kinds += '?'; break;
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    std::vector<v1::AttemptRecord> from_end = std::move(out_.attempts);
    Finish(out_, status, start_);
    if (status.ok()) out_.attempts = std::move(from_end);
    Answers& answers = answers_;
    delete this;
    answers.Done();
  }

 private:
  StreamCall(v1::CompletionRequest request, Outcome& out, Answers& answers)
      : request_(std::move(request)), out_(out), answers_(answers), start_(absl::Now()) {
    context_.set_deadline(absl::ToChronoTime(start_ + kDeadline));
  }

  grpc::ClientContext context_;
  v1::CompletionRequest request_;
  v1::StreamEvent event_;
  Outcome& out_;
  Answers& answers_;
  absl::Time start_;
};

// ---------------------------------------------------------------- checks

int64_t VmRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kib = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits += c;
      }
      if (absl::SimpleAtoi(digits, &kib)) return kib;
    }
  }
  ADD_FAILURE() << "no VmRSS for pid " << pid;
  return 0;
}

// Sum of every series of `family` whose labels contain all of `labels`.
double SumSeries(const std::string& metrics, const std::string& family,
                 const std::vector<std::string>& labels = {}) {
  double sum = 0;
  size_t at = 0;
  const std::string head = absl::StrCat("\n", family, "{");
  while ((at = metrics.find(head, at)) != std::string::npos) {
    size_t end = metrics.find('\n', at + 1);
    std::string line = metrics.substr(at + 1, end - at - 1);
    at = end;
    bool match = true;
    for (const std::string& l : labels) match &= absl::StrContains(line, l);
    double v = 0;
    if (match && absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

// The fault every request a fake received met: the script is consumed in
// the order the fake records requests (one event loop).
struct Received {
  std::string model;  // configured model id of the fake's models
  int fault = 0;      // index into kCatalogue
};

class SoakFleet : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [slot, name] : {std::pair{&alpha_, "alpha"}, std::pair{&beta_, "beta"},
                              std::pair{&gamma_, "gamma"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *slot = *std::move(started);
    }
    // Every request to the probe models is a 429 with a long Retry-After.
    auto delta = FakeProvider::Start(
        {"--default", absl::StrCat("status=429;retry_after=", kLongBlockSeconds)}, "delta");
    ASSERT_TRUE(delta.ok()) << delta.status();
    delta_ = *std::move(delta);
    fakes_ = {alpha_->base_url(), beta_->base_url(), gamma_->base_url(), delta_->base_url()};

    token_path_ = WriteTempFile("cp-token", absl::StrCat(kToken, "\n"));
    operator_token_path_ = WriteTempFile("cp-operator-token", absl::StrCat(kOperatorToken, "\n"));
    state_dir_ = absl::StrCat(TestTempDir(), "/cp-state");
    auto cp = StartControlPlane("127.0.0.1:0", state_dir_, token_path_, operator_token_path_);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
    for (const char* id : {"r1", "r2"}) {
      std::string yaml = absl::StrCat(ServerSection(), "control_plane:\n  addresses: [\"",
                                      cp_->grpc_address, "\"]\n  replica_id: ", id,
                                      "\n  token_file: ", token_path_, "\n", Providers(fakes_, 0));
      auto replica = StartReplica(id, yaml, {});
      ASSERT_TRUE(replica.ok()) << replica.status();
      replicas_.push_back(*std::move(replica));
    }
    ASSERT_TRUE(WaitBothConnected(absl::Seconds(15))) << State().DebugString();
  }

  v1::GetStateResponse State() {
    v1::GetStateResponse response;
    grpc::Status status = cp_->stub->GetState(TokenContext(kOperatorToken).get(), {}, &response);
    if (!status.ok()) {
      response.Clear();
      response.mutable_policy_version()->set_hash(absl::StrCat(
          "GetState failed: ", static_cast<int>(status.error_code()), " ", status.error_message()));
    }
    return response;
  }
  bool WaitBothConnected(absl::Duration timeout) {
    return WaitUntil(
        [&] {
          v1::GetStateResponse s = State();
          auto a = FindReplica(s, "r1");
          auto b = FindReplica(s, "r2");
          return a && b && a->connected() && b->connected();
        },
        timeout, absl::Milliseconds(50));
  }
  v1::PushPolicyResponse Push(const std::string& yaml) {
    RecordSecretsInFile("pushed-policy.yaml", yaml);  // keys only pushed are secrets too
    v1::PushPolicyRequest request;
    request.set_yaml(yaml);
    v1::PushPolicyResponse response;
    grpc::Status status =
        cp_->stub->PushPolicy(TokenContext(kOperatorToken).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }
  // SIGKILL, then a restart on the same port and state dir after kOutage,
  // running `during` while the control plane is down.
  void Outage(const std::function<void()>& during) {
    std::string address = cp_->grpc_address;
    cp_->process->Signal(SIGKILL);
    EXPECT_EQ(cp_->process->Wait(absl::Seconds(5)), 128 + SIGKILL);
    dead_cps_.push_back(std::move(cp_));  // kept: their outputs are scanned
    absl::Time down = absl::Now();
    during();
    absl::SleepFor(kOutage - (absl::Now() - down));
    auto restarted = StartControlPlane(address, state_dir_, token_path_, operator_token_path_);
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    cp_ = *std::move(restarted);
  }
  // A call to a probe model on `replica`: one attempt, which the delta fake
  // answers 429 + Retry-After, creating a long global block.
  client::CallResult Probe(int replica, const std::string& model) {
    v1::CompletionRequest request = ChatRequest(model);
    request.mutable_retry()->set_disable_retries(true);
    // Only the probe model itself: a blocked primary must not be replaced.
    request.mutable_retry()->add_allowed_models(model);
    return replicas_[replica]->client->Complete(request, kDeadline);
  }

  // Each fake's records, with the fault each request met.
  std::map<std::string, std::vector<std::pair<std::string, Received>>> ReceivedById() {
    std::map<std::string, std::vector<std::pair<std::string, Received>>> by_id;
    for (auto [fake, model, script] :
         {std::tuple{alpha_.get(), kAlpha, &scripts_[0]}, std::tuple{beta_.get(), kBeta, &scripts_[1]},
          std::tuple{gamma_.get(), kGamma, &scripts_[2]}}) {
      std::vector<RecordedRequest> records = fake->Requests();
      EXPECT_LE(records.size(), script->size()) << model << ": the script ran out";
      for (size_t k = 0; k < records.size() && k < script->size(); ++k) {
        by_id[Header(records[k], "x-request-id").value_or("")].push_back(
            {model, Received{model, (*script)[k]}});
      }
    }
    return by_id;
  }

  std::unique_ptr<FakeProvider> alpha_, beta_, gamma_, delta_;
  Fakes fakes_;
  std::vector<int> scripts_[3];
  std::string token_path_;           // the replicas'
  std::string operator_token_path_;  // the control plane's --operator-token-file
  std::string state_dir_;
  std::unique_ptr<ControlPlane> cp_;
  std::vector<std::unique_ptr<ControlPlane>> dead_cps_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// What is wrong with call `i`'s answer given what its attempts met; empty
// when nothing.
std::string CheckCall(const Outcome& out,
                      const std::vector<std::pair<std::string, Received>>& received) {
  std::string problems;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) absl::StrAppend(&problems, " ", what, ";");
  };
  expect(out.duration <= kDeadline + kSlack,
         absl::StrCat("took ", absl::FormatDuration(out.duration)));
  if (out.code != grpc::StatusCode::OK) {
    expect(out.detail.has_value(),
           absl::StrCat("error ", std::string(client::StatusCodeName(out.code)), " '", out.message,
                        "' without an ErrorDetail"));
    expect(out.detail.has_value() && out.detail->reason() != v1::ERROR_REASON_UNSPECIFIED,
           "ErrorDetail without a reason");
  }
  // The attempts the gateway reports are the requests the fakes received,
  // model by model and in order.
  std::map<std::string, std::vector<int>> met;  // model -> faults, in order
  for (const auto& [model, r] : received) met[model].push_back(r.fault);
  std::map<std::string, int> reported;
  for (const v1::AttemptRecord& a : out.attempts) ++reported[a.model()];
  for (const auto& [model, faults] : met) {
    expect(reported[model] == static_cast<int>(faults.size()),
           absl::StrCat(model, " received ", faults.size(), " requests, the gateway reports ",
                        reported[model], " attempts"));
  }
  for (const auto& [model, n] : reported) {
    expect(met.count(model) > 0, absl::StrCat(model, ": ", n, " attempts the fake never saw"));
  }
  if (out.attempts.empty()) return problems;
  const v1::AttemptRecord& last = out.attempts.back();
  auto& faults = met[last.model()];
  if (faults.empty()) return problems;
  const Fault& last_fault = kCatalogue[faults.back()];
  if (out.code == grpc::StatusCode::OK) {
    expect(last.model() == out.served_model,
           absl::StrCat("served by ", out.served_model, ", last attempt on ", last.model()));
    expect(out.streaming ? last_fault.stream_can_succeed : last_fault.unary_can_succeed,
           absl::StrCat("OK although the serving attempt met '", last_fault.spec, "'"));
    std::string name = out.served_model.substr(out.served_model.find('/') + 1);
    if (out.streaming) {
      // A complete stream after the last reset: started, data, the terminal
      // marker, end.
      size_t reset = out.kinds.rfind('R');
      std::string tail = out.kinds.substr(reset == std::string::npos ? 0 : reset + 1);
      expect(tail.size() >= 3 && tail.front() == 'S' && tail.back() == 'E' &&
                 tail.find_first_not_of('D', 1) == tail.size() - 1,
             absl::StrCat("events ", out.kinds));
      expect(out.last_data == "[DONE]", absl::StrCat("last data '", out.last_data, "'"));
    } else if (last_fault.unary_body_intact) {
      expect(absl::StrContains(out.body, "\"id\":\"chatcmpl-fake-") &&
                 absl::StrContains(out.body, absl::StrCat("\"model\":\"", name, "\"")),
             absl::StrCat("body is not ", name, "'s completion: ", out.body.substr(0, 200)));
    }
  } else {
    if (out.streaming) expect(out.kinds.find('E') == std::string::npos, "an error after `end`");
    if (last.http_status() >= 300) {
      expect(absl::StrContains(last_fault.spec, absl::StrCat("status=", last.http_status())),
             absl::StrCat("last attempt reports HTTP ", last.http_status(), " but met '",
                          last_fault.spec, "'"));
    }
  }
  return problems;
}

TEST_F(SoakFleet, TenThousandFaultyCallsAcrossControlPlaneRestartsAllAnsweredAndConverged) {
  // Scripts: enough entries for every attempt the calls can make. gamma
  // fails less often: the chain that mostly succeeds.
  const size_t script_length = kCalls * 2;
  scripts_[0] = Script(20240611, script_length, 0);
  scripts_[1] = Script(20240612, script_length, 0);
  scripts_[2] = Script(20240613, script_length, 200);
  for (int f = 0; f < 3; ++f) {
    std::vector<std::string> specs;
    for (int fault : scripts_[f]) specs.push_back(kCatalogue[fault].spec);
    ASSERT_TRUE((f == 0 ? alpha_ : f == 1 ? beta_ : gamma_)->SetScript(specs));
  }

  std::vector<std::unique_ptr<v1::Gateway::Stub>> stubs;
  for (auto& r : replicas_) stubs.push_back(v1::Gateway::NewStub(r->channel));
  Answers answers(kCalls);
  std::atomic<int> sent{0};

  std::vector<int64_t> warm_rss;
  std::vector<std::string> control_log;
  uint64_t last_pushed = 0;
  std::string last_hash;
  absl::Duration send_time;
  // The sender: open loop at a fixed rate, alternating replicas, unary and
  // streaming, spread over the three primaries.
  // It runs on its own thread: the control actions below start processes,
  // and a child started with PR_SET_PDEATHSIG (test_harness) is killed when
  // the thread that forked it exits, so they belong on the test's thread.
  const absl::Time t0 = absl::Now();
  std::thread sender([&] {
    for (int i = 0; i < kCalls; ++i) {
      absl::SleepFor(t0 + absl::Seconds(i / kCallsPerSecond) - absl::Now());
      const char* model = i % 10 < 5 ? kAlpha : i % 10 < 8 ? kBeta : kGamma;
      Outcome& out = answers.slot(i);
      out.replica = i % 2;
      out.streaming = (i / 2) % 2 == 1;
      v1::CompletionRequest request = ChatRequest(model, out.streaming);
      request.set_request_id(absl::StrCat("fs-", i));
      // Fail over among the three only (never to the probe models).
      for (const char* m : {kAlpha, kBeta, kGamma}) {
        if (m != std::string(model)) request.mutable_retry()->add_allowed_models(m);
      }
      if (i % 16 == 0) request.mutable_retry()->set_disable_retries(true);
      if (out.streaming) {
        StreamCall::Start(stubs[out.replica].get(), std::move(request), out, answers);
      } else {
        UnaryCall::Start(stubs[out.replica].get(), std::move(request), out, answers);
      }
      sent.store(i + 1);
    }
    send_time = absl::Now() - t0;
  });

  // Pushes, probes and outages at known points of the run, while the
  // sender keeps its rate.
  // Bounded: the sender reaches call n at t0 + n / kCallsPerSecond, so a
  // minute beyond that means it is stuck.
  auto wait_sent = [&](int n) {
    EXPECT_TRUE(WaitUntil([&] { return sent.load() >= n; },
                          t0 + absl::Seconds(n / kCallsPerSecond) + absl::Minutes(1) - absl::Now(),
                          absl::Milliseconds(5)))
        << "the sender did not reach call " << n;
  };
  auto log = [&](const std::string& what) {
    control_log.push_back(absl::StrCat("call ", sent.load(), ": ", what));
  };
  wait_sent(kLongBlockProbeAt);
  client::CallResult p1 = Probe(0, kProbes[0]);
  EXPECT_EQ(p1.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << p1.status.error_message();
  log("probe 1 on r1 (control plane up)");
  wait_sent(kFirstPushAt);
  v1::PushPolicyResponse first = Push(Providers(fakes_, 1));
  EXPECT_TRUE(first.accepted()) << first.DebugString();
  log(absl::StrCat("pushed version ", first.version().counter()));
  wait_sent(kWarmupCalls);
  for (auto& r : replicas_) warm_rss.push_back(VmRssKib(r->process->pid()));
  log("warm-up RSS sampled");
  wait_sent(kFirstKillAt);
  Outage([&] {
    client::CallResult p2 = Probe(0, kProbes[1]);
    EXPECT_EQ(p2.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    log("control plane killed; probe 2 on r1");
  });
  log("control plane restarted");
  wait_sent(kSecondPushAt);
  // The restarted control plane must be reachable again before a push.
  EXPECT_TRUE(WaitBothConnected(absl::Seconds(15)));
  v1::PushPolicyResponse second = Push(Providers(fakes_, 2));
  EXPECT_TRUE(second.accepted()) << second.DebugString();
  last_pushed = second.version().counter();
  last_hash = second.version().hash();
  log(absl::StrCat("pushed version ", last_pushed));
  wait_sent(kSecondKillAt);
  Outage([&] {
    client::CallResult p3 = Probe(1, kProbes[2]);
    EXPECT_EQ(p3.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    log("control plane killed; probe 3 on r2");
  });
  log("control plane restarted");
  sender.join();
  // Every call must be answered by its deadline: wait that long after the
  // last one was sent, plus the slack.
  const int answered = answers.WaitFor(kCalls, kDeadline + kSlack);
  const absl::Duration run_time = absl::Now() - t0;
  for (const std::string& line : control_log) std::cout << line << "\n";
  ASSERT_EQ(answered, kCalls) << "calls without a final answer by their deadline";

  // ---- per-call checks
  std::vector<int64_t> end_rss;
  for (auto& r : replicas_) end_rss.push_back(VmRssKib(r->process->pid()));
  auto received = ReceivedById();
  static const std::vector<std::pair<std::string, Received>> kNone;
  int mismatches = 0;
  int ok = 0, ok_failed_over = 0;
  absl::Duration slowest;
  std::map<std::string, int> by_code;
  for (int i = 0; i < kCalls; ++i) {
    const Outcome& out = answers.outcomes()[i];
    ASSERT_TRUE(out.answered) << i;
    auto it = received.find(absl::StrCat("fs-", i));
    std::string problems = CheckCall(out, it == received.end() ? kNone : it->second);
    if (!problems.empty() && ++mismatches <= 10) {
      ADD_FAILURE() << "fs-" << i << " (" << (out.streaming ? "stream" : "unary") << ", r"
                    << out.replica + 1 << ", " << client::StatusCodeName(out.code) << "):"
                    << problems;
    }
    slowest = std::max(slowest, out.duration);
    ++by_code[std::string(client::StatusCodeName(out.code))];
    if (out.code == grpc::StatusCode::OK) {
      ++ok;
      ok_failed_over += out.attempts.size() > 1;
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_LE(slowest, kDeadline + kSlack);
  // The mix is meaningful: plenty of successes, failovers and errors.
  EXPECT_GT(ok, kCalls / 2);
  EXPECT_GT(ok_failed_over, kCalls / 20);
  EXPECT_GT(kCalls - ok, kCalls / 50);

  // ---- nothing in flight; memory flat
  for (auto& r : replicas_) {
    EXPECT_TRUE(r->process->Running()) << r->id;
    EXPECT_TRUE(WaitUntil(
        [&] { return MetricValue(r->ScrapeMetrics(), "rebound_in_flight_requests") == 0; },
        absl::Seconds(2)))
        << r->id;
  }
  ASSERT_EQ(warm_rss.size(), 2u);
  for (size_t r = 0; r < replicas_.size(); ++r) {
    // 8,000 calls after the warm-up: a leak of even 1 KiB per call (8 MiB)
    // exceeds 20% of a ~20-40 MiB server plus 4 MiB for allocator noise.
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine grows RSS regardless
    EXPECT_LE(end_rss[r], warm_rss[r] * 12 / 10 + 4 * 1024)
        << replicas_[r]->id << ": warm " << warm_rss[r] << " KiB, end " << end_rss[r] << " KiB";
#endif
  }

  // ---- the fleet converged
  // Once the short blocks (at most kShortBlockSeconds, swept every second)
  // are gone, the control plane holds exactly the three probe blocks, both
  // replicas count exactly three model-scoped Retry-After blocks, both ACKed
  // the last version and run it.
  const std::set<std::string> probes(kProbes.begin(), kProbes.end());
  std::string last_state;
  bool converged = WaitUntil(
      [&] {
        v1::GetStateResponse s = State();
        last_state = s.DebugString();
        int64_t now_ms = absl::ToUnixMillis(absl::Now());
        std::set<std::string> active;
        for (const v1::Block& b : s.blocks()) {
          if (b.until_unix_ms() > now_ms) active.insert(b.name());
        }
        if (active != probes) return false;
        for (const v1::Block& b : s.blocks()) {
          if (b.kind() != v1::BLOCK_KIND_RETRY_AFTER || b.scope() != v1::BLOCK_SCOPE_MODEL) {
            return false;
          }
        }
        if (s.policy_version().counter() != last_pushed) return false;
        for (const char* id : {"r1", "r2"}) {
          auto r = FindReplica(s, id);
          if (!r || !r->connected() || r->acked_version().counter() != last_pushed ||
              r->acked_version().hash() != last_hash) {
            return false;
          }
        }
        for (auto& r : replicas_) {
          std::string m = r->ScrapeMetrics();
          if (SumSeries(m, "rebound_active_blocks", {"kind=\"retry_after\"", "scope=\"model\""}) !=
                  3 ||
              SumSeries(m, "rebound_active_blocks") != 3 ||
              MetricValue(m, "rebound_policy_version") != static_cast<double>(last_pushed)) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(kShortBlockSeconds + 15), absl::Milliseconds(100));
  EXPECT_TRUE(converged) << "control plane running: " << cp_->process->Running() << "\n"
                         << last_state << "\nr1:\n"
                         << replicas_[0]->ScrapeMetrics() << "\nr2:\n"
                         << replicas_[1]->ScrapeMetrics();
  EXPECT_EQ(last_pushed, 2u);
  // The blocks are in force, not only counted: every probe model is refused
  // on both replicas without a request reaching its provider.
  int delta_before = delta_->RequestCount();
  EXPECT_EQ(delta_before, 3);
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (const std::string& probe : kProbes) {
      client::CallResult blocked = Probe(static_cast<int>(r), probe);
      EXPECT_EQ(blocked.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << replicas_[r]->id << " " << probe << ": " << blocked.status.error_message();
      EXPECT_GT(blocked.pushback_ms.value_or(0), (kLongBlockSeconds - 120) * 1000)
          << replicas_[r]->id << " " << probe;
    }
  }
  EXPECT_EQ(delta_->RequestCount(), delta_before) << "a blocked probe model was called";

  std::cout << "fault soak: " << kCalls << " calls sent in " << absl::FormatDuration(send_time)
            << " (" << kCalls / absl::ToDoubleSeconds(send_time) << "/s), all answered after "
            << absl::FormatDuration(run_time) << "; slowest " << absl::FormatDuration(slowest)
            << " (bound " << absl::FormatDuration(kDeadline + kSlack) << "); OK " << ok << " ("
            << ok_failed_over << " after a failover)";
  for (const auto& [code, n] : by_code) {
    if (code != "OK") std::cout << ", " << code << " " << n;
  }
  std::cout << "\nRSS KiB warm -> end: r1 " << warm_rss[0] << " -> " << end_rss[0] << ", r2 "
            << warm_rss[1] << " -> " << end_rss[1] << "\n";
  RecordProperty("slowest_ms", static_cast<int>(absl::ToInt64Milliseconds(slowest)));
  RecordProperty("ok_calls", ok);
}

}  // namespace
}  // namespace rebound::testing
