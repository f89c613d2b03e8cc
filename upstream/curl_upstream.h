// Upstream HTTP over libcurl's multi interface, driven by an EventLoop.
// (The HTTP/2 refused-stream re-send needs libcurl 7.88's wording; with
// another libcurl it is off and such requests count as failed attempts.)
//
// One CurlUpstream per EventLoop; every method and callback runs on that
// loop's thread. Connections are kept alive and reused across transfers;
// HTTP/2 is negotiated over TLS. Timeouts (RETRY.md 3.4) are loop timers, so
// the kind of timeout that ended a transfer is known exactly.
#ifndef REBOUND_UPSTREAM_CURL_UPSTREAM_H_
#define REBOUND_UPSTREAM_CURL_UPSTREAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "common/http_types.h"
#include "policy/config.h"
#include "upstream/connection_limit.h"
#include "upstream/event_loop.h"
#include "upstream/upstream.h"
#include "upstream/upstream_request.h"

namespace rebound {

class CurlUpstream final : public Upstream {
 public:
  struct Options {
    int max_connections_per_provider = 256;
    // Shared by the process's loops; null: this upstream's own, of
    // max_connections_per_provider.
    std::shared_ptr<ConnectionLimit> limit;
  };

  CurlUpstream(EventLoop* loop, Options options);
  ~CurlUpstream() override;
  CurlUpstream(const CurlUpstream&) = delete;
  CurlUpstream& operator=(const CurlUpstream&) = delete;

  // Upstream (a refused start's OnDone comes from a posted loop task):
  TransferId Start(UpstreamRequest request, TransferHandler* handler, AttemptCap cap) override;
  bool Cancel(TransferId id) override;
  void Pause(TransferId id) override;
  void Resume(TransferId id) override;

  int active_transfers() const { return static_cast<int>(transfers_.size()); }

 private:
  struct Transfer;
  static int OnSocket(void* easy, int fd, int what, void* client, void* socket_data);
  static int OnCurlTimer(void* multi, long timeout_ms, void* client);
  static size_t OnHeaderLine(char* data, size_t size, size_t n, void* transfer);
  static size_t OnWrite(char* data, size_t size, size_t n, void* transfer);
  static int OnPreRequest(void* transfer, char* conn_primary_ip, char* conn_local_ip,
                          int conn_primary_port, int conn_local_port);
  static int OnDebug(void* easy, int type, char* data, size_t size, void* transfer);
  // HTTP/2 requests refused unprocessed are re-sent at most this often per
  // transfer.
  static constexpr int kMaxUnprocessedResends = 2;
  static bool Unprocessed(const Transfer& t);
  static bool AboveGoaway(const Transfer& t);
  static void ForgetRequest(Transfer* t);

  void DriveSocket(int fd, uint32_t epoll_events);
  void DriveTimeout();
  void CollectFinished();
  void FinishTransfer(Transfer* t, TransferResult result);
  void ArmIdleTimer(Transfer* t);
  void OnTimeout(TransferId id, TimeoutKind kind, int64_t ms);
  void Release(Transfer* t);
  void* AcquireEasy();

  EventLoop* loop_;
  Options options_;
  bool h2_resends_ = false;  // OnDebug understands this libcurl's text
  void* multi_;  // CURLM*
  EventLoop::TimerId curl_timer_ = 0;
  TransferId next_id_ = 1;
  std::unordered_map<TransferId, std::unique_ptr<Transfer>> transfers_;
  // Transfers refused at Start whose OnDone is still to be posted; Cancel
  // removes an id, and then OnDone is not called.
  // Shared with the posted tasks that report them.
  std::shared_ptr<absl::flat_hash_set<TransferId>> refused_ =
      std::make_shared<absl::flat_hash_set<TransferId>>();
  std::shared_ptr<ConnectionLimit> limit_;
  std::vector<void*> idle_easy_;  // reusable CURL* handles
};

}  // namespace rebound

#endif  // REBOUND_UPSTREAM_CURL_UPSTREAM_H_
