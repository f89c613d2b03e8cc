#include "tests/fakeprovider/fault_response.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/fakeprovider/error_bodies.h"
#include "tests/fakeprovider/provider_state.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

bool Is2xx(int status) { return status >= 200 && status < 300; }

// What a request sent, with the values of credential headers replaced: an
// answer is gateway output (the suite's secret scan searches it), and a real
// provider never reflects a key. GET /_fake/requests keeps them exact.
std::string EchoBody(const HttpRequest& http) {
  HeaderList headers;
  headers.reserve(http.headers.size());
  for (const HttpHeader& h : http.headers) {
    bool credential = EqualsIgnoreCase(h.name, "authorization") ||
                      EqualsIgnoreCase(h.name, "x-api-key") || EqualsIgnoreCase(h.name, "api-key");
    headers.emplace_back(h.name, credential ? std::string_view("[redacted]") : h.value);
  }
  std::string out = "{";
  AppendRequestFields(out, http.method, http.target, headers, http.body);
  out.append("}");
  return out;
}

// What the answer carries, decided before any framing or timing.
struct Answer {
  int status = 200;
  std::string body;
  bool stream = false;
};

// error_class= goes into the stream's error event when the request streams,
// error_event_at= says where and no error status was asked for; otherwise it
// is the answer itself.
bool ErrorClassInStream(const FaultSpec& spec, const ProviderRequest& request) {
  return spec.error_class && spec.error_event_at && request.stream &&
         Is2xx(spec.status.value_or(200));
}

Answer ChooseAnswer(const FaultSpec& spec, const ProviderRequest& request,
                    const Completion& completion) {
  Answer a;
  const bool error_answer = spec.error_class && !ErrorClassInStream(spec, request);
  a.status = spec.status.value_or(
      error_answer ? ErrorAnswerStatus(*spec.error_class, request.api) : 200);
  if (spec.echo) {
    a.status = 200;
    a.body = EchoBody(request.http);
  } else if (spec.body) {
    a.body = *spec.body;
  } else if (error_answer) {
    // Whatever the status: status=200 makes a provider that answers its
    // errors with 200.
    a.body = ErrorAnswerBody(*spec.error_class, request.api);
  } else if (!Is2xx(a.status)) {
    // Providers answer errors with a plain JSON body even to stream requests.
    a.body = ErrorBody(a.status);
  } else if (request.stream) {
    a.stream = true;
  } else if (spec.malformed_event_at) {
    a.body = "{not json";
  } else {
    a.body = CompletionBody(completion);
  }
  return a;
}

void BuildHead(const FaultSpec& spec, const ProviderRequest& request, const Answer& answer,
               ResponsePlan& plan) {
  std::string length = absl::StrCat(answer.body.size());
  std::string date;
  std::string retry_after_ms;
  HeaderList headers;
  bool custom_type = std::any_of(spec.headers.begin(), spec.headers.end(), [](const auto& h) {
    return EqualsIgnoreCase(h.first, "content-type");
  });
  if (!custom_type) {
    headers.emplace_back("Content-Type", answer.stream ? "text/event-stream" : "application/json");
  }
  if (answer.stream) {
    headers.emplace_back("Transfer-Encoding", "chunked");
    headers.emplace_back("Cache-Control", "no-cache");
  } else {
    headers.emplace_back("Content-Length", length);
  }
  if (spec.retry_after) headers.emplace_back("Retry-After", *spec.retry_after);
  if (spec.retry_after_date_s) {
    absl::Time at = absl::FromUnixMicros(request.http.received_unix_us) +
                    absl::Seconds(*spec.retry_after_date_s);
    // IMF-fixdate (RFC 9110 5.6.7); absl formats names in the C locale.
    date = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", at, absl::UTCTimeZone());
    headers.emplace_back("Retry-After", date);
  }
  if (spec.retry_after_ms) {
    retry_after_ms = absl::StrCat(*spec.retry_after_ms);
    headers.emplace_back("retry-after-ms", retry_after_ms);
  }
  for (const auto& [name, value] : spec.headers) headers.emplace_back(name, value);
  if (!request.http.keep_alive) headers.emplace_back("Connection", "close");
  plan.Write(FormatHead(answer.status, headers));
}

