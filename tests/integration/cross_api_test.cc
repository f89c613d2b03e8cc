// Failover across provider APIs end to end (TRANSLATION.md, issue 12), with
// real processes: rebound-server, and rebound-fakeprovider playing an
// OpenAI primary, an Anthropic fallback and a third OpenAI-API model. The
// fake answers each path in its own API's shape, so every byte the caller
// gets from the Anthropic fallback went through the translation, and the
// fake's strict request validation answers 400 to any translated request
// the real API would refuse (a 400 fails these tests).
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/fakeprovider/completion_bodies.h"
#include "tests/integration/gateway_fixture.h"

namespace rebound::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

rapidjson::Document Json(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

// The text the fake generates for an answer of `tokens` tokens.
std::string FakeText(int tokens) {
  std::string out;
  for (int i = 0; i < tokens; ++i) out += std::string(fake::TokenText(i));
  return out;
}

class CrossApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto [fake, name] : {std::pair{&openai_, "openai"}, std::pair{&anthropic_, "anthropic"},
                              std::pair{&third_, "third"}}) {
      auto started = FakeProvider::Start({}, name);
      ASSERT_TRUE(started.ok()) << started.status();
      *fake = *std::move(started);
    }
    const std::string policy =
        "    retry_policy: {fallback_models: [anthropic/claude-sonnet, mistral/mistral-large], "
        "default_max_attempts: 3}\n";
    auto gateway = GatewayProcess::Start(absl::StrCat(
        ServerSection(), "model_providers:\n",
        ProviderEntry("openai/gpt-4o", openai_->base_url(), "key-openai", policy),
        ProviderEntry("anthropic/claude-sonnet", anthropic_->base_url(), "key-anthropic",
                      "    provider_interface: anthropic\n"
                      "    retry_policy: {fallback_models: [openai/gpt-4o]}\n"),
        ProviderEntry("mistral/mistral-large", third_->base_url(), "key-third")));
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }

  v1::CompletionRequest OpenAiRequest(bool stream) {
    v1::CompletionRequest r;
    r.set_model("openai/gpt-4o");
    r.set_body(absl::StrCat(R"({"model":"openai/gpt-4o","messages":[)"
                            R"({"role":"system","content":"Be brief."},)"
                            R"({"role":"user","content":"Hi"}],"seed":1)",
                            stream ? R"(,"stream":true,"stream_options":{"include_usage":true}})"
                                   : "}"));
    return r;
  }

  // The one request the Anthropic fake received.
  RecordedRequest AnthropicRequest() {
    std::vector<RecordedRequest> got = anthropic_->Requests();
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? RecordedRequest{} : got[0];
  }

  double Translations(const std::string& labels) {
    return MetricValue(gateway_->ScrapeMetrics(), "rebound_translations_total{" + labels + "}")
        .value_or(0);
  }

  std::unique_ptr<FakeProvider> openai_;
  std::unique_ptr<FakeProvider> anthropic_;
  std::unique_ptr<FakeProvider> third_;
  std::unique_ptr<GatewayProcess> gateway_;
};

