#include "bench/workload.h"

#include <string_view>

namespace rebound::bench {

Workload MakeWorkload(size_t body_bytes, int64_t response_bytes) {
  constexpr std::string_view kPrefix =
      R"({"model":"bench-model","messages":[{"role":"user","content":")";
  constexpr std::string_view kSuffix = R"("}]})";
  constexpr std::string_view kFiller = "The quick brown fox jumps over the lazy dog. ";
  size_t skeleton = kPrefix.size() + kSuffix.size();
  size_t content_bytes = body_bytes > skeleton ? body_bytes - skeleton : 0;
  Workload w;
  w.body.reserve(skeleton + content_bytes);
  w.body.append(kPrefix);
  for (size_t n = 0; n < content_bytes; n += kFiller.size()) {
    w.body.append(kFiller.substr(0, content_bytes - n));
  }
  w.body.append(kSuffix);
  w.fault = "response_bytes=" + std::to_string(response_bytes);
  return w;
}

Workload MakeStreamWorkload(size_t body_bytes) {
  Workload w = MakeWorkload(body_bytes, 0);
  // {"model":...,"messages":[...]} -> {"model":...,"stream":true,"messages":[...]}
  w.body.insert(w.body.find(",\"messages\""), ",\"stream\":true");
  w.fault = "stall_after_events=1";
  return w;
}

Workload MakeTokenStreamWorkload(size_t body_bytes, int tokens) {
  Workload w = MakeStreamWorkload(body_bytes);
  w.fault = "tokens=" + std::to_string(tokens);
  return w;
}

}  // namespace rebound::bench
