#include "client/cli_commands.h"

#include <algorithm>
#include <iostream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "client/gateway_client.h"
#include "policy/config_loader.h"

namespace rebound::client {
namespace {

using rebound::v1::AttemptRecord;
using rebound::v1::StreamEvent;

// A request body is far below this; the cap keeps a wrong path (a device, a
// log) from being read whole.
constexpr size_t kMaxBodyFileBytes = 256 << 20;

absl::StatusOr<std::string> ReadAll(const std::string& path, std::istream& in) {
  absl::StatusOr<std::string> text =
      path == "-" ? ReadStream(in, kMaxBodyFileBytes) : ReadFile(path, kMaxBodyFileBytes);
  if (text.ok()) return text;
  const std::string source = path == "-" ? "stdin" : path;
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is ", text.status().message()));
  }
  if (absl::IsDataLoss(text.status())) {
    return absl::DataLossError(absl::StrCat("cannot read ", source));
  }
  return absl::NotFoundError(absl::StrCat("cannot open ", source));
}

absl::Status WithPrefix(const char* prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// Everything that must be read before the call: the body and the token.
// Failures here are the user's input, hence kExitUsage.
struct Inputs {
  std::string body;
  std::string token;
};

// The body is read here, except the default one (DefaultBody), which needs
// the model's API and so the gateway.
absl::StatusOr<Inputs> ReadInputs(const CallArgs& call, std::istream& in) {
  Inputs inputs;
  if (call.body) {
    inputs.body = *call.body;
  } else if (call.body_file) {
    absl::StatusOr<std::string> body = ReadAll(*call.body_file, in);
    if (!body.ok()) return WithPrefix("--body-file: ", body.status());
    inputs.body = *std::move(body);
  }
  if (!call.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadTokenFile(call.token_file);
    if (!token.ok()) return WithPrefix("--token-file: ", token.status());
    inputs.token = *std::move(token);
  }
  return inputs;
}

void PrintAttempts(const google::protobuf::RepeatedPtrField<AttemptRecord>& attempts,
                   std::ostream& err) {
  for (const AttemptRecord& attempt : attempts) err << FormatAttempt(attempt) << "\n";
}

// Exit code and stderr report for a failed call.
int ReportFailure(const CallResult& result, const std::string& address, std::ostream& err) {
  const rebound::v1::ErrorDetail* detail = result.error_detail ? &*result.error_detail : nullptr;
  err << "rebound: " << DescribeError(result.status, detail);
  // The trailer is authoritative for gRPC clients; mention it when the
  // detail did not already carry the same pushback.
  if (result.pushback_ms && (detail == nullptr || detail->retry_pushback_ms() <= 0)) {
    err << "  retry after: " << *result.pushback_ms << "ms (grpc-retry-pushback-ms)\n";
  }
  // No ErrorDetail means the gateway never answered: a wrong address or a
  // server that is down, which scripts want to tell apart from a failed call.
  if (result.status.error_code() == grpc::StatusCode::UNAVAILABLE && detail == nullptr) {
    err << "rebound: could not reach the gateway at " << address << "\n";
    return kExitUnreachable;
  }
  return kExitFailed;
}

void PrintStreamEvent(const StreamEvent& event, bool quiet, std::ostream& out) {
  switch (event.event_case()) {
    case StreamEvent::kAttemptStarted:
      if (!quiet) {
        const auto& started = event.attempt_started();
        out << "[attempt " << started.attempt() << " " << SanitizeForDisplay(started.model(), 256)
            << " http " << started.http_status() << "]\n";
      }
      break;
    case StreamEvent::kData:
      // Data is the provider's event payload, printed verbatim: it is the
      // output the user asked for.
      out << event.data().data() << "\n";
      break;
    case StreamEvent::kReset:
      // Printed even with --quiet: the data already shown is void from here
      // on, and a reader must be told.
      out << "[reset: " << SanitizeForDisplay(event.reset().reason(), 1024) << "; next attempt "
          << event.reset().next_attempt() << "]\n";
      break;
    case StreamEvent::kEnd:
      if (!quiet) {
        const auto& end = event.end();
        out << "[end: served by " << SanitizeForDisplay(end.served_model(), 256) << " ("
            << SanitizeForDisplay(end.served_provider(), 256) << "), usage "
            << (end.usage().empty() ? std::string("none") : SanitizeForDisplay(end.usage(), 4096))
            << "]\n";
      }
      break;
    case StreamEvent::EVENT_NOT_SET:
      break;
  }
  // Flushed per event so a person or a pipe sees tokens as they arrive.
  out.flush();
}

}  // namespace

int RunCall(const CallArgs& call, bool stream, std::istream& in, std::ostream& out,
            std::ostream& err) {
  absl::StatusOr<Inputs> inputs = ReadInputs(call, in);
  if (!inputs.ok()) {
    err << "rebound: " << inputs.status().message() << "\n";
    return kExitUsage;
  }
  ClientOptions options;
  options.use_tls = call.use_tls;
  options.root_ca_file = call.ca_file;
  options.client_cert_file = call.cert_file;
  options.client_key_file = call.key_file;
  options.bearer_token = inputs->token;
  options.default_deadline = call.timeout;
  absl::StatusOr<std::unique_ptr<GatewayClient>> client =
      GatewayClient::Create(call.address, options);
  if (!client.ok()) {
    err << "rebound: " << client.status().message() << "\n";
    return kExitUsage;
  }
  // Without --path (and without a body of the user's), the path and sample
  // body follow the model's API, which only the gateway knows for sure.
  const bool default_body = !call.body && !call.body_file;
  CallArgs effective = call;
  if (effective.path.empty() || default_body) {
    rebound::v1::ListModelsResponse models;
    const bool listed = (*client)->ListModels(call.timeout, &models).ok();
    const ModelApi api = ApiOfModel(call.model, listed ? &models : nullptr);
    if (effective.path.empty()) effective.path = std::string(DefaultPath(api));
    if (default_body) inputs->body = DefaultBody(call.model, stream, api);
  }
  const rebound::v1::CompletionRequest request =
      BuildRequest(effective, std::move(inputs->body));

  CallResult result;
  if (stream) {
    result = (*client)->StreamComplete(request, call.timeout, [&](const StreamEvent& event) {
      PrintStreamEvent(event, call.quiet, out);
    });
  } else {
    result = (*client)->Complete(request, call.timeout);
  }
  if (!result.ok()) return ReportFailure(result, call.address, err);

  const rebound::v1::CompletionResponse& response = result.response;
  if (!stream) {
    out << response.body();
    // Keeps the shell prompt off the body's last line; JSON tools ignore it.
    if (!response.body().empty() && response.body().back() != '\n') out << "\n";
    out.flush();
  }
  if (!call.quiet) {
    err << "served by " << SanitizeForDisplay(response.served_model(), 256) << " ("
        << SanitizeForDisplay(response.served_provider(), 256) << ")";
    if (!stream) err << ", HTTP " << response.http_status();
    if (!response.request_id().empty()) {
      err << ", request id " << SanitizeForDisplay(response.request_id(), 256);
    }
    err << "\n";
    PrintAttempts(response.attempts(), err);
    for (const rebound::v1::SkippedCandidate& skipped : response.skipped()) {
      err << FormatSkipped(skipped) << "\n";
    }
  }
  return kExitOk;
}

int RunCheck(const std::string& file, std::ostream& out) {
  const LoadResult loaded = LoadConfigFromFile(file, ProcessEnv());
  int errors = 0;
  int warnings = 0;
  for (const Diagnostic& diagnostic : loaded.diagnostics) {
    out << diagnostic.ToString() << "\n";
    if (diagnostic.severity == Diagnostic::Severity::kError) {
      ++errors;
    } else {
      ++warnings;
    }
  }
  const auto plural = [](size_t n, const char* noun) {
    return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
  };
  if (loaded.ok()) {
    out << file << ": OK (" << plural(loaded.config->providers.size(), "provider") << ", "
        << plural(static_cast<size_t>(warnings), "warning") << ")\n";
    return kExitOk;
  }
  // A failed load reports at least one error; "0 errors" would contradict
  // the verdict if a loader ever returned none.
  out << file << ": " << plural(static_cast<size_t>(std::max(errors, 1)), "error") << "\n";
  return kExitFailed;
}

}  // namespace rebound::client
