// Turns a fault spec and a provider request into the response plan the event
// loop runs. Pure: no clock of its own (the request's receive time is "now"),
// no I/O, so each fault's bytes and timing are unit-testable.
#ifndef REBOUND_TESTS_FAKEPROVIDER_FAULT_RESPONSE_H_
#define REBOUND_TESTS_FAKEPROVIDER_FAULT_RESPONSE_H_

#include <cstdint>
#include <string_view>

#include "tests/fakeprovider/completion_bodies.h"
#include "tests/fakeprovider/fault_spec.h"
#include "tests/fakeprovider/http_request.h"
#include "tests/fakeprovider/request_facts.h"
#include "tests/fakeprovider/response_plan.h"

namespace rebound::fake {

struct ProviderRequest {
  const HttpRequest& http;
  Api api = Api::kOpenAi;
  std::string_view model;
  bool stream = false;
  uint64_t id = 0;  // makes response ids unique within the process
  RequestFacts facts;
};

// Fills `plan` with the answer to `request` under `spec`.
void BuildFaultResponse(const FaultSpec& spec, const ProviderRequest& request, ResponsePlan& plan);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_FAULT_RESPONSE_H_
