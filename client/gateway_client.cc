#include "client/gateway_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/files.h"
#include "common/utf8.h"
#include "google/rpc/status.pb.h"

namespace rebound::client {
namespace {

using rebound::v1::AttemptRecord;
using rebound::v1::CompletionRequest;
using rebound::v1::CompletionResponse;
using rebound::v1::ErrorDetail;
using rebound::v1::StreamEvent;

constexpr char kPushbackTrailer[] = "grpc-retry-pushback-ms";

// A successful answer is at most the gateway's body limit plus framing; the
// gRPC default of 4 MiB would reject large but legitimate completions.
constexpr int kMaxReceiveMessageBytes = 64 * 1024 * 1024;

// The ErrorDetail travels in the grpc-status-details-bin trailer and holds
// the upstream error body; gRPC's default 8 KiB metadata limit would turn a
// verbose upstream error into an opaque transport error.
constexpr int kMaxMetadataBytes = 1024 * 1024;

// Generous caps for the other provider-influenced texts DescribeError prints.
constexpr size_t kMaxDisplayedMessageBytes = 4096;
constexpr size_t kMaxDisplayedJsonBytes = 64 * 1024;

// A token is a few dozen bytes; the cap keeps a wrong path (a log file, a
// device) from being read whole.
constexpr size_t kMaxTokenFileBytes = 64 * 1024;

// `path` read with at most `max_bytes`, errors in the CLI's words.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  absl::StatusOr<std::string> text = ReadFile(path, max_bytes);
  if (text.ok()) return text;
  if (absl::IsOutOfRange(text.status())) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is ", text.status().message()));
  }
  if (absl::IsDataLoss(text.status())) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return absl::NotFoundError(absl::StrCat("cannot open ", path));
}

std::optional<int64_t> FindPushback(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kPushbackTrailer);
  if (it == trailers.end()) return std::nullopt;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &ms)) {
    return std::nullopt;
  }
  return ms;
}

void FillErrorFields(const grpc::ClientContext& context, CallResult* result) {
  result->pushback_ms = FindPushback(context);
  if (!result->status.ok()) result->error_detail = DecodeErrorDetail(result->status);
}

// Continuation lines of a multi-line value get the value's indentation so
// a pretty-printed upstream body stays readable inside the summary.
std::string IndentContinuation(const std::string& text, const std::string& indent) {
  return absl::StrReplaceAll(text, {{"\n", "\n" + indent}});
}

// A provider-supplied text as the value of one summary entry: sanitized,
// without the trailing newline most bodies end with (it would leave a blank
// line), continuation lines indented under the entry.
std::string DisplayBlock(std::string_view text, size_t max_bytes) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  text = end == std::string_view::npos ? std::string_view() : text.substr(0, end + 1);
  return IndentContinuation(SanitizeForDisplay(text, max_bytes), "    ");
}

// Enum names without their common prefix: "RETRY_EXHAUSTED", not
// "ERROR_REASON_RETRY_EXHAUSTED".
std::string StripPrefix(std::string name, std::string_view prefix) {
  if (name.starts_with(prefix)) name.erase(0, prefix.size());
  return name;
}

// "1.5ms", "0ms", "1200ms": one decimal, but no noise on whole numbers.
std::string FormatMs(double ms) {
  if (!(ms > 0)) return "0ms";  // also catches NaN
  std::string text = absl::StrFormat("%.1f", ms);
  if (text.ends_with(".0")) text.resize(text.size() - 2);
  return absl::StrCat(text, "ms");
}

// The compact outcome of an attempt. The server's error_type already has
// the retry_exhausted JSON form ("http_429", "timeout_1000ms"); successes
// and records without one fall back to the status or the outcome enum.
std::string AttemptLabel(const AttemptRecord& attempt) {
  if (!attempt.error_type().empty()) return SanitizeForDisplay(attempt.error_type(), 128);
  if (attempt.http_status() > 0) return absl::StrCat("http_", attempt.http_status());
  std::string name = rebound::v1::AttemptOutcome_Name(attempt.outcome());
  if (name.empty()) return absl::StrCat("outcome_", static_cast<int>(attempt.outcome()));
  return absl::AsciiStrToLower(StripPrefix(name, "ATTEMPT_OUTCOME_"));
}

