// State shared by every event loop of one fake provider: the fault script a
// test installed and the record of provider requests received. Guarded by one
// mutex; every operation is short and never blocks on I/O.
#ifndef REBOUND_TESTS_FAKEPROVIDER_PROVIDER_STATE_H_
#define REBOUND_TESTS_FAKEPROVIDER_PROVIDER_STATE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "tests/fakeprovider/fault_spec.h"
#include "tests/fakeprovider/http_request.h"
#include "tests/fakeprovider/json_text.h"

namespace rebound::fake {

struct RecordedRequest {
  uint64_t seq = 0;
  int64_t time_us = 0;
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Appends `"method":..,"path":..,"headers":[[n,v],..],"body":..,"body_b64":..`
// (no braces):
// the shape shared by the request record and the echo fault.
template <typename Headers>
void AppendRequestFields(std::string& out, std::string_view method, std::string_view path,
                         const Headers& headers, std::string_view body) {
  out.append("\"method\":");
  AppendJsonString(out, method);
  out.append(",\"path\":");
  AppendJsonString(out, path);
  out.append(",\"headers\":[");
  bool first = true;
  for (const auto& [name, value] : headers) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('[');
    AppendJsonString(out, name);
    out.push_back(',');
    AppendJsonString(out, value);
    out.push_back(']');
  }
  out.append("],\"body\":");
  AppendJsonString(out, body);
  // JSON strings cannot carry arbitrary bytes; this copy is exact.
  out.append(",\"body_b64\":\"");
  out.append(absl::Base64Escape(absl::string_view(body.data(), body.size())));
  out.push_back('"');
}

class ProviderState {
 public:
  // Keeps at most `max_recorded` requests (the oldest are dropped), so a
  // long benchmark cannot grow the fake without bound. 0 records nothing.
  explicit ProviderState(size_t max_recorded) : max_recorded_(max_recorded) {}

  // Replaces the script.
  void SetScript(std::deque<FaultSpec> script);
  // The next script entry, consumed; nullopt when the script is exhausted.
  std::optional<FaultSpec> TakeScripted();

  void Record(const HttpRequest& request);
  // JSON array of the recorded requests, oldest first.
  std::string RequestsJson() const;
  // Forgets every recorded request; sequence numbers start again at 1.
  void ClearRequests();

 private:
  const size_t max_recorded_;
  mutable std::mutex mu_;
  std::deque<FaultSpec> script_;
  std::deque<RecordedRequest> requests_;
  uint64_t next_seq_ = 1;
};

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_PROVIDER_STATE_H_