TEST_F(CrossApiTest, AnOpenAiCallIsServedByTheAnthropicFallbackUnary) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({"tokens=3"}));
  client::CallResult result = gateway_->client().Complete(OpenAiRequest(false));
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "anthropic/claude-sonnet");
  rapidjson::Document answer = Json(result.response.body());
  EXPECT_STREQ(answer["object"].GetString(), "chat.completion");
  EXPECT_EQ(std::string(answer["choices"][0]["message"]["content"].GetString()), FakeText(3));
  EXPECT_STREQ(answer["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(answer["usage"]["completion_tokens"].GetInt64(), 3);

  RecordedRequest sent = AnthropicRequest();
  EXPECT_EQ(sent.path, "/v1/messages");
  EXPECT_EQ(Header(sent, "x-api-key").value_or(""), "key-anthropic");
  EXPECT_FALSE(Header(sent, "authorization").has_value());
  rapidjson::Document body = Json(sent.body);
  EXPECT_STREQ(body["system"][0]["text"].GetString(), "Be brief.");
  EXPECT_EQ(body["max_tokens"].GetInt64(), 4096);
  EXPECT_EQ(Header(sent, "x-request-id"), Header(openai_->Requests().at(0), "x-request-id"));

  ASSERT_EQ(result.response.attempts_size(), 2);
  EXPECT_EQ(result.response.attempts(1).translation(), "openai->anthropic");
  EXPECT_THAT(result.response.attempts(1).dropped_fields(), ElementsAre("seed"));
  EXPECT_EQ(Translations(R"(from="openai",result="translated",to="anthropic")"), 1);
}

TEST_F(CrossApiTest, AStreamFromTheAnthropicFallbackArrivesEventByEvent) {
  constexpr int kTokens = 4;
  constexpr int64_t kIntervalMs = 150;
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({absl::StrCat("tokens=", kTokens,
                                                  ";token_interval_ms=", kIntervalMs)}));
  std::vector<absl::Time> content_at;
  std::string text;
  std::vector<std::string> data;
  client::CallResult result = gateway_->client().StreamComplete(
      OpenAiRequest(true), absl::Seconds(20), [&](const v1::StreamEvent& e) {
        if (!e.has_data()) return;
        data.push_back(e.data().data());
        EXPECT_EQ(e.data().event(), "") << "chat chunks carry no event type";
        if (e.data().data() == "[DONE]") return;
        rapidjson::Document chunk = Json(e.data().data());
        if (chunk["choices"].Empty()) return;  // the usage chunk
        const rapidjson::Value& delta = chunk["choices"][0]["delta"];
        if (delta.HasMember("content") && delta["content"].GetStringLength() > 0) {
          content_at.push_back(absl::Now());
          text += delta["content"].GetString();
        }
      });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(text, FakeText(kTokens));
  ASSERT_EQ(content_at.size(), static_cast<size_t>(kTokens));
  // The fake sends the tokens kIntervalMs apart: translated one by one,
  // they reach the caller spaced like that (a buffered translation would
  // deliver them together). The bounds leave room for scheduling either
  // way, as gateway_test's untranslated check does.
  for (int i = 1; i < kTokens; ++i) {
    absl::Duration gap = content_at[i] - content_at[i - 1];
    EXPECT_GE(gap, absl::Milliseconds(kIntervalMs * 0.6)) << "gap before token " << i;
    EXPECT_LE(gap, absl::Milliseconds(kIntervalMs * 4)) << "gap before token " << i;
  }
  EXPECT_EQ(data.back(), "[DONE]");
  rapidjson::Document usage_chunk = Json(data[data.size() - 2]);
  EXPECT_EQ(usage_chunk["usage"]["completion_tokens"].GetInt64(), kTokens);
  EXPECT_EQ(result.response.served_model(), "anthropic/claude-sonnet");
}

