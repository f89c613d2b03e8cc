// An incremental HTTP/1.1 request parser (RFC 9112), strict where leniency
// enables request smuggling and bounded everywhere: the request line and
// headers, the header count, the body (Content-Length or chunked) and the
// chunk framing. Pure: no I/O, no clock. The front door's connections feed it
// bytes as they arrive; tests/fuzz/http_request_fuzzer.cc feeds it anything.
#ifndef REBOUND_HTTP_REQUEST_PARSER_H_
#define REBOUND_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/http_types.h"

namespace rebound::http {

struct ParserLimits {
  size_t max_header_bytes = 64 << 10;  // request line + header fields (431 past it)
  size_t max_headers = 100;            // header fields (431 past it)
  int64_t max_body_bytes = 8 << 20;    // decoded body (413 past it)
};

struct Request {
  std::string method;
  std::string target;  // as sent: origin-form path and query
  int minor_version = 1;  // HTTP/1.<minor_version>
  HttpHeaders headers;
  std::string body;  // decoded (chunked framing removed)
  bool keep_alive = true;

  // `target` without its query.
  std::string_view path() const;
};

class RequestParser {
 public:
  enum class State { kIdle, kHeaders, kBody, kComplete, kError };

  explicit RequestParser(ParserLimits limits) : limits_(limits) {}

  // Consumes a prefix of `data` and returns its length. Stops at the end of
  // a request (the rest belongs to the next one: pipelining) and at an error.
  size_t Feed(std::string_view data);

  State state() const { return state_; }
  // Some byte of a request has arrived (its timeout runs).
  bool in_request() const { return state_ == State::kHeaders || state_ == State::kBody; }
  // The headers asked for "100 Continue" and the body has not started.
  bool wants_continue() const { return wants_continue_; }
  void ContinueSent() { wants_continue_ = false; }

  // kError: the status to answer with (400, 413, 417, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

  // kComplete: the request; the parser is then ready for the next one.
  Request TakeRequest();

 private:
  enum class BodyMode { kNone, kLength, kChunked };
  enum class ChunkState { kSize, kData, kDataEnd, kTrailers };

  size_t FeedHeaders(std::string_view data);
  size_t FeedBody(std::string_view data);
  size_t FeedChunked(std::string_view data);
  // Parses head_ (request line and fields, without the final CRLF CRLF).
  bool ParseHead();
  bool ParseRequestLine(std::string_view line);
  bool DecideFraming();
  void Fail(int status, std::string message);

  ParserLimits limits_;
  State state_ = State::kIdle;
  std::string head_;  // the header block so far
  Request request_;
  BodyMode body_mode_ = BodyMode::kNone;
  int64_t body_remaining_ = 0;  // kLength: bytes; kChunked kData: of this chunk
  ChunkState chunk_state_ = ChunkState::kSize;
  std::string line_;  // a chunk-size line or a trailer line so far
  size_t trailer_bytes_ = 0;
  bool wants_continue_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace rebound::http

#endif  // REBOUND_HTTP_REQUEST_PARSER_H_
