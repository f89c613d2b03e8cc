#include "tests/fakeprovider/provider_state.h"

#include "absl/strings/str_cat.h"

namespace rebound::fake {

void ProviderState::SetScript(std::deque<FaultSpec> script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::move(script);
}

std::optional<FaultSpec> ProviderState::TakeScripted() {
  std::lock_guard<std::mutex> lock(mu_);
  if (script_.empty()) return std::nullopt;
  FaultSpec next = std::move(script_.front());
  script_.pop_front();
  return next;
}

void ProviderState::Record(const HttpRequest& request) {
  if (max_recorded_ == 0) return;
  // Copy outside the lock: only the push is serialised.
  RecordedRequest r;
  r.time_us = request.received_unix_us;
  r.method = request.method;
  r.path = request.target;
  r.headers.reserve(request.headers.size());
  for (const HttpHeader& h : request.headers) r.headers.emplace_back(h.name, h.value);
  r.body = request.body;
  std::lock_guard<std::mutex> lock(mu_);
  r.seq = next_seq_++;
  requests_.push_back(std::move(r));
  if (requests_.size() > max_recorded_) requests_.pop_front();
}

std::string ProviderState::RequestsJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "[";
  for (const RecordedRequest& r : requests_) {
    if (out.size() > 1) out.append(",\n");
    absl::StrAppend(&out, "{\"seq\":", r.seq, ",\"time_us\":", r.time_us, ",");
    AppendRequestFields(out, r.method, r.path, r.headers, r.body);
    out.push_back('}');
  }
  out.append("]\n");
  return out;
}

void ProviderState::ClearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
  next_seq_ = 1;
}

}  // namespace rebound::fake
