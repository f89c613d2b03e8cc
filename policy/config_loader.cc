#include "policy/config_loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/utf8.h"
#include "policy/limits.h"
#include "policy/provider_parser.h"
#include "policy/retry_budget_parser.h"
#include "policy/validation.h"
#include "policy/yaml_reader.h"

namespace rebound {
namespace {

using limits::kMaxConfigBytes;
using limits::kMaxUpstreamThreads;

// "host:port", host being a name, an IPv4 address or a bracketed IPv6
// address. Listen addresses may use port 0 (the OS picks one, for tests).
bool IsHostPort(std::string_view s, bool allow_port_zero) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = s.substr(0, colon);
  std::string_view port = s.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return false;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return false;  // an IPv6 address needs brackets
  }
  bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '/' && c != '[' && c != ']';
  });
  int value = 0;
  bool port_ok =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      absl::SimpleAtoi(AbslView(port), &value) && value <= 65535 && (value > 0 || allow_port_zero);
  return host_ok && port_ok;
}

std::optional<std::string> ReadAddress(YamlReader* r, const Located& v, bool allow_port_zero) {
  std::optional<std::string> text = r->String(v);
  if (!text) return std::nullopt;
  if (!IsHostPort(*text, allow_port_zero)) {
    r->reporter().Error(v.line, v.path,
                        absl::StrCat("must look like host:port (e.g. 127.0.0.1:50051 or "
                                     "[::1]:50051), got ",
                                     QuoteForMessage(*text)));
    return std::nullopt;
  }
  return text;
}

// Optional file paths and names: an empty string means "not set", which
// keeps templated files (`token_file: ""`) working.
void ReadOptionalString(YamlReader* r, MapFields& f, std::string_view key, std::string* out) {
  if (auto x = f.Take(key)) {
    if (auto s = r->String(*x)) *out = *s;
  }
}

void ReadTls(YamlReader* r, const Located& v, TlsFiles* tls) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  ReadOptionalString(r, f, "cert_file", &tls->cert_file);
  ReadOptionalString(r, f, "key_file", &tls->key_file);
  ReadOptionalString(r, f, "client_ca_file", &tls->client_ca_file);
  if (tls->cert_file.empty() != tls->key_file.empty()) {
    r->reporter().ErrorAt(JoinPath(v.path, tls->cert_file.empty() ? "cert_file" : "key_file"),
                          "cert_file and key_file go together: set both for TLS, or neither");
  }
  if (!tls->client_ca_file.empty() && tls->cert_file.empty()) {
    r->reporter().ErrorAt(JoinPath(v.path, "client_ca_file"),
                          "requires cert_file and key_file: client certificates are checked "
                          "only over TLS");
  }
  f.Finish({"cert_file", "key_file", "client_ca_file"});
}

void ReadServer(YamlReader* r, const Located& v, ServerSettings* s) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("listen")) {
    if (auto a = ReadAddress(r, *x, /*allow_port_zero=*/true)) s->listen_address = *a;
  }
  if (auto x = f.Take("metrics_listen")) {
    if (auto a = ReadAddress(r, *x, /*allow_port_zero=*/true)) s->metrics_address = *a;
  }
  if (auto x = f.Take("max_body_bytes")) {
    if (auto n = r->Int(*x, 1, limits::kMaxBodyBytes)) s->max_body_bytes = *n;
  }
  if (auto x = f.Take("max_response_bytes")) {
    if (auto n = r->Int(*x, 1, limits::kMaxResponseBytes)) s->max_response_bytes = *n;
  }
  if (auto x = f.Take("stream_pause_timeout_ms")) {
    if (auto n = r->Milliseconds(*x)) s->stream_pause_timeout_ms = *n;
  }
  if (auto x = f.Take("max_in_flight")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxInFlight)) s->max_in_flight = *n;
  }
  if (auto x = f.Take("max_connections_per_provider")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxConnectionsPerProvider)) {
      s->max_connections_per_provider = *n;
    }
  }
  if (auto x = f.Take("drain_grace_ms")) {
    if (auto n = r->Milliseconds(*x)) s->drain_grace_ms = *n;
  }
  if (auto x = f.Take("upstream_threads")) {
    if (auto n = r->Int32(*x, 0, kMaxUpstreamThreads)) s->upstream_threads = *n;
  }
  if (auto x = f.Take("http_listen")) {
    if (auto a = ReadAddress(r, *x, /*allow_port_zero=*/true)) s->http_listen = *a;
  }
  if (auto x = f.Take("http_max_connections")) {
    if (auto n = r->Int32(*x, 1, limits::kMaxHttpConnections)) s->http_max_connections = *n;
  }
  if (auto x = f.Take("http_idle_timeout_ms")) {
    if (auto n = r->Milliseconds(*x)) s->http_idle_timeout_ms = *n;
  }
  if (auto x = f.Take("http_request_timeout_ms")) {
    if (auto n = r->Milliseconds(*x)) s->http_request_timeout_ms = *n;
  }
  if (auto x = f.Take("tls")) ReadTls(r, *x, &s->tls);
  if (auto x = f.Take("retry_budget")) ParseRetryBudget(r, *x, &s->retry_budget);
  if (auto x = f.Take("hedge_budget")) ParseHedgeBudget(r, *x, &s->hedge_budget);
  ReadOptionalString(r, f, "auth_token_file", &s->auth_token_file);
  f.Finish({"listen", "metrics_listen", "max_body_bytes", "max_response_bytes",
            "stream_pause_timeout_ms", "max_in_flight",
            "max_connections_per_provider", "drain_grace_ms", "upstream_threads", "http_listen",
            "http_max_connections", "http_idle_timeout_ms", "http_request_timeout_ms", "tls",
            "auth_token_file", "retry_budget", "hedge_budget"});
}

