// Micro-benchmarks of the per-request hot paths in rebound_core: the model
// splice that runs before every attempt and the SSE parser that sees every
// streamed byte.
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "server/model_splice.h"
#include "server/sse.h"

namespace rebound {
namespace {

// An OpenAI chat body of about `target_bytes`: system prompt, alternating
// turns with escapes and non-ASCII text, the usual options, nested metadata
// with its own "model" key, and the top-level "model" in the middle.
std::string ChatBody(size_t target_bytes) {
  std::string body =
      R"({"messages":[{"role":"system","content":"You are a helpful assistant. Answer \"briefly\".\n"})";
  int turn = 0;
  while (body.size() + 200 < target_bytes) {
    body += turn % 2 == 0 ? R"(,{"role":"user","content":"Explain caf\u00e9 culture in )"
                          : R"(,{"role":"assistant","content":"Café culture — )";
    body += std::to_string(turn);
    body += R"( sentences, with a list:\n- one\n- two\t\"quoted\""})";
    ++turn;
  }
  body +=
      R"(],"model":"gpt-4o","temperature":0.7,"max_tokens":1024,"stream":true,)"
      R"("stream_options":{"include_usage":true},"metadata":{"model":"caller-tag","n":[1,2.5e3]}})";
  return body;
}

void BM_SpliceTopLevelModel(benchmark::State& state) {
  const std::string body = ChatBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<std::string> out = SpliceTopLevelModel(body, "claude-3-5-haiku-latest");
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetLabel(std::to_string(body.size()) + " B body");
}
BENCHMARK(BM_SpliceTopLevelModel)->Arg(1 << 10)->Arg(64 << 10);

// 100 OpenAI chunks plus [DONE], delivered in network-sized pieces.
std::string OpenAiStream(int events) {
  std::string s;
  for (int i = 0; i < events - 1; ++i) {
    s += R"(data: {"id":"chatcmpl-abc123","object":"chat.completion.chunk","created":1732745730,)"
         R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"token )";
    s += std::to_string(i);
    s += R"( "},"logprobs":null,"finish_reason":null}]})"
         "\n\n";
  }
  s += "data: [DONE]\n\n";
  return s;
}

void BM_SseParser(benchmark::State& state) {
  const std::string stream = OpenAiStream(100);
  const size_t chunk = static_cast<size_t>(state.range(0));
  std::vector<SseEvent> events;
  events.reserve(100);
  for (auto _ : state) {
    SseParser parser;
    events.clear();
    for (size_t i = 0; i < stream.size(); i += chunk) {
      benchmark::DoNotOptimize(parser.Feed(std::string_view(stream).substr(i, chunk), &events));
    }
    benchmark::DoNotOptimize(events.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 100));
}
BENCHMARK(BM_SseParser)->Arg(1 << 20)->Arg(1400)->Arg(64);

// The parser plus the completeness tracker, as the streaming path runs them.
void BM_SseParserAndTracker(benchmark::State& state) {
  const std::string stream = OpenAiStream(100);
  std::vector<SseEvent> events;
  events.reserve(100);
  for (auto _ : state) {
    SseParser parser;
    StreamTracker tracker(StreamDialect::kOpenAi);
    events.clear();
    for (size_t i = 0; i < stream.size(); i += 1400) {
      benchmark::DoNotOptimize(parser.Feed(std::string_view(stream).substr(i, 1400), &events));
    }
    for (const SseEvent& e : events) benchmark::DoNotOptimize(tracker.Observe(e));
    benchmark::DoNotOptimize(tracker.terminal_seen());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 100));
}
BENCHMARK(BM_SseParserAndTracker);

}  // namespace
}  // namespace rebound

BENCHMARK_MAIN();
