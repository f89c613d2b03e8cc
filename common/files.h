// Reading small files whole: configuration, policies, tokens, certificates.
// One implementation, so that every such read has a size cap (a wrong path
// such as a log file or a device must not be read whole) and the same
// errors.
#ifndef REBOUND_COMMON_FILES_H_
#define REBOUND_COMMON_FILES_H_

#include <cstddef>
#include <istream>
#include <string>

#include "absl/status/statusor.h"

namespace rebound {

// Certificates, keys and CA bundles are small; anything bigger is a wrong path.
inline constexpr size_t kMaxPemFileBytes = 1 << 20;

// The contents of `path` when it holds at most `max_bytes`. The error's
// message is the cause only ("No such file or directory", "larger than
// 1 MiB"): callers name the file and its role. Its code says which step
// failed: opening (NotFound for a missing file, PermissionDenied, ...; never
// DataLoss), reading (DataLoss), or the size (OutOfRange).
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes);

// The same for a stream (a command-line tool's standard input).
absl::StatusOr<std::string> ReadStream(std::istream& in, size_t max_bytes);

// "4 MiB", "64 KiB", "1000 bytes": the size as an error message says it.
std::string ByteSizeText(size_t bytes);

}  // namespace rebound

#endif  // REBOUND_COMMON_FILES_H_
