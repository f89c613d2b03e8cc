#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace rebound {
namespace {

absl::Status TooLarge(size_t max_bytes) {
  return absl::OutOfRangeError(absl::StrCat("larger than ", ByteSizeText(max_bytes)));
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    absl::StatusCode code = absl::ErrnoToStatusCode(error);
    // DataLoss and OutOfRange mean a read and a size failure to callers.
    if (code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kOutOfRange) {
      code = absl::StatusCode::kUnknown;
    }
    return absl::Status(code, std::strerror(error));
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return absl::DataLossError(std::strerror(error));
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return TooLarge(max_bytes);
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

absl::StatusOr<std::string> ReadStream(std::istream& in, size_t max_bytes) {
  std::string text;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof(buffer));
    const size_t n = static_cast<size_t>(in.gcount());
    if (text.size() + n > max_bytes) return TooLarge(max_bytes);
    text.append(buffer, n);
  }
  if (in.bad()) return absl::DataLossError("read error");
  return text;
}

std::string ByteSizeText(size_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes >= (1 << 10) && bytes % (1 << 10) == 0) return absl::StrCat(bytes >> 10, " KiB");
  return absl::StrCat(bytes, " bytes");
}

}  // namespace rebound
