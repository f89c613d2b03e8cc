// Fuzz target: the provider error classifier (translate/provider_error.h),
// which reads whatever bytes a provider sends as an error body, an
// in-stream error event or a 2xx answer.
//
// Input: a first line with the HTTP status in decimal (0 when it is not a
// number), then the body. The body goes through every classifier.
//
// Invariants:
//   - ClassifyErrorAnswer never returns kNone for a status of 400 and above,
//     and never for 429 whatever the status line said;
//   - a class the body decides alone (one that is not the status's own at
//     400 nor at 500) is the same at every status, below 400 included, and
//     is the stream error's class too: the body beats the status the same
//     way wherever it is read;
//   - ClassifyStreamError never returns kNone; ClassifyRefusal returns
//     kNone or kContentFilter;
//   - every class returned names itself: ProviderErrorClassFromString of its
//     ToString gives it back (and kNone's name is the empty string, which
//     names nothing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "policy/provider_error_class.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "translate/provider_error.h"

namespace {

using rebound::ProviderErrorClass;

void CheckRoundTrip(ProviderErrorClass c) {
  const std::string_view name = rebound::ToString(c);
  if (c == ProviderErrorClass::kNone) {
    FUZZ_CHECK(name.empty());
    FUZZ_CHECK(!rebound::ProviderErrorClassFromString(name).has_value());
    return;
  }
  FUZZ_CHECK(rebound::ProviderErrorClassFromString(name) == c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rebound::fuzz::FuzzInput in(data, size);
  const std::string status_line(in.Until('\n'));
  int status = 0;
  if (!absl::SimpleAtoi(status_line, &status)) status = 0;
  const std::string_view body = in.Rest();

  const ProviderErrorClass answer = rebound::ClassifyErrorAnswer(status, body);
  CheckRoundTrip(answer);
  if (status >= 400) FUZZ_CHECK(answer != ProviderErrorClass::kNone);

  const ProviderErrorClass at_429 = rebound::ClassifyErrorAnswer(429, body);
  CheckRoundTrip(at_429);
  FUZZ_CHECK(at_429 != ProviderErrorClass::kNone);

  const ProviderErrorClass at_400 = rebound::ClassifyErrorAnswer(400, body);
  const ProviderErrorClass at_500 = rebound::ClassifyErrorAnswer(500, body);
  CheckRoundTrip(at_400);
  CheckRoundTrip(at_500);
  if (at_400 != ProviderErrorClass::kInvalidRequest && at_500 != ProviderErrorClass::kServerError) {
    // Neither status's own class came out: the body decided both times.
    FUZZ_CHECK(at_400 == at_500);
    FUZZ_CHECK(answer == at_400);
    FUZZ_CHECK(at_429 == at_400);
    FUZZ_CHECK(rebound::ClassifyErrorAnswer(200, body) == at_400);
    FUZZ_CHECK(rebound::ClassifyStreamError(body) == at_400);
  }

  const ProviderErrorClass stream = rebound::ClassifyStreamError(body);
  CheckRoundTrip(stream);
  FUZZ_CHECK(stream != ProviderErrorClass::kNone);

  const ProviderErrorClass refusal = rebound::ClassifyRefusal(body);
  FUZZ_CHECK(refusal == ProviderErrorClass::kNone || refusal == ProviderErrorClass::kContentFilter);
  return 0;
}