TEST_F(CrossApiTest, AnAnthropicCallIsServedByTheOpenAiFallback) {
  ASSERT_TRUE(anthropic_->SetScript({"status=529"}));
  ASSERT_TRUE(openai_->SetScript({"tokens=2"}));
  v1::CompletionRequest r;
  r.set_model("anthropic/claude-sonnet");
  r.set_path("/v1/messages");
  r.set_body(R"({"model":"claude","max_tokens":64,"system":"Be brief.",)"
             R"("messages":[{"role":"user","content":"Hi"}]})");
  client::CallResult result = gateway_->client().Complete(r);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  rapidjson::Document answer = Json(result.response.body());
  EXPECT_STREQ(answer["type"].GetString(), "message");
  EXPECT_EQ(std::string(answer["content"][0]["text"].GetString()), FakeText(2));
  EXPECT_STREQ(answer["stop_reason"].GetString(), "end_turn");
  std::vector<RecordedRequest> sent = openai_->Requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/v1/chat/completions");
  EXPECT_EQ(Header(sent[0], "authorization").value_or(""), "Bearer key-openai");
  EXPECT_EQ(result.response.attempts(1).translation(), "anthropic->openai");

  // And streamed: the full Anthropic event sequence from OpenAI chunks.
  ASSERT_TRUE(anthropic_->SetScript({"status=529"}));
  ASSERT_TRUE(openai_->SetScript({"tokens=2"}));
  r.set_body(R"({"model":"claude","max_tokens":64,"stream":true,)"
             R"("messages":[{"role":"user","content":"Hi"}]})");
  std::vector<std::string> types;
  client::CallResult streamed = gateway_->client().StreamComplete(
      r, absl::Seconds(20), [&](const v1::StreamEvent& e) {
        if (e.has_data()) types.push_back(e.data().event());
      });
  ASSERT_TRUE(streamed.ok()) << streamed.status.error_message();
  EXPECT_THAT(types, ElementsAre("message_start", "content_block_start", "content_block_delta",
                                 "content_block_delta", "content_block_stop", "message_delta",
                                 "message_stop"));
}

TEST_F(CrossApiTest, AStreamCutOnTheAnthropicFallbackIsResetAndTheThirdModelServes) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({"tokens=5;cut_after_events=4"}));
  ASSERT_TRUE(third_->SetScript({"tokens=2"}));
  std::vector<std::string> kinds;
  client::CallResult result = gateway_->client().StreamComplete(
      OpenAiRequest(true), absl::Seconds(20), [&](const v1::StreamEvent& e) {
        if (e.has_attempt_started()) kinds.push_back("started:" + e.attempt_started().model());
        if (e.has_reset()) kinds.push_back("reset");
        if (e.has_end()) kinds.push_back("end");
      });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_THAT(kinds, ElementsAre("started:anthropic/claude-sonnet", "reset",
                                 "started:mistral/mistral-large", "end"));
  ASSERT_EQ(result.response.attempts_size(), 3);
  EXPECT_EQ(result.response.attempts(1).error_type(), "stream_interrupted");
  EXPECT_EQ(result.response.attempts(1).translation(), "openai->anthropic");
  EXPECT_EQ(result.response.attempts(2).translation(), "");
  EXPECT_EQ(result.response.served_model(), "mistral/mistral-large");
}

TEST_F(CrossApiTest, AnUntranslatableRequestSkipsTheAnthropicFallbackWithTheReason) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  v1::CompletionRequest r = OpenAiRequest(false);
  r.set_body(R"({"model":"x","n":2,"messages":[{"role":"user","content":"Hi"}]})");
  client::CallResult result = gateway_->client().Complete(r);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.served_model(), "mistral/mistral-large");
  EXPECT_EQ(anthropic_->RequestCount(), 0);
  ASSERT_EQ(result.response.skipped_size(), 1);
  EXPECT_EQ(result.response.skipped(0).model(), "anthropic/claude-sonnet");
  EXPECT_EQ(result.response.skipped(0).reason(), "not_translatable: n");
  EXPECT_EQ(Translations(R"(from="openai",result="not_translatable",to="anthropic")"), 1);
}

TEST_F(CrossApiTest, TheAnthropicFallbacksErrorReachesTheOpenAiCallerInItsShape) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({"status=400"}));
  client::CallResult result = gateway_->client().Complete(OpenAiRequest(false));
  ASSERT_FALSE(result.ok());
  ASSERT_TRUE(result.error_detail.has_value());
  EXPECT_EQ(result.error_detail->upstream_http_status(), 400);
  rapidjson::Document body = Json(result.error_detail->upstream_body());
  ASSERT_TRUE(body.HasMember("error")) << result.error_detail->upstream_body();
  EXPECT_FALSE(body.HasMember("type")) << "OpenAI's error shape";
  EXPECT_TRUE(body["error"].HasMember("message"));
  EXPECT_THAT(result.error_detail->upstream_body_raw(), HasSubstr("fake 400"));
}

