#include "http/request_parser.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace rebound::http {
namespace {

// Chunk-size lines ("1a;ext=v") longer than this are refused: real clients
// send a few bytes, and the line is buffered until its CRLF.
constexpr size_t kMaxChunkLineBytes = 1024;

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

// Field values: visible ASCII, space, tab and obs-text; no other control
// characters (a bare CR or a NUL is a smuggling or injection attempt).
bool IsFieldValue(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasToken(std::string_view list, std::string_view token) {
  for (absl::string_view item : absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    if (EqualsIgnoreCase(TrimOws(std::string_view(item.data(), item.size())), token)) return true;
  }
  return false;
}

}  // namespace

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

void RequestParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
}

size_t RequestParser::Feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ != State::kComplete && state_ != State::kError) {
    std::string_view rest = data.substr(used);
    if (state_ == State::kIdle || state_ == State::kHeaders) {
      used += FeedHeaders(rest);
    } else {
      used += FeedBody(rest);
    }
  }
  return used;
}

size_t RequestParser::FeedHeaders(std::string_view data) {
  size_t used = 0;
  if (state_ == State::kIdle) {
    // RFC 9112 2.2: empty lines before a request line are ignored.
    while (used < data.size() && (data[used] == '\r' || data[used] == '\n')) ++used;
    if (used == data.size()) return used;
    state_ = State::kHeaders;
  }
  // Only the new bytes (plus three before them) can complete CRLF CRLF.
  size_t old_size = head_.size();
  size_t room = limits_.max_header_bytes + 4 - std::min(old_size, limits_.max_header_bytes + 4);
  std::string_view take = data.substr(used, room);
  head_.append(take.data(), take.size());
  size_t search_from = old_size < 3 ? 0 : old_size - 3;
  size_t end = head_.find("\r\n\r\n", search_from);
  if (end == std::string::npos) {
    // A terminator starting within the limit would have been found by now;
    // failing any earlier would depend on how the bytes were split.
    if (head_.size() >= limits_.max_header_bytes + 4) {
      Fail(431, absl::StrCat("the request line and headers exceed ", limits_.max_header_bytes,
                             " bytes"));
    }
    return used + take.size();
  }
  if (end > limits_.max_header_bytes) {
    Fail(431, absl::StrCat("the request line and headers exceed ", limits_.max_header_bytes,
                           " bytes"));
    return used + take.size();
  }
  // Give back what follows the header block: body or the next request.
  size_t extra = head_.size() - (end + 4);
  head_.resize(end);
  if (!ParseHead() || !DecideFraming()) return used + take.size() - extra;
  head_.clear();
  if (body_mode_ == BodyMode::kNone) {
    state_ = State::kComplete;
  } else {
    state_ = State::kBody;
  }
  return used + take.size() - extra;
}

bool RequestParser::ParseRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    Fail(400, "the request line must be `METHOD /path HTTP/1.1`");
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) {
    Fail(400, "the request method is not an HTTP token");
    return false;
  }
  if (target.empty() || target[0] != '/') {
    Fail(400, "the request target must be a path starting with '/'");
    return false;
  }
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      Fail(400, "the request target may contain only visible ASCII");
      return false;
    }
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[5])) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    Fail(400, "the request line must end with the HTTP version, e.g. HTTP/1.1");
    return false;
  }
  if (version[5] != '1') {
    Fail(505, "only HTTP/1.0 and HTTP/1.1 are served on this port");
    return false;
  }
  request_.method.assign(method.data(), method.size());
  request_.target.assign(target.data(), target.size());
  // RFC 9110 2.5: a higher minor version is served as the highest known.
  request_.minor_version = std::min(version[7] - '0', 1);
  return true;
}

