#include "policy/provider_parser.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/limits.h"
#include "policy/provider_defaults.h"
#include "policy/retry_policy_parser.h"

namespace rebound {
namespace {

bool IsVariableStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsVariableChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool IsVariableName(std::string_view s) {
  return !s.empty() && IsVariableStart(s[0]) && std::all_of(s.begin(), s.end(), IsVariableChar);
}

// Expands every $NAME and ${NAME} in `text`, the way plano's envsubst pass
// does for its whole file. Names that are not set expand to nothing and are
// appended to `missing`.
std::string ExpandVariables(std::string_view text, const EnvLookup& env,
                            std::vector<std::string>* missing) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    std::string_view name;
    size_t next = i + 1;
    if (next < text.size() && text[next] == '{') {
      size_t close = text.find('}', next);
      if (close != std::string_view::npos &&
          IsVariableName(text.substr(next + 1, close - next - 1))) {
        name = text.substr(next + 1, close - next - 1);
        next = close + 1;
      }
    } else {
      size_t end = next;
      if (end < text.size() && IsVariableStart(text[end])) {
        while (end < text.size() && IsVariableChar(text[end])) ++end;
        name = text.substr(next, end - next);
        next = end;
      }
    }
    if (name.empty()) {  // a lone '$' is literal
      out += text[i++];
      continue;
    }
    std::optional<std::string> value = env(name);
    if (value) {
      out += *value;
    } else {
      missing->emplace_back(name);
    }
    i = next;
  }
  return out;
}

// The names `text` refers to as $NAME or ${NAME}, in order.
std::vector<std::string> VariableNames(std::string_view text) {
  std::vector<std::string> names;
  ExpandVariables(
      text, [](std::string_view) { return std::nullopt; }, &names);
  return names;
}

// Why a pushed policy may not read a variable where it does (LoadOptions).
constexpr absl::string_view kPushedEnvRule =
    "a pushed policy may read a replica's environment only in access_key, and only the "
    "variables the replica's own control_plane.allowed_env lists";

// RFC 9110 token characters: what a header field name may contain.
bool IsHeaderName(std::string_view name) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool HasControlOrSpace(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

void ReadModel(YamlReader* r, MapFields& f, const Located& entry, ModelProvider* p) {
  std::optional<Located> x = f.Take("model");
  if (!x) {
    r->reporter().Error(entry.line, JoinPath(entry.path, "model"),
                        "is required: the model id as provider/model, e.g. openai/gpt-4o");
    return;
  }
  std::optional<std::string> id = r->String(*x);
  if (!id) return;
  p->model_id = *id;
  size_t slash = id->find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == id->size() ||
      HasControlOrSpace(*id)) {
    r->reporter().Error(x->line, x->path,
                        absl::StrCat("must be provider/model with both parts non-empty and no "
                                     "spaces (e.g. openai/gpt-4o), got ",
                                     QuoteForMessage(*id)));
    return;
  }
  p->provider = id->substr(0, slash);
  p->bare_model = id->substr(slash + 1);
}

// plano's provider_interface values, read as the API rebound speaks to them.
struct InterfaceAlias {
  std::string_view plano_name;
  ProviderInterface interface;
};
constexpr InterfaceAlias kPlanoInterfaces[] = {
    {"claude", ProviderInterface::kAnthropic},  {"arch", ProviderInterface::kOpenAi},
    {"plano", ProviderInterface::kOpenAi},      {"deepseek", ProviderInterface::kOpenAi},
    {"groq", ProviderInterface::kOpenAi},       {"mistral", ProviderInterface::kOpenAi},
    {"xiaomi", ProviderInterface::kOpenAi},     {"gemini", ProviderInterface::kOpenAi},
    {"chatgpt", ProviderInterface::kOpenAi},    {"digitalocean", ProviderInterface::kOpenAi},
    {"vercel", ProviderInterface::kOpenAi},     {"openrouter", ProviderInterface::kOpenAi},
    {"moonshotai", ProviderInterface::kOpenAi}, {"together_ai", ProviderInterface::kOpenAi},
    {"xai", ProviderInterface::kOpenAi},        {"ollama", ProviderInterface::kOpenAi},
    {"zhipu", ProviderInterface::kOpenAi},      {"qwen", ProviderInterface::kOpenAi},
};

