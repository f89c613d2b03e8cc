#include "gateway/api_bridge.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace rebound {

ApiBridge::ApiBridge(const CallerRequest* caller, const ModelProvider* primary)
    : caller_(caller), primary_(primary), caller_api_(translate::ApiOfPath(caller->path)) {}

translate::Api ApiBridge::AnswerApi(const ModelProvider& target) const {
  // Only the two chat APIs translate; any other path goes as it is.
  if (caller_api_ == translate::Api::kOther) return caller_api_;
  return translate::ApiOf(target.interface);
}

std::string ApiBridge::SkipReason(const ModelProvider& target) {
  if (caller_api_ == translate::Api::kOther) {
    if (target.interface == primary_->interface) return "";
    return absl::StrCat("other_api: ", caller_->path, " is not translated");
  }
  if (!Translates(target)) return "";
  const RetryPolicy* policy = primary_->retry_policy ? &*primary_->retry_policy : nullptr;
  if (policy != nullptr && policy->cross_interface == CrossInterface::kSkip &&
      &target != primary_) {
    return "cross_interface: skip";
  }
  if (target.passthrough_auth && target.access_key.empty()) {
    return absl::StrCat("no_credential: ", target.provider,
                        " uses passthrough_auth without an access_key, and the caller's "
                        "credential is for another vendor");
  }
  const absl::StatusOr<translate::TranslatedRequest>& translated = TranslatedFor(target);
  if (!translated.ok()) return std::string(translated.status().message());
  return "";
}

const absl::StatusOr<translate::TranslatedRequest>& ApiBridge::TranslatedFor(
    const ModelProvider& target) {
  if (cached_ && cached_->model == target.bare_model &&
      cached_->default_max_tokens == target.default_max_tokens) {
    return cached_->translated;
  }
  translate::RequestOptions options;
  options.target_model = target.bare_model;
  options.default_max_tokens = target.default_max_tokens;
  cached_.emplace(Cached{target.bare_model, target.default_max_tokens,
                         translate::TranslateRequest(caller_->body, caller_api_,
                                                     AnswerApi(target), options)});
  return cached_->translated;
}

absl::StatusOr<ApiBridge::Outgoing> ApiBridge::Build(const ModelProvider& target) {
  Outgoing out;
  if (!Translates(target)) {
    absl::StatusOr<UpstreamRequest> request = BuildUpstreamRequest(target, *caller_);
    if (!request.ok()) return request.status();
    out.request = *std::move(request);
    return out;
  }
  if (std::string reason = SkipReason(target); !reason.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(target.model_id, " speaks the ",
                     std::string(translate::ToString(AnswerApi(target))), " API and this ",
                     std::string(translate::ToString(caller_api_)),
                     " request cannot go to it: ", reason));
  }
  const translate::TranslatedRequest& translated = *TranslatedFor(target);
  out.request = BuildTranslatedUpstreamRequest(
      target, *caller_, translate::PathOf(AnswerApi(target)), translated.body);
  out.dropped_fields = translated.dropped;
  out.include_usage = translated.include_usage;
  return out;
}

}  // namespace rebound
