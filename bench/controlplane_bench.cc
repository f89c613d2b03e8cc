// rebound-cp-bench: how fast the real rebound-controlplane moves blocks and
// policies, and what it costs, at fleet scale. Starts the control plane as a
// process and talks to it with simulated replicas speaking
// rebound.v1.ControlPlane/Sync directly, so that every time is measured on
// one clock, inside this process.
//
// Simulated replicas are gRPC callback-API streams (no thread per replica):
// --replicas_per_channel of them share one channel, each channel a TCP
// connection of its own. Each sends its Hello, ACKs every Policy the moment it
// arrives, and timestamps block arrivals.
//
// Setup: with --active_blocks N, a loader replica first reports N distinct
// blocks (23 h deadlines, so they stay active); every fleet replica then gets
// them in its initial snapshot, and everything below is measured with them
// active. For each fleet size in --replicas:
//
//  (a) propagation: a sender replica sends a BlockReport (created_at = send
//      time); the time until the block arrives at the first fleet replica
//      and at the last of them (all N). Sequential (one block in flight),
//      --blocks blocks per run: p50, p99, max.
//  (b) policy push to N ACKs: from the start of the PushPolicy call to the
//      last replica's ACK (sent as soon as the Policy arrives), and to the
//      moment GetState shows all N with the new acked version (GetState is
//      polled once the last ACK is sent, not during the fan-out: with 10,000
//      active blocks a GetState answer is ~1 MB and polling it would load the
//      control plane during the measurement).
//  (c) snapshot: a newly connecting replica (connection already up), from
//      the start of its Sync call to the arrival of its full snapshot.
//
// Cost: the control plane's RSS (/proc/<pid>/status VmRSS, VmHWM = peak) and
// CPU (/proc/<pid>/stat utime+stime) per phase: CPU ms per block propagated
// to all N, per push, per connecting replica, and per second idle. The bench's
// own CPU (getrusage) is printed beside it: it is the load generator, and both
// processes share this machine's cores, so a generator near a full core
// means the figures measure the pair, not the control plane alone.
//
// Each figure is the median over --repeat runs. Targets (ARCHITECTURE.md,
// issue 15): propagation to all replicas p99 <= 20 ms and a push ACKed by
// all replicas within 1 s, up to 1,000 replicas with 10,000 active blocks.
//
//   rebound-cp-bench [--repeat 5] [--blocks 200] [--replicas 10,100]
//                    [--active_blocks 0] [--replicas_per_channel 50]
//                    [--cp_resync_interval 30s]
//
// e.g. the fleet-scale run: --replicas 10,100,1000 --active_blocks 10000
// --repeat 3. The default (no flags) takes a few seconds.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/proc_stats.h"
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
// Names of measured blocks start with this; the loaded ones do not.
constexpr char kProbePrefix[] = "bench/";
// The targets, and the fleet size they are set for.
constexpr double kPropagationP99TargetMs = 20;
constexpr double kPushTargetMs = 1000;
constexpr int kTargetMaxReplicas = 1000;

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

void Authorize(grpc::ClientContext* context, const char* token) {
  context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  Authorize(context.get(), kOperatorToken);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

v1::Block MakeBlock(std::string name, std::string origin, absl::Duration ttl) {
  v1::Block block;
  block.set_scope(v1::BLOCK_SCOPE_MODEL);
  block.set_name(std::move(name));
  block.set_kind(v1::BLOCK_KIND_RETRY_AFTER);
  block.set_until_unix_ms(absl::ToUnixMillis(absl::Now() + ttl));
  block.set_origin(std::move(origin));
  block.set_created_at_unix_us(absl::ToUnixMicros(absl::Now()));
  return block;
}

// ---- process cost: /proc and getrusage ----

struct Cpu {
  double ms = 0;  // user + system
};

// utime + stime of every thread of `pid`, in ms.
Cpu ProcessCpu(pid_t pid) { return {ProcessCpuSeconds(pid).value_or(0) * 1000.0}; }

Cpu SelfCpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_usec) / 1000.0;
  };
  return {ms(usage.ru_utime) + ms(usage.ru_stime)};
}

