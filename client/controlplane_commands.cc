#include "client/controlplane_commands.h"

#include <algorithm>
#include <istream>
#include <ostream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"

namespace rebound::client {
namespace {

using rebound::v1::Block;
using rebound::v1::PolicyDiagnostic;
using rebound::v1::PolicyVersion;
using rebound::v1::ReplicaState;

// The control plane's own cap on a policy (the config loader's, 4 MiB): a
// larger file would only come back as an opaque transport error.
constexpr size_t kMaxPolicyBytes = 4 << 20;
// How much of one server-supplied text (a diagnostic, a name) is shown.
constexpr size_t kMaxCellBytes = 1024;
// A NACK's first line, in the replicas table.
constexpr size_t kMaxNackCellBytes = 256;

// A server-supplied text on one line: escaped as SanitizeForDisplay does,
// with newlines and tabs made visible so that tables and
// "FILE:LINE: ..." lines keep their shape.
std::string OneLine(std::string_view text, size_t max_bytes = kMaxCellBytes) {
  return absl::StrReplaceAll(SanitizeForDisplay(text, max_bytes), {{"\n", "\\n"}, {"\t", " "}});
}

// The first 8 hex digits of a version's content hash: enough to tell
// versions apart by eye.
std::string ShortHash(const PolicyVersion& version) {
  return OneLine(version.hash().substr(0, 8), 8);
}

// A replica's acked version; counter 0 is the policy of its own file.
std::string FormatAckedVersion(const PolicyVersion& version) {
  if (version.counter() == 0) return "local file";
  if (version.hash().empty()) return absl::StrCat(version.counter());
  return absl::StrCat(version.counter(), " (", ShortHash(version), ")");
}

// A NACK reason in a table cell: its first line (a validation failure lists
// every diagnostic, one per line) and how many more there are. The replica's
// log has the rest.
std::string FormatNack(const ReplicaState& replica) {
  if (replica.last_nack().empty() && replica.nacked_version().counter() == 0) return "-";
  const std::string_view reason = replica.last_nack();
  const size_t newline = reason.find('\n');
  std::string cell = absl::StrCat("version ", replica.nacked_version().counter(), ": ",
                                  OneLine(reason.substr(0, newline), kMaxNackCellBytes));
  if (newline != std::string_view::npos) {
    const size_t more =
        std::count(reason.begin() + newline, reason.end(), '\n') - (reason.ends_with('\n') ? 1 : 0);
    if (more > 0) absl::StrAppend(&cell, " [+", more, more == 1 ? " more line]" : " more lines]");
  }
  return cell;
}

std::string_view KindName(rebound::v1::BlockKind kind) {
  switch (kind) {
    case rebound::v1::BLOCK_KIND_RETRY_AFTER:
      return "retry_after";
    case rebound::v1::BLOCK_KIND_LATENCY:
      return "latency";
    default:
      return "unspecified";
  }
}

std::string FormatUnixMillis(int64_t ms) {
  if (ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// Whole seconds left, rounded up so that a live block never shows "0s".
std::string FormatRemaining(int64_t until_unix_ms, absl::Time now) {
  const int64_t left_ms = until_unix_ms - absl::ToUnixMillis(now);
  if (left_ms <= 0) return "expired";
  return absl::StrCat((left_ms + 999) / 1000, "s");
}

// Left-aligned columns two spaces apart, each row indented by two; the last
// column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

// Prints why a call failed and returns the exit code: kExitUnreachable when
// the control plane never answered, kExitFailed otherwise.
int ReportFailure(const ControlPlaneClient& client, const grpc::Status& status, bool unreachable,
                  std::ostream& err) {
  // The message comes from the server (or from gRPC, quoting the server);
  // it is shown redacted in case either echoes the credential.
  const grpc::Status shown(status.error_code(), client.Redact(status.error_message()));
  const std::string target = OneLine(client.target(), 256);
  if (unreachable) {
    err << "rebound: could not reach the control plane at " << target << ": "
        << DescribeError(shown, nullptr);
    return kExitUnreachable;
  }
  err << "rebound: the control plane at " << target << " answered "
      << DescribeError(shown, nullptr);
  const grpc::StatusCode code = status.error_code();
  if (code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED) {
    if (client.has_token() && code == grpc::StatusCode::PERMISSION_DENIED) {
      // A valid token of the other role: most likely the replicas' token.
      err << "rebound: the control plane knows this token, but not as an operator token: "
             "policy, state and block commands need one of the tokens of its "
             "--operator-token-file (the replicas' token opens Sync only)\n";
    } else if (client.has_token()) {
      err << "rebound: the token was refused: check that --token-file (or $"
          << kControlPlaneTokenFileEnvVar
          << ") holds one of the control plane's operator tokens (its --operator-token-file)\n";
    } else {
      err << "rebound: no token was sent: every control-plane call needs an operator token; give "
             "--token-file or set $"
          << kControlPlaneTokenFileEnvVar << "\n";
    }
  }
  return kExitFailed;
}

absl::StatusOr<std::string> ReadPolicy(const std::string& file, std::istream& in) {
  absl::StatusOr<std::string> text =
      file == "-" ? ReadStream(in, kMaxPolicyBytes) : ReadFile(file, kMaxPolicyBytes);
  if (text.ok()) return text;
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, " is larger than 4 MiB, the most a policy may be"));
  }
  if (absl::IsDataLoss(text.status())) {
    return absl::DataLossError(absl::StrCat("cannot read ", file));
  }
  return absl::NotFoundError(absl::StrCat("cannot open ", file));
}

// "FILE:LINE: error: KEY: MESSAGE", leaving out a line or key that is not
// known, as `rebound check` does.
std::string FormatDiagnostic(std::string_view file, const PolicyDiagnostic& diagnostic) {
  std::string out = absl::StrCat(std::string(file), ":");
  if (diagnostic.line() > 0) absl::StrAppend(&out, diagnostic.line(), ":");
  absl::StrAppend(
      &out, diagnostic.severity() == PolicyDiagnostic::SEVERITY_ERROR ? " error: " : " warning: ");
  if (!diagnostic.key().empty()) absl::StrAppend(&out, OneLine(diagnostic.key(), 256), ": ");
  absl::StrAppend(&out, OneLine(diagnostic.message()));
  return out;
}

}  // namespace

