// Fuzz target: the front door's HTTP/1.1 request parser (RequestParser).
//
// Input: a first line whose bytes choose where the wire bytes are split into
// reads (each byte & 0x3f is one read's length; what is left is one last
// read), then the bytes a client sent on one connection.
//
// Invariants:
//   - parsing does not depend on how the bytes arrive: one read, the
//     fuzzer's reads and one byte per read give the same requests (method,
//     target, headers, body, keep-alive), the same error status, and
//     (without an error) consume the same bytes;
//   - Feed never claims more than it was given, and consumes everything
//     unless a request completed or the parser failed;
//   - an error is one of 400, 413, 417, 431, 501, 505, with a message;
//   - every request respects the limits: at most max_headers fields, a body
//     of at most max_body_bytes, a token method, an origin-form target, no
//     CR, LF or NUL in any header name or value (no response splitting or
//     smuggling through what the parser accepted).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using rebound::http::ParserLimits;
using rebound::http::Request;
using rebound::http::RequestParser;
using State = RequestParser::State;

struct Outcome {
  std::vector<Request> requests;
  int error_status = 0;
  size_t consumed = 0;
};

Outcome Drive(const ParserLimits& limits, const std::vector<std::string_view>& reads) {
  RequestParser parser(limits);
  Outcome out;
  for (std::string_view read : reads) {
    while (!read.empty()) {
      const size_t used = parser.Feed(read);
      FUZZ_CHECK(used <= read.size());
      read.remove_prefix(used);
      out.consumed += used;
      if (parser.state() == State::kError) {
        out.error_status = parser.error_status();
        FUZZ_CHECK(!parser.error_message().empty());
        FUZZ_CHECK(parser.Feed(read) == 0);  // stays failed
        return out;
      }
      if (parser.state() == State::kComplete) {
        out.requests.push_back(parser.TakeRequest());
        FUZZ_CHECK(parser.state() == State::kIdle);
        continue;
      }
      FUZZ_CHECK(read.empty());
    }
  }
  return out;
}

bool Clean(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos; }

void CheckRequest(const Request& r, const ParserLimits& limits) {
  FUZZ_CHECK(!r.method.empty());
  FUZZ_CHECK(r.method.find_first_of(" \t\r\n") == std::string::npos);
  FUZZ_CHECK(!r.target.empty() && r.target[0] == '/');
  FUZZ_CHECK(r.target.find_first_of(" \t\r\n") == std::string::npos);
  FUZZ_CHECK(r.minor_version == 0 || r.minor_version == 1);
  FUZZ_CHECK(r.headers.size() <= limits.max_headers);
  FUZZ_CHECK(static_cast<int64_t>(r.body.size()) <= limits.max_body_bytes);
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(!name.empty() && Clean(name) && name.find(':') == std::string::npos);
    FUZZ_CHECK(Clean(value));
  }
}

bool SameRequest(const Request& a, const Request& b) {
  return a.method == b.method && a.target == b.target && a.minor_version == b.minor_version &&
         a.headers == b.headers && a.body == b.body && a.keep_alive == b.keep_alive;
}

void ExpectSame(const Outcome& a, const Outcome& b) {
  FUZZ_CHECK(a.error_status == b.error_status);
  // A failed connection is closed: where the bytes stopped is moot then.
  FUZZ_CHECK(a.error_status != 0 || a.consumed == b.consumed);
  FUZZ_CHECK(a.requests.size() == b.requests.size());
  for (size_t i = 0; i < a.requests.size(); ++i) {
    FUZZ_CHECK(SameRequest(a.requests[i], b.requests[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const std::string_view splits = in.Until('\n');
  const std::string_view wire = in.Rest();

  std::vector<std::string_view> reads;
  std::string_view rest = wire;
  for (char c : splits) {
    const size_t n = std::min<size_t>(static_cast<unsigned char>(c) & 0x3f, rest.size());
    reads.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  reads.push_back(rest);
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < wire.size(); ++i) bytes.push_back(wire.substr(i, 1));

  // The server's limits, and small ones the fuzzer can reach.
  for (const ParserLimits& limits :
       {ParserLimits{}, ParserLimits{.max_header_bytes = 96, .max_headers = 4,
                                     .max_body_bytes = 32}}) {
    const Outcome whole = Drive(limits, {wire});
    if (whole.error_status != 0) {
      const int s = whole.error_status;
      FUZZ_CHECK(s == 400 || s == 413 || s == 417 || s == 431 || s == 501 || s == 505);
    }
    for (const Request& r : whole.requests) CheckRequest(r, limits);
    ExpectSame(whole, Drive(limits, reads));
    ExpectSame(whole, Drive(limits, bytes));
  }
  return 0;
}