// VmRSS and VmHWM (peak RSS) of `pid`, in MiB.
std::pair<double, double> ProcessRss(pid_t pid) {
  return {ResidentKib(pid).value_or(0) / 1024.0, PeakResidentKib(pid).value_or(0) / 1024.0};
}

// CPU of the control plane and of this process over one phase.
class Phase {
 public:
  explicit Phase(pid_t cp) : cp_(cp), cp_start_(ProcessCpu(cp)), self_start_(SelfCpu()) {
    wall_start_ = Clock::now();
  }
  double cp_ms() const { return ProcessCpu(cp_).ms - cp_start_.ms; }
  double self_ms() const { return SelfCpu().ms - self_start_.ms; }
  double wall_ms() const { return Ms(Clock::now() - wall_start_); }

 private:
  pid_t cp_;
  Cpu cp_start_, self_start_;
  Clock::time_point wall_start_;
};

// ---- what the simulated replicas saw ----

// Arrivals of the measured blocks and ACKs of the pushes, over the fleet
// (replicas 0..size-1). Replicas outside the fleet (index < 0) are ignored.
class Tracker {
 public:
  struct Probe {
    Clock::time_point first{}, last{};
    int arrived = 0;
    int first_index = -1;
    std::vector<char> seen;
  };

  explicit Tracker(int size) : size_(size) {}
  int size() const { return size_; }

  void ExpectBlock(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    probes_[name].seen.assign(static_cast<size_t>(size_), 0);
  }
  void ForgetBlock(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    probes_.erase(name);
  }
  void BlockArrived(int index, const std::string& name, Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = probes_.find(name);
    if (it == probes_.end() || it->second.seen[static_cast<size_t>(index)]) return;
    Probe& p = it->second;
    p.seen[static_cast<size_t>(index)] = 1;
    if (p.arrived++ == 0) {
      p.first = at;
      p.first_index = index;
    }
    p.last = std::max(p.last, at);
    if (p.arrived == size_) cv_.notify_all();
  }
  // Waits until every fleet replica has the block; nullopt on timeout.
  std::optional<Probe> WaitBlock(const std::string& name, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    bool all = cv_.wait_for(lock, timeout, [&] { return probes_[name].arrived == size_; });
    if (!all) return std::nullopt;
    return probes_[name];
  }

  void PolicyAcked(int index, uint64_t counter, Clock::time_point at) {
    std::lock_guard<std::mutex> lock(mu_);
    Probe& p = acks_[counter];
    if (p.seen.empty()) p.seen.assign(static_cast<size_t>(size_), 0);
    if (p.seen[static_cast<size_t>(index)]) return;
    p.seen[static_cast<size_t>(index)] = 1;
    if (p.arrived++ == 0) p.first = at;
    p.last = std::max(p.last, at);
    if (p.arrived == size_) cv_.notify_all();
  }
  std::optional<Probe> WaitAcks(uint64_t counter, std::chrono::milliseconds timeout,
                                int* acked) {
    std::unique_lock<std::mutex> lock(mu_);
    bool all = cv_.wait_for(lock, timeout, [&] { return acks_[counter].arrived == size_; });
    *acked = acks_[counter].arrived;
    if (!all) return std::nullopt;
    return acks_[counter];
  }

  void Synced(Clock::duration took) {
    std::lock_guard<std::mutex> lock(mu_);
    ++synced_;
    sync_ms_.push_back(Ms(took));
    cv_.notify_all();
  }
  bool WaitSynced(int count, std::chrono::milliseconds timeout, int* synced) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = cv_.wait_for(lock, timeout, [&] { return synced_ >= count; });
    *synced = synced_;
    return ok;
  }
  std::vector<double> sync_ms() {
    std::lock_guard<std::mutex> lock(mu_);
    return sync_ms_;
  }

 private:
  const int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Probe> probes_;
  std::map<uint64_t, Probe> acks_;
  int synced_ = 0;
  std::vector<double> sync_ms_;
};

