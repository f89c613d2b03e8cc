// rebound-cp-bench: how fast the real rebound-controlplane moves blocks and
// policies. Starts the control plane as a process and talks to it with
// simulated replicas speaking rebound.v1.ControlPlane/Sync directly (each a
// stream of its own channel, with a reader thread), so that every time is
// measured on one clock, inside this process:
//
//  (a) propagation: replica A sends a BlockReport (created_at = send time);
//      the time until the block arrives on replica B's stream. Sequential
//      (one block in flight), --blocks blocks per run: p50, p99, max.
//  (b) policy push to N ACKs: from the start of the PushPolicy call to each
//      simulated replica's ACK (sent as soon as the Policy arrives): the max
//      over replicas; and to the moment GetState (polled every 2 ms) shows
//      every replica with the new acked version. For each N in --replicas.
//
// Each figure is the median over --repeat runs. Targets (ARCHITECTURE.md /
// the lead's brief): propagation p99 < 20 ms; 100 replicas ACK within 1 s.
//
//   rebound-cp-bench [--repeat 5] [--blocks 200] [--replicas 10,100]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rebound/v1/controlplane.grpc.pb.h"
#include "tests/integration/test_harness.h"

namespace rebound::bench {
namespace {

using Clock = std::chrono::steady_clock;
using rebound::testing::BinaryPath;
using rebound::testing::Subprocess;
using rebound::testing::TestTempDir;
using rebound::testing::WriteTempFile;

// The simulated replicas' token (Sync) and the operator's (the other RPCs).
constexpr char kReplicaToken[] = "cp-bench-token-1b7f";
constexpr char kOperatorToken[] = "cp-bench-operator-token-4c2e";

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

std::string PolicyYaml(int run) {
  return absl::StrCat(
      "# bench run ", run, "\n",
      "model_providers:\n"
      "  - model: openai/gpt-4o\n"
      "    base_url: https://api.openai.com\n"
      "    access_key: $OPENAI_API_KEY\n"
      "    default: true\n"
      "    retry_policy:\n"
      "      fallback_models: [anthropic/claude-3-5-sonnet]\n"
      "      retry_after_handling: {scope: model, apply_to: global}\n"
      "  - model: anthropic/claude-3-5-sonnet\n"
      "    base_url: https://api.anthropic.com\n"
      "    access_key: $ANTHROPIC_API_KEY\n");
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout,
                                             const char* token = kOperatorToken) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// A simulated replica: its own channel and Sync stream; ACKs every Policy
// the moment it arrives and timestamps arrivals.
class SimReplica {
 public:
  SimReplica(const std::string& target, std::string id, int channel_id) : id_(std::move(id)) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", channel_id);  // a connection of its own
    stub_ = v1::ControlPlane::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    context_ = Context(absl::Hours(1), kReplicaToken);
    stream_ = stub_->Sync(context_.get());
    v1::ReplicaMessage hello;
    hello.mutable_hello()->set_replica_id(id_);
    hello.mutable_hello()->set_build_version("cp-bench");
    Write(hello);
    reader_ = std::thread([this] { Read(); });
  }
  ~SimReplica() {
    context_->TryCancel();
    if (reader_.joinable()) reader_.join();
  }

  bool Write(const v1::ReplicaMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu_);
    return stream_->Write(m);
  }

