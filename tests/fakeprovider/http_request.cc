#include "tests/fakeprovider/http_request.h"

#include "absl/strings/ascii.h"
#include "tests/fakeprovider/text_util.h"

namespace rebound::fake {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult Error(int status, std::string_view message) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error_status = status;
  r.error_message = message;
  return r;
}

// True when the comma-separated header value lists `token`.
bool HasToken(std::string_view value, std::string_view token) {
  for (std::string_view part : SplitOn(value, ",")) {
    if (EqualsIgnoreCase(TrimOws(part), token)) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string_view> HttpRequest::FindHeader(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

ParseResult ParseRequest(std::string_view buffer, const ParseLimits& limits, HttpRequest& request) {
  // RFC 9112 2.2: a server should ignore empty lines before a request line
  // (some clients send a stray CRLF after a body).
  size_t start = 0;
  while (buffer.substr(start, 2) == kCrlf) start += 2;

  size_t head_stop = buffer.find("\r\n\r\n", start);
  if (head_stop == std::string_view::npos) {
    if (buffer.size() - start > limits.max_header_bytes) {
      return Error(431, "request header section too large");
    }
    return ParseResult{};
  }
  size_t head_end = head_stop + 4;
  if (head_end - start > limits.max_header_bytes) {
    return Error(431, "request header section too large");
  }
  std::string_view head = buffer.substr(start, head_stop - start);
  // A bare CR or LF inside the head makes line boundaries ambiguous (request
  // smuggling); refuse rather than guess.
  for (size_t i = 0; i < head.size(); ++i) {
    char c = head[i];
    if (c == '\0') return Error(400, "NUL byte in the request head");
    if (c == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) {
      return Error(400, "bare CR in the request head");
    }
    if (c == '\n' && (i == 0 || head[i - 1] != '\r')) {
      return Error(400, "bare LF in the request head");
    }
  }

  size_t line_end = head.find(kCrlf);
  std::string_view request_line = head.substr(0, line_end);
  std::string_view header_block =
      line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);

  size_t sp1 = request_line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Error(400, "malformed request line");
  request.method = request_line.substr(0, sp1);
  request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(request.method)) return Error(400, "malformed method");
  if (request.target.empty()) return Error(400, "empty request target");
  for (char c : request.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Error(400, "malformed request target");
    }
  }
  bool http11;
  if (version == "HTTP/1.1") {
    http11 = true;
  } else if (version == "HTTP/1.0") {
    http11 = false;
  } else if (version.starts_with("HTTP/")) {
    return Error(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  } else {
    return Error(400, "malformed HTTP version");
  }

  request.headers.clear();
  std::optional<size_t> content_length;
  bool has_transfer_encoding = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expect_continue = false;
  if (!header_block.empty()) {
    for (std::string_view line : SplitOn(header_block, kCrlf)) {
      if (line.empty()) return Error(400, "empty header line");
      if (line.front() == ' ' || line.front() == '\t') {
        return Error(400, "obsolete header line folding");
      }
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return Error(400, "header line without ':'");
      HttpHeader h{line.substr(0, colon), TrimOws(line.substr(colon + 1))};
      if (!IsToken(h.name)) return Error(400, "malformed header name");
      request.headers.push_back(h);

      if (EqualsIgnoreCase(h.name, "content-length")) {
        if (h.value.empty() || h.value.size() > 18) {
          return Error(400, "malformed Content-Length");
        }
        size_t n = 0;
        for (char c : h.value) {
          if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
            return Error(400, "malformed Content-Length");
          }
          n = n * 10 + static_cast<size_t>(c - '0');
        }
        if (content_length && *content_length != n) {
          return Error(400, "conflicting Content-Length headers");
        }
        content_length = n;
      } else if (EqualsIgnoreCase(h.name, "transfer-encoding")) {
        has_transfer_encoding = true;
      } else if (EqualsIgnoreCase(h.name, "connection")) {
        connection_close |= HasToken(h.value, "close");
        connection_keep_alive |= HasToken(h.value, "keep-alive");
      } else if (EqualsIgnoreCase(h.name, "expect")) {
        expect_continue = EqualsIgnoreCase(h.value, "100-continue");
      }
    }
  }
  if (has_transfer_encoding) {
    // Without support for chunked bodies the end of this request cannot be
    // found, so the connection cannot continue either.
    return Error(411, "Transfer-Encoding request bodies are not supported; send Content-Length");
  }
  size_t body_size = content_length.value_or(0);
  if (body_size > limits.max_body_bytes) return Error(413, "request body too large");

  request.keep_alive = http11 ? !connection_close : connection_keep_alive;
  if (buffer.size() - head_end < body_size) {
    ParseResult r;
    r.expects_continue = expect_continue && http11;
    return r;
  }
  request.body = buffer.substr(head_end, body_size);
  ParseResult r;
  r.status = ParseStatus::kComplete;
  r.consumed = head_end + body_size;
  return r;
}

}  // namespace rebound::fake