void ReadControlPlane(YamlReader* r, const Located& v, ControlPlaneSettings* c) {
  if (!r->ExpectMap(v)) return;
  MapFields f(r, v);
  if (auto x = f.Take("addresses");
      x &&
      r->ExpectListOfAtMost(*x, limits::kMaxControlPlaneAddresses, "control-plane addresses")) {
    for (const Located& item : r->Items(*x)) {
      if (auto a = ReadAddress(r, item, /*allow_port_zero=*/false)) c->addresses.push_back(*a);
    }
  }
  ReadOptionalString(r, f, "replica_id", &c->replica_id);
  ReadOptionalString(r, f, "token_file", &c->token_file);
  ReadOptionalString(r, f, "ca_file", &c->ca_file);
  ReadOptionalString(r, f, "cert_file", &c->cert_file);
  ReadOptionalString(r, f, "key_file", &c->key_file);
  if (auto x = f.Take("allowed_env"); x && r->ExpectList(*x)) {
    for (const Located& item : r->Items(*x)) {
      std::optional<std::string> name = r->String(item);
      if (!name) continue;
      if (!IsEnvVariableName(*name)) {
        r->reporter().Error(item.line, item.path,
                            absl::StrCat("must be an environment variable name (letters, digits "
                                         "and _, not starting with a digit, e.g. "
                                         "OPENAI_API_KEY), got ",
                                         QuoteForMessage(*name)));
        continue;
      }
      c->allowed_env.push_back(*std::move(name));
    }
  }
  if (c->cert_file.empty() != c->key_file.empty()) {
    r->reporter().ErrorAt(JoinPath(v.path, c->cert_file.empty() ? "cert_file" : "key_file"),
                          "cert_file and key_file go together: set both for a client "
                          "certificate, or neither");
  }
  if (!c->cert_file.empty() && c->ca_file.empty()) {
    r->reporter().ErrorAt(JoinPath(v.path, "cert_file"),
                          "requires ca_file: a client certificate is sent only over TLS");
  }
  f.Finish({"addresses", "replica_id", "token_file", "ca_file", "cert_file", "key_file",
            "allowed_env"});
}

void WarnNoProviders(YamlReader* r) {
  r->reporter().Warning(0, "model_providers",
                        "no model providers are configured; every request fails until a "
                        "configuration with providers is loaded or pushed");
}

