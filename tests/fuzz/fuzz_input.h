// Carving structured inputs out of one fuzzer-provided byte string, in the
// manner of LLVM's FuzzedDataProvider (which ships with clang only, while the
// corpus replay also builds with g++). Exhausted input yields zeros and empty
// strings, never an error, so every byte string is a valid input.
#ifndef REBOUND_TESTS_FUZZ_FUZZ_INPUT_H_
#define REBOUND_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rebound::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // One byte (0 when exhausted).
  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  // The bytes up to the first `separator` (consumed, not returned), or all
  // that is left. Separators keep the seed files readable as text.
  std::string_view Until(char separator) {
    const size_t at = rest_.find(separator);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }

  std::string_view Rest() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }

  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace rebound::fuzz

#endif  // REBOUND_TESTS_FUZZ_FUZZ_INPUT_H_
