// Writes what rebound's translation makes of canned provider answers, for
// check_translations.mjs to parse with the official SDKs:
//   openai.json / openai.sse        Anthropic answers as an OpenAI caller gets them
//   anthropic.json / anthropic.sse  OpenAI answers as an Anthropic caller gets them
// Usage: rebound-translate-fixtures OUT_DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "codec/sse.h"
#include "translate/answer.h"
#include "translate/stream.h"

namespace {

using rebound::translate::Api;

const char kAnthropicJson[] =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[)"
    R"({"type":"text","text":"Checking the weather."},)"
    R"({"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Oslo"}}],)"
    R"("stop_reason":"tool_use","stop_sequence":null,)"
    R"("usage":{"input_tokens":12,"cache_read_input_tokens":30,"cache_creation_input_tokens":0,"output_tokens":9}})";

const char kOpenAiJson[] =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-x",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Checking the weather.",)"
    R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Rome\"}"}}]},)"
    R"("logprobs":null,"finish_reason":"tool_calls"}],)"
    R"("usage":{"prompt_tokens":42,"completion_tokens":9,"total_tokens":51,"prompt_tokens_details":{"cached_tokens":30}}})";

std::string AnthropicSse() {
  auto e = [](const char* type, const std::string& data) {
    return std::string("event: ") + type + "\ndata: " + data + "\n\n";
  };
  return e("message_start", R"({"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}})") +
         e("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
         e("ping", R"({"type":"ping"})") +
         e("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking "}})") +
         e("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"now."}})") +
         e("content_block_stop", R"({"type":"content_block_stop","index":0})") +
         e("content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_2","name":"weather","input":{}}})") +
         e("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})") +
         e("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Oslo\"}"}})") +
         e("content_block_stop", R"({"type":"content_block_stop","index":1})") +
         e("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}})") +
         e("message_stop", R"({"type":"message_stop"})");
}

std::string OpenAiSse() {
  auto c = [](const std::string& delta, const std::string& finish = "null") {
    return "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
           "\"model\":\"gpt-x\",\"choices\":[{\"index\":0,\"delta\":" +
           delta + ",\"finish_reason\":" + finish + "}]}\n\n";
  };
  return c(R"({"role":"assistant","content":""})") + c(R"({"content":"Checking "})") +
         c(R"({"content":"now."})") +
         c(R"({"tool_calls":[{"index":0,"id":"call_2","type":"function","function":{"name":"weather","arguments":""}}]})") +
         c(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})") +
         c(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Rome\"}"}}]})") +
         c("{}", "\"tool_calls\"") +
         "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
         "\"model\":\"gpt-x\",\"choices\":[],\"usage\":{\"prompt_tokens\":42,\"completion_tokens\":15,"
         "\"total_tokens\":57,\"prompt_tokens_details\":{\"cached_tokens\":30}}}\n\n"
         "data: [DONE]\n\n";
}

// The caller's SSE bytes for an upstream stream of `from`.
bool TranslateStream(const std::string& sse, Api from, Api to, std::string* out) {
  rebound::translate::StreamOptions options;
  options.served_model = "served-model";
  options.created_unix_seconds = 1700000000;
  options.include_usage = true;
  auto translator = rebound::translate::StreamTranslator::Create(from, to, options);
  rebound::SseParser parser;
  std::vector<rebound::SseEvent> events;
  if (!parser.Feed(sse, &events).ok()) return false;
  for (const rebound::SseEvent& e : events) {
    std::vector<rebound::translate::CallerEvent> caller;
    if (!translator->Translate(e.event, e.data, &caller).ok()) return false;
    for (const auto& c : caller) {
      if (!c.event.empty()) *out += "event: " + c.event + "\n";
      *out += "data: " + c.data + "\n\n";
    }
  }
  return true;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  rebound::translate::AnswerOptions options;
  options.served_model = "served-model";
  options.created_unix_seconds = 1700000000;
  auto openai = rebound::translate::TranslateAnswer(kAnthropicJson, Api::kAnthropicMessages,
                                                    Api::kOpenAiChat, options);
  auto anthropic = rebound::translate::TranslateAnswer(kOpenAiJson, Api::kOpenAiChat,
                                                       Api::kAnthropicMessages, options);
  std::string openai_sse, anthropic_sse;
  if (!openai.ok() || !anthropic.ok() ||
      !TranslateStream(AnthropicSse(), Api::kAnthropicMessages, Api::kOpenAiChat, &openai_sse) ||
      !TranslateStream(OpenAiSse(), Api::kOpenAiChat, Api::kAnthropicMessages, &anthropic_sse)) {
    std::fprintf(stderr, "translation failed\n");
    return 1;
  }
  bool ok = WriteFile(dir + "/openai.json", *openai) &&
            WriteFile(dir + "/anthropic.json", *anthropic) &&
            WriteFile(dir + "/openai.sse", openai_sse) &&
            WriteFile(dir + "/anthropic.sse", anthropic_sse);
  return ok ? 0 : 1;
}
