// The fake LLM provider as an HTTP handler: routes the control API
// (/_fake/...), records provider requests, picks each request's fault spec
// (header, script, model name, default) and builds the answer.
#ifndef REBOUND_TESTS_FAKEPROVIDER_FAKE_PROVIDER_H_
#define REBOUND_TESTS_FAKEPROVIDER_FAKE_PROVIDER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>

#include "absl/status/statusor.h"
#include "tests/fakeprovider/fault_spec.h"
#include "tests/fakeprovider/http_server.h"
#include "tests/fakeprovider/provider_state.h"

namespace rebound::fake {

// Request header that carries a fault spec (highest precedence).
inline constexpr std::string_view kFaultHeader = "x-fake-fault";
// Model-name prefix that carries a fault spec.
inline constexpr std::string_view kModelFaultPrefix = "fault:";

struct FakeProviderOptions {
  FaultSpec default_spec;
  size_t max_recorded = 100'000;
  bool log_requests = false;  // one stderr line per provider request
};

// Parses a PUT /_fake/script body: one spec per line ('\n' or "\r\n"), an
// empty line meaning success. A final line needs no terminator, and a
// terminator after the last line does not add an empty entry. Errors name
// the line (1-based).
absl::StatusOr<std::deque<FaultSpec>> ParseScript(std::string_view body);

class FakeProvider : public HttpHandler {
 public:
  explicit FakeProvider(FakeProviderOptions options);

  void Handle(const HttpRequest& request, ResponsePlan& plan) override;

 private:
  void HandleControl(const HttpRequest& request, std::string_view path, ResponsePlan& plan);
  void HandleProvider(const HttpRequest& request, ResponsePlan& plan);

  const FakeProviderOptions options_;
  ProviderState state_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_FAKE_PROVIDER_H_
