#include "common/event/internal/rfc3339.h"

#include <array>
#include <cstdint>
#include <cstdio>

namespace autostage::event::internal {
namespace {

constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

int DaysInMonth(int64_t year, int64_t month) {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<size_t>(month - 1)];
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at text[*pos].
bool ReadDigits(std::string_view text, size_t* pos, int width, int64_t* value) {
  if (text.size() - *pos < static_cast<size_t>(width)) return false;
  int64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const char c = text[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += width;
  *value = v;
  return true;
}

// Reads exactly `width` digits at p (the caller checked that they are in bounds).
bool FixedDigits(const char* p, int width, int64_t* value) {
  int64_t v = 0;
  for (int i = 0; i < width; ++i) {
    const auto digit = static_cast<unsigned>(p[i] - '0');
    if (digit > 9) return false;
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

bool Expect(std::string_view text, size_t* pos, char lower, char upper) {
  if (*pos >= text.size() || (text[*pos] != lower && text[*pos] != upper)) return false;
  ++*pos;
  return true;
}

}  // namespace

bool ParseRfc3339(std::string_view text, google::protobuf::Timestamp* out) {
  // The shortest valid text is "YYYY-MM-DDTHH:MM:SSZ" (20 bytes): shorter ones fail below
  // anyway, so checking the length once lets the fixed-width fields be read without a bounds
  // check each.
  if (text.size() < 20) return false;
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const char* p = text.data();
  if (!FixedDigits(p, 4, &year) || p[4] != '-' || !FixedDigits(p + 5, 2, &month) || p[7] != '-' ||
      !FixedDigits(p + 8, 2, &day) || (p[10] != 'T' && p[10] != 't') ||
      !FixedDigits(p + 11, 2, &hour) || p[13] != ':' || !FixedDigits(p + 14, 2, &minute) ||
      p[16] != ':' || !FixedDigits(p + 17, 2, &second)) {
    return false;
  }
  pos = 19;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  if (second == 60) second = 59;
  int32_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t first = pos;
    int32_t scale = 100000000;
    while (pos < text.size() && IsDigit(text[pos])) {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) return false;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    ++pos;
    int64_t offset_hour, offset_minute;
    if (!ReadDigits(text, &pos, 2, &offset_hour) || !Expect(text, &pos, ':', ':') ||
        !ReadDigits(text, &pos, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return false;
    }
    offset_seconds = (offset_hour * 60 + offset_minute) * 60 * (negative ? -1 : 1);
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  const int64_t seconds =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  if (seconds < kMinSeconds || seconds > kMaxSeconds) return false;
  out->set_seconds(seconds);
  out->set_nanos(nanos);
  return true;
}

bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinSeconds && ts.seconds() <= kMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

void AppendRfc3339(const google::protobuf::Timestamp& ts, std::string* out) {
  const int64_t seconds = ts.seconds();
  int64_t days = seconds / 86400;
  int64_t rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  int64_t year = 0, month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  std::array<char, 48> storage;
  char* const buffer = storage.data();
  int n =
      std::snprintf(buffer, storage.size(), "%04d-%02d-%02dT%02d:%02d:%02d", static_cast<int>(year),
                    static_cast<int>(month), static_cast<int>(day), static_cast<int>(rest / 3600),
                    static_cast<int>(rest / 60 % 60), static_cast<int>(rest % 60));
  out->append(buffer, static_cast<size_t>(n));
  const int32_t nanos = ts.nanos();
  if (nanos != 0) {
    if (nanos % 1000000 == 0) {
      n = std::snprintf(buffer, storage.size(), ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      n = std::snprintf(buffer, storage.size(), ".%06d", nanos / 1000);
    } else {
      n = std::snprintf(buffer, storage.size(), ".%09d", nanos);
    }
    out->append(buffer, static_cast<size_t>(n));
  }
  out->push_back('Z');
}

}  // namespace autostage::event::internal
