#include "upstream/upstream_request.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "codec/model_splice.h"

namespace rebound {
namespace {

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool InList(std::string_view name, std::initializer_list<std::string_view> list) {
  for (std::string_view item : list) {
    if (EqualsIgnoreCase(name, item)) return true;
  }
  return false;
}

// Headers that describe one hop, or that rebound sets itself.
bool IsDroppedHeader(std::string_view name) {
  return InList(name, {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                       "transfer-encoding", "upgrade", "host", "content-length", "expect",
                       // Bodies are forwarded and parsed as sent: no compression.
                       "accept-encoding", "x-request-id"});
}

// The caller's vendor headers that mean nothing (or the wrong thing) to the
// other vendor.
bool IsVendorHeader(std::string_view name) {
  return StartsWithIgnoreCase(name, "anthropic-") || StartsWithIgnoreCase(name, "openai-");
}

// `cross_vendor`: the caller speaks another API than the target.
UpstreamRequest Address(const ModelProvider& target, const CallerRequest& request,
                        absl::string_view path, std::string body, bool cross_vendor) {
  UpstreamRequest out;
  if (target.strip_v1_path_prefix && absl::StartsWith(path, "/v1/")) path.remove_prefix(3);
  out.url = absl::StrCat(target.base_url, path);
  out.body = std::move(body);
  out.timeouts = target.timeouts;
  out.pool_key = target.provider;
  out.ca_file = target.tls_ca_file;

  auto overridden = [&target](std::string_view name) {
    for (const auto& [key, value] : target.headers) {
      if (EqualsIgnoreCase(key, name)) return true;
    }
    return false;
  };
  bool caller_sent_credentials = false;
  bool caller_sent_anthropic_version = false;
  out.headers.reserve(request.headers.size() + target.headers.size() + 3);
  for (const auto& [name, value] : request.headers) {
    if (IsDroppedHeader(name) || overridden(name)) continue;
    if (cross_vendor && (IsCredentialHeader(name) || IsVendorHeader(name))) continue;
    if (IsCredentialHeader(name)) {
      if (!target.passthrough_auth) continue;
      caller_sent_credentials = true;
    }
    if (EqualsIgnoreCase(name, "anthropic-version")) caller_sent_anthropic_version = true;
    out.headers.emplace_back(name, value);
  }
  // passthrough_auth: the caller's own credentials win; the configured key
  // (if any) is only a fallback when the caller sent none.
  bool add_key = !target.access_key.empty() && !caller_sent_credentials;
  if (target.interface == ProviderInterface::kAnthropic) {
    if (add_key) out.headers.emplace_back("x-api-key", target.access_key);
    if (!caller_sent_anthropic_version && !overridden("anthropic-version")) {
      out.headers.emplace_back("anthropic-version", std::string(kAnthropicVersion));
    }
  } else if (add_key) {
    out.headers.emplace_back("Authorization", absl::StrCat("Bearer ", target.access_key));
  }
  for (const auto& [name, value] : target.headers) out.headers.emplace_back(name, value);
  out.headers.emplace_back("x-request-id", request.request_id);
  return out;
}

}  // namespace

absl::Status CheckCallerRequest(const CallerRequest& request) {
  const std::string& path = request.path;
  if (path.empty() || path[0] != '/' || absl::StartsWith(path, "//")) {
    return absl::InvalidArgumentError(
        absl::StrCat("path must start with a single '/', got \"", absl::CEscape(absl::string_view(path)), "\""));
  }
  for (char c : path) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#' || c == '\\') {
      return absl::InvalidArgumentError(
          "path may contain only printable ASCII without spaces, '#' or '\\'");
    }
  }
  if (path.find("/../") != std::string::npos || absl::EndsWith(path, "/..")) {
    return absl::InvalidArgumentError("path must not contain '..' segments");
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return absl::InvalidArgumentError(
          absl::StrCat("header name \"", absl::CEscape(absl::string_view(name)), "\" is not an HTTP token"));
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return absl::InvalidArgumentError(
            absl::StrCat("header \"", name, "\" has a CR, LF or NUL in its value"));
      }
    }
  }
  for (char c : request.request_id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return absl::InvalidArgumentError("request_id must be printable ASCII without spaces");
    }
  }
  if (request.request_id.size() > 256) {
    return absl::InvalidArgumentError("request_id is longer than 256 bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<UpstreamRequest> BuildUpstreamRequest(const ModelProvider& target,
                                                     const CallerRequest& request) {
  absl::StatusOr<std::string> body = SpliceTopLevelModel(request.body, target.bare_model);
  if (!body.ok()) return body.status();
  return Address(target, request, request.path, *std::move(body), /*cross_vendor=*/false);
}

UpstreamRequest BuildTranslatedUpstreamRequest(const ModelProvider& target,
                                               const CallerRequest& request,
                                               std::string_view path, std::string body) {
  return Address(target, request, absl::string_view(path.data(), path.size()), std::move(body),
                 /*cross_vendor=*/true);
}

}  // namespace rebound
