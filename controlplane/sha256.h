// Lowercase hex SHA-256, the content hash of a policy version (the proto's
// PolicyVersion.hash).
#ifndef REBOUND_CONTROLPLANE_SHA256_H_
#define REBOUND_CONTROLPLANE_SHA256_H_

#include <string>
#include <string_view>

namespace rebound::controlplane {

// 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace rebound::controlplane

#endif  // REBOUND_CONTROLPLANE_SHA256_H_
