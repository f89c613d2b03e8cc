#include "gateway/request_validation.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "upstream/upstream_request.h"

namespace rebound {

std::variant<ValidatedRequest, RequestRejection> ValidateRequest(
    const v1::CompletionRequest& request, const Config& config, int64_t max_body_bytes,
    std::string request_id) {
  RequestRejection rejection;
  rejection.request_id = request.request_id().empty() ? request_id : request.request_id();
  auto reject = [&rejection](v1::ErrorReason reason, std::string message) {
    rejection.reason = reason;
    rejection.message = std::move(message);
    return std::move(rejection);
  };

  const ModelProvider* primary =
      request.model().empty() ? config.Default() : config.Find(request.model());
  if (primary != nullptr) rejection.model_label = primary->model_id;
  if (static_cast<int64_t>(request.body().size()) > max_body_bytes) {
    return reject(v1::ERROR_REASON_INVALID_REQUEST,
                  absl::StrCat("request body is ", request.body().size(),
                               " bytes; the limit is ", max_body_bytes));
  }
  if (primary == nullptr) {
    return reject(v1::ERROR_REASON_UNKNOWN_MODEL,
                  request.model().empty() && config.Default() == nullptr
                      ? "no model given and no provider is marked default: true"
                      : "model is not configured; use one of the configured model ids "
                        "(provider/model)");
  }

  ValidatedRequest valid;
  valid.primary = primary;
  valid.narrowing.disable_retries = request.retry().disable_retries();
  valid.narrowing.max_attempts = static_cast<int>(request.retry().max_attempts());
  for (const std::string& id : request.retry().allowed_models()) {
    const ModelProvider* allowed = config.Find(id);
    if (allowed == nullptr) {
      return reject(v1::ERROR_REASON_INVALID_REQUEST,
                    "retry.allowed_models names a model that is not configured");
    }
    valid.narrowing.allowed_models.push_back(allowed);
  }

  CallerRequest caller;
  caller.path = request.path().empty() ? std::string(kDefaultPath) : request.path();
  caller.body = request.body();
  caller.headers.reserve(request.headers_size());
  for (const v1::Header& h : request.headers()) caller.headers.emplace_back(h.name(), h.value());
  caller.request_id = rejection.request_id;  // it becomes x-request-id upstream
  if (absl::Status s = CheckCallerRequest(caller); !s.ok()) {
    return reject(v1::ERROR_REASON_INVALID_REQUEST, std::string(s.message()));
  }
  valid.path = std::move(caller.path);
  valid.headers = std::move(caller.headers);
  valid.body = request.body();
  valid.request_id = std::move(rejection.request_id);
  return valid;
}

std::string NewRequestId(absl::Time now, uint64_t serial) {
  return absl::StrCat("rb-", absl::Hex(absl::ToUnixNanos(now)), "-", absl::Hex(serial & 0xffffff));
}

}  // namespace rebound
