// Fuzz target: the translators between the OpenAI and Anthropic APIs
// (translate/), which read caller requests and provider answers.
//
// Input: a first byte choosing what is translated (its value % 4: a request,
// a JSON answer, an error body, an event stream; bit 2: the direction),
// then the text. An event stream is split into events at blank lines, the
// first line of each naming its event type.
//
// Invariants:
//   - a translated request, answer or error body is valid JSON, an object;
//   - a refused request says why with one of the two documented prefixes,
//     a refused answer with "untranslatable answer";
//   - every caller event of a stream is valid JSON or OpenAI's [DONE], also
//     after Finish.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "codec/json_scan.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "translate/answer.h"
#include "translate/request.h"
#include "translate/stream.h"

namespace {

using rebound::translate::Api;

bool IsJsonObject(std::string_view text) {
  return rebound::json::Validate(text).ok() && !text.empty() && text.front() == '{';
}

void CheckCallerEvents(const std::vector<rebound::translate::CallerEvent>& events) {
  for (const auto& e : events) FUZZ_CHECK(e.data == "[DONE]" || IsJsonObject(e.data));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.Byte();
  const Api from = (mode & 4) != 0 ? Api::kOpenAiChat : Api::kAnthropicMessages;
  const Api to = from == Api::kOpenAiChat ? Api::kAnthropicMessages : Api::kOpenAiChat;
  switch (mode % 4) {
    case 0: {
      auto r = rebound::translate::TranslateRequest(in.Rest(), from, to, {.target_model = "m"});
      if (r.ok()) {
        FUZZ_CHECK(IsJsonObject(r->body));
      } else {
        absl::string_view why = r.status().message();
        FUZZ_CHECK(absl::StartsWith(why, "not_translatable: ") ||
                   absl::StartsWith(why, "invalid request: "));
      }
      break;
    }
    case 1: {
      auto a = rebound::translate::TranslateAnswer(in.Rest(), from, to, {.served_model = "m"});
      if (a.ok()) {
        FUZZ_CHECK(IsJsonObject(*a));
      } else {
        FUZZ_CHECK(absl::StartsWith(a.status().message(), "untranslatable answer"));
      }
      break;
    }
    case 2:
      FUZZ_CHECK(IsJsonObject(rebound::translate::TranslateErrorBody(in.Rest(), 429, from, to)));
      break;
    case 3: {
      auto translator =
          rebound::translate::StreamTranslator::Create(from, to, {.served_model = "m"});
      std::vector<rebound::translate::CallerEvent> out;
      std::string_view stream = in.Rest();
      while (!stream.empty()) {
        size_t end = stream.find("\n\n");
        std::string_view event = stream.substr(0, end);
        stream.remove_prefix(end == std::string_view::npos ? stream.size() : end + 2);
        size_t newline = event.find('\n');
        std::string_view type = event.substr(0, newline);
        std::string_view body =
            newline == std::string_view::npos ? std::string_view() : event.substr(newline + 1);
        out.clear();
        if (!translator->Translate(type, body, &out).ok()) break;  // the attempt fails there
        CheckCallerEvents(out);
      }
      out.clear();
      translator->Finish(&out);
      CheckCallerEvents(out);
      break;
    }
  }
  return 0;
}
