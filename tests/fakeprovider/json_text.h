// The little JSON the fake provider needs: a tolerant scan of a request
// body's top-level "model" and "stream", and string escaping for the JSON it
// writes. Deliberately not a parser: the fake must answer whatever a gateway
// sends, including bodies that are not quite JSON.
#ifndef REBOUND_TESTS_FAKEPROVIDER_JSON_TEXT_H_
#define REBOUND_TESTS_FAKEPROVIDER_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace rebound::fake {

struct RequestFields {
  std::string model;    // decoded; empty when absent or not a string
  bool stream = false;  // true only for a literal `true`
};

// Reads the first top-level "model" and "stream" members of a JSON object.
// Nested members with those names are ignored. Scanning stops quietly at
// the first malformed byte, keeping what was found before it.
RequestFields ScanRequestFields(std::string_view body);

// Appends `value` as a JSON string literal (quotes included): '"', '\' and
// control characters are escaped, valid UTF-8 is kept, and each byte that is
// not valid UTF-8 becomes U+FFFD so the output is always strict JSON. (The
// request record also carries base64 copies where bytes must be exact.)
void AppendJsonString(std::string& out, std::string_view value);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_JSON_TEXT_H_
