#include "policy/yaml_reader.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "policy/limits.h"

namespace rebound {
namespace {

constexpr size_t kMaxQuotedChars = 64;

// yaml-cpp tags: "?" for a plain scalar, "!" for a quoted or block scalar,
// the full URI for an explicit tag such as !!str.
constexpr std::string_view kPlainTag = "?";
constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kIntTag = "tag:yaml.org,2002:int";
constexpr std::string_view kBoolTag = "tag:yaml.org,2002:bool";

bool IsQuotedString(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == kStrTag; }

// What a node is, for "must be X, got Y" messages. Scalars are quoted so
// the operator sees the offending text.
std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      if (IsQuotedString(n)) return "the string " + QuoteForMessage(n.Scalar());
      return QuoteForMessage(n.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing (an empty value)";
}

int LineOfNode(const YAML::Node& n, int fallback) {
  int line = n.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

void Reporter::Error(int line, std::string_view key, std::string message) {
  Add(Diagnostic::Severity::kError, line, key, std::move(message));
}

void Reporter::Warning(int line, std::string_view key, std::string message) {
  Add(Diagnostic::Severity::kWarning, line, key, std::move(message));
}

void Reporter::Add(Diagnostic::Severity severity, int line, std::string_view key,
                   std::string message) {
  if (kept_ == limits::kMaxDiagnostics) {
    ++(severity == Diagnostic::Severity::kError ? suppressed_errors_ : suppressed_warnings_);
    return;
  }
  ++kept_;
  out_->push_back(Diagnostic{severity, file_, line, std::string(key), std::move(message)});
}

void Reporter::AppendSuppressedSummary() {
  if (suppressed_errors_ == 0 && suppressed_warnings_ == 0) return;
  auto count = [](size_t n, std::string_view what) {
    return absl::StrCat(n, " more ", AbslView(what), n == 1 ? "" : "s");
  };
  std::string counts;
  if (suppressed_errors_ > 0) counts = count(suppressed_errors_, "error");
  if (suppressed_warnings_ > 0) {
    absl::StrAppend(&counts, counts.empty() ? "" : " and ", count(suppressed_warnings_, "warning"));
  }
  const bool one = suppressed_errors_ + suppressed_warnings_ == 1;
  out_->push_back(Diagnostic{
      suppressed_errors_ > 0 ? Diagnostic::Severity::kError : Diagnostic::Severity::kWarning,
      file_, 0, "",
      absl::StrCat(counts, one ? " was" : " were", " not reported: a load reports at most ",
                   limits::kMaxDiagnostics, " diagnostics; fix these and check again")});
}

void Reporter::RecordLine(std::string_view key, int line) {
  lines_.emplace(std::string(key), line);  // the first occurrence wins
}

int Reporter::LineOf(std::string_view key) const {
  while (true) {
    auto it = lines_.find(key);
    if (it != lines_.end()) return it->second;
    size_t cut = key.find_last_of(".[");
    if (cut == std::string_view::npos) return 0;
    key = key.substr(0, cut);
  }
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  // Keys come from the file: one with a control character (a quoted "a\nb")
  // is shown quoted and escaped, so it cannot break a diagnostic in two
  // lines. Names the loader looks up never contain one.
  const bool plain = std::none_of(key.begin(), key.end(), [](unsigned char c) {
    return c < 0x20 || c == 0x7f;
  });
  const std::string shown = plain ? std::string(key) : QuoteForMessage(key);
  if (parent.empty()) return shown;
  return absl::StrCat(AbslView(parent), ".", shown);
}

std::string IndexPath(std::string_view parent, size_t index) {
  return absl::StrCat(AbslView(parent), "[", index, "]");
}

std::string QuoteForMessage(std::string_view text) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char c : text) {
    if (n++ == kMaxQuotedChars) {
      out += "...";
      break;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

bool YamlReader::ExpectMap(const Located& v) {
  if (v.node.IsMap()) return true;
  reporter_->Error(v.line, v.path, "must be a map of keys, got " + Describe(v.node));
  return false;
}

bool YamlReader::ExpectList(const Located& v) {
  if (v.node.IsSequence()) return true;
  reporter_->Error(v.line, v.path, "must be a list, got " + Describe(v.node));
  return false;
}

namespace {

std::string TooMany(size_t n, size_t max, std::string_view what) {
  return absl::StrCat("has ", n, " entries; at most ", max, " ", AbslView(what), " are allowed");
}

}  // namespace

bool YamlReader::ExpectMapOfAtMost(const Located& v, size_t max, std::string_view what) {
  if (!ExpectMap(v)) return false;
  if (v.node.size() <= max) return true;
  reporter_->Error(v.line, v.path, TooMany(v.node.size(), max, what));
  return false;
}

bool YamlReader::ExpectListOfAtMost(const Located& v, size_t max, std::string_view what) {
  if (!ExpectList(v)) return false;
  if (v.node.size() <= max) return true;
  reporter_->Error(v.line, v.path, TooMany(v.node.size(), max, what));
  return false;
}

std::vector<Located> YamlReader::Items(const Located& list) {
  std::vector<Located> items;
  CountNodes(static_cast<int64_t>(list.node.size()));
  size_t i = 0;
  for (const YAML::Node& item : list.node) {
    Located located{item, LineOfNode(item, list.line), IndexPath(list.path, i++)};
    reporter_->RecordLine(located.path, located.line);
    items.push_back(std::move(located));
  }
  return items;
}

std::optional<std::string> YamlReader::String(const Located& v) {
  if (v.node.IsScalar()) return v.node.Scalar();
  reporter_->Error(v.line, v.path, "must be a string, got " + Describe(v.node));
  return std::nullopt;
}

std::optional<int64_t> YamlReader::Int(const Located& v, int64_t min, int64_t max,
                                       std::string_view unit) {
  std::string expected = max == std::numeric_limits<int64_t>::max()
                             ? absl::StrCat("an integer >= ", min)
                             : absl::StrCat("an integer from ", min, " to ", max);
  if (!unit.empty()) absl::StrAppend(&expected, " (", AbslView(unit), ")");
  bool tagged_int = v.node.Tag() == kIntTag;
  if (!v.node.IsScalar() || (v.node.Tag() != kPlainTag && !tagged_int)) {
    reporter_->Error(v.line, v.path,
                     absl::StrCat("must be ", expected, ", got ", Describe(v.node)));
    return std::nullopt;
  }
  // Decimal only: YAML 1.1 octal/sexagesimal forms surprise people ("010"),
  // and so does a '+' sign ("+429" read as 429).
  const std::string& text = v.node.Scalar();
  size_t digits_from = (!text.empty() && text[0] == '-') ? 1 : 0;
  bool all_digits = text.size() > digits_from &&
                    std::all_of(text.begin() + digits_from, text.end(),
                                [](unsigned char c) { return std::isdigit(c) != 0; });
  if (!all_digits) {
    reporter_->Error(v.line, v.path,
                     absl::StrCat("must be ", expected, ", got ", Describe(v.node)));
    return std::nullopt;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    reporter_->Error(v.line, v.path,
                     absl::StrCat("must be ", expected, "; ", text, " is out of range"));
    return std::nullopt;
  }
  if (value < min || value > max) {
    reporter_->Error(v.line, v.path, absl::StrCat("must be ", expected, ", got ", value));
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> YamlReader::Milliseconds(const Located& v) {
  return Int(v, 1, limits::kMaxDurationMs, "milliseconds: at most 24 h");
}

std::optional<int64_t> YamlReader::Seconds(const Located& v) {
  return Int(v, 1, limits::kMaxDurationSeconds, "seconds: at most 24 h");
}

std::optional<int> YamlReader::Int32(const Located& v, int min, int max) {
  std::optional<int64_t> value = Int(v, min, max);
  if (!value) return std::nullopt;
  return static_cast<int>(*value);
}

std::optional<bool> YamlReader::Bool(const Located& v) {
  if (v.node.IsScalar() && (v.node.Tag() == kPlainTag || v.node.Tag() == kBoolTag)) {
    const std::string& t = v.node.Scalar();
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
  }
  reporter_->Error(v.line, v.path, "must be true or false, got " + Describe(v.node));
  return std::nullopt;
}

MapFields::MapFields(YamlReader* reader, const Located& map)
    : reader_(reader), path_(map.path), line_(map.line) {
  // By value: yaml-cpp's iterator yields a temporary pair, so a reference
  // to it->first would dangle.
  for (const auto& pair : map.node) {
    reader_->CountNodes(2);
    const YAML::Node key = pair.first;
    int key_line = LineOfNode(key, map.line);
    if (!key.IsScalar()) {
      reader_->reporter().Error(key_line, path_, "keys must be plain names, got " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    auto duplicate = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& e) { return e.key == name; });
    if (duplicate != entries_.end()) {
      reader_->reporter().Error(
          key_line, JoinPath(path_, name),
          absl::StrCat("duplicate key; it is already set at line ", duplicate->key_line));
      continue;
    }
    entries_.push_back(Entry{name, key_line, pair.second});
  }
}

std::optional<Located> MapFields::Take(std::string_view key) {
  for (Entry& e : entries_) {
    if (e.key != key) continue;
    e.taken = true;
    Located located{e.value, e.key_line, JoinPath(path_, key)};
    reader_->reporter().RecordLine(located.path, located.line);
    return located;
  }
  return std::nullopt;
}

bool MapFields::Has(std::string_view key) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.key == key; });
}

std::vector<std::string> MapFields::Keys() const {
  std::vector<std::string> keys;
  for (const Entry& e : entries_) keys.push_back(e.key);
  return keys;
}

void MapFields::Finish(std::initializer_list<std::string_view> allowed,
                       std::initializer_list<std::string_view> ignored,
                       std::string_view ignored_reason) {
  for (const Entry& e : entries_) {
    if (e.taken) continue;
    std::string path = JoinPath(path_, e.key);
    if (std::find(ignored.begin(), ignored.end(), e.key) != ignored.end()) {
      reader_->reporter().Warning(e.key_line, path,
                                  absl::StrCat("'", e.key, "' ", AbslView(ignored_reason)));
      continue;
    }
    std::string message = absl::StrCat("unknown key ", QuoteForMessage(e.key));
    std::string_view suggestion;
    size_t best = 3;  // suggest only close misspellings
    std::string names;
    for (std::string_view name : allowed) {
      size_t d = EditDistance(e.key, name);
      if (d < best) {
        best = d;
        suggestion = name;
      }
      absl::StrAppend(&names, names.empty() ? "" : ", ", AbslView(name));
    }
    if (!suggestion.empty())
      absl::StrAppend(&message, " (did you mean '", AbslView(suggestion), "'?)");
    absl::StrAppend(&message, "; allowed here: ", names);
    reader_->reporter().Error(e.key_line, path, std::move(message));
  }
}

}  // namespace rebound
