// rebound.v1.Gateway on gRPC's callback API: one reactor per call, handing
// the work to a Call on one of the upstream event loops.
#ifndef REBOUND_GATEWAY_GATEWAY_SERVICE_H_
#define REBOUND_GATEWAY_GATEWAY_SERVICE_H_

#include "gateway/gateway_core.h"
#include "rebound/v1/gateway.grpc.pb.h"

namespace rebound {

class GatewayService final : public v1::Gateway::CallbackService {
 public:
  // `core` must outlive the service.
  explicit GatewayService(GatewayCore* core) : core_(core) {}

  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::CompletionRequest* request,
                                     v1::CompletionResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamEvent>* StreamComplete(
      grpc::CallbackServerContext* context, const v1::CompletionRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  class UnaryReactor;
  class StreamReactor;
  template <typename Reactor>
  void Dispatch(Reactor* reactor, grpc::CallbackServerContext* context,
                const v1::CompletionRequest& request, bool streaming);

  GatewayCore* core_;
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_GATEWAY_SERVICE_H_