// Reads `model_providers` or its plano alias `llm_providers` and returns the
// key it came from, for the paths validation reports.
std::string ReadProviders(YamlReader* r, std::optional<Located> list,
                          const std::optional<Located>& alias, const EnvLookup& env,
                          const LoadOptions& options, std::vector<ModelProvider>* providers) {
  if (list && alias) {
    r->reporter().Error(alias->line, alias->path,
                        absl::StrCat("llm_providers is plano's older name for model_providers, "
                                     "which is already set at line ",
                                     list->line, "; keep one of the two"));
  } else if (alias) {
    list = alias;
  }
  if (!list) {
    WarnNoProviders(r);
    return "model_providers";
  }
  if (!r->ExpectListOfAtMost(*list, limits::kMaxModelProviders, "model providers")) {
    return list->path;
  }
  for (const Located& item : r->Items(*list)) {
    // Entries that fail to read are kept so that validation's indices match
    // the file; the config is discarded anyway when there are errors.
    providers->push_back(ParseProvider(r, item, env, options));
  }
  if (providers->empty()) WarnNoProviders(r);
  return list->path;
}

void ReadRoot(YamlReader* r, const YAML::Node& root, const EnvLookup& env,
              const LoadOptions& options, Config* config) {
  if (root.IsNull()) {  // an empty file: every default, nothing to call
    WarnNoProviders(r);
    return;
  }
  Located top{root, static_cast<int>(root.Mark().line) + 1, ""};
  if (!root.IsMap()) {
    r->reporter().Error(top.line, "",
                        "the top level must be a map of sections (server, control_plane, "
                        "model_providers)");
    return;
  }
  MapFields f(r, top);
  f.Take("version");  // plano's schema version: accepted, nothing depends on it
  if (auto x = f.Take("listeners")) {
    r->reporter().Warning(x->line, x->path,
                          "plano's listeners are accepted and ignored: rebound's listen "
                          "addresses live under server (server.listen, server.metrics_listen)");
  }
  if (auto x = f.Take("server")) ReadServer(r, *x, &config->server);
  if (auto x = f.Take("control_plane")) ReadControlPlane(r, *x, &config->control_plane);
  std::optional<Located> list = f.Take("model_providers");
  std::optional<Located> alias = f.Take("llm_providers");
  std::string providers_key = ReadProviders(r, list, alias, env, options, &config->providers);
  ValidateProviders(config->providers, providers_key, &r->reporter());
  // Names from plano's config schema (plano_config_schema.yaml, and
  // arch_config_schema.yaml before the rename).
  f.Finish({"version", "server", "control_plane", "model_providers", "llm_providers", "listeners"},
           {"agents", "filters", "endpoints", "model_aliases", "overrides", "system_prompt",
            "prompt_targets", "prompt_guards", "ratelimits", "tracing", "mode", "routing",
            "state_storage", "state_storage_v1_responses", "routing_preferences",
            "model_metrics_sources", "error_target"},
           "is a plano section that rebound does not support; it is ignored");
}

// Why the document scan stopped early, as a diagnostic. It has no key: the
// document was not read, like a syntax error (controlplane/policy_check.cc
// reads the text again only past errors with a key), so the message says
// where instead.
struct ScanStop {
  int line = 0;
  std::string message;
};

// " at a.b[3]", or nothing at the top of the document.
std::string At(const std::string& path) { return path.empty() ? "" : " at " + path; }

std::string TooManyNodes(const std::string& path) {
  return absl::StrCat("the configuration has more than ", limits::kMaxYamlNodes,
                      " YAML nodes with aliases expanded, the limit", path.empty() ? "" : ",",
                      At(path));
}

// Reads a YAML stream as events, before any tree is built, and notes:
//   - where each document starts (ScanDocuments);
//   - how many nodes the document has with every alias expanded, which is
//     what a walk of the tree costs. yaml-cpp shares an aliased node rather
//     than copying it, so its tree stays small, but every walk over it
//     repeats the node once per alias: a few kilobytes of nested aliases
//     ("billion laughs") name 10^9 nodes. Past limits::kMaxYamlNodes, or at
//     an alias inside the very node it names (a cycle yaml-cpp builds and
//     no walk finishes), it throws ScanStop, so the rest is never parsed.
// An anchored node's expanded size is known when it ends; an alias adds it.
class DocumentScanner : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  int64_t events = 0;  // nodes parsed, an alias counting as one

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    anchors_.clear();  // anchor numbers start again in each document
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node(mark, anchor, 1, nullptr);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    Node(mark, anchor, 1, &value);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  static constexpr int64_t kOpen = -1;  // an anchored node not ended yet

  struct Anchor {
    int line = 0;
    int64_t size = kOpen;  // nodes, aliases inside it expanded
  };
  // An open list or map. `path` is its key path, as the reader spells it.
  struct Frame {
    bool is_map;
    std::string path;
    YAML::anchor_t anchor;
    int64_t expanded_before;  // `expanded_` when it started
    bool at_key = true;       // maps: the next node is a key
    std::string key;          // maps: the key of the next value
    size_t index = 0;         // lists: the next element's index
  };

  // The key path of the node the next event is.
  std::string NextPath() const;
  // Counts a node of `size` expanded nodes at the current position; a
  // scalar map key is remembered for the path of its value.
  void Node(const YAML::Mark& mark, YAML::anchor_t anchor, int64_t size, const std::string* scalar);
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map);
  void Close();
  Anchor* Find(YAML::anchor_t anchor);

  int64_t expanded_ = 0;
  std::vector<Frame> frames_;
  std::vector<Anchor> anchors_;  // by anchor number (yaml-cpp counts from 1)
};

