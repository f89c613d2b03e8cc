// The HTTP front door (server.http_listen): the OpenAI and Anthropic HTTP
// APIs themselves, so an unmodified SDK reaches rebound by changing its
// base URL. Each request becomes the same Call a gRPC request would (same
// validation, retry policy, blocks, budgets, translation and metrics, api
// label "http"), run on the loop that owns the connection: no thread
// crossing between the socket, the Call and the upstream transfer.
//
// Routes: POST /v1/chat/completions, /v1/messages and any other /v1/ path
// (forwarded untranslated), GET /v1/models, GET /healthz. The README's "HTTP
// front door" section is the user-facing contract.
#ifndef REBOUND_GATEWAY_HTTP_FRONT_DOOR_H_
#define REBOUND_GATEWAY_HTTP_FRONT_DOOR_H_

#include <memory>

#include "gateway/gateway_core.h"
#include "gateway/http_api.h"
#include "http/server.h"

namespace rebound {

class HttpFrontDoor {
 public:
  // `core` must outlive the front door.
  explicit HttpFrontDoor(GatewayCore* core) : core_(core) {}

  // The http::Handler: on the connection's loop thread, which must be one
  // of the core's upstream workers.
  void Handle(http::Request request, std::shared_ptr<http::Exchange> exchange);

 private:
  void StartCall(http::Request request, std::shared_ptr<http::Exchange> exchange,
                 translate::Api api, CallSettings settings);

  GatewayCore* core_;
};

}  // namespace rebound

#endif  // REBOUND_GATEWAY_HTTP_FRONT_DOOR_H_
