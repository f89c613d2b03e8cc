#include "bench/direct_target.h"

#include <curl/curl.h>

#include <string_view>

#include "absl/strings/str_cat.h"
#include "bench/bench_stack.h"
#include "common/clock.h"

namespace rebound::bench {
namespace {

constexpr char kPoolKey[] = "fake";

absl::Status HttpStatusError(long status) {
  return absl::InternalError(absl::StrCat("direct: HTTP ", status));
}

}  // namespace

HttpHeaders DirectHeaders(const Workload& workload) {
  return {
      {"Authorization", absl::StrCat("Bearer ", kBenchAccessKey)},
      {"Content-Type", "application/json"},
      {kFaultHeader, workload.fault},
  };
}

// ---------------------------------------------------------------- sync

DirectSyncTarget::DirectSyncTarget(std::string url, const Workload& workload,
                                   absl::Duration timeout)
    : url_(std::move(url)),
      body_(workload.body),
      streaming_(workload.body.find("\"stream\":true") != std::string::npos) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* easy = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  for (const auto& [name, value] : DirectHeaders(workload)) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body_.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &DirectSyncTarget::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  easy_ = easy;
  header_list_ = headers;
}

DirectSyncTarget::~DirectSyncTarget() {
  curl_easy_cleanup(static_cast<CURL*>(easy_));
  curl_slist_free_all(static_cast<curl_slist*>(header_list_));
}

size_t DirectSyncTarget::OnBody(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<DirectSyncTarget*>(self);
  if (t->first_body_at_ < 0) t->first_body_at_ = MonoNow();
  if (t->streaming_) {
    // An event per "data:" line at a line start (the fake's SSE framing).
    std::string_view chunk(data, size * n);
    for (size_t at = chunk.find("data:"); at != std::string_view::npos;
         at = chunk.find("data:", at + 5)) {
      if (at == 0 || chunk[at - 1] == '\n') ++t->events_;
    }
  }
  t->response_bytes_ += size * n;
  return size * n;
}

absl::StatusOr<CallInfo> DirectSyncTarget::Call() {
  response_bytes_ = 0;
  events_ = 0;
  first_body_at_ = -1;
  call_start_ = MonoNow();
  CURLcode code = curl_easy_perform(static_cast<CURL*>(easy_));
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("direct: ", curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(static_cast<CURL*>(easy_), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return HttpStatusError(status);
  CallInfo info{.body_bytes = response_bytes_};
  if (streaming_) {
    info.first_event_ns = first_body_at_ - call_start_;
    info.events = events_;
  }
  return info;
}

// ---------------------------------------------------------------- async

// One call in flight; deletes itself when the transfer ends.
class DirectAsyncTarget::Transfer final : public TransferHandler {
 public:
  explicit Transfer(DoneCallback done) : done_(std::move(done)) {}

  void OnHeaders(int http_status, HttpHeaders /*headers*/) override { http_status_ = http_status; }
  bool OnBody(std::string_view /*chunk*/) override { return true; }
  void OnDone(const TransferResult& result) override {
    absl::Status status;
    if (result.kind != TransferResult::Kind::kCompleted) {
      status = absl::UnavailableError(absl::StrCat("direct: ", result.error));
    } else if (http_status_ != 200) {
      status = HttpStatusError(http_status_);
    }
    std::move(done_)(std::move(status));
    delete this;
  }

 private:
  DoneCallback done_;
  int http_status_ = 0;
};

DirectAsyncTarget::DirectAsyncTarget(std::string url, const Workload& workload,
                                     absl::Duration timeout)
    : client_(std::make_unique<CurlUpstream>(&loop_, CurlUpstream::Options{})) {
  request_.url = std::move(url);
  request_.headers = DirectHeaders(workload);
  request_.body = workload.body;
  int64_t timeout_ms = absl::ToInt64Milliseconds(timeout);
  request_.timeouts.first_byte_ms = timeout_ms;
  request_.timeouts.total_ms = timeout_ms;
  request_.pool_key = kPoolKey;
  loop_.StartThread();
}

DirectAsyncTarget::~DirectAsyncTarget() {
  // The client is torn down on its own thread, as the server does.
  loop_.Post([this] { client_.reset(); });
  loop_.Stop();
  loop_.Join();
}

void DirectAsyncTarget::Start(DoneCallback done) {
  loop_.Post([this, done = std::move(done)]() mutable {
    client_->Start(request_, new Transfer(std::move(done)), AttemptCap{});
  });
}

}  // namespace rebound::bench
