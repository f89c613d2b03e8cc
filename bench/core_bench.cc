// Micro-benchmarks of the per-request hot paths (codec/, retry/,
// translate/): the model splice that runs before every attempt, the SSE
// parser that sees every streamed byte, and the translators a call to a
// model of the other API runs instead of the splice.
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "blocks/block_table.h"
#include "codec/model_splice.h"
#include "codec/sse.h"
#include "policy/config_loader.h"
#include "retry/latency_tracker.h"
#include "retry/retry_budgets.h"
#include "retry/retry_state.h"
#include "translate/answer.h"
#include "translate/request.h"
#include "translate/stream.h"

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
    StreamTracker tracker(StreamDialect::kChatCompletions);
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

// ---------------------------------------------------------------------------
// Translation (TRANSLATION.md): what an attempt at a model of the other API
// costs on top of the splice, per request body, per answer, per event.

// ChatBody closed by a user turn, as a translatable conversation must be.
std::string TranslatableChatBody(size_t target_bytes) {
  std::string body = ChatBody(target_bytes);
  body.insert(body.find("],\"model\""), R"(,{"role":"user","content":"And now?"})");
  return body;
}

void BM_TranslateRequestToAnthropic(benchmark::State& state) {
  const std::string body = TranslatableChatBody(static_cast<size_t>(state.range(0)));
  translate::RequestOptions options{.target_model = "claude-sonnet-4-5"};
  for (auto _ : state) {
    auto out = translate::TranslateRequest(body, translate::Api::kOpenAiChat,
                                           translate::Api::kAnthropicMessages, options);
    if (!out.ok()) state.SkipWithError(std::string(out.status().message()).c_str());
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.SetLabel(std::to_string(body.size()) + " B body");
}
BENCHMARK(BM_TranslateRequestToAnthropic)->Arg(4 << 10);

// The untranslated path's work on the same body, for the ratio.
void BM_SpliceModelSameBody(benchmark::State& state) {
  const std::string body = TranslatableChatBody(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<std::string> out = SpliceTopLevelModel(body, "claude-sonnet-4-5");
    benchmark::DoNotOptimize(out);
  }
  state.SetLabel(std::to_string(body.size()) + " B body");
}
BENCHMARK(BM_SpliceModelSameBody)->Arg(4 << 10);

// An Anthropic answer of about `target_bytes` of text.
std::string AnthropicAnswer(size_t target_bytes) {
  std::string text;
  while (text.size() < target_bytes) text += "The quick brown fox jumps over the lazy dog. ";
  return R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
         R"("content":[{"type":"text","text":")" + text +
         R"("}],"stop_reason":"end_turn","stop_sequence":null,)"
         R"("usage":{"input_tokens":900,"output_tokens":400,"cache_read_input_tokens":100}})";
}

void BM_TranslateAnswerToOpenAi(benchmark::State& state) {
  const std::string answer = AnthropicAnswer(static_cast<size_t>(state.range(0)));
  translate::AnswerOptions options{.served_model = "claude-sonnet-4-5",
                                   .created_unix_seconds = 1732745730};
  for (auto _ : state) {
    auto out = translate::TranslateAnswer(answer, translate::Api::kAnthropicMessages,
                                          translate::Api::kOpenAiChat, options);
    if (!out.ok()) state.SkipWithError(std::string(out.status().message()).c_str());
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * answer.size()));
}
BENCHMARK(BM_TranslateAnswerToOpenAi)->Arg(2 << 10);

// One Anthropic text delta per iteration through a stream translator that
// has seen message_start and the block's start: the per-event cost of a
// translated stream (compare BM_SseParserAndTracker's per-item time).
void BM_TranslateStreamEventToOpenAi(benchmark::State& state) {
  auto translator = translate::StreamTranslator::Create(
      translate::Api::kAnthropicMessages, translate::Api::kOpenAiChat,
      {.served_model = "claude-sonnet-4-5", .created_unix_seconds = 1732745730});
  std::vector<translate::CallerEvent> out;
  benchmark::DoNotOptimize(translator->Translate(
      "message_start",
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("model":"claude","content":[],"usage":{"input_tokens":10,"output_tokens":1}}})",
      &out));
  benchmark::DoNotOptimize(translator->Translate(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      &out));
  const std::string delta =
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token 17 "}})";
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(translator->Translate("content_block_delta", delta, &out));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_TranslateStreamEventToOpenAi);