bool RequestParser::ParseHead() {
  std::string_view head = head_;
  size_t eol = head.find("\r\n");
  std::string_view request_line = head.substr(0, eol);
  if (request_line.find('\n') != std::string_view::npos ||
      request_line.find('\r') != std::string_view::npos) {
    Fail(400, "lines must end with CRLF");
    return false;
  }
  if (!ParseRequestLine(request_line)) return false;
  std::string_view fields = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!fields.empty()) {
    size_t next = fields.find("\r\n");
    std::string_view line = fields.substr(0, next);
    fields = next == std::string_view::npos ? std::string_view() : fields.substr(next + 2);
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      Fail(400, "lines must end with CRLF");
      return false;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      Fail(400, "obsolete line folding in header fields is not accepted");
      return false;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      Fail(400, "a header field must be `Name: value` with a token name and no space before ':'");
      return false;
    }
    std::string_view value = TrimOws(line.substr(colon + 1));
    if (!IsFieldValue(value)) {
      Fail(400, "a header value contains a control character");
      return false;
    }
    if (request_.headers.size() >= limits_.max_headers) {
      Fail(431, absl::StrCat("more than ", limits_.max_headers, " header fields"));
      return false;
    }
    request_.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return true;
}

bool RequestParser::DecideFraming() {
  const HttpHeaders& headers = request_.headers;
  bool chunked = false;
  bool has_length = false;
  int64_t length = 0;
  int hosts = 0;
  bool close = false;
  bool keep_alive = false;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "transfer-encoding")) {
      // Only "chunked", and only once: any other coding could be framed
      // differently by a proxy in front of rebound (request smuggling).
      if (chunked || !EqualsIgnoreCase(value, "chunked")) {
        Fail(HasToken(value, "chunked") ? 400 : 501,
             "only `Transfer-Encoding: chunked` is accepted");
        return false;
      }
      chunked = true;
    } else if (EqualsIgnoreCase(name, "content-length")) {
      int64_t n = 0;
      bool digits = !value.empty() && value.size() <= 18 &&
                    std::all_of(value.begin(), value.end(),
                                [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || !absl::SimpleAtoi(value, &n) || (has_length && n != length)) {
        Fail(400, "Content-Length must be one decimal number");
        return false;
      }
      has_length = true;
      length = n;
    } else if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "connection")) {
      close = close || HasToken(value, "close");
      keep_alive = keep_alive || HasToken(value, "keep-alive");
    } else if (EqualsIgnoreCase(name, "expect")) {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        Fail(417, "only `Expect: 100-continue` is understood");
        return false;
      }
      wants_continue_ = true;
    }
  }
  if (chunked && has_length) {
    Fail(400, "a request must not carry both Transfer-Encoding and Content-Length");
    return false;
  }
  if (chunked && request_.minor_version == 0) {
    Fail(400, "chunked transfer coding is not defined for HTTP/1.0");
    return false;
  }
  if (request_.minor_version == 1 ? hosts != 1 : hosts > 1) {
    Fail(400, "an HTTP/1.1 request must carry exactly one Host header");
    return false;
  }
  if (has_length && length > limits_.max_body_bytes) {
    Fail(413, absl::StrCat("the request body is ", length, " bytes; the limit is ",
                           limits_.max_body_bytes, " (server.max_body_bytes)"));
    return false;
  }
  request_.keep_alive = !close && (request_.minor_version == 1 || keep_alive);
  if (chunked) {
    body_mode_ = BodyMode::kChunked;
    chunk_state_ = ChunkState::kSize;
  } else if (has_length && length > 0) {
    body_mode_ = BodyMode::kLength;
    body_remaining_ = length;
  } else {
    body_mode_ = BodyMode::kNone;
    wants_continue_ = false;  // nothing to wait for
  }
  return true;
}

size_t RequestParser::FeedBody(std::string_view data) {
  wants_continue_ = false;  // the client sent the body without waiting
  if (body_mode_ == BodyMode::kChunked) return FeedChunked(data);
  size_t n = static_cast<size_t>(std::min<int64_t>(body_remaining_, data.size()));
  request_.body.append(data.data(), n);
  body_remaining_ -= static_cast<int64_t>(n);
  if (body_remaining_ == 0) state_ = State::kComplete;
  return n;
}