void ReadInterface(YamlReader* r, MapFields& f, ModelProvider* p) {
  // RETRY.md 1: anthropic for provider anthropic, else openai; the defaults
  // table says the same.
  const ProviderDefaults* defaults = FindProviderDefaults(p->provider);
  p->interface = defaults != nullptr ? defaults->interface : ProviderInterface::kOpenAi;
  std::optional<Located> x = f.Take("provider_interface");
  if (!x) return;
  std::optional<std::string> name = r->String(*x);
  if (!name) return;
  if (*name == "openai") {
    p->interface = ProviderInterface::kOpenAi;
    return;
  }
  if (*name == "anthropic") {
    p->interface = ProviderInterface::kAnthropic;
    return;
  }
  // A plano file loads as it is: plano names its interfaces after vendors,
  // most of which serve the OpenAI-compatible API.
  for (const InterfaceAlias& alias : kPlanoInterfaces) {
    if (*name != alias.plano_name) continue;
    p->interface = alias.interface;
    r->reporter().Warning(
        x->line, x->path,
        absl::StrCat("plano's provider_interface \"", *name, "\" is read as \"",
                     AbslView(ToString(alias.interface)), "\": rebound speaks the ",
                     alias.interface == ProviderInterface::kOpenAi ? "OpenAI-compatible"
                                                                   : "Anthropic Messages",
                     " API to it, so base_url must serve that API"));
    return;
  }
  r->reporter().Error(
      x->line, x->path,
      absl::StrCat("unknown value ", QuoteForMessage(*name), "; allowed: openai, anthropic"));
}

void ReadBaseUrl(YamlReader* r, MapFields& f, const Located& entry, const EnvLookup& env,
                 const LoadOptions& options, ModelProvider* p) {
  std::optional<Located> x = f.Take("base_url");
  if (!x) {
    if (const ProviderDefaults* d = FindProviderDefaults(p->provider)) {
      p->base_url = std::string(d->base_url);
      p->strip_v1_path_prefix = d->strip_v1_path_prefix;
      return;
    }
    // The provider name is the file's text: quoted, so it cannot break the
    // line. An unreadable model id is reported already; say what is needed.
    std::string which =
        p->provider.empty() ? "" : absl::StrCat(" for provider ", QuoteForMessage(p->provider));
    r->reporter().Error(entry.line, JoinPath(entry.path, "base_url"),
                        absl::StrCat("is required", which, ": rebound knows the public URL of ",
                                     ProvidersWithDefaults(),
                                     " only; give the provider's http:// or https:// URL"));
    return;
  }
  std::optional<std::string> written = r->String(*x);
  if (!written) return;
  if (options.pushed_policy) {
    // Not expanded at all: a URL of the pusher's choosing would carry the
    // value to them.
    if (std::vector<std::string> names = VariableNames(*written); !names.empty()) {
      r->reporter().Error(
          x->line, x->path,
          absl::StrCat("uses the environment variable", names.size() > 1 ? "s " : " ",
                       absl::StrJoin(names, ", "), ": ", kPushedEnvRule,
                       "; write the URL out in the policy"));
      return;
    }
  }
  std::vector<std::string> missing;
  std::string url = ExpandVariables(*written, env, &missing);
  if (!missing.empty()) {
    r->reporter().Error(
        x->line, x->path,
        absl::StrCat("uses the environment variable", missing.size() > 1 ? "s " : " ",
                     absl::StrJoin(missing, ", "),
                     missing.size() > 1 ? ", which are" : ", which is", " not set"));
    return;
  }
  // The URL itself is not echoed: it may carry user:password@.
  size_t scheme_end = absl::StartsWith(url, "https://")  ? 8
                      : absl::StartsWith(url, "http://") ? 7
                                                         : 0;
  if (scheme_end == 0) {
    r->reporter().Error(x->line, x->path, "must start with http:// or https://");
    return;
  }
  while (url.size() > scheme_end && url.back() == '/') url.pop_back();
  if (url.size() == scheme_end || url[scheme_end] == '/' || HasControlOrSpace(url)) {
    r->reporter().Error(x->line, x->path,
                        "must be a URL with a host and no spaces, e.g. https://api.openai.com");
    return;
  }
  p->base_url = std::move(url);
}

