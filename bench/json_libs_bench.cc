// rebound-json-libs-bench: the measurement behind the choice of a JSON
// library for cross-API translation (README, "Dependencies"). Each candidate
// from Debian's packages does the same two jobs a translation does:
//
//   request: parse a 4 KiB OpenAI chat request, rewrite it into Anthropic's
//            shape (system messages to a top-level field, max_tokens, the
//            rest copied), write it out;
//   stream:  200 OpenAI stream chunks, each parsed, its delta text read and
//            an Anthropic content_block_delta event written.
//
// Built only when all three libraries are installed:
//   apt-get install rapidjson-dev nlohmann-json3-dev libsimdjson-dev
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "simdjson.h"

namespace {

std::string ChatRequest() {
  std::string messages = R"({"role":"system","content":"You are a careful assistant."})";
  while (messages.size() < 3900) {
    absl::StrAppend(&messages, R"(,{"role":"user","content":"Summarise the attached paragraph )",
                    "in two sentences, keeping every number exact and every name spelled as "
                    R"(given."},{"role":"assistant","content":"Here is the summary you asked for."})");
  }
  return absl::StrCat(R"({"model":"openai/gpt-4o","temperature":0.7,"max_tokens":512,)",
                      R"("stream":false,"messages":[)", messages, "]}");
}

std::vector<std::string> StreamChunks() {
  std::vector<std::string> chunks;
  for (int i = 0; i < 200; ++i) {
    chunks.push_back(absl::StrCat(
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)",
        R"("model":"gpt-4o","choices":[{"index":0,"delta":{"content":"token )", i,
        R"( "},"finish_reason":null}]})"));
  }
  return chunks;
}

const std::string& Request() {
  static const std::string* r = new std::string(ChatRequest());
  return *r;
}
const std::vector<std::string>& Chunks() {
  static const auto* c = new std::vector<std::string>(StreamChunks());
  return *c;
}

// --- nlohmann-json ----------------------------------------------------------

std::string NlohmannRequest(const std::string& in) {
  nlohmann::ordered_json req = nlohmann::ordered_json::parse(in);
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["model"] = req["model"];
  out["max_tokens"] = req["max_tokens"];
  out["temperature"] = req["temperature"];
  std::string system;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const nlohmann::ordered_json& m : req["messages"]) {
    if (m["role"] == "system") {
      system += m["content"].get<std::string>();
    } else {
      messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
    }
  }
  out["system"] = system;
  out["messages"] = std::move(messages);
  return out.dump();
}

std::string NlohmannChunk(const std::string& in) {
  nlohmann::ordered_json chunk = nlohmann::ordered_json::parse(in);
  const std::string& text = chunk["choices"][0]["delta"]["content"].get_ref<const std::string&>();
  nlohmann::ordered_json out = {{"type", "content_block_delta"},
                        {"index", 0},
                        {"delta", {{"type", "text_delta"}, {"text", text}}}};
  return out.dump();
}

// --- RapidJSON --------------------------------------------------------------