// A simulated replica: one Sync stream over the callback API. `index` is its
// place in the tracker's fleet (-1: not in it). ACKs every Policy the moment
// it arrives; reports arrivals of measured blocks to the tracker.
class SimReplica final : public grpc::ClientBidiReactor<v1::ReplicaMessage, v1::ControlMessage> {
 public:
  SimReplica(v1::ControlPlane::Stub* stub, std::string id, int index, Tracker* tracker)
      : id_(std::move(id)), index_(index), tracker_(tracker), started_(Clock::now()) {
    Authorize(&context_, kReplicaToken);
    stub->async()->Sync(&context_, this);
    // Held until Shutdown, so that OnDone cannot run while Write may still
    // start an operation from outside a reaction.
    AddHold();
    StartRead(&read_);
    v1::ReplicaMessage hello;
    hello.mutable_hello()->set_replica_id(id_);
    hello.mutable_hello()->set_build_version("cp-bench");
    Write(std::move(hello));
    StartCall();
  }

  // Queues a message; one write is in flight at a time.
  void Write(v1::ReplicaMessage m) {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    if (writing_) {
      pending_.push_back(std::move(m));
      return;
    }
    writing_ = true;
    out_ = std::move(m);
    StartWrite(&out_);
  }

  // Cancels the stream and waits for gRPC to be done with it.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shut_down_ = true;
    }
    context_.TryCancel();
    RemoveHold();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return done_; });
  }

  bool ended() const { return ended_.load(); }
  // Blocks received up to and including the first full_snapshot message.
  size_t snapshot_blocks() const { return snapshot_blocks_.load(); }
  std::optional<Clock::duration> sync_time() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sync_time_;
  }
  const std::string& id() const { return id_; }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ok || pending_.empty()) {
      writing_ = false;
      if (!ok) pending_.clear();
      return;
    }
    out_ = std::move(pending_.front());
    pending_.pop_front();
    StartWrite(&out_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      ended_.store(true);
      return;
    }
    Clock::time_point now = Clock::now();
    if (read_.has_policy()) {
      v1::ReplicaMessage ack;
      *ack.mutable_ack()->mutable_version() = read_.policy().version();
      *ack.mutable_ack()->mutable_in_force() = read_.policy().version();
      ack.mutable_ack()->set_accepted(true);
      Write(std::move(ack));
      if (index_ >= 0) tracker_->PolicyAcked(index_, read_.policy().version().counter(), now);
    } else if (read_.has_blocks()) {
      const v1::BlockUpdate& update = read_.blocks();
      if (!synced_) snapshot_blocks_.fetch_add(static_cast<size_t>(update.blocks_size()));
      if (index_ >= 0) {
        for (const v1::Block& b : update.blocks()) {
          if (absl::StartsWith(b.name(), kProbePrefix)) tracker_->BlockArrived(index_, b.name(), now);
        }
      }
      if (update.full_snapshot() && !synced_) {
        synced_ = true;
        {
          std::lock_guard<std::mutex> lock(mu_);
          sync_time_ = now - started_;
        }
        tracker_->Synced(now - started_);
      }
    }
    read_.Clear();
    StartRead(&read_);
  }

  void OnDone(const grpc::Status& /*status*/) override {
    ended_.store(true);
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  const std::string id_;
  const int index_;
  Tracker* const tracker_;
  const Clock::time_point started_;
  grpc::ClientContext context_;
  v1::ControlMessage read_;  // touched by the read reactions only
  bool synced_ = false;      // likewise
  std::atomic<size_t> snapshot_blocks_{0};
  std::atomic<bool> ended_{false};

  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  bool writing_ = false;
  bool shut_down_ = false;
  bool done_ = false;
  v1::ReplicaMessage out_;
  std::deque<v1::ReplicaMessage> pending_;
  std::optional<Clock::duration> sync_time_;
};

