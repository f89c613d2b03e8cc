// Lets gtest print a ProviderErrorClass by name in a failed expectation
// ("rate_limited", not "4-byte object <04-00 00-00>").
#ifndef REBOUND_TESTS_UNIT_PROVIDER_ERROR_PRINT_H_
#define REBOUND_TESTS_UNIT_PROVIDER_ERROR_PRINT_H_

#include <ostream>

#include "policy/provider_error_class.h"

namespace rebound {

inline void PrintTo(ProviderErrorClass c, std::ostream* os) {
  *os << (c == ProviderErrorClass::kNone ? std::string_view("none") : ToString(c));
}

}  // namespace rebound

#endif  // REBOUND_TESTS_UNIT_PROVIDER_ERROR_PRINT_H_
