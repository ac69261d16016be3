#include "common/log/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace autostage::log {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t len = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

}  // namespace

void AppendJsonString(absl::string_view text, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(text, i);
      if (len == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(text.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

absl::StatusOr<Level> ParseLevel(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "trace") return Level::trace;
  if (lower == "debug") return Level::debug;
  if (lower == "info") return Level::info;
  if (lower == "warn" || lower == "warning") return Level::warn;
  if (lower == "error") return Level::err;
  if (lower == "critical") return Level::critical;
  if (lower == "off") return Level::off;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level \"", text, "\" (trace, debug, info, warn, error, critical, off)"));
}

Field::Field(absl::string_view key, absl::string_view value) : key_(key) {
  AppendJsonString(value, &json_);
}
Field::Field(absl::string_view key, bool value) : key_(key), json_(value ? "true" : "false") {}
Field::Field(absl::string_view key, double value)
    // JSON has no NaN or infinity.
    : key_(key), json_(std::isfinite(value) ? absl::StrCat(value) : "null") {}
Field::Field(absl::string_view key, absl::Duration value) : key_(key) {
  AppendJsonString(absl::FormatDuration(value), &json_);
}
Field::Field(absl::string_view key, const absl::Status& value) : key_(key) {
  AppendJsonString(value.ToString(), &json_);
}

Logger::Logger(std::string name, spdlog::sink_ptr sink, Level level,
               std::function<absl::Time()> clock)
    : logger_(std::make_shared<spdlog::logger>(name, std::move(sink))),
      name_(std::move(name)),
      level_(level),
      clock_(clock ? std::move(clock) : [] { return absl::Now(); }) {
  // The line is complete JSON already; spdlog only writes it.
  logger_->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%v", spdlog::pattern_time_type::utc, std::string("\n")));
  logger_->set_level(Level::trace);  // filtering is ours (level_), per Logger copy
}

Logger Logger::With(std::initializer_list<Field> fields) const {
  Logger copy = *this;
  copy.context_.insert(copy.context_.end(), fields.begin(), fields.end());
  return copy;
}

Logger Logger::Named(std::string name) const {
  Logger copy = *this;
  copy.name_ = std::move(name);
  return copy;
}

void Logger::Log(Level level, absl::string_view msg, std::initializer_list<Field> fields) const {
  if (!Enabled(level)) return;
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", clock_(), absl::UTCTimeZone());
  line += "\",\"level\":\"";
  const auto level_name = spdlog::level::to_string_view(level);
  line.append(level_name.data(), level_name.size());
  line += "\",\"logger\":";
  AppendJsonString(name_, &line);
  line += ",\"msg\":";
  AppendJsonString(msg, &line);
  auto append = [&line](const Field& f) {
    line.push_back(',');
    AppendJsonString(f.key(), &line);
    line.push_back(':');
    line += f.json();
  };
  for (const Field& f : context_) append(f);
  for (const Field& f : fields) append(f);
  line.push_back('}');
  logger_->log(level, "{}", line);
}

void Logger::Flush() const { logger_->flush(); }

absl::StatusOr<Logger> MakeStderrLogger(std::string name, absl::string_view level) {
  absl::StatusOr<Level> parsed = ParseLevel(level);
  if (!parsed.ok()) return parsed.status();
  return Logger(std::move(name), std::make_shared<spdlog::sinks::stderr_sink_mt>(), *parsed);
}

}  // namespace autostage::log
