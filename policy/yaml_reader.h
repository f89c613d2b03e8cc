// Typed, error-collecting access to a yaml-cpp document: the building blocks
// of the configuration loader. Internal to the policy library.
//
// Every read reports what is wrong as a Diagnostic (file, line, dotted key
// path, message) and returns std::nullopt instead of throwing, so the loader
// keeps going and reports every problem of a file in one pass.
#ifndef REBOUND_POLICY_YAML_READER_H_
#define REBOUND_POLICY_YAML_READER_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "policy/diagnostic.h"

namespace rebound {

// Debian's Abseil 20220623 has its own absl::string_view instead of an alias
// of std::string_view; this bridges the two for absl::StrCat and friends.
inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

// Collects diagnostics for one file and remembers the line of every key path
// the reader visited, so checks that run later on the built Config (which
// carries no line numbers) can still point at the right line.
//
// It keeps the first limits::kMaxDiagnostics diagnostics and only counts the
// rest: a hostile file can make one per node, and nobody reads thousands.
class Reporter {
 public:
  Reporter(std::string file, std::vector<Diagnostic>* out) : file_(std::move(file)), out_(out) {}

  void Error(int line, std::string_view key, std::string message);
  void Warning(int line, std::string_view key, std::string message);
  // The same, at the line recorded for `key` (or its nearest recorded parent).
  void ErrorAt(std::string_view key, std::string message) {
    Error(LineOf(key), key, std::move(message));
  }
  void WarningAt(std::string_view key, std::string message) {
    Warning(LineOf(key), key, std::move(message));
  }

  void RecordLine(std::string_view key, int line);
  // Whether `key` itself was written in the file (not a default).
  bool Written(std::string_view key) const { return lines_.find(key) != lines_.end(); }
  // The line recorded for `key`; when the key was not written (a default),
  // the line of the closest enclosing key that was; 0 when none.
  int LineOf(std::string_view key) const;

  // Appends one diagnostic saying how many were counted but not kept, if
  // any. It is an error when a dropped one was, so that the result has an
  // error exactly when the file does. Call once, after sorting the rest.
  void AppendSuppressedSummary();

 private:
  void Add(Diagnostic::Severity severity, int line, std::string_view key, std::string message);

  std::string file_;
  std::vector<Diagnostic>* out_;
  std::map<std::string, int, std::less<>> lines_;
  size_t kept_ = 0;
  size_t suppressed_errors_ = 0;
  size_t suppressed_warnings_ = 0;
};

// A YAML value together with where it is: the line to report problems at
// (for a map value, its key's line: an empty value has no useful mark of its
// own) and its dotted key path.
struct Located {
  YAML::Node node;
  int line = 0;
  std::string path;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c". A key with a control character
// is quoted and escaped (QuoteForMessage): "a" + "x\ny" -> a."x\x0ay".
std::string JoinPath(std::string_view parent, std::string_view key);
// "a.b" + 3 -> "a.b[3]".
std::string IndexPath(std::string_view parent, size_t index);

// A value quoted for a message, shortened and with control characters
// escaped so a hostile file cannot forge extra diagnostic lines.
std::string QuoteForMessage(std::string_view text);

class YamlReader {
 public:
  explicit YamlReader(Reporter* reporter) : reporter_(reporter) {}

  Reporter& reporter() { return *reporter_; }

  // Type checks; each reports an error naming the expected and actual type.
  bool ExpectMap(const Located& v);
  bool ExpectList(const Located& v);
  // The same, and at most `max` entries (limits.h); `what` names them in the
  // error ("model providers"). Callers read nothing of a list that is too
  // long: the file is rejected anyway, and reading it is the cost to avoid.
  bool ExpectMapOfAtMost(const Located& v, size_t max, std::string_view what);
  bool ExpectListOfAtMost(const Located& v, size_t max, std::string_view what);

  // YAML nodes handed out so far (list elements, map keys and values), a
  // node repeated by an alias once per use: the work of the load.
  int64_t nodes_visited() const { return nodes_visited_; }
  void CountNodes(int64_t n) { nodes_visited_ += n; }

  // The elements of a list (call ExpectList first), each located.
  std::vector<Located> Items(const Located& list);

  // Any scalar as text. Numbers and booleans are accepted as their text.
  std::optional<std::string> String(const Located& v);
  // A plain (unquoted) decimal integer within [min, max]: digits, with a
  // leading '-' for negative numbers only (YAML's "+3" is not a count
  // anyone writes on purpose). `unit` is added to the expected range in
  // messages ("milliseconds: at most 24 h").
  std::optional<int64_t> Int(const Located& v, int64_t min,
                             int64_t max = std::numeric_limits<int64_t>::max(),
                             std::string_view unit = {});
  std::optional<int> Int32(const Located& v, int min, int max = std::numeric_limits<int>::max());
  // A duration from 1 to 24 h (limits::kMaxDurationMs / kMaxDurationSeconds).
  std::optional<int64_t> Milliseconds(const Located& v);
  std::optional<int64_t> Seconds(const Located& v);
  // A YAML boolean: true or false (YAML 1.2; "yes"/"on" are strings there).
  std::optional<bool> Bool(const Located& v);

  template <typename E>
  std::optional<E> Enum(const Located& v,
                        std::initializer_list<std::pair<std::string_view, E>> allowed) {
    std::optional<std::string> text = String(v);
    if (!text) return std::nullopt;
    std::string names;
    for (const auto& [name, value] : allowed) {
      if (*text == name) return value;
      if (!names.empty()) names += ", ";
      names += name;
    }
    reporter_->Error(v.line, v.path,
                     "unknown value " + QuoteForMessage(*text) + "; allowed: " + names);
    return std::nullopt;
  }

 private:
  Reporter* reporter_;
  int64_t nodes_visited_ = 0;
};

// The keys of one YAML map, taken by name. Keys nobody takes are reported by
// Finish, so every section rejects unknown keys without listing them twice.
class MapFields {
 public:
  // `map` must be a map (YamlReader::ExpectMap). Reports non-scalar and
  // duplicate keys (yaml-cpp keeps duplicates; the first one is used).
  MapFields(YamlReader* reader, const Located& map);

  // The value of `key`, or nullopt when absent. Records the key's line.
  std::optional<Located> Take(std::string_view key);
  bool Has(std::string_view key) const;
  // Every key, in file order, duplicates left out.
  std::vector<std::string> Keys() const;
  // The line of the map itself.
  int line() const { return line_; }
  const std::string& path() const { return path_; }

  // Reports every key not taken: keys in `ignored` as warnings whose message
  // is `ignored_reason` (e.g. "plano's ... is not used by rebound"), the
  // others as errors that list `allowed`.
  void Finish(std::initializer_list<std::string_view> allowed,
              std::initializer_list<std::string_view> ignored = {},
              std::string_view ignored_reason = {});

 private:
  struct Entry {
    std::string key;
    int key_line;
    YAML::Node value;
    bool taken = false;
  };
  YamlReader* reader_;
  std::string path_;
  int line_;
  std::vector<Entry> entries_;
};

}  // namespace rebound

#endif  // REBOUND_POLICY_YAML_READER_H_