void BuildBody(const FaultSpec& spec, Answer& answer, ResponsePlan& plan) {
  std::optional<int> partial =
      spec.stall_after_events ? spec.stall_after_events : spec.cut_after_events;
  plan.Wait(spec.delay_first_token_ms);
  if (!partial) {
    plan.Write(std::move(answer.body));
    return;
  }
  // A plain body has no events: "after N > 0 events" sends its first half.
  if (*partial > 0) plan.Write(answer.body.substr(0, answer.body.size() / 2));
  if (spec.stall_after_events) {
    plan.Stall();
  } else {
    plan.Close();
  }
}

void BuildStream(const FaultSpec& spec, const Completion& completion, ResponsePlan& plan) {
  std::vector<std::string> events = CompletionEvents(completion);
  if (spec.malformed_event_at && static_cast<size_t>(*spec.malformed_event_at) <= events.size()) {
    std::string& e = events[*spec.malformed_event_at - 1];
    e = MalformedEvent(e);
  }
  size_t send = events.size();
  if (spec.error_event_at && static_cast<size_t>(*spec.error_event_at) <= events.size()) {
    events[*spec.error_event_at - 1] = spec.error_class
                                           ? ErrorEventOf(*spec.error_class, completion.api)
                                           : ErrorEvent(completion.api);
    send = *spec.error_event_at;
  }
  std::optional<int> partial =
      spec.stall_after_events ? spec.stall_after_events : spec.cut_after_events;
  if (partial) send = std::min(send, static_cast<size_t>(*partial));
  for (size_t i = 0; i < send; ++i) {
    plan.Wait(i == 0 ? spec.delay_first_token_ms : spec.token_interval_ms);
    std::string chunk;
    AppendChunk(chunk, events[i]);
    plan.Write(std::move(chunk));
  }
  if (spec.stall_after_events) {
    plan.Stall();
  } else if (spec.cut_after_events) {
    plan.Close();  // no terminating chunk: the client sees a broken transfer
  } else {
    if (send == 0) plan.Wait(spec.delay_first_token_ms);
    plan.Write(std::string(kLastChunk));
  }
}

}  // namespace

void BuildFaultResponse(const FaultSpec& spec, const ProviderRequest& request, ResponsePlan& plan) {
  if (spec.reset_before_headers || spec.close_before_headers) {
    plan.Wait(spec.delay_headers_ms);
    if (spec.reset_before_headers) {
      plan.Reset();
    } else {
      plan.Close();
    }
    return;
  }
  if (spec.stall) {
    plan.Stall();
    return;
  }
  Completion completion;
  completion.api = request.api;
  completion.model = request.model;
  completion.id = request.id;
  completion.created_unix = request.http.received_unix_us / 1'000'000;
  completion.tokens = spec.tokens;
  completion.prompt_tokens = std::max<int>(1, static_cast<int>(request.http.body.size() / 4));
  completion.pad_to_bytes = spec.response_bytes;
  completion.finished = !spec.no_done;
  if (spec.tool_call) {
    completion.tool_name = *spec.tool_call;
    completion.tool_args = spec.tool_args;
  }
  if (spec.stop) completion.stop_reason = *spec.stop;
  completion.cache_read_tokens = spec.cache_read;
  completion.cache_write_tokens = spec.cache_write;
  completion.images_seen = request.facts.images;
  completion.include_usage = request.facts.include_usage;

  Answer answer = ChooseAnswer(spec, request, completion);
  plan.Wait(spec.delay_headers_ms);
  BuildHead(spec, request, answer, plan);
  if (answer.stream) {
    BuildStream(spec, completion, plan);
  } else {
    BuildBody(spec, answer, plan);
  }
}

}  // namespace rebound::fake