// Channels, each a connection of its own (a distinct grpc.channel_id).
class Channels {
 public:
  Channels(std::string target, int* next_id) : target_(std::move(target)), next_id_(next_id) {}
  v1::ControlPlane::Stub* New() {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", (*next_id_)++);
    args.SetMaxReceiveMessageSize(64 << 20);
    auto channel = grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
    channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stubs_.push_back(v1::ControlPlane::NewStub(channel));
    return stubs_.back().get();
  }

 private:
  std::string target_;
  int* next_id_;
  std::vector<std::unique_ptr<v1::ControlPlane::Stub>> stubs_;
};

// Replicas created as `Add`ed; all shut down on destruction.
class Replicas {
 public:
  ~Replicas() { ShutdownAll(); }
  SimReplica* Add(std::unique_ptr<SimReplica> r) {
    replicas_.push_back(std::move(r));
    return replicas_.back().get();
  }
  void ShutdownAll() {
    for (auto& r : replicas_) r->Shutdown();
    replicas_.clear();
  }
  std::vector<std::unique_ptr<SimReplica>>& all() { return replicas_; }

 private:
  std::vector<std::unique_ptr<SimReplica>> replicas_;
};

struct Options {
  int repeat = 5;
  int blocks = 200;
  std::vector<int> replicas = {10, 100};
  int active_blocks = 0;
  int replicas_per_channel = 50;
  std::string cp_resync_interval;  // the control plane's --resync-interval; "": its default
};

int Usage() {
  std::cerr << "usage: rebound-cp-bench [--repeat N] [--blocks N] [--replicas N,N,...]\n"
               "                        [--active_blocks N] [--replicas_per_channel N]\n"
               "                        [--cp_resync_interval DURATION]\n";
  return 2;
}

// Figures of one fleet size, each a list of per-run values.
struct FleetResult {
  int n = 0;
  std::vector<double> first_p50, first_p99, all_p50, all_p99, all_max;
  std::vector<double> ack_last, ack_visible, push_call;
  std::vector<double> snapshot_ms;
  double connect_ms = 0, sync_p50 = 0, sync_max = 0;
  double cp_cpu_connect = 0, cp_cpu_idle_per_s = 0, cp_cpu_per_block = 0, cp_cpu_per_push = 0,
         cp_cpu_per_snapshot = 0;
  double self_cpu_connect = 0, self_cpu_per_block = 0, self_cpu_per_push = 0;
  double prop_cp_util = 0, prop_self_util = 0, push_cp_util = 0, push_self_util = 0;
  double rss_idle = 0, rss_after = 0;
};

class Bench {
 public:
  explicit Bench(Options options) : options_(std::move(options)) {}

