// nginx as a reference proxy for rebound-bench: Debian's nginx-light, one
// process (master_process off, so its CPU is one pid's), an HTTP/1.1
// reverse proxy to the fake provider with upstream keep-alive. What a plain
// HTTP-to-HTTP hop costs on this machine, beside rebound's gRPC-to-HTTP one.
#ifndef REBOUND_BENCH_NGINX_PROXY_H_
#define REBOUND_BENCH_NGINX_PROXY_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/integration/test_harness.h"

namespace rebound::bench {

class NginxProxy {
 public:
  // Starts `binary` proxying to 127.0.0.1:`upstream_port`; ready when it
  // accepts connections. NotFound when the binary is missing.
  static absl::StatusOr<std::unique_ptr<NginxProxy>> Start(const std::string& binary,
                                                           int upstream_port);

  // "http://127.0.0.1:PORT", the same paths as the fake.
  std::string base_url() const;
  pid_t pid() const { return process_->pid(); }

 private:
  NginxProxy() = default;
  std::unique_ptr<testing::Subprocess> process_;
  int port_ = 0;
};

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_NGINX_PROXY_H_