std::unique_ptr<ControlPlaneClient> ConnectControlPlane(const ControlPlaneArgs& args,
                                                        std::ostream& err) {
  ClientOptions options;
  options.use_tls = args.use_tls;
  options.root_ca_file = args.ca_file;
  options.client_cert_file = args.cert_file;
  options.client_key_file = args.key_file;
  options.default_deadline = args.timeout;
  if (!args.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(args.token_file);
    if (!token.ok()) {
      err << "rebound: token file: " << token.status().message() << "\n";
      return nullptr;
    }
    options.bearer_token = *std::move(token);
  }
  absl::StatusOr<std::unique_ptr<ControlPlaneClient>> client =
      ControlPlaneClient::Create(args.address, options);
  if (!client.ok()) {
    err << "rebound: " << client.status().message() << "\n";
    return nullptr;
  }
  return *std::move(client);
}

int RunPolicyPush(const ControlPlaneClient& client, const std::string& file, bool dry_run,
                  std::istream& in, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> yaml = ReadPolicy(file, in);
  if (!yaml.ok()) {
    err << "rebound: policy push: " << yaml.status().message() << "\n";
    return kExitUsage;
  }
  const auto result = client.PushPolicy(*yaml, dry_run);
  if (!result.ok()) return ReportFailure(client, result.status, result.unreachable, err);

  const rebound::v1::PushPolicyResponse& response = result.response;
  const std::string name = file == "-" ? "<stdin>" : file;
  size_t errors = 0;
  for (const PolicyDiagnostic& diagnostic : response.diagnostics()) {
    out << FormatDiagnostic(name, diagnostic) << "\n";
    if (diagnostic.severity() == PolicyDiagnostic::SEVERITY_ERROR) ++errors;
  }
  const PolicyVersion& version = response.version();
  if (!response.accepted()) {
    if (errors == 0) {
      out << "rejected: the control plane gave no diagnostic\n";
    } else {
      out << "rejected: " << errors << (errors == 1 ? " error" : " errors") << "\n";
    }
    return kExitFailed;
  }
  if (response.unchanged()) {
    out << "unchanged: version " << version.counter() << "\n";
  } else if (dry_run) {
    out << "dry run: valid, would be version " << version.counter() << "\n";
  } else {
    out << "accepted: version " << version.counter();
    if (!version.hash().empty()) out << " (hash " << ShortHash(version) << ")";
    out << "\n";
  }
  return kExitOk;
}

