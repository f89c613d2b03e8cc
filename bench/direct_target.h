// The baseline: the same calls sent straight to the fake provider over
// HTTP/1.1 keep-alive, as a client without rebound would send them.
#ifndef REBOUND_BENCH_DIRECT_TARGET_H_
#define REBOUND_BENCH_DIRECT_TARGET_H_

#include <memory>
#include <string>

#include "bench/targets.h"
#include "bench/workload.h"
#include "upstream/curl_upstream.h"
#include "upstream/event_loop.h"
#include "upstream/upstream_request.h"

namespace rebound::bench {

// The headers every direct call carries: what rebound itself would send
// upstream (the provider's credential, the fault header, JSON content type).
HttpHeaders DirectHeaders(const Workload& workload);

// One libcurl easy handle, reused so that its connection stays open.
class DirectSyncTarget final : public SyncTarget {
 public:
  DirectSyncTarget(std::string url, const Workload& workload, absl::Duration timeout);
  ~DirectSyncTarget() override;
  DirectSyncTarget(const DirectSyncTarget&) = delete;
  DirectSyncTarget& operator=(const DirectSyncTarget&) = delete;

  absl::StatusOr<CallInfo> Call() override;

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* self);

  std::string url_;
  std::string body_;
  void* easy_ = nullptr;          // CURL*
  void* header_list_ = nullptr;   // curl_slist*
  size_t response_bytes_ = 0;
  bool streaming_ = false;      // the workload asks for "stream": true
  int64_t call_start_ = 0;      // MonoTime of the current call
  int64_t first_body_at_ = -1;  // MonoTime of its first body byte
  int64_t events_ = 0;          // its SSE "data:" lines
};

// rebound's own CurlUpstream (libcurl multi) on a private EventLoop thread:
// the same HTTP machinery the gateway uses towards its providers.
class DirectAsyncTarget final : public AsyncTarget {
 public:
  DirectAsyncTarget(std::string url, const Workload& workload, absl::Duration timeout);
  ~DirectAsyncTarget() override;

  void Start(DoneCallback done) override;

 private:
  class Transfer;

  EventLoop loop_;
  std::unique_ptr<CurlUpstream> client_;  // used on loop_'s thread only
  UpstreamRequest request_;                 // copied for each call
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_DIRECT_TARGET_H_