std::string RapidjsonRequest(const std::string& in) {
  rapidjson::Document req;
  req.Parse(in.data(), in.size());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("model");
  req["model"].Accept(w);
  w.Key("max_tokens");
  req["max_tokens"].Accept(w);
  w.Key("temperature");
  req["temperature"].Accept(w);
  std::string system;
  for (const auto& m : req["messages"].GetArray()) {
    if (std::string_view(m["role"].GetString()) == "system") system += m["content"].GetString();
  }
  w.Key("system");
  w.String(system.data(), static_cast<rapidjson::SizeType>(system.size()));
  w.Key("messages");
  w.StartArray();
  for (const auto& m : req["messages"].GetArray()) {
    if (std::string_view(m["role"].GetString()) == "system") continue;
    w.StartObject();
    w.Key("role");
    m["role"].Accept(w);
    w.Key("content");
    m["content"].Accept(w);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// The Anthropic text delta event both RapidJSON-writing candidates emit.
std::string TextDeltaEvent(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("type");
  w.String("content_block_delta");
  w.Key("index");
  w.Int(0);
  w.Key("delta");
  w.StartObject();
  w.Key("type");
  w.String("text_delta");
  w.Key("text");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string RapidjsonChunk(const std::string& in) {
  rapidjson::Document chunk;
  chunk.Parse(in.data(), in.size());
  const rapidjson::Value& text = chunk["choices"][0]["delta"]["content"];
  return TextDeltaEvent(std::string_view(text.GetString(), text.GetStringLength()));
}

// --- simdjson (parsing only: it has no DOM writer; RapidJSON writes) ------------

std::string SimdjsonRequest(simdjson::dom::parser& parser, const std::string& in) {
  simdjson::dom::element req = parser.parse(in);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto raw = [&w](simdjson::dom::element e) {
    std::string text = simdjson::minify(e);
    w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
  };
  w.StartObject();
  w.Key("model");
  raw(req["model"]);
  w.Key("max_tokens");
  raw(req["max_tokens"]);
  w.Key("temperature");
  raw(req["temperature"]);
  std::string system;
  for (simdjson::dom::element m : req["messages"].get_array()) {
    if (std::string_view(m["role"]) == "system") system += std::string_view(m["content"]);
  }
  w.Key("system");
  w.String(system.data(), static_cast<rapidjson::SizeType>(system.size()));
  w.Key("messages");
  w.StartArray();
  for (simdjson::dom::element m : req["messages"].get_array()) {
    std::string_view role = m["role"];
    if (role == "system") continue;
    std::string_view content = m["content"];
    w.StartObject();
    w.Key("role");
    w.String(role.data(), static_cast<rapidjson::SizeType>(role.size()));
    w.Key("content");
    w.String(content.data(), static_cast<rapidjson::SizeType>(content.size()));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string SimdjsonChunk(simdjson::dom::parser& parser, const std::string& in) {
  simdjson::dom::element chunk = parser.parse(in);
  return TextDeltaEvent(chunk["choices"].at(0)["delta"]["content"]);
}

// The three must do the same work: identical output, checked before timing.
const bool kSameOutput = [] {
  simdjson::dom::parser parser;
  const std::string expected = RapidjsonRequest(Request());
  bool same = NlohmannRequest(Request()) == expected &&
              SimdjsonRequest(parser, Request()) == expected;
  for (const std::string& c : Chunks()) {
    same = same && NlohmannChunk(c) == RapidjsonChunk(c) &&
           SimdjsonChunk(parser, c) == RapidjsonChunk(c);
  }
  if (!same) {
    std::fprintf(stderr, "the libraries disagree on the output\n");
    std::abort();
  }
  return true;
}();

void BM_Request_Nlohmann(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NlohmannRequest(Request()));
}
void BM_Request_Rapidjson(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(RapidjsonRequest(Request()));
}
void BM_Request_Simdjson(benchmark::State& state) {
  simdjson::dom::parser parser;
  for (auto _ : state) benchmark::DoNotOptimize(SimdjsonRequest(parser, Request()));
}
void BM_Stream200_Nlohmann(benchmark::State& state) {
  for (auto _ : state) {
    for (const std::string& c : Chunks()) benchmark::DoNotOptimize(NlohmannChunk(c));
  }
}
void BM_Stream200_Rapidjson(benchmark::State& state) {
  for (auto _ : state) {
    for (const std::string& c : Chunks()) benchmark::DoNotOptimize(RapidjsonChunk(c));
  }
}
void BM_Stream200_Simdjson(benchmark::State& state) {
  simdjson::dom::parser parser;
  for (auto _ : state) {
    for (const std::string& c : Chunks()) benchmark::DoNotOptimize(SimdjsonChunk(parser, c));
  }
}

BENCHMARK(BM_Request_Nlohmann);
BENCHMARK(BM_Request_Rapidjson);
BENCHMARK(BM_Request_Simdjson);
BENCHMARK(BM_Stream200_Nlohmann);
BENCHMARK(BM_Stream200_Rapidjson);
BENCHMARK(BM_Stream200_Simdjson);

}  // namespace

BENCHMARK_MAIN();