int RunState(const ControlPlaneClient& client, absl::Time now, std::ostream& out,
             std::ostream& err) {
  const auto result = client.GetState();
  if (!result.ok()) return ReportFailure(client, result.status, result.unreachable, err);
  const rebound::v1::GetStateResponse& state = result.response;

  if (state.policy_version().counter() == 0) {
    out << "policy: none pushed (replicas use the policy of their own config files)\n";
  } else {
    out << "policy: version " << state.policy_version().counter();
    if (!state.policy_version().hash().empty()) {
      out << " (hash " << ShortHash(state.policy_version()) << ")";
    }
    out << "\n";
  }

  std::vector<const ReplicaState*> replicas;
  for (const ReplicaState& replica : state.replicas()) replicas.push_back(&replica);
  std::sort(replicas.begin(), replicas.end(), [](const ReplicaState* a, const ReplicaState* b) {
    return a->replica_id() < b->replica_id();
  });
  const size_t connected = std::count_if(replicas.begin(), replicas.end(),
                                         [](const ReplicaState* r) { return r->connected(); });
  if (replicas.empty()) {
    out << "\nreplicas: none\n";
  } else {
    out << "\nreplicas: " << replicas.size() << " (" << connected << " connected)\n";
    std::vector<std::vector<std::string>> rows = {
        {"REPLICA", "CONNECTED", "SINCE", "ACKED", "LAST NACK"}};
    for (const ReplicaState* replica : replicas) {
      rows.push_back({OneLine(replica->replica_id(), 256), replica->connected() ? "yes" : "no",
                      FormatUnixMillis(replica->connected_since_unix_ms()),
                      FormatAckedVersion(replica->acked_version()), FormatNack(*replica)});
    }
    PrintTable(rows, out);
  }

  std::vector<std::pair<std::string, const Block*>> blocks;
  for (const Block& block : state.blocks()) {
    blocks.emplace_back(OneLine(FormatBlockKey(block.scope(), block.name()), 600), &block);
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (blocks.empty()) {
    out << "\nblocks: none\n";
  } else {
    out << "\nblocks: " << blocks.size() << "\n";
    std::vector<std::vector<std::string>> rows = {{"BLOCK", "KIND", "REMAINING", "ORIGIN"}};
    for (const auto& [key, block] : blocks) {
      rows.push_back({key, std::string(KindName(block->kind())),
                      FormatRemaining(block->until_unix_ms(), now),
                      block->origin().empty() ? "-" : OneLine(block->origin(), 256)});
    }
    PrintTable(rows, out);
  }
  return kExitOk;
}

int RunBlockClear(const ControlPlaneClient& client, const BlockKey& key, std::ostream& out,
                  std::ostream& err) {
  const auto result = client.ClearBlock(key.scope, key.name);
  if (!result.ok()) return ReportFailure(client, result.status, result.unreachable, err);
  const std::string shown = FormatBlockKey(key.scope, key.name);
  if (result.response.removed()) {
    out << "cleared: " << shown << "\n";
  } else {
    out << "not blocked: " << shown << " (nothing to clear)\n";
  }
  return kExitOk;
}

}  // namespace rebound::client
