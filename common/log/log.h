// Structured JSON logging: one JSON object per line, on stderr by default.
//
//   ASSIGN_OR_RETURN(Logger log, MakeStderrLogger("ingest", config.log_level));
//   log.Info("partition assigned", {{"topic", topic}, {"partition", 3}});
//   → {"ts":"2024-05-01T12:00:00.123Z","level":"info","logger":"ingest",
//      "msg":"partition assigned","topic":"crm.events.email","partition":3}
//
//   Logger plog = log.With({{"partition", 3}});   // fields added to every line of plog
//
// Strings are escaped for JSON; invalid UTF-8 bytes become U+FFFD, so a line is always valid
// JSON whatever an event carried. Field keys are written as given (use snake_case constants);
// a field with the same key as ts/level/logger/msg is written too, so do not use those.
//
// Thread safety: a Logger is a cheap, copyable value; all copies may log concurrently (the
// spdlog sinks used here are the _mt ones, which serialize writes so lines never interleave).
#ifndef AUTOSTAGE_COMMON_LOG_LOG_H_
#define AUTOSTAGE_COMMON_LOG_LOG_H_

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autostage::log {

using Level = spdlog::level::level_enum;

// "trace", "debug", "info", "warn", "error", "critical", "off" → Level; kInvalidArgument else.
absl::StatusOr<Level> ParseLevel(absl::string_view text);

// One key/value pair. The value is JSON-encoded when the Field is made (so a Field never
// refers to the caller's data).
class Field {
 public:
  Field(absl::string_view key, absl::string_view value);
  Field(absl::string_view key, const std::string& value) : Field(key, absl::string_view(value)) {}
  Field(absl::string_view key, std::string_view value)
      : Field(key, absl::string_view(value.data(), value.size())) {}
  Field(absl::string_view key, const char* value) : Field(key, absl::string_view(value)) {}
  Field(absl::string_view key, bool value);
  template <typename Int, std::enable_if_t<std::is_integral_v<Int>, int> = 0>
  Field(absl::string_view key, Int value) : key_(key), json_(absl::StrCat(value)) {}
  Field(absl::string_view key, double value);
  // "1.5s"-style text (absl::FormatDuration).
  Field(absl::string_view key, absl::Duration value);
  // "OK" or "UNAVAILABLE: redis 127.0.0.1:6379: connect: Connection refused".
  Field(absl::string_view key, const absl::Status& value);

  const std::string& key() const { return key_; }
  // The value as JSON text (quoted string, number, true/false, null).
  const std::string& json() const { return json_; }

 private:
  std::string key_;
  std::string json_;
};

class Logger {
 public:
  // `sink` receives finished lines (spdlog pattern "%v"); it must be thread-safe (an _mt sink)
  // if the Logger is used from several threads. `clock` gives the timestamps (tests inject a
  // fixed clock); nullptr → absl::Now.
  Logger(std::string name, spdlog::sink_ptr sink, Level level,
         std::function<absl::Time()> clock = nullptr);

  // A logger writing the same sink with extra fields on every line.
  Logger With(std::initializer_list<Field> fields) const;
  // Same sink and level, another "logger" name (e.g. "ingest.consumer").
  Logger Named(std::string name) const;

  bool Enabled(Level level) const { return level >= level_ && level != Level::off; }
  void Log(Level level, absl::string_view msg, std::initializer_list<Field> fields = {}) const;
  void Debug(absl::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::debug, msg, fields);
  }
  void Info(absl::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::info, msg, fields);
  }
  void Warn(absl::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::warn, msg, fields);
  }
  void Error(absl::string_view msg, std::initializer_list<Field> fields = {}) const {
    Log(Level::err, msg, fields);
  }

  Level level() const { return level_; }
  // Blocks until the sink has written everything (spdlog sinks are synchronous: a flush).
  void Flush() const;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::string name_;
  Level level_;
  std::function<absl::Time()> clock_;
  std::vector<Field> context_;
};

// A Logger on stderr at the level named by `level` (see ParseLevel).
absl::StatusOr<Logger> MakeStderrLogger(std::string name, absl::string_view level);

// Appends `text` to *out as a JSON string literal (quotes included).
void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace autostage::log

#endif  // AUTOSTAGE_COMMON_LOG_LOG_H_