// "CA file: cannot open /x.pem": which of the TLS files failed.
absl::Status WithRole(std::string_view role, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat(std::string(role), ": ", std::string(status.message())));
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClientChannel(const std::string& target,
                                                                   const ClientOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.use_tls || !options.root_ca_file.empty() || !options.client_cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.root_ca_file.empty()) {
      absl::StatusOr<std::string> pem = ReadSmallFile(options.root_ca_file, kMaxPemFileBytes);
      if (!pem.ok()) return WithRole("CA file", pem.status());
      ssl.pem_root_certs = *std::move(pem);
    }
    if (options.client_cert_file.empty() != options.client_key_file.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate needs both its certificate and its key file");
    }
    if (!options.client_cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadSmallFile(options.client_cert_file, kMaxPemFileBytes);
      if (!cert.ok()) return WithRole("client certificate file", cert.status());
      absl::StatusOr<std::string> key = ReadSmallFile(options.client_key_file, kMaxPemFileBytes);
      if (!key.ok()) return WithRole("client key file", key.status());
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  args.SetInt(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
  return grpc::CreateCustomChannel(target, credentials, args);
}

void PrepareClientContext(const ClientOptions& options, absl::Duration timeout,
                          grpc::ClientContext* context) {
  if (timeout == absl::ZeroDuration()) timeout = options.default_deadline;
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  if (!options.bearer_token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options.bearer_token));
  }
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path, kMaxTokenFileBytes);
  if (!text.ok()) return text.status();
  const absl::string_view token = absl::StripAsciiWhitespace(*text);
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  // Anything else (a second line, a control character) would be an invalid
  // header value or, worse, a second header.
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " must hold one token: printable ASCII on a single line"));
    }
  }
  return std::string(token);
}

absl::StatusOr<std::unique_ptr<GatewayClient>> GatewayClient::Create(const std::string& target,
                                                                     const ClientOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClientChannel(target, options);
  if (!channel.ok()) return channel.status();
  return std::make_unique<GatewayClient>(*std::move(channel), options);
}

GatewayClient::GatewayClient(std::shared_ptr<grpc::ChannelInterface> channel, ClientOptions options)
    : channel_(std::move(channel)),
      stub_(rebound::v1::Gateway::NewStub(channel_)),
      options_(std::move(options)) {}

CallResult GatewayClient::Complete(const CompletionRequest& request, absl::Duration timeout) const {
  grpc::ClientContext context;
  PrepareClientContext(options_, timeout, &context);
  CallResult result;
  result.status = stub_->Complete(&context, request, &result.response);
  FillErrorFields(context, &result);
  return result;
}

grpc::Status GatewayClient::ListModels(absl::Duration timeout,
                                       rebound::v1::ListModelsResponse* out) const {
  grpc::ClientContext context;
  PrepareClientContext(options_, timeout, &context);
  return stub_->ListModels(&context, rebound::v1::ListModelsRequest(), out);
}

CallResult GatewayClient::StreamComplete(
    const CompletionRequest& request, absl::Duration timeout,
    const std::function<void(const StreamEvent&)>& on_event) const {
  grpc::ClientContext context;
  PrepareClientContext(options_, timeout, &context);
  CallResult result;
  bool saw_end = false;
  std::unique_ptr<grpc::ClientReader<StreamEvent>> reader =
      stub_->StreamComplete(&context, request);
  StreamEvent event;
  while (reader->Read(&event)) {
    if (event.has_end()) {
      saw_end = true;
      CompletionResponse& summary = result.response;
      summary.set_served_model(event.end().served_model());
      summary.set_served_provider(event.end().served_provider());
      *summary.mutable_attempts() = event.end().attempts();
      *summary.mutable_skipped() = event.end().skipped();
      summary.set_request_id(event.end().request_id());
    }
    if (on_event) on_event(event);
  }
  result.status = reader->Finish();
  // The API promises StreamEnd as the last message of every OK stream; an OK
  // without it means a proxy or a bug cut the answer short, and reporting
  // success would hand the caller a truncated completion.
  if (result.status.ok() && !saw_end) {
    result.status = grpc::Status(grpc::StatusCode::INTERNAL,
                                 "the stream ended OK but without its StreamEnd event");
  }
  FillErrorFields(context, &result);
  return result;
}