  // Waits until the initial full snapshot arrived.
  bool WaitSynced(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return synced_ || ended_; }) && synced_;
  }
  // Arrival time of block `name` (waits up to `timeout`).
  std::optional<Clock::time_point> WaitBlock(const std::string& name,
                                             std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return blocks_.count(name) > 0 || ended_; }) ||
        blocks_.count(name) == 0) {
      return std::nullopt;
    }
    return blocks_[name];
  }
  // When this replica sent its ACK of `counter` (waits up to `timeout`).
  std::optional<Clock::time_point> WaitAck(uint64_t counter, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return acks_.count(counter) > 0 || ended_; }) ||
        acks_.count(counter) == 0) {
      return std::nullopt;
    }
    return acks_[counter];
  }
  const std::string& id() const { return id_; }

 private:
  void Read() {
    v1::ControlMessage m;
    while (stream_->Read(&m)) {
      Clock::time_point now = Clock::now();
      if (m.has_policy()) {
        v1::ReplicaMessage ack;
        *ack.mutable_ack()->mutable_version() = m.policy().version();
        ack.mutable_ack()->set_accepted(true);
        Write(ack);
        Clock::time_point sent = Clock::now();
        std::lock_guard<std::mutex> lock(mu_);
        acks_.emplace(m.policy().version().counter(), sent);
        cv_.notify_all();
      } else if (m.has_blocks()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (m.blocks().full_snapshot()) synced_ = true;
        for (const v1::Block& b : m.blocks().blocks()) blocks_.emplace(b.name(), now);
        cv_.notify_all();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  std::string id_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ReplicaMessage, v1::ControlMessage>> stream_;
  std::thread reader_;
  std::mutex write_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool synced_ = false;
  bool ended_ = false;
  std::map<std::string, Clock::time_point> blocks_;
  std::map<uint64_t, Clock::time_point> acks_;
};

struct Options {
  int repeat = 5;
  int blocks = 200;
  std::vector<int> replicas = {10, 100};
};

int Usage() {
  std::cerr << "usage: rebound-cp-bench [--repeat N] [--blocks N] [--replicas N,N,...]\n";
  return 2;
}

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {}

  bool StartControlPlane() {
    std::string replica_tokens =
        WriteTempFile("cp-bench.replica-token", absl::StrCat(kReplicaToken, "\n"));
    std::string operator_tokens =
        WriteTempFile("cp-bench.operator-token", absl::StrCat(kOperatorToken, "\n"));
    auto process = Subprocess::Start(
        {.binary = BinaryPath("rebound-controlplane"),
         .args = {"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--state-dir",
                  TestTempDir() + "/state", "--replica-token-file", replica_tokens,
                  "--operator-token-file", operator_tokens},
         .name = "controlplane"});
    if (!process.ok()) {
      std::cerr << process.status() << "\n";
      return false;
    }
    cp_ = *std::move(process);
    auto ready = cp_->WaitForLine("^rebound-controlplane ready grpc=\\S+ ", absl::Seconds(20));
    if (!ready.ok()) {
      std::cerr << ready.status() << "\n";
      return false;
    }
    size_t g = ready->find("grpc=") + 5;
    target_ = ready->substr(g, ready->find(' ', g) - g);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    stub_ = v1::ControlPlane::NewStub(
        grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args));
    return true;
  }

  // (a) One run: p50, p99, max in ms, or empty on failure.
  std::vector<double> Propagation(int run) {
    SimReplica a(target_, absl::StrCat("prop-a-", run), next_channel_++);
    SimReplica b(target_, absl::StrCat("prop-b-", run), next_channel_++);
    if (!a.WaitSynced(std::chrono::seconds(10)) || !b.WaitSynced(std::chrono::seconds(10))) {
      std::cerr << "propagation: replicas did not sync\n";
      return {};
    }
    std::vector<double> ms;
    for (int i = 0; i < options_.blocks; ++i) {
      std::string name = absl::StrCat("bench/run", run, "-m", i);
      v1::ReplicaMessage report;
      v1::Block* block = report.mutable_blocks()->add_blocks();
      block->set_scope(v1::BLOCK_SCOPE_MODEL);
      block->set_name(name);
      block->set_kind(v1::BLOCK_KIND_RETRY_AFTER);
      block->set_until_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Seconds(120)));
      block->set_origin(absl::StrCat("prop-a-", run));
      block->set_created_at_unix_us(absl::ToUnixMicros(absl::Now()));
      Clock::time_point sent = Clock::now();
      if (!a.Write(report)) {
        std::cerr << "propagation: write failed\n";
        return {};
      }
      std::optional<Clock::time_point> arrived = b.WaitBlock(name, std::chrono::seconds(5));
      if (!arrived) {
        std::cerr << "propagation: block " << name << " never arrived\n";
        return {};
      }
      ms.push_back(Ms(*arrived - sent));
    }
    // Lift them so later runs' snapshots stay small.
    for (int i = 0; i < options_.blocks; ++i) {
      v1::ClearBlockRequest clear;
      clear.set_scope(v1::BLOCK_SCOPE_MODEL);
      clear.set_name(absl::StrCat("bench/run", run, "-m", i));
      v1::ClearBlockResponse cleared;
      stub_->ClearBlock(Context(absl::Seconds(5)).get(), clear, &cleared);
    }
    return {Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0)};
  }

  // (b) One push to `replicas`: {max ACK sent, all ACKed in GetState, the
  // PushPolicy call itself}, in ms, or empty on failure.
  std::vector<double> PushToAcks(std::vector<std::unique_ptr<SimReplica>>& replicas) {
    v1::PushPolicyRequest request;
    request.set_yaml(PolicyYaml(++push_run_));
    v1::PushPolicyResponse response;
    Clock::time_point start = Clock::now();
    grpc::Status status = stub_->PushPolicy(Context(absl::Seconds(10)).get(), request, &response);
    Clock::time_point returned = Clock::now();
    if (!status.ok() || !response.accepted()) {
      std::cerr << "push failed: " << status.error_message() << " " << response.DebugString();
      return {};
    }
    uint64_t counter = response.version().counter();
    // GetState: every one of these replicas acked `counter`.
    std::map<std::string, bool> ours;
    for (const auto& r : replicas) ours[r->id()] = true;
    Clock::time_point visible{};
    Clock::time_point deadline = start + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      v1::GetStateResponse state;
      if (stub_->GetState(Context(absl::Seconds(5)).get(), {}, &state).ok()) {
        size_t acked = 0;
        for (const v1::ReplicaState& r : state.replicas()) {
          if (ours.count(r.replica_id()) && r.connected() &&
              r.acked_version().counter() == counter) {
            ++acked;
          }
        }
        if (acked == replicas.size()) {
          visible = Clock::now();
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (visible == Clock::time_point{}) {
      std::cerr << "not every replica's ACK showed in GetState within 10 s\n";
      return {};
    }
    double max_ack = 0;
    for (const auto& r : replicas) {
      std::optional<Clock::time_point> ack = r->WaitAck(counter, std::chrono::seconds(5));
      if (!ack) {
        std::cerr << r->id() << " never ACKed " << counter << "\n";
        return {};
      }
      max_ack = std::max(max_ack, Ms(*ack - start));
    }
    return {max_ack, Ms(visible - start), Ms(returned - start)};
  }

  int Run() {
    if (!StartControlPlane()) return 1;
    std::cout << "rebound-cp-bench: control plane at " << target_ << ", repeat "
              << options_.repeat << "\n";
    bool ok = true;

    std::vector<double> p50s, p99s, maxes;
    for (int run = 0; run < options_.repeat; ++run) {
      std::vector<double> r = Propagation(run);
      if (r.empty()) return 1;
      p50s.push_back(r[0]);
      p99s.push_back(r[1]);
      maxes.push_back(r[2]);
      std::printf("  propagation run %d: p50 %.3f ms  p99 %.3f ms  max %.3f ms (%d blocks)\n", run,
                  r[0], r[1], r[2], options_.blocks);
    }
    double p99 = Median(p99s);
    std::printf(
        "propagation A -> control plane -> B (median of %d runs x %d blocks): p50 %.3f ms  "
        "p99 %.3f ms  max %.3f ms  [target p99 < 20 ms: %s]\n",
        options_.repeat, options_.blocks, Median(p50s), p99, Median(maxes),
        p99 < 20 ? "PASS" : "FAIL");
    ok &= p99 < 20;

    for (int n : options_.replicas) {
      std::vector<std::unique_ptr<SimReplica>> replicas;
      for (int i = 0; i < n; ++i) {
        replicas.push_back(
            std::make_unique<SimReplica>(target_, absl::StrCat("sim-", n, "-", i), next_channel_++));
      }
      for (auto& r : replicas) {
        if (!r->WaitSynced(std::chrono::seconds(20))) {
          std::cerr << r->id() << " did not sync\n";
          return 1;
        }
      }
      std::vector<double> max_acks, visibles, calls;
      for (int run = 0; run < options_.repeat; ++run) {
        std::vector<double> r = PushToAcks(replicas);
        if (r.empty()) return 1;
        max_acks.push_back(r[0]);
        visibles.push_back(r[1]);
        calls.push_back(r[2]);
        std::printf("  push to %d replicas run %d: last ACK sent %.3f ms  all ACKs in GetState "
                    "%.3f ms  PushPolicy call %.3f ms\n",
                    n, run, r[0], r[1], r[2]);
      }
      double visible = Median(visibles);
      std::printf(
          "policy push -> %d replicas ACKed (median of %d runs): last ACK sent %.3f ms  all "
          "visible in GetState %.3f ms  PushPolicy call %.3f ms%s\n",
          n, options_.repeat, Median(max_acks), visible, Median(calls),
          n == 100 ? (visible < 1000 ? "  [target < 1 s: PASS]" : "  [target < 1 s: FAIL]")
                   : "");
      if (n == 100) ok &= visible < 1000;
    }
    return ok ? 0 : 3;
  }

 private:
  Options options_;
  std::unique_ptr<Subprocess> cp_;
  std::string target_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  int next_channel_ = 1;
  int push_run_ = 0;
};

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) {
  rebound::bench::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return rebound::bench::Usage();
    std::string value = argv[++i];
    if (arg == "--repeat") {
      if (!absl::SimpleAtoi(value, &options.repeat) || options.repeat < 1) {
        return rebound::bench::Usage();
      }
    } else if (arg == "--blocks") {
      if (!absl::SimpleAtoi(value, &options.blocks) || options.blocks < 1) {
        return rebound::bench::Usage();
      }
    } else if (arg == "--replicas") {
      options.replicas.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1000) return rebound::bench::Usage();
        options.replicas.push_back(n);
      }
    } else {
      return rebound::bench::Usage();
    }
  }
  return rebound::bench::Bench(options).Run();
}
