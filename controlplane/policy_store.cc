#include "controlplane/policy_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/files.h"
#include "controlplane/policy_check.h"
#include "controlplane/sha256.h"

namespace rebound::controlplane {
namespace {

constexpr std::string_view kMagic = "rebound-controlplane policy v1";
// A policy is at most the loader's 4 MiB; anything much larger is not ours.
constexpr size_t kMaxStateBytes = 8 << 20;

std::string Errno(std::string_view what, const std::string& path) {
  return absl::StrCat(absl::string_view(what.data(), what.size()), " ", path, ": ",
                      std::strerror(errno));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(Errno("cannot write", path));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Splits off one "\n"-terminated line.
bool NextLine(std::string_view* text, std::string_view* line) {
  size_t end = text->find('\n');
  if (end == std::string_view::npos) return false;
  *line = text->substr(0, end);
  text->remove_prefix(end + 1);
  return true;
}

// "name value" -> value, when the line starts with `name `.
bool Field(std::string_view line, std::string_view name, std::string_view* value) {
  if (line.size() <= name.size() || line.substr(0, name.size()) != name ||
      line[name.size()] != ' ') {
    return false;
  }
  *value = line.substr(name.size() + 1);
  return true;
}

}  // namespace

std::string_view ToString(PushOutcome::Result result) {
  switch (result) {
    case PushOutcome::Result::kAccepted: return "accepted";
    case PushOutcome::Result::kRejected: return "rejected";
    case PushOutcome::Result::kUnchanged: return "unchanged";
    case PushOutcome::Result::kDryRun: return "dry_run";
  }
  return "rejected";
}

// A small text header in front of the exact YAML bytes: readable with `head`
// when debugging, and the hash lets a load detect a torn or edited file.
std::string PolicyStore::Encode(const StoredPolicy& policy) {
  return absl::StrCat(absl::string_view(kMagic.data(), kMagic.size()), "\ncounter ",
                      policy.counter, "\nsha256 ", policy.hash, "\nbytes ", policy.yaml.size(),
                      "\n\n", policy.yaml);
}

absl::StatusOr<StoredPolicy> PolicyStore::Decode(std::string_view text) {
  auto corrupt = [](std::string_view why) {
    return absl::DataLossError(absl::StrCat("corrupt policy state: ",
                                            absl::string_view(why.data(), why.size())));
  };
  std::string_view line, value;
  if (!NextLine(&text, &line) || line != kMagic) return corrupt("unknown format");
  StoredPolicy policy;
  if (!NextLine(&text, &line) || !Field(line, "counter", &value) ||
      !absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &policy.counter) ||
      policy.counter == 0) {
    return corrupt("bad counter");
  }
  if (!NextLine(&text, &line) || !Field(line, "sha256", &value) || value.size() != 64) {
    return corrupt("bad hash");
  }
  policy.hash = std::string(value);
  uint64_t bytes = 0;
  if (!NextLine(&text, &line) || !Field(line, "bytes", &value) ||
      !absl::SimpleAtoi(absl::string_view(value.data(), value.size()), &bytes)) {
    return corrupt("bad length");
  }
  if (!NextLine(&text, &line) || !line.empty()) return corrupt("bad header end");
  if (text.size() != bytes) return corrupt("length does not match (torn write?)");
  policy.yaml = std::string(text);
  if (Sha256Hex(policy.yaml) != policy.hash) return corrupt("hash does not match the text");
  return policy;
}

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(const std::string& state_dir,
                                                               std::string* load_error) {
  load_error->clear();
  if (state_dir.empty()) return absl::InvalidArgumentError("the state directory is required");
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(Errno("cannot create the state directory", state_dir));
  }
  struct stat st;
  if (::stat(state_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the state directory ", state_dir, " is not a directory"));
  }
  if (::access(state_dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(Errno("cannot write to the state directory", state_dir));
  }
  std::unique_ptr<PolicyStore> store(new PolicyStore(state_dir));
  std::string path = absl::StrCat(state_dir, "/", absl::string_view(kStateFileName.data(),
                                                                      kStateFileName.size()));
  absl::StatusOr<std::string> text = ReadFile(path, kMaxStateBytes);
  if (!text.ok()) {
    if (absl::IsOutOfRange(text.status())) {
      *load_error = absl::StrCat(path, " is larger than any policy");
    } else if (!absl::IsNotFound(text.status())) {
      *load_error = absl::StrCat(absl::IsDataLoss(text.status()) ? "cannot read " : "cannot open ",
                                 path, ": ", text.status().message());
    }
    return store;
  }
  absl::StatusOr<StoredPolicy> policy = Decode(*text);
  if (!policy.ok()) {
    *load_error = absl::StrCat(path, ": ", policy.status().message());
    return store;
  }
  absl::MutexLock lock(&store->mu_);
  store->current_ = std::move(*policy);
  return store;
}

absl::Status PolicyStore::Persist(const StoredPolicy& policy) {
  std::string name(kStateFileName);
  std::string path = absl::StrCat(state_dir_, "/", name);
  std::string temp = absl::StrCat(path, ".tmp");
  // Write a temporary file, make it durable, then rename over the old one
  // and make the rename durable: a crash at any point leaves either the old
  // file or the new one, never a torn policy.
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(Errno("cannot create", temp));
  absl::Status written = WriteAll(fd, Encode(policy), temp);
  if (written.ok() && ::fsync(fd) != 0) written = absl::InternalError(Errno("cannot fsync", temp));
  ::close(fd);
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status error = absl::InternalError(Errno("cannot rename", temp));
    ::unlink(temp.c_str());
    return error;
  }
  int dir = ::open(state_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return absl::InternalError(Errno("cannot open", state_dir_));
  int rc = ::fsync(dir);
  ::close(dir);
  if (rc != 0) return absl::InternalError(Errno("cannot fsync", state_dir_));
  return absl::OkStatus();
}

PushOutcome PolicyStore::Push(std::string_view yaml, bool dry_run) {
  PushOutcome out;
  PolicyCheck check = CheckPolicy(yaml);
  out.diagnostics = std::move(check.diagnostics);
  if (!check.ok) {
    out.result = PushOutcome::Result::kRejected;
    return out;
  }
  std::string hash = Sha256Hex(yaml);
  absl::MutexLock lock(&mu_);
  out.accepted = true;
  // The same text is unchanged only while its version is not below what
  // the replicas run: below it, every replica refuses it as older, and the
  // operator pushing it again means "this, everywhere", so it is
  // republished above the floor.
  if (current_ && current_->hash == hash && current_->yaml == yaml &&
      current_->counter >= counter_floor_) {
    out.unchanged = true;
    out.counter = current_->counter;
    out.hash = current_->hash;
    out.result = dry_run ? PushOutcome::Result::kDryRun : PushOutcome::Result::kUnchanged;
    return out;
  }
  const uint64_t base = std::max(current_ ? current_->counter : 0, counter_floor_);
  if (base == std::numeric_limits<uint64_t>::max()) {
    // Only a replica reporting a bogus counter gets here; refusing is better
    // than wrapping to a counter every replica would refuse.
    out.accepted = false;
    out.result = PushOutcome::Result::kRejected;
    out.diagnostics.push_back(Diagnostic{
        Diagnostic::Severity::kError, std::string(kPolicyFileName), 0, "",
        absl::StrCat("the policy counter cannot grow past ", base,
                     ", the highest a replica reported running; nothing was published")});
    return out;
  }
  StoredPolicy next{base + 1, hash, std::string(yaml)};
  out.counter = next.counter;
  out.hash = next.hash;
  if (dry_run) {
    out.result = PushOutcome::Result::kDryRun;
    return out;
  }
  if (absl::Status persisted = Persist(next); !persisted.ok()) {
    out.accepted = false;
    out.counter = 0;
    out.hash.clear();
    out.result = PushOutcome::Result::kRejected;
    out.diagnostics.push_back(Diagnostic{Diagnostic::Severity::kError,
                                         std::string(kPolicyFileName), 0, "",
                                         absl::StrCat("the control plane cannot persist the "
                                                      "policy, so it was not published: ",
                                                      persisted.message())});
    return out;
  }
  current_ = std::move(next);
  out.result = PushOutcome::Result::kAccepted;
  return out;
}

void PolicyStore::ObserveReplicaCounter(uint64_t counter) {
  absl::MutexLock lock(&mu_);
  counter_floor_ = std::max(counter_floor_, counter);
}

uint64_t PolicyStore::CounterFloor() const {
  absl::MutexLock lock(&mu_);
  return counter_floor_;
}

std::optional<StoredPolicy> PolicyStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

}  // namespace rebound::controlplane