// A tool call answered by the Anthropic fallback, then the caller's tool
// result round: both requests must pass the fake's strict Messages API
// validation (every tool_result answers the tool_use before it).
TEST_F(CrossApiTest, AToolCallAndItsResultRoundCrossToAnthropicAndBack) {
  ASSERT_TRUE(openai_->SetScript({"status=429", "status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({R"(tool_call=weather;tool_args={"city":"Oslo"})", "tokens=2"}));
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"weather","description":"Weather now",)"
      R"("parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  v1::CompletionRequest r = OpenAiRequest(false);
  r.set_body(absl::StrCat(R"({"model":"x","messages":[{"role":"user","content":"Weather?"}],)",
                          tools, "}"));
  client::CallResult first = gateway_->client().Complete(r);
  ASSERT_TRUE(first.ok()) << first.status.error_message();
  rapidjson::Document answer = Json(first.response.body());
  const rapidjson::Value& message = answer["choices"][0]["message"];
  ASSERT_TRUE(message.HasMember("tool_calls")) << first.response.body();
  const rapidjson::Value& call = message["tool_calls"][0];
  EXPECT_STREQ(call["function"]["name"].GetString(), "weather");
  EXPECT_STREQ(Json(call["function"]["arguments"].GetString())["city"].GetString(), "Oslo");
  EXPECT_STREQ(answer["choices"][0]["finish_reason"].GetString(), "tool_calls");
  const std::string call_id = call["id"].GetString();

  r.set_body(absl::StrCat(
      R"({"model":"x","messages":[{"role":"user","content":"Weather?"},)",
      R"({"role":"assistant","content":null,"tool_calls":[{"id":")", call_id,
      R"(","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Oslo\"}"}}]},)",
      R"({"role":"tool","tool_call_id":")", call_id, R"(","content":"12 C, rain"}],)", tools, "}"));
  client::CallResult second = gateway_->client().Complete(r);
  ASSERT_TRUE(second.ok()) << second.status.error_message();
  EXPECT_EQ(std::string(Json(second.response.body())["choices"][0]["message"]["content"].GetString()),
            FakeText(2));
  std::vector<RecordedRequest> sent = anthropic_->Requests();
  ASSERT_EQ(sent.size(), 2u);
  rapidjson::Document round = Json(sent[1].body);
  const rapidjson::Value& turns = round["messages"];
  ASSERT_EQ(turns.Size(), 3u);
  EXPECT_STREQ(turns[1]["content"][0]["type"].GetString(), "tool_use");
  EXPECT_EQ(std::string(turns[1]["content"][0]["id"].GetString()), call_id);
  EXPECT_STREQ(turns[2]["content"][0]["type"].GetString(), "tool_result");
  EXPECT_EQ(std::string(turns[2]["content"][0]["tool_use_id"].GetString()), call_id);
}

TEST_F(CrossApiTest, AStreamedToolCallFromAnthropicReassemblesForTheOpenAiCaller) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({R"(tool_call=weather;tool_args={"city":"Oslo","days":3})"}));
  std::string name;
  std::string arguments;
  std::string finish;
  client::CallResult result = gateway_->client().StreamComplete(
      OpenAiRequest(true), absl::Seconds(20), [&](const v1::StreamEvent& e) {
        if (!e.has_data() || e.data().data() == "[DONE]") return;
        rapidjson::Document chunk = Json(e.data().data());
        if (chunk["choices"].Empty()) return;
        const rapidjson::Value& choice = chunk["choices"][0];
        if (choice["finish_reason"].IsString()) finish = choice["finish_reason"].GetString();
        if (!choice["delta"].HasMember("tool_calls")) return;
        const rapidjson::Value& f = choice["delta"]["tool_calls"][0]["function"];
        if (f.HasMember("name")) name = f["name"].GetString();
        if (f.HasMember("arguments")) arguments += f["arguments"].GetString();
      });
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  EXPECT_EQ(name, "weather");
  rapidjson::Document args = Json(arguments);
  EXPECT_STREQ(args["city"].GetString(), "Oslo");
  EXPECT_EQ(args["days"].GetInt(), 3);
  EXPECT_EQ(finish, "tool_calls");
}

