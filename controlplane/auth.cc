#include "controlplane/auth.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace rebound::controlplane {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("no token file given");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the token file ", path));
  std::ostringstream text;
  // A token is short; reading a bounded prefix keeps a wrong path (a device,
  // a huge file) from eating memory.
  char buffer[4096];
  in.read(buffer, sizeof(buffer));
  text.write(buffer, in.gcount());
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("the token file ", path,
                                                                    " is empty"));
  return token;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

bool Authenticator::Check(std::string_view header) const {
  if (!token_) return true;
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(header.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return false;
  }
  return ConstantTimeEquals(header.substr(kScheme.size()), *token_);
}

bool Authenticator::Check(const grpc::ServerContextBase& context) const {
  if (!token_) return true;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return false;
  return Check(std::string_view(it->second.data(), it->second.size()));
}

}  // namespace rebound::controlplane