std::string DocumentScanner::NextPath() const {
  if (frames_.empty()) return "";
  const Frame& f = frames_.back();
  if (!f.is_map) return IndexPath(f.path, f.index);
  return f.at_key ? f.path : JoinPath(f.path, f.key);
}

DocumentScanner::Anchor* DocumentScanner::Find(YAML::anchor_t anchor) {
  return anchor < anchors_.size() ? &anchors_[anchor] : nullptr;
}

void DocumentScanner::Node(const YAML::Mark& mark, YAML::anchor_t anchor, int64_t size,
                           const std::string* scalar) {
  ++events;
  expanded_ += size;  // size <= the limit, so no overflow
  if (expanded_ > limits::kMaxYamlNodes) {
    throw ScanStop{mark.line + 1, TooManyNodes(NextPath())};
  }
  if (anchor != YAML::NullAnchor) {
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    anchors_[anchor] = Anchor{mark.line + 1, size};
  }
  if (frames_.empty()) return;
  Frame& f = frames_.back();
  if (!f.is_map) {
    ++f.index;
  } else {
    if (f.at_key) f.key = scalar != nullptr ? *scalar : "?";
    f.at_key = !f.at_key;
  }
}

void DocumentScanner::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  const Anchor* a = Find(anchor);
  if (a == nullptr || a->size == kOpen) {
    throw ScanStop{mark.line + 1,
                   absl::StrCat("the alias", At(NextPath()),
                                " refers to a node that contains it (anchored at line ",
                                a != nullptr ? a->line : 0,
                                "), which would repeat without end; aliases must name a node "
                                "that is complete")};
  }
  const Anchor target = *a;  // Node() may grow anchors_
  try {
    Node(mark, YAML::NullAnchor, target.size, nullptr);
  } catch (ScanStop& stop) {
    absl::StrAppend(&stop.message, "; this alias repeats the ", target.size,
                    " nodes anchored at line ", target.line);
    throw;
  }
}

void DocumentScanner::Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
  std::string path = NextPath();
  Node(mark, YAML::NullAnchor, 1, nullptr);
  if (anchor != YAML::NullAnchor) {
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    anchors_[anchor] = Anchor{mark.line + 1, kOpen};
  }
  frames_.push_back(Frame{.is_map = is_map,
                          .path = std::move(path),
                          .anchor = anchor,
                          .expanded_before = expanded_ - 1});
}

void DocumentScanner::Close() {
  if (frames_.empty()) return;
  const Frame& f = frames_.back();
  if (Anchor* a = Find(f.anchor); a != nullptr && f.anchor != YAML::NullAnchor) {
    a->size = expanded_ - f.expanded_before;
  }
  frames_.pop_back();
}

struct DocumentScan {
  int second_document_line = 0;  // 1-based; 0 when there is one document
  int stray_token_line = 0;      // 1-based; 0 when the stream is sound
  std::optional<ScanStop> stop;  // the document is too large
  int64_t events = 0;
};