TEST_F(CrossApiTest, AnImagePartReachesTheAnthropicFallbackAsAnImageBlock) {
  ASSERT_TRUE(openai_->SetScript({"status=429"}));
  v1::CompletionRequest r = OpenAiRequest(false);
  r.set_body(
      R"({"model":"x","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]})");
  client::CallResult result = gateway_->client().Complete(r);
  ASSERT_TRUE(result.ok()) << result.status.error_message();
  // The fake acknowledges the images it received at the start of its text.
  EXPECT_THAT(std::string(Json(result.response.body())["choices"][0]["message"]["content"].GetString()),
              ::testing::StartsWith("saw 1 image"));
  rapidjson::Document sent = Json(AnthropicRequest().body);
  const rapidjson::Value& image = sent["messages"][0]["content"][1];
  EXPECT_STREQ(image["type"].GetString(), "image");
  EXPECT_STREQ(image["source"]["type"].GetString(), "base64");
  EXPECT_STREQ(image["source"]["media_type"].GetString(), "image/png");
  EXPECT_STREQ(image["source"]["data"].GetString(), "iVBORw0KGgo=");
}

// The SSE text of a streamed call's data events, as the caller's API frames
// them (what an SDK reading rebound's events as a byte stream would see).
std::string AsSse(const std::vector<v1::SseEvent>& events) {
  std::string out;
  for (const v1::SseEvent& e : events) {
    if (!e.event().empty()) absl::StrAppend(&out, "event: ", e.event(), "\n");
    absl::StrAppend(&out, "data: ", e.data(), "\n\n");
  }
  return out;
}

