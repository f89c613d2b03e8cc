#include "bench/gateway_target.h"

#include <grpcpp/client_context.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace rebound::bench {
namespace {

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // grpc::StatusCode and absl::StatusCode share their numbering.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("gateway: ", status.error_message()));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration deadline) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
}

v1::CompletionRequest MakeRequest(const std::string& model, const Workload& workload) {
  v1::CompletionRequest request;
  request.set_model(model);
  request.set_body(workload.body);
  if (!workload.fault.empty()) {
    v1::Header* fault = request.add_headers();
    fault->set_name(kFaultHeader);
    fault->set_value(workload.fault);
  }
  return request;
}

}  // namespace

struct GatewayTarget::PendingCall {
  explicit PendingCall(DoneCallback d) : done(std::move(d)) {}

  grpc::ClientContext context;
  v1::CompletionResponse response;
  DoneCallback done;
};

GatewayTarget::GatewayTarget(std::shared_ptr<grpc::Channel> channel, const std::string& model,
                             const Workload& workload, absl::Duration deadline)
    : stub_(v1::Gateway::NewStub(channel)),
      request_(MakeRequest(model, workload)),
      deadline_(deadline) {}

absl::StatusOr<CallInfo> GatewayTarget::Call() {
  grpc::ClientContext context;
  SetDeadline(&context, deadline_);
  v1::CompletionResponse response;
  grpc::Status status = stub_->Complete(&context, request_, &response);
  if (!status.ok()) return ToAbslStatus(status);
  if (response.http_status() != 200) {
    return absl::InternalError(absl::StrCat("gateway: HTTP ", response.http_status()));
  }
  double upstream_ms = 0;
  for (const v1::AttemptRecord& attempt : response.attempts()) upstream_ms += attempt.duration_ms();
  return CallInfo{.body_bytes = response.body().size(),
                  .upstream_ns = static_cast<int64_t>(upstream_ms * 1e6)};
}

void GatewayTarget::Start(DoneCallback done) {
  auto* call = new PendingCall(std::move(done));
  SetDeadline(&call->context, deadline_);
  stub_->async()->Complete(&call->context, &request_, &call->response,
                           [call](grpc::Status status) {
                             // The callback is the call's last event: the
                             // context and response may go with it.
                             absl::Status result = ToAbslStatus(status);
                             if (result.ok() && call->response.http_status() != 200) {
                               result = absl::InternalError(
                                   absl::StrCat("gateway: HTTP ", call->response.http_status()));
                             }
                             std::move(call->done)(std::move(result));
                             delete call;
                           });
}

GatewayStreamTarget::GatewayStreamTarget(std::shared_ptr<grpc::Channel> channel,
                                         const std::string& model, const Workload& workload,
                                         absl::Duration deadline)
    : stub_(v1::Gateway::NewStub(channel)),
      request_(MakeRequest(model, workload)),
      deadline_(deadline) {}

absl::StatusOr<CallInfo> GatewayStreamTarget::Call() {
  grpc::ClientContext context;
  SetDeadline(&context, deadline_);
  MonoTime start = MonoNow();
  std::unique_ptr<grpc::ClientReader<v1::StreamEvent>> reader =
      stub_->StreamComplete(&context, request_);
  CallInfo info;
  v1::StreamEvent event;
  bool ended = false;
  while (reader->Read(&event)) {
    if (event.has_data()) {
      if (info.events++ == 0) info.first_event_ns = MonoNow() - start;
      info.body_bytes += event.data().data().size();
    } else if (event.has_reset()) {
      return absl::InternalError("gateway: the stream was reset");
    } else if (event.has_end()) {
      ended = true;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ToAbslStatus(status);
  if (!ended || info.events == 0) {
    return absl::InternalError("gateway: a stream without events or without its end");
  }
  return info;
}

}  // namespace rebound::bench