// yaml-cpp 0.7's LoadAll never returns on a stray flow token at the top
// level (a lone ","): each HandleNextDocument call reports a new, empty
// document at the same position, and LoadAll allocates until the process
// dies. So the documents are counted here with a bounded loop, and a
// document that starts where the previous one did is reported as the stray
// token it is. Throws YAML::Exception on syntax errors, like Load.
DocumentScan ScanDocuments(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentScanner scanner;
  DocumentScan scan;
  try {
    for (int i = 0; i < 3 && parser.HandleNextDocument(scanner); ++i) {
    }
  } catch (ScanStop& stop) {
    scan.stop = std::move(stop);
  }
  scan.events = scanner.events;
  if (scan.stop) return scan;
  const std::vector<YAML::Mark>& starts = scanner.starts;
  for (size_t i = 1; i < starts.size(); ++i) {
    if (starts[i].pos == starts[i - 1].pos) {
      scan.stray_token_line = starts[i].line + 1;
      return scan;
    }
  }
  if (starts.size() > 1) scan.second_document_line = starts[1].line + 1;
  return scan;
}

// yaml-cpp's messages may quote the offending character as it is ("unknown
// escape character: " followed by a raw line break); escaped, a diagnostic
// stays one line.
std::string EscapeControlCharacters(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult LoadConfigFromString(std::string_view yaml, std::string_view file_name,
                                const EnvLookup& env, const LoadOptions& options) {
  LoadResult result;
  Reporter reporter{std::string(file_name), &result.diagnostics};
  if (yaml.size() > kMaxConfigBytes) {
    reporter.Error(0, "",
                   absl::StrCat("the configuration is ", yaml.size(), " bytes; the limit is ",
                                kMaxConfigBytes));
    return result;
  }
  if (const size_t valid = ValidUtf8Prefix(yaml); valid != yaml.size()) {
    // yaml-cpp would pass the bytes through, and ToYaml writes them back as
    // U+FFFD: the file must be text (utf8.h).
    const int line = static_cast<int>(std::count(yaml.begin(), yaml.begin() + valid, '\n')) + 1;
    reporter.Error(line, "",
                   absl::StrCat("invalid YAML: the configuration must be UTF-8 text; byte ", valid,
                                " is not"));
    return result;
  }
  auto config = std::make_shared<Config>();
  config->source = std::string(file_name);
  // yaml-cpp reports syntax errors, and a few others (nesting too deep), by
  // throwing; the loader's contract is errors as values, so nothing escapes.
  YamlReader reader(&reporter);
  try {
    std::string text(yaml);
    DocumentScan scan = ScanDocuments(text);
    result.nodes_visited = scan.events;
    if (scan.stop) {
      reporter.Error(scan.stop->line, "", scan.stop->message);
    } else if (scan.stray_token_line > 0) {
      reporter.Error(scan.stray_token_line, "",
                     "invalid YAML: unexpected token where a document or value should start");
    } else if (scan.second_document_line > 0) {
      reporter.Error(scan.second_document_line, "",
                     "a configuration is one YAML document; this file holds more (---)");
    } else {
      ReadRoot(&reader, YAML::Load(text), env, options, config.get());
    }
  } catch (const YAML::Exception& e) {
    reporter.Error(e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
                   absl::StrCat("invalid YAML: ", EscapeControlCharacters(e.msg)));
  } catch (const std::exception& e) {
    reporter.Error(0, "", absl::StrCat("cannot read the configuration: ",
                                       EscapeControlCharacters(e.what())));
  }
  // File order reads best; within a line, the order the checks ran.
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                   [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
  reporter.AppendSuppressedSummary();
  result.nodes_visited += reader.nodes_visited();
  if (!HasErrors(result.diagnostics)) result.config = std::move(config);
  return result;
}

LoadResult LoadConfigFromFile(const std::string& path, const EnvLookup& env) {
  auto fail = [&path](std::string message) {
    LoadResult result;
    result.diagnostics.push_back(
        Diagnostic{Diagnostic::Severity::kError, path, 0, "", std::move(message)});
    return result;
  };
  absl::StatusOr<std::string> text = ReadFile(path, kMaxConfigBytes);
  if (absl::IsOutOfRange(text.status())) {
    return fail(absl::StrCat("the configuration file is larger than the limit of ",
                             kMaxConfigBytes, " bytes"));
  }
  if (absl::IsDataLoss(text.status())) {
    return fail(absl::StrCat("cannot read the configuration file: ", text.status().message()));
  }
  if (!text.ok()) {
    return fail(absl::StrCat("cannot open the configuration file: ", text.status().message()));
  }
  return LoadConfigFromString(*text, path, env);
}

}  // namespace rebound