std::optional<ErrorDetail> DecodeErrorDetail(const grpc::Status& status) {
  if (status.ok() || status.error_details().empty()) return std::nullopt;
  google::rpc::Status rich;
  if (!rich.ParseFromString(status.error_details())) return std::nullopt;
  // The gateway puts its detail first, but a proxy may prepend its own, so
  // take the first Any of the right type rather than insisting on index 0.
  for (const google::protobuf::Any& any : rich.details()) {
    if (!any.Is<ErrorDetail>()) continue;
    ErrorDetail detail;
    if (any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

std::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      break;
  }
  // A view must outlive the call, so unknown codes share one generic name;
  // DescribeError adds the number.
  return "UNKNOWN_CODE";
}

std::string FormatAttempt(const AttemptRecord& attempt) {
  return absl::StrCat("attempt ", attempt.attempt(), "  ", SanitizeForDisplay(attempt.model(), 256),
                      "  ", AttemptLabel(attempt),
                      attempt.error_class().empty()
                          ? ""
                          : absl::StrCat(" (", SanitizeForDisplay(attempt.error_class(), 64), ")"),
                      attempt.hedge() ? "  hedge" : "", "  ttfb ", FormatMs(attempt.ttfb_ms()),
                      "  total ", FormatMs(attempt.duration_ms()), "  waited ",
                      FormatMs(attempt.wait_before_ms()),
                      attempt.translation().empty()
                          ? ""
                          : absl::StrCat("  translated ",
                                         SanitizeForDisplay(attempt.translation(), 64)));
}

std::string FormatSkipped(const rebound::v1::SkippedCandidate& skipped) {
  return absl::StrCat("skipped ", SanitizeForDisplay(skipped.model(), 256), "  ",
                      SanitizeForDisplay(skipped.reason(), 512));
}

std::string SanitizeForDisplay(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 32);
  size_t i = 0;
  while (i < text.size()) {
    size_t length = Utf8SequenceLength(text, i);
    // Stop before a sequence that would cross the limit rather than cutting
    // it in half and printing a broken character.
    if (i + std::max<size_t>(length, 1) > max_bytes) break;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool c0_control = length == 1 && ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F);
    // U+0080..U+009F are C1 controls; some terminals act on them (0x9B = CSI).
    const bool c1_control =
        length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (length == 0 || c0_control || c1_control) {
      const size_t escaped = std::max<size_t>(length, 1);
      for (size_t k = 0; k < escaped; ++k) {
        absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(text[i + k]));
      }
      i += escaped;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  if (i < text.size()) {
    absl::StrAppend(&out, " [... ", text.size() - i, " more bytes not shown]");
  }
  return out;
}

std::string DescribeError(const grpc::Status& status, const ErrorDetail* detail) {
  std::string out(StatusCodeName(status.error_code()));
  if (out == "UNKNOWN_CODE") out = absl::StrCat("CODE_", static_cast<int>(status.error_code()));
  if (!status.error_message().empty()) {
    absl::StrAppend(&out, ": ",
                    SanitizeForDisplay(status.error_message(), kMaxDisplayedMessageBytes));
  }
  out += "\n";
  if (detail == nullptr) return out;

  constexpr char kIndent[] = "  ";
  if (detail->reason() != rebound::v1::ERROR_REASON_UNSPECIFIED) {
    std::string reason =
        StripPrefix(rebound::v1::ErrorReason_Name(detail->reason()), "ERROR_REASON_");
    if (reason.empty()) reason = absl::StrCat(static_cast<int>(detail->reason()));
    absl::StrAppend(&out, kIndent, "reason: ", reason, "\n");
  }
  if (!detail->request_id().empty()) {
    absl::StrAppend(&out, kIndent, "request id: ", SanitizeForDisplay(detail->request_id(), 256),
                    "\n");
  }
  if (detail->upstream_http_status() != 0) {
    absl::StrAppend(&out, kIndent, "upstream HTTP status: ", detail->upstream_http_status(), "\n");
  }
  if (!detail->upstream_body().empty()) {
    absl::StrAppend(&out, kIndent, "upstream body: ",
                    DisplayBlock(detail->upstream_body(), kMaxDisplayedBodyBytes),
                    detail->upstream_body_truncated() ? " [cut short by the gateway]" : "", "\n");
  }
  if (!detail->retry_exhausted_json().empty()) {
    absl::StrAppend(&out, kIndent, "retry_exhausted: ",
                    DisplayBlock(detail->retry_exhausted_json(), kMaxDisplayedJsonBytes), "\n");
  }
  if (!detail->attempts().empty()) {
    absl::StrAppend(&out, kIndent, "attempts:\n");
    for (const AttemptRecord& attempt : detail->attempts()) {
      absl::StrAppend(&out, kIndent, kIndent, FormatAttempt(attempt), "\n");
    }
  }
  for (const rebound::v1::SkippedCandidate& skipped : detail->skipped()) {
    absl::StrAppend(&out, kIndent, FormatSkipped(skipped), "\n");
  }
  if (detail->retry_pushback_ms() > 0) {
    absl::StrAppend(&out, kIndent, "retry after: ", detail->retry_pushback_ms(),
                    "ms (pushback: a retry sooner will not succeed)\n");
  }
  return out;
}

}  // namespace rebound::client