// One retry decision as a request makes it: a RetryState is built, Begin
// picks the primary, the primary answers 429 and OnAttemptDone fails over to
// the secondary (P429 of SCENARIOS.md). The process-wide table holds 100
// unrelated blocks, so the block lookups are not of an empty table. With
// Arg(1) the 429 carries "Retry-After: 30", adding the header parse and a
// merge into the global table. Arg(2): no header, with the server's retry
// budgets (server.retry_budget, on by default) recording both attempts.
void BM_RetryStateFailover429(benchmark::State& state) {
  LoadResult loaded = LoadConfigFromString(R"(model_providers:
  - model: openai/gpt-4o
    base_url: http://127.0.0.1:1
    access_key: key-primary
    default: true
    retry_policy:
      fallback_models: [anthropic/claude-3-5-sonnet]
      default_strategy: different_provider
      default_max_attempts: 2
      on_status_codes:
        - codes: [429]
          strategy: different_provider
          max_attempts: 2
  - model: anthropic/claude-3-5-sonnet
    base_url: http://127.0.0.1:2
    access_key: key-secondary
    provider_interface: openai
  - model: mistral/mistral-large
    base_url: http://127.0.0.1:3
    access_key: key-tertiary
)",
                                           "bench.yaml", [](std::string_view) {
                                             return std::optional<std::string>();
                                           });
  if (!loaded.ok()) {
    state.SkipWithError("config did not load");
    return;
  }
  const Config* config = loaded.config.get();
  const ModelProvider* primary = config->Find("openai/gpt-4o");
  const bool with_retry_after = state.range(0) == 1;
  std::shared_ptr<RetryBudgets> budgets =
      state.range(0) == 2 ? RetryBudgets::Build(*config, nullptr) : nullptr;
  BlockTable blocks;
  LatencyTracker latency;
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  for (int i = 0; i < 100; ++i) {
    blocks.Merge(BlockKey::Model("other/m" + std::to_string(i)), BlockKind::kRetryAfter,
                 now + absl::Hours(1));
  }
  AttemptResult failure;
  failure.kind = AttemptResult::Kind::kHttpError;
  failure.target = primary;
  failure.http_status = 429;
  failure.error_type = "http_429";
  failure.headers = {{"content-type", "application/json"}, {"x-request-id", "req-1"}};
  if (with_retry_after) failure.headers.emplace_back("retry-after", "30");
  for (auto _ : state) {
    RetryState::Options options;
    options.global_blocks = &blocks;
    options.latency = &latency;
    options.random = [] { return 0.5; };
    options.retry_budget = budgets.get();
    RetryState retry(config, primary, std::move(options));
    benchmark::DoNotOptimize(retry.Begin(now));
    Decision next = retry.OnAttemptDone(failure, now);
    benchmark::DoNotOptimize(next.target);
    if (with_retry_after) blocks.Remove(BlockKey::Model("openai/gpt-4o"));
    now += absl::Microseconds(1);
  }
  state.SetLabel(with_retry_after ? "429 with Retry-After, block merged"
                 : budgets        ? "429, no header, retry budgets on"
                                  : "429, no header");
}
BENCHMARK(BM_RetryStateFailover429)->Arg(0)->Arg(1)->Arg(2);

// The retry budget's own cost per attempt: the provider lookup in the set,
// the mutex, the window's bookkeeping. One first attempt and one retry per
// iteration, the clock advancing 1 ms each time (so buckets roll over).
void BM_RetryBudgetFirstAttemptAndRetry(benchmark::State& state) {
  Config config;
  for (const char* id : {"openai/gpt-4o", "anthropic/claude", "mistral/large"}) {
    ModelProvider m;
    m.model_id = id;
    m.provider = m.model_id.substr(0, m.model_id.find('/'));
    config.providers.push_back(m);
  }
  std::shared_ptr<RetryBudgets> budgets = RetryBudgets::Build(config, nullptr);
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  for (auto _ : state) {
    budgets->RecordFirstAttempt("openai", now);
    benchmark::DoNotOptimize(budgets->TryWithdrawRetry("openai", now));
    now += absl::Milliseconds(1);
  }
}
BENCHMARK(BM_RetryBudgetFirstAttemptAndRetry);

}  // namespace
}  // namespace rebound

BENCHMARK_MAIN();
