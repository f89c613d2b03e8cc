// HTTP/1.1 request parsing for the fake provider's server: request line,
// headers and a Content-Length body, from a byte buffer that may hold a
// partial request or several pipelined ones. Pure (no I/O) and bounded.
#ifndef REBOUND_TESTS_FAKEPROVIDER_HTTP_REQUEST_H_
#define REBOUND_TESTS_FAKEPROVIDER_HTTP_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace rebound::fake {

struct HttpHeader {
  std::string_view name;   // as received (original case)
  std::string_view value;  // surrounding whitespace removed
};

// One request. Every view points into the connection's input buffer and is
// valid only until the handler returns.
struct HttpRequest {
  std::string_view method;
  std::string_view target;  // path and query, as received
  std::vector<HttpHeader> headers;
  std::string_view body;
  bool keep_alive = true;
  int64_t received_unix_us = 0;  // CLOCK_REALTIME when fully received

  // First header with this name (ASCII case-insensitive).
  std::optional<std::string_view> FindHeader(std::string_view name) const;
};

struct ParseLimits {
  size_t max_header_bytes = 64 << 10;
  size_t max_body_bytes = 16 << 20;
};

enum class ParseStatus {
  kIncomplete,  // need more bytes
  kComplete,    // `request` is filled; `consumed` bytes belong to it
  kError,       // answer `error_status` and close the connection
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;
  int error_status = 0;            // 400, 411, 413, 431, 505
  std::string_view error_message;  // static text, for the error body
  // The head is complete, the body is not, and the client asked for
  // "Expect: 100-continue": it waits for an interim 100 before sending it.
  bool expects_continue = false;
};

// Parses the request at the start of `buffer` into `request` (whose header
// vector is reused to avoid allocating per request).
ParseResult ParseRequest(std::string_view buffer, const ParseLimits& limits, HttpRequest& request);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_HTTP_REQUEST_H_
