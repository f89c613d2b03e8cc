#include "bench/nginx_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rebound::bench {
namespace {

// A loopback port free a moment ago (nginx takes a port number, not a
// socket; the window for another process to take it is small).
absl::StatusOr<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) return absl::InternalError("no free loopback port");
  return port;
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Keep-alive both ways, no logging, no buffering of bodies to disk: the
// cheapest proxy hop nginx offers for small JSON calls.
std::string Config(const std::string& prefix, int port, int upstream_port) {
  return absl::StrCat(
      "daemon off;\nmaster_process off;\nworker_processes 1;\n"
      "error_log stderr warn;\npid ", prefix, "/nginx.pid;\n"
      "events { worker_connections 8192; }\n"
      "http {\n"
      "  access_log off;\n"
      "  keepalive_requests 1000000;\n"
      "  upstream fake { server 127.0.0.1:", upstream_port, "; keepalive 256;\n"
      "                  keepalive_requests 1000000; }\n"
      "  server {\n"
      "    listen 127.0.0.1:", port, " backlog=4096;\n"
      "    client_body_buffer_size 64k;\n"
      "    location / {\n"
      "      proxy_pass http://fake;\n"
      "      proxy_http_version 1.1;\n"
      "      proxy_set_header Connection \"\";\n"
      "      proxy_buffering off;\n"
      "    }\n"
      "  }\n"
      "}\n");
}

}  // namespace

absl::StatusOr<std::unique_ptr<NginxProxy>> NginxProxy::Start(const std::string& binary,
                                                              int upstream_port) {
  if (!std::filesystem::exists(binary)) {
    return absl::NotFoundError(absl::StrCat(binary, " not found (apt-get install nginx-light)"));
  }
  std::unique_ptr<NginxProxy> proxy(new NginxProxy());
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  proxy->port_ = *port;
  const std::string prefix =
      (std::filesystem::path(testing::TestTempDir()) / "nginx").string();
  std::filesystem::create_directories(prefix + "/logs");
  const std::string conf = testing::WriteTempFile("nginx.conf", Config(prefix, *port, upstream_port));
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> process = testing::Subprocess::Start(
      {.binary = binary, .args = {"-p", prefix, "-c", conf, "-e", "stderr"}, .name = "nginx"});
  if (!process.ok()) return process.status();
  proxy->process_ = *std::move(process);
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (!Accepts(*port)) {
    if (!proxy->process_->Running() || absl::Now() > give_up) {
      return absl::UnavailableError("nginx did not start; see its stderr in the test outputs");
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return proxy;
}

std::string NginxProxy::base_url() const { return absl::StrCat("http://127.0.0.1:", port_); }

}  // namespace rebound::bench
