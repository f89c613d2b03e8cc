#include "controlplane/sha256.h"

#include <openssl/sha.h>

namespace rebound::controlplane {

// OpenSSL's libcrypto is already in the process (gRPC links it for TLS), so
// this uses it rather than carrying a hand-written digest.
std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

}  // namespace rebound::controlplane