  bool StartControlPlane() {
    std::string replica_tokens =
        WriteTempFile("cp-bench.replica-token", absl::StrCat(kReplicaToken, "\n"));
    std::string operator_tokens =
        WriteTempFile("cp-bench.operator-token", absl::StrCat(kOperatorToken, "\n"));
    std::vector<std::string> cp_args = {"--listen",       "127.0.0.1:0",
                                     "--metrics-listen", "127.0.0.1:0",
                                     "--state-dir",      TestTempDir() + "/state",
                                     "--replica-token-file", replica_tokens,
                                     "--operator-token-file", operator_tokens};
    if (!options_.cp_resync_interval.empty()) {
      cp_args.push_back("--resync-interval");
      cp_args.push_back(options_.cp_resync_interval);
    }
    auto process = Subprocess::Start(
        {.binary = BinaryPath("rebound-controlplane"), .args = cp_args, .name = "controlplane"});
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
    args.SetMaxReceiveMessageSize(256 << 20);
    stub_ = v1::ControlPlane::NewStub(
        grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args));
    channels_ = std::make_unique<Channels>(target_, &next_channel_);
    return true;
  }

  // Setup: the loader replica reports --active_blocks blocks and stays
  // connected (their origin); waits until GetState shows them all.
  bool LoadBlocks() {
    if (options_.active_blocks == 0) return true;
    Phase phase(cp_->pid());
    loader_ = std::make_unique<Tracker>(0);
    SimReplica* loader = setup_.Add(
        std::make_unique<SimReplica>(channels_->New(), "loader", -1, loader_.get()));
    int synced = 0;
    if (!loader_->WaitSynced(1, std::chrono::seconds(10), &synced)) {
      std::cerr << "loader did not sync\n";
      return false;
    }
    constexpr int kPerReport = 1000;  // the control plane's max_blocks_per_report
    for (int i = 0; i < options_.active_blocks; i += kPerReport) {
      v1::ReplicaMessage report;
      for (int j = i; j < std::min(options_.active_blocks, i + kPerReport); ++j) {
        *report.mutable_blocks()->add_blocks() =
            MakeBlock(absl::StrCat("load/model-", j), "loader", absl::Hours(23));
      }
      loader->Write(std::move(report));
    }
    Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
    size_t active = 0;
    while (Clock::now() < deadline) {
      v1::GetStateResponse state;
      if (stub_->GetState(Context(absl::Seconds(10)).get(), {}, &state).ok()) {
        active = static_cast<size_t>(state.blocks_size());
        if (active >= static_cast<size_t>(options_.active_blocks)) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (active < static_cast<size_t>(options_.active_blocks)) {
      std::cerr << "only " << active << " of " << options_.active_blocks << " blocks active\n";
      return false;
    }
    auto [rss, hwm] = ProcessRss(cp_->pid());
    std::printf("setup: %d active blocks loaded in %.0f ms; control plane CPU %.0f ms, RSS %.1f "
                "MiB (peak %.1f)\n",
                options_.active_blocks, phase.wall_ms(), phase.cp_ms(), rss, hwm);
    return true;
  }

  // (a) One run of --blocks sequential blocks from `sender` to the fleet:
  // {to first p50, p99, to all p50, p99, max, control plane CPU ms, bench
  // CPU ms, wall ms} (the CPU of the sends only, not of the clears after),
  // or empty on failure.
  std::vector<double> Propagation(SimReplica* sender, Tracker* tracker, int run) {
    std::vector<double> first, all;
    std::vector<std::string> names;
    Phase phase(cp_->pid());
    for (int i = 0; i < options_.blocks; ++i) {
      std::string name = absl::StrCat(kProbePrefix, "n", tracker->size(), "-run", run, "-m", i);
      names.push_back(name);
      tracker->ExpectBlock(name);
      v1::ReplicaMessage report;
      *report.mutable_blocks()->add_blocks() = MakeBlock(name, sender->id(), absl::Seconds(120));
      Clock::time_point sent = Clock::now();
      sender->Write(std::move(report));
      std::optional<Tracker::Probe> probe = tracker->WaitBlock(name, std::chrono::seconds(10));
      if (!probe) {
        std::cerr << "propagation: block " << name << " did not reach every replica in 10 s\n";
        return {};
      }
      first.push_back(Ms(probe->first - sent));
      all.push_back(Ms(probe->last - sent));
      tracker->ForgetBlock(name);
    }
    double cp_ms = phase.cp_ms(), self_ms = phase.self_ms(), wall_ms = phase.wall_ms();
    // Lift them so that the active set stays at --active_blocks.
    for (const std::string& name : names) {
      v1::ClearBlockRequest clear;
      clear.set_scope(v1::BLOCK_SCOPE_MODEL);
      clear.set_name(name);
      v1::ClearBlockResponse cleared;
      stub_->ClearBlock(Context(absl::Seconds(5)).get(), clear, &cleared);
    }
    return {Percentile(first, 0.5), Percentile(first, 0.99), Percentile(all, 0.5),
            Percentile(all, 0.99),     Percentile(all, 1.0),    cp_ms,
            self_ms,                   wall_ms};
  }

  // (b) One push to the fleet: {last ACK sent, all ACKed in GetState, the
  // PushPolicy call itself}, in ms, or empty on failure.
  std::vector<double> PushToAcks(Tracker* tracker, const std::vector<std::string>& ids) {
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
    int acked = 0;
    std::optional<Tracker::Probe> acks = tracker->WaitAcks(counter, std::chrono::seconds(20), &acked);
    if (!acks) {
      std::cerr << "push " << counter << ": " << acked << " of " << ids.size()
                << " replicas ACKed within 20 s\n";
      return {};
    }
    // GetState: every one of these replicas acked `counter`.
    std::unordered_map<std::string, bool> ours;
    for (const std::string& id : ids) ours[id] = true;
    Clock::time_point visible{};
    Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      v1::GetStateResponse state;
      if (stub_->GetState(Context(absl::Seconds(5)).get(), {}, &state).ok()) {
        size_t count = 0;
        for (const v1::ReplicaState& r : state.replicas()) {
          if (ours.count(r.replica_id()) && r.connected() &&
              r.acked_version().counter() == counter) {
            ++count;
          }
        }
        if (count == ids.size()) {
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
    return {Ms(acks->last - start), Ms(visible - start), Ms(returned - start)};
  }

  // (c) A newly connecting replica (its connection already up): from the
  // start of the call to its full snapshot, in ms; negative on failure.
  double SnapshotTime(int n, int run) {
    Tracker tracker(0);
    Replicas one;
    SimReplica* r = one.Add(std::make_unique<SimReplica>(
        channels_->New(), absl::StrCat("snap-", n, "-", run), -1, &tracker));
    int synced = 0;
    if (!tracker.WaitSynced(1, std::chrono::seconds(20), &synced)) return -1;
    if (r->snapshot_blocks() < static_cast<size_t>(options_.active_blocks)) {
      std::cerr << "snapshot of " << r->snapshot_blocks() << " blocks, want "
                << options_.active_blocks << "\n";
      return -1;
    }
    return Ms(*r->sync_time());
  }

  // Everything for one fleet size; false on failure.
  bool RunFleet(int n, FleetResult* out) {
    out->n = n;
    pid_t pid = cp_->pid();
    Tracker tracker(n);
    Replicas fleet;
    std::vector<std::string> ids;
    // Connect: N replicas, --replicas_per_channel per connection.
    Phase connect(pid);
    {
      v1::ControlPlane::Stub* stub = nullptr;
      for (int i = 0; i < n; ++i) {
        if (i % options_.replicas_per_channel == 0) stub = channels_->New();
        ids.push_back(absl::StrCat("sim-", n, "-", i));
        fleet.Add(std::make_unique<SimReplica>(stub, ids.back(), i, &tracker));
      }
    }
    int synced = 0;
    if (!tracker.WaitSynced(n, std::chrono::seconds(30 + n / 20), &synced)) {
      std::cerr << synced << " of " << n << " replicas synced\n";
      return false;
    }
    for (auto& r : fleet.all()) {
      if (r->snapshot_blocks() < static_cast<size_t>(options_.active_blocks)) {
        std::cerr << r->id() << " got " << r->snapshot_blocks() << " blocks in its snapshot\n";
        return false;
      }
    }
    out->connect_ms = connect.wall_ms();
    out->cp_cpu_connect = connect.cp_ms() / n;
    out->self_cpu_connect = connect.self_ms() / n;
    std::vector<double> sync = tracker.sync_ms();
    out->sync_p50 = Percentile(sync, 0.5);
    out->sync_max = Percentile(sync, 1.0);
    // The sender is a replica of its own, not in the fleet.
    Tracker none(0);
    Replicas senders;
    SimReplica* sender = senders.Add(std::make_unique<SimReplica>(
        channels_->New(), absl::StrCat("sender-", n), -1, &none));
    if (!none.WaitSynced(1, std::chrono::seconds(20), &synced)) {
      std::cerr << "sender did not sync\n";
      return false;
    }

    // Idle: what the connected fleet costs with nothing happening.
    {
      Phase idle(pid);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      out->cp_cpu_idle_per_s = idle.cp_ms() / (idle.wall_ms() / 1000.0);
      out->rss_idle = ProcessRss(pid).first;
    }

    double prop_cp = 0, prop_self = 0, prop_wall = 0;
    for (int run = 0; run < options_.repeat; ++run) {
      std::vector<double> r = Propagation(sender, &tracker, run);
      if (r.empty()) return false;
      out->first_p50.push_back(r[0]);
      out->first_p99.push_back(r[1]);
      out->all_p50.push_back(r[2]);
      out->all_p99.push_back(r[3]);
      out->all_max.push_back(r[4]);
      prop_cp += r[5];
      prop_self += r[6];
      prop_wall += r[7];
      std::printf("  %d replicas, propagation run %d: to first p50 %.3f p99 %.3f ms; to all %d "
                  "p50 %.3f p99 %.3f max %.3f ms\n",
                  n, run, r[0], r[1], n, r[2], r[3], r[4]);
    }
    double blocks = static_cast<double>(options_.repeat * options_.blocks);
    out->cp_cpu_per_block = prop_cp / blocks;
    out->self_cpu_per_block = prop_self / blocks;
    out->prop_cp_util = prop_cp / prop_wall;
    out->prop_self_util = prop_self / prop_wall;

    Phase push(pid);
    for (int run = 0; run < options_.repeat; ++run) {
      std::vector<double> r = PushToAcks(&tracker, ids);
      if (r.empty()) return false;
      out->ack_last.push_back(r[0]);
      out->ack_visible.push_back(r[1]);
      out->push_call.push_back(r[2]);
      std::printf("  %d replicas, push run %d: last ACK sent %.3f ms  all ACKs in GetState "
                  "%.3f ms  PushPolicy call %.3f ms\n",
                  n, run, r[0], r[1], r[2]);
    }
    out->cp_cpu_per_push = push.cp_ms() / options_.repeat;
    out->self_cpu_per_push = push.self_ms() / options_.repeat;
    out->push_cp_util = push.cp_ms() / push.wall_ms();
    out->push_self_util = push.self_ms() / push.wall_ms();

    if (options_.active_blocks > 0) {
      Phase snap(pid);
      for (int run = 0; run < options_.repeat; ++run) {
        double ms = SnapshotTime(n, run);
        if (ms < 0) {
          std::cerr << "a new replica did not get its snapshot\n";
          return false;
        }
        out->snapshot_ms.push_back(ms);
      }
      out->cp_cpu_per_snapshot = snap.cp_ms() / options_.repeat;
    }
    out->rss_after = ProcessRss(pid).first;
    for (auto& r : fleet.all()) {
      if (r->ended()) {
        std::cerr << r->id() << "'s stream ended during the run\n";
        return false;
      }
    }
    return true;
  }

  void Print(const FleetResult& r) {
    bool in_target = r.n <= kTargetMaxReplicas;
    double p99 = Median(r.all_p99);
    double visible = Median(r.ack_visible);
    auto verdict = [&](bool pass) -> std::string {
      if (!in_target) return "";
      return pass ? "  [PASS]" : "  [FAIL]";
    };
    std::printf("\n== %d replicas, %d active blocks (medians of %d runs) ==\n", r.n,
                options_.active_blocks, options_.repeat);
    std::printf("connect: all %d synced in %.0f ms (per replica: snapshot after %.1f ms p50, %.1f "
                "max)\n",
                r.n, r.connect_ms, r.sync_p50, r.sync_max);
    std::printf("propagation sender -> control plane -> first replica: p50 %.3f ms  p99 %.3f ms\n",
                Median(r.first_p50), Median(r.first_p99));
    std::printf("propagation sender -> control plane -> all %d replicas: p50 %.3f ms  p99 %.3f ms"
                "  max %.3f ms  [target p99 <= %.0f ms]%s\n",
                r.n, Median(r.all_p50), p99, Median(r.all_max), kPropagationP99TargetMs,
                verdict(p99 <= kPropagationP99TargetMs).c_str());
    std::printf("policy push -> all %d ACKed: last ACK sent %.3f ms  all visible in GetState %.3f "
                "ms  PushPolicy call %.3f ms  [target <= %.0f ms]%s\n",
                r.n, Median(r.ack_last), visible, Median(r.push_call), kPushTargetMs,
                verdict(visible <= kPushTargetMs).c_str());
    if (!r.snapshot_ms.empty()) {
      std::printf("new replica's full snapshot (%d blocks): %.1f ms  (control plane CPU %.1f ms "
                  "each)\n",
                  options_.active_blocks, Median(r.snapshot_ms), r.cp_cpu_per_snapshot);
    }
    std::printf("control plane CPU: %.2f ms per replica connecting; %.1f ms per s idle; %.3f ms "
                "per block to all; %.1f ms per push\n",
                r.cp_cpu_connect, r.cp_cpu_idle_per_s, r.cp_cpu_per_block, r.cp_cpu_per_push);
    std::printf("bench (load generator) CPU: %.2f ms per replica connecting; %.3f ms per block; "
                "%.1f ms per push\n",
                r.self_cpu_connect, r.self_cpu_per_block, r.self_cpu_per_push);
    std::printf("cores busy (2 here, shared): propagation: control plane %.2f, bench %.2f; "
                "pushes: control plane %.2f, bench %.2f\n",
                r.prop_cp_util, r.prop_self_util, r.push_cp_util, r.push_self_util);
    std::printf("control plane RSS: %.1f MiB idle with the fleet, %.1f MiB after the run\n",
                r.rss_idle, r.rss_after);
  }

  int Run() {
    if (!StartControlPlane()) return 1;
    std::cout << "rebound-cp-bench: control plane at " << target_ << " (pid " << cp_->pid()
              << "), repeat " << options_.repeat << ", " << options_.blocks
              << " blocks per run, " << options_.active_blocks << " active blocks, "
              << options_.replicas_per_channel << " replicas per connection, "
              << std::thread::hardware_concurrency() << " cores\n";
    auto [rss0, hwm0] = ProcessRss(cp_->pid());
    std::printf("control plane RSS at start: %.1f MiB\n", rss0);
    if (!LoadBlocks()) return 1;
    bool ok = true;
    for (int n : options_.replicas) {
      FleetResult result;
      if (!RunFleet(n, &result)) return 1;
      Print(result);
      if (n <= kTargetMaxReplicas) {
        ok &= Median(result.all_p99) <= kPropagationP99TargetMs;
        ok &= Median(result.ack_visible) <= kPushTargetMs;
      }
      std::fflush(stdout);
    }
    auto [rss, hwm] = ProcessRss(cp_->pid());
    std::printf("\ncontrol plane RSS at the end: %.1f MiB, peak (VmHWM) %.1f MiB\n", rss, hwm);
    return ok ? 0 : 3;
  }

 private:
  Options options_;
  std::unique_ptr<Subprocess> cp_;
  std::string target_;
  std::unique_ptr<v1::ControlPlane::Stub> stub_;
  int next_channel_ = 1;
  std::unique_ptr<Channels> channels_;
  std::unique_ptr<Tracker> loader_;
  Replicas setup_;  // the loader; declared after what its replicas use
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
    auto positive = [&](int* out, int max) {
      return absl::SimpleAtoi(value, out) && *out >= 1 && *out <= max;
    };
    if (arg == "--repeat") {
      if (!positive(&options.repeat, 1000)) return rebound::bench::Usage();
    } else if (arg == "--blocks") {
      if (!positive(&options.blocks, 100000)) return rebound::bench::Usage();
    } else if (arg == "--active_blocks") {
      if (value != "0" && !positive(&options.active_blocks, 100000)) {
        return rebound::bench::Usage();
      }
    } else if (arg == "--replicas_per_channel") {
      if (!positive(&options.replicas_per_channel, 10000)) return rebound::bench::Usage();
    } else if (arg == "--cp_resync_interval") {
      options.cp_resync_interval = value;
    } else if (arg == "--replicas") {
      options.replicas.clear();
      for (absl::string_view part : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 9000) return rebound::bench::Usage();
        options.replicas.push_back(n);
      }
    } else {
      return rebound::bench::Usage();
    }
  }
  return rebound::bench::Bench(options).Run();
}
