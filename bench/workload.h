// The request every benchmark call sends, identical on both paths: a chat
// completion of about `body_bytes` whose answer the fake pads to about
// `response_bytes`.
#ifndef REBOUND_BENCH_WORKLOAD_H_
#define REBOUND_BENCH_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace rebound::bench {

// The fake provider's fault header (tests/fakeprovider/fake_provider.h).
inline constexpr char kFaultHeader[] = "x-fake-fault";

struct Workload {
  // {"model":"...","messages":[{"role":"user","content":"..."}]}
  std::string body;
  // The x-fake-fault value sent with every call ("response_bytes=N").
  std::string fault;
};

// A workload whose body is `body_bytes` long (at least the JSON skeleton)
// and whose answers are padded to about `response_bytes`.
Workload MakeWorkload(size_t body_bytes, int64_t response_bytes);

// A streaming chat request ("stream": true) of about `body_bytes` whose
// answer is one event, after which the fake keeps the connection open and
// silent: a stream that stays open until the caller cancels it.
Workload MakeStreamWorkload(size_t body_bytes);

// The content events of the streaming section's long stream.
inline constexpr int kStreamTokens = 50;

// A streaming chat request ("stream": true) of about `body_bytes` whose
// answer streams `tokens` content events (plus the API's first and last
// chunks and its [DONE]).
Workload MakeTokenStreamWorkload(size_t body_bytes, int tokens);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_WORKLOAD_H_
