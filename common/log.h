// Structured log lines (logfmt) on stderr: one line per event, written with a
// single write() so lines from different threads never interleave.
//
// Never pass a credential or a request body as a field value.
#ifndef REBOUND_COMMON_LOG_H_
#define REBOUND_COMMON_LOG_H_

#include <initializer_list>
#include <string_view>
#include <utility>

namespace rebound {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogField = std::pair<std::string_view, std::string_view>;

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);

inline void LogDebug(std::string_view e, std::initializer_list<LogField> f) {
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, e, f);
}
inline void LogInfo(std::string_view e, std::initializer_list<LogField> f) {
  Log(LogLevel::kInfo, e, f);
}
inline void LogWarn(std::string_view e, std::initializer_list<LogField> f) {
  Log(LogLevel::kWarn, e, f);
}
inline void LogError(std::string_view e, std::initializer_list<LogField> f) {
  Log(LogLevel::kError, e, f);
}

}  // namespace rebound

#endif  // REBOUND_COMMON_LOG_H_
