#include "tests/fakeprovider/fake_provider.h"

#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tests/fakeprovider/fault_response.h"
#include "tests/fakeprovider/json_text.h"
#include "tests/fakeprovider/request_facts.h"
#include "tests/fakeprovider/strict_api.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

constexpr std::string_view kControlPrefix = "/_fake/";

void Reply(const HttpRequest& request, int status, std::string_view content_type,
           std::string_view body, ResponsePlan& plan) {
  plan.Write(SimpleResponse(status, content_type, body, !request.keep_alive));
}

// True on `percent` % of calls, at random: each serving thread has its own
// generator.
bool InTail(int percent) {
  thread_local std::mt19937 engine{std::random_device{}()};
  return std::uniform_int_distribution<int>(0, 99)(engine) < percent;
}

}  // namespace

absl::StatusOr<std::deque<FaultSpec>> ParseScript(std::string_view body) {
  std::deque<FaultSpec> script;
  if (body.empty()) return script;
  if (body.back() == '\n') body.remove_suffix(1);
  int line_number = 0;
  for (std::string_view line : SplitOn(body, "\n")) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    absl::StatusOr<FaultSpec> spec = ParseFaultSpec(line);
    if (!spec.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("script line ", line_number, ": ", spec.status().message()));
    }
    script.push_back(*std::move(spec));
  }
  return script;
}

FakeProvider::FakeProvider(FakeProviderOptions options)
    : options_(std::move(options)), state_(options_.max_recorded) {}

void FakeProvider::Handle(const HttpRequest& request, ResponsePlan& plan) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  if (path.starts_with(kControlPrefix)) {
    HandleControl(request, path, plan);
  } else {
    HandleProvider(request, plan);
  }
}

void FakeProvider::HandleControl(const HttpRequest& request, std::string_view path,
                                 ResponsePlan& plan) {
  std::string_view what = path.substr(kControlPrefix.size());
  std::string_view method = request.method;
  if (what == "health" && method == "GET") {
    Reply(request, 200, "text/plain", "ok", plan);
  } else if (what == "script" && method == "PUT") {
    absl::StatusOr<std::deque<FaultSpec>> script = ParseScript(request.body);
    if (!script.ok()) {
      Reply(request, 400, "text/plain", absl::StrCat(script.status().message(), "\n"), plan);
      return;
    }
    size_t entries = script->size();
    state_.SetScript(*std::move(script));
    Reply(request, 200, "text/plain", absl::StrCat("ok ", entries, " entries\n"), plan);
  } else if (what == "requests" && method == "GET") {
    Reply(request, 200, "application/json", state_.RequestsJson(), plan);
  } else if (what == "requests" && method == "DELETE") {
    state_.ClearRequests();
    Reply(request, 200, "text/plain", "ok\n", plan);
  } else if (what == "health" || what == "script" || what == "requests") {
    Reply(request, 405, "text/plain", "method not allowed\n", plan);
  } else {
    Reply(request, 404, "text/plain",
          "unknown control path (known: /_fake/health, /_fake/script, /_fake/requests)\n", plan);
  }
}

void FakeProvider::HandleProvider(const HttpRequest& request, ResponsePlan& plan) {
  state_.Record(request);
  RequestFields fields = ScanRequestFields(request.body);

  // Precedence: header, script, model name, --default. The script is
  // consumed only by requests that reach it (no header).
  std::optional<FaultSpec> own_spec;
  const FaultSpec* spec = &options_.default_spec;
  if (std::optional<std::string_view> header = request.FindHeader(kFaultHeader)) {
    absl::StatusOr<FaultSpec> parsed = ParseFaultSpec(*header);
    if (!parsed.ok()) {
      Reply(request, 400, "text/plain",
            absl::StrCat(ToAbsl(kFaultHeader), ": ", parsed.status().message(), "\n"), plan);
      return;
    }
    own_spec = *std::move(parsed);
  } else if (std::optional<FaultSpec> scripted = state_.TakeScripted()) {
    own_spec = std::move(scripted);
  } else if (fields.model.starts_with(kModelFaultPrefix)) {
    absl::StatusOr<FaultSpec> parsed =
        ParseFaultSpec(std::string_view(fields.model).substr(kModelFaultPrefix.size()));
    if (!parsed.ok()) {
      Reply(request, 400, "text/plain",
            absl::StrCat("model fault spec: ", parsed.status().message(), "\n"), plan);
      return;
    }
    own_spec = *std::move(parsed);
  }
  if (own_spec) spec = &*own_spec;
  std::optional<FaultSpec> tailed;
  if (spec->tail_percent > 0 && InTail(spec->tail_percent)) {
    tailed = *spec;
    tailed->delay_first_token_ms = tailed->tail_delay_ms;
    spec = &*tailed;
  }

  // Validated whatever the spec, so that even a request scripted to fail
  // proves that the vendor would have accepted it.
  if (!spec->lenient) {
    if (std::optional<std::string> refusal =
            StrictRequestError(StrictApiForTarget(request.target), request.body)) {
      Reply(request, 400, "application/json", *refusal, plan);
      return;
    }
  }

  if (options_.log_requests) {
    std::fprintf(stderr, "rebound-fakeprovider: %.*s %.*s model=%s stream=%d\n",
                 static_cast<int>(request.method.size()), request.method.data(),
                 static_cast<int>(request.target.size()), request.target.data(),
                 fields.model.c_str(), fields.stream ? 1 : 0);
  }
  Api api = ApiForTarget(request.target);
  ProviderRequest provider_request{
      .http = request,
      .api = api,
      .model = fields.model,
      .stream = fields.stream,
      .id = next_id_.fetch_add(1, std::memory_order_relaxed),
      .facts = ReadRequestFacts(api, request.body),
  };
  BuildFaultResponse(*spec, provider_request, plan);
}

}  // namespace rebound::fake
