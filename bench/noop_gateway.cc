#include "bench/noop_gateway.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "bench/bench_stack.h"
#include "rebound/v1/gateway.grpc.pb.h"

namespace rebound::bench {

class NoopGateway::Service final : public v1::Gateway::CallbackService {
 public:
  explicit Service(int64_t response_bytes) {
    canned_.set_http_status(200);
    v1::Header* type = canned_.add_headers();
    type->set_name("Content-Type");
    type->set_value("application/json");
    canned_.set_body(std::string(static_cast<size_t>(response_bytes), 'x'));
    canned_.set_served_model(kBenchModel);
    canned_.set_served_provider("openai");
  }

  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::CompletionRequest* /*request*/,
                                     v1::CompletionResponse* response) override {
    *response = canned_;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  v1::CompletionResponse canned_;
};

absl::StatusOr<std::unique_ptr<NoopGateway>> NoopGateway::Start(int64_t response_bytes) {
  std::unique_ptr<NoopGateway> g(new NoopGateway());
  g->service_ = std::make_unique<Service>(response_bytes);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(g->service_.get());
  g->server_ = builder.BuildAndStart();
  if (!g->server_ || port == 0) {
    return absl::UnavailableError("cannot start the no-op gRPC server");
  }
  g->address_ = absl::StrCat("127.0.0.1:", port);
  return g;
}

NoopGateway::~NoopGateway() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

}  // namespace rebound::bench