// Reads access_key into access_key / access_key_source. Sets `*variable`
// when the key is a reference to one, and `*refused` when a pushed policy
// may not read that variable (reported here).
std::optional<Located> ReadAccessKey(YamlReader* r, MapFields& f, const EnvLookup& env,
                                     const LoadOptions& options, ModelProvider* p,
                                     std::optional<std::string>* variable, bool* refused) {
  std::optional<Located> x = f.Take("access_key");
  if (!x) return x;
  std::optional<std::string> text = r->String(*x);
  if (!text) return x;
  p->access_key_source = *text;
  if (std::optional<std::string_view> name = VariableReference(*text)) {
    *variable = std::string(*name);
    const std::vector<std::string>& allowed = options.allowed_env;
    if (options.pushed_policy && !options.allow_any_env_name &&
        std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
      // The name is the whole value, so it is no credential; never looked up.
      r->reporter().Error(
          x->line, x->path,
          absl::StrCat("reads the environment variable ", AbslView(*name),
                       ", which this replica's control_plane.allowed_env does not list",
                       allowed.empty() ? " (it lists none)" : "", ": ", kPushedEnvRule,
                       "; add it there on the replicas that should send it to this provider"));
      *refused = true;
      return x;
    }
    p->access_key = env(*name).value_or("");
  } else {
    p->access_key = *text;
  }
  return x;
}

void CheckCredential(YamlReader* r, const Located& entry, const std::optional<Located>& key,
                     const std::optional<std::string>& variable, const EnvLookup& env,
                     const ModelProvider& p) {
  if (p.passthrough_auth || !p.access_key.empty()) return;
  constexpr absl::string_view kFix =
      "; set it, or set passthrough_auth: true to forward the caller's own credential";
  if (!key) {
    r->reporter().Error(entry.line, JoinPath(entry.path, "access_key"),
                        absl::StrCat("is required unless passthrough_auth is true: the "
                                     "credential rebound sends to this provider",
                                     kFix));
  } else if (variable) {
    bool set = env(*variable).has_value();
    r->reporter().Error(key->line, key->path,
                        absl::StrCat("resolves empty: the environment variable ", *variable,
                                     set ? " is empty" : " is not set", kFix));
  } else if (key->node.IsScalar()) {
    r->reporter().Error(key->line, key->path, absl::StrCat("is empty", kFix));
  }
}

void ReadHeaders(YamlReader* r, const Located& v, const LoadOptions& options, ModelProvider* p) {
  if (!r->ExpectMapOfAtMost(v, limits::kMaxHeadersPerProvider, "headers")) return;
  MapFields f(r, v);              // reports exact duplicates
  std::vector<std::string> seen;  // lower-cased: header names are case-insensitive
  for (const std::string& name : f.Keys()) {
    std::optional<Located> value = f.Take(name);
    if (!IsHeaderName(name)) {
      r->reporter().Error(value->line, value->path,
                          "is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)");
      continue;
    }
    std::string lower = absl::AsciiStrToLower(name);
    if (std::find(seen.begin(), seen.end(), lower) != seen.end()) {
      r->reporter().Error(value->line, value->path,
                          "is set twice (header names are case-insensitive)");
      continue;
    }
    seen.push_back(std::move(lower));
    // Header values are never echoed: they may be credentials.
    if (!value->node.IsScalar()) {
      r->reporter().Error(value->line, value->path, "must be a string header value");
      continue;
    }
    const std::string& text = value->node.Scalar();
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      r->reporter().Error(value->line, value->path,
                          "must not contain line breaks or NUL characters");
      continue;
    }
    // The names are not shown either: they are part of the value.
    const bool has_reference = !VariableNames(text).empty();
    if (has_reference && options.pushed_policy) {
      r->reporter().Error(value->line, value->path,
                          absl::StrCat("looks like an environment variable reference; ",
                                       kPushedEnvRule,
                                       ", and a header value is sent as written: write the "
                                       "value out"));
      continue;
    }
    if (has_reference) {
      r->reporter().Warning(value->line, value->path,
                            "looks like an environment variable reference; rebound expands "
                            "variables only in access_key and base_url, so it is sent as written");
    }
    p->headers.emplace_back(name, text);
  }
}