// What the callers of both APIs received after a cross-API failover, unary
// and streamed, parsed by the official OpenAI and Anthropic SDKs
// (tests/sdk/check_gateway_answers.mjs; deploy/run.sh installs them).
TEST_F(CrossApiTest, WhatTheCallersReceiveParsesWithTheOfficialSdks) {
  const std::string dir = TestTempDir() + "/sdk-answers";
  ASSERT_EQ(system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  std::string cases;
  auto add_case = [&](const std::string& file, const std::string& contents, const char* api,
                      bool stream, const std::string& text, const char* finish,
                      int output_tokens, const std::string& tool = "null") {
    std::ofstream(dir + "/" + file, std::ios::binary) << contents;
    absl::StrAppend(&cases, cases.empty() ? "[" : ",", R"({"file":")", file, R"(","api":")", api,
                    R"(","stream":)", stream ? "true" : "false", R"(,"text":")", text,
                    R"(","finish":")", finish, R"(","tool":)", tool, R"(,"output_tokens":)",
                    output_tokens, "}");
  };
  // The fake's token count for a tool-call answer includes the call, so
  // the expected usage is read from what the gateway returned (the SDK
  // must parse the same number).
  auto unary_tokens = [](const std::string& json, const char* name) {
    rapidjson::Document d = Json(json);
    return static_cast<int>(d["usage"][name].GetInt64());
  };
  auto tokens_in_delta = [](const std::vector<v1::SseEvent>& events) {
    for (const v1::SseEvent& e : events) {
      if (e.event() == "message_delta") {
        return static_cast<int>(Json(e.data())["usage"]["output_tokens"].GetInt64());
      }
    }
    return -1;
  };
  auto stream = [&](const v1::CompletionRequest& r, std::vector<v1::SseEvent>* events) {
    return gateway_->client().StreamComplete(r, absl::Seconds(20), [&](const v1::StreamEvent& e) {
      if (e.has_data()) events->push_back(e.data());
    });
  };

  // An OpenAI caller served by Anthropic.
  ASSERT_TRUE(openai_->SetScript({"status=429", "status=429"}));
  ASSERT_TRUE(anthropic_->SetScript({"tokens=3", "tokens=4"}));
  client::CallResult unary = gateway_->client().Complete(OpenAiRequest(false));
  ASSERT_TRUE(unary.ok()) << unary.status.error_message();
  add_case("openai.json", unary.response.body(), "openai", false, FakeText(3), "stop", 3);
  std::vector<v1::SseEvent> events;
  ASSERT_TRUE(stream(OpenAiRequest(true), &events).ok());
  add_case("openai.sse", AsSse(events), "openai", true, FakeText(4), "stop", 4);

  // An Anthropic caller served by OpenAI.
  ASSERT_TRUE(anthropic_->SetScript({"status=529", "status=529"}));
  ASSERT_TRUE(openai_->SetScript({"tokens=2", "tokens=5"}));
  v1::CompletionRequest r;
  r.set_model("anthropic/claude-sonnet");
  r.set_path("/v1/messages");
  r.set_body(R"({"model":"c","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]})");
  unary = gateway_->client().Complete(r);
  ASSERT_TRUE(unary.ok()) << unary.status.error_message();
  add_case("anthropic.json", unary.response.body(), "anthropic", false, FakeText(2), "end_turn",
           2);
  r.set_body(R"({"model":"c","max_tokens":64,"stream":true,)"
             R"("messages":[{"role":"user","content":"Hi"}]})");
  events.clear();
  ASSERT_TRUE(stream(r, &events).ok());
  add_case("anthropic.sse", AsSse(events), "anthropic", true, FakeText(5), "end_turn", 5);

  // Tool calls, both ways, unary and streamed.
  const std::string spec = R"(tokens=1;tool_call=weather;tool_args={"city":"Oslo"})";
  const std::string tool = R"({"name":"weather","args":{"city":"Oslo"}})";
  ASSERT_TRUE(openai_->SetScript({"status=429", "status=429", spec, spec}));
  ASSERT_TRUE(anthropic_->SetScript({spec, spec, "status=529", "status=529"}));
  unary = gateway_->client().Complete(OpenAiRequest(false));
  ASSERT_TRUE(unary.ok()) << unary.status.error_message();
  add_case("openai-tool.json", unary.response.body(), "openai", false, FakeText(1), "tool_calls",
           unary_tokens(unary.response.body(), "completion_tokens"), tool);
  events.clear();
  ASSERT_TRUE(stream(OpenAiRequest(true), &events).ok());
  add_case("openai-tool.sse", AsSse(events), "openai", true, FakeText(1), "tool_calls",
           unary_tokens(events[events.size() - 2].data(), "completion_tokens"), tool);
  r.set_body(R"({"model":"c","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]})");
  unary = gateway_->client().Complete(r);
  ASSERT_TRUE(unary.ok()) << unary.status.error_message();
  add_case("anthropic-tool.json", unary.response.body(), "anthropic", false, FakeText(1),
           "tool_use", unary_tokens(unary.response.body(), "output_tokens"), tool);
  r.set_body(R"({"model":"c","max_tokens":64,"stream":true,)"
             R"("messages":[{"role":"user","content":"Hi"}]})");
  events.clear();
  ASSERT_TRUE(stream(r, &events).ok());
  add_case("anthropic-tool.sse", AsSse(events), "anthropic", true, FakeText(1), "tool_use",
           tokens_in_delta(events), tool);
  std::ofstream(dir + "/cases.json") << cases << "]";

  auto node = Subprocess::Start(
      {.binary = "/bin/sh",
       .args = {"-c", "exec node \"$0\" \"$1\"",
                std::string(REBOUND_SOURCE_DIR) + "/tests/sdk/check_gateway_answers.mjs", dir},
       .name = "check_gateway_answers"});
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ((*node)->Wait(absl::Seconds(60)), 0)
      << (*node)->Stdout() << (*node)->Stderr()
      << "(node and the SDKs come from deploy/run.sh: npm ci --prefix tests/sdk)";
}

}  // namespace
}  // namespace rebound::testing