size_t RequestParser::FeedChunked(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ == State::kBody) {
    std::string_view rest = data.substr(used);
    switch (chunk_state_) {
      case ChunkState::kData: {
        size_t n = static_cast<size_t>(std::min<int64_t>(body_remaining_, rest.size()));
        request_.body.append(rest.data(), n);
        body_remaining_ -= static_cast<int64_t>(n);
        used += n;
        if (body_remaining_ == 0) chunk_state_ = ChunkState::kDataEnd;
        break;
      }
      case ChunkState::kSize:
      case ChunkState::kDataEnd:
      case ChunkState::kTrailers: {
        size_t lf = rest.find('\n');
        std::string_view piece = rest.substr(0, lf == std::string_view::npos ? rest.size() : lf + 1);
        line_.append(piece.data(), piece.size());
        used += piece.size();
        size_t limit = chunk_state_ == ChunkState::kTrailers ? limits_.max_header_bytes
                                                             : kMaxChunkLineBytes;
        if (chunk_state_ == ChunkState::kTrailers) trailer_bytes_ += piece.size();
        if ((chunk_state_ == ChunkState::kTrailers ? trailer_bytes_ : line_.size()) > limit) {
          Fail(chunk_state_ == ChunkState::kTrailers ? 431 : 400,
               "a chunk-size line or the trailer section is too long");
          return used;
        }
        if (lf == std::string_view::npos) break;  // the line goes on
        if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
          Fail(400, "chunked framing: lines must end with CRLF");
          return used;
        }
        std::string_view line(line_.data(), line_.size() - 2);
        if (line.find('\r') != std::string_view::npos) {
          Fail(400, "chunked framing: a bare CR in a line");
          return used;
        }
        if (chunk_state_ == ChunkState::kDataEnd) {
          if (!line.empty()) {
            Fail(400, "chunked framing: a chunk's data must be followed by CRLF");
            return used;
          }
          chunk_state_ = ChunkState::kSize;
        } else if (chunk_state_ == ChunkState::kTrailers) {
          if (line.empty()) {
            state_ = State::kComplete;  // trailer fields are read and dropped
          } else if (line.find(':') == std::string_view::npos) {
            Fail(400, "chunked framing: a trailer field must be `Name: value`");
            return used;
          }
        } else {
          std::string_view size_text = line.substr(0, line.find(';'));
          size_text = TrimOws(size_text);
          uint64_t size = 0;
          bool hex = !size_text.empty() && size_text.size() <= 15 &&
                     std::all_of(size_text.begin(), size_text.end(), [](char c) {
                       return absl::ascii_isxdigit(static_cast<unsigned char>(c));
                     });
          if (!hex || !absl::SimpleHexAtoi(absl::string_view(size_text.data(), size_text.size()),
                                           &size)) {
            Fail(400, "chunked framing: a chunk size must be hexadecimal");
            return used;
          }
          if (static_cast<int64_t>(request_.body.size()) + static_cast<int64_t>(size) >
              limits_.max_body_bytes) {
            Fail(413, absl::StrCat("the request body exceeds ", limits_.max_body_bytes,
                                   " bytes (server.max_body_bytes)"));
            return used;
          }
          if (size == 0) {
            chunk_state_ = ChunkState::kTrailers;
            trailer_bytes_ = 0;
          } else {
            chunk_state_ = ChunkState::kData;
            body_remaining_ = static_cast<int64_t>(size);
          }
        }
        line_.clear();
        break;
      }
    }
  }
  return used;
}

Request RequestParser::TakeRequest() {
  Request out = std::move(request_);
  request_ = Request();
  state_ = State::kIdle;
  body_mode_ = BodyMode::kNone;
  body_remaining_ = 0;
  line_.clear();
  head_.clear();
  wants_continue_ = false;
  return out;
}

}  // namespace rebound::http