void ReadTimeouts(YamlReader* r, const Located& v, Timeouts* t) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("connect_ms")) {
    if (auto n = r->Milliseconds(*x)) t->connect_ms = *n;
  }
  if (auto x = f.Take("first_byte_ms")) {
    if (auto n = r->Milliseconds(*x)) t->first_byte_ms = *n;
  }
  if (auto x = f.Take("idle_ms")) {
    if (auto n = r->Milliseconds(*x)) t->idle_ms = *n;
  }
  if (auto x = f.Take("total_ms")) {
    if (auto n = r->Milliseconds(*x)) t->total_ms = *n;
  }
  f.Finish({"connect_ms", "first_byte_ms", "idle_ms", "total_ms"});
}

}  // namespace

std::optional<std::string_view> VariableReference(std::string_view text) {
  if (text.size() >= 2 && text[0] == '$' && IsVariableName(text.substr(1))) {
    return text.substr(1);
  }
  if (text.size() >= 4 && absl::StartsWith(AbslView(text), "${") && text.back() == '}' &&
      IsVariableName(text.substr(2, text.size() - 3))) {
    return text.substr(2, text.size() - 3);
  }
  return std::nullopt;
}

bool IsEnvVariableName(std::string_view name) { return IsVariableName(name); }

ModelProvider ParseProvider(YamlReader* r, const Located& v, const EnvLookup& env,
                            const LoadOptions& options) {
  ModelProvider p;
  p.line = v.line;
  if (!r->ExpectMap(v)) return p;
  MapFields f(r, v);

  ReadModel(r, f, v, &p);
  ReadInterface(r, f, &p);
  ReadBaseUrl(r, f, v, env, options, &p);
  std::optional<std::string> variable;
  bool refused = false;
  std::optional<Located> key = ReadAccessKey(r, f, env, options, &p, &variable, &refused);
  if (auto x = f.Take("passthrough_auth")) {
    if (auto b = r->Bool(*x)) p.passthrough_auth = *b;
  }
  if (!refused) CheckCredential(r, v, key, variable, env, p);
  if (auto x = f.Take("default_max_tokens")) {
    if (auto n = r->Int(*x, 1, limits::kMaxDefaultMaxTokens)) p.default_max_tokens = *n;
  }
  if (auto x = f.Take("context_window")) {
    if (auto n = r->Int(*x, 1, limits::kMaxContextWindow)) p.context_window = *n;
  }
  if (auto x = f.Take("default")) {
    if (auto b = r->Bool(*x)) p.is_default = *b;
  }
  if (auto x = f.Take("headers")) ReadHeaders(r, *x, options, &p);
  if (auto x = f.Take("timeouts")) ReadTimeouts(r, *x, &p.timeouts);
  if (auto x = f.Take("tls_ca_file")) {
    if (std::optional<std::string> path = r->String(*x)) {
      if (path->empty() || HasControlOrSpace(*path)) {
        r->reporter().Error(x->line, x->path, "must be a file path without spaces");
      } else {
        p.tls_ca_file = *path;
      }
    }
  }
  if (auto x = f.Take("retry_policy")) {
    if (x->node.IsNull()) {
      // serde (plano) reads an empty value as "no policy"; say so, because
      // `retry_policy:` reads like "retries with the defaults".
      r->reporter().Warning(x->line, x->path,
                            "is empty, which means no retries; write retry_policy: {} for "
                            "retries with every default");
    } else {
      p.retry_policy = ParseRetryPolicy(r, *x);
    }
  }

  f.Finish({"model", "base_url", "access_key", "provider_interface", "passthrough_auth", "headers",
            "default_max_tokens", "context_window", "default", "timeouts", "tls_ca_file", "retry_policy"},
           {"name", "http_host", "routing_preferences", "usage", "endpoint", "protocol",
            "cluster_name", "stream", "port", "rate_limits", "base_url_path_prefix", "internal",
            "capabilities", "provider"},
           "is a plano provider key that rebound does not use; it is ignored");
  return p;
}

}  // namespace rebound
