#include "common/config/units.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace autostage::config {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", text, "\": ", why));
}

// Splits a leading run of digits (and at most one '.') off *rest.
absl::string_view TakeNumber(absl::string_view* rest) {
  size_t i = 0;
  bool dot = false;
  while (i < rest->size() && (absl::ascii_isdigit((*rest)[i]) || ((*rest)[i] == '.' && !dot))) {
    if ((*rest)[i] == '.') dot = true;
    ++i;
  }
  absl::string_view number = rest->substr(0, i);
  rest->remove_prefix(i);
  return number;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  if (text == "0") return absl::ZeroDuration();
  if (text.empty()) return Invalid("duration", text, "empty");
  absl::string_view rest = text;
  absl::Duration total = absl::ZeroDuration();
  while (!rest.empty()) {
    const absl::string_view number = TakeNumber(&rest);
    if (number.empty() || number == ".") {
      return Invalid("duration", text, "expected a number like 500ms, 30s or 14d");
    }
    size_t unit_len = 0;
    while (unit_len < rest.size() && absl::ascii_isalpha(rest[unit_len])) ++unit_len;
    const absl::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    absl::Duration scale;
    if (unit == "ns") {
      scale = absl::Nanoseconds(1);
    } else if (unit == "us") {
      scale = absl::Microseconds(1);
    } else if (unit == "ms") {
      scale = absl::Milliseconds(1);
    } else if (unit == "s") {
      scale = absl::Seconds(1);
    } else if (unit == "m") {
      scale = absl::Minutes(1);
    } else if (unit == "h") {
      scale = absl::Hours(1);
    } else if (unit == "d") {
      scale = absl::Hours(24);
    } else {
      return Invalid("duration", text,
                     unit.empty() ? "missing unit (ns, us, ms, s, m, h, d)"
                                  : absl::StrCat("unknown unit \"", unit, "\""));
    }
    int64_t whole = 0;
    double fractional = 0;
    if (absl::SimpleAtoi(number, &whole)) {
      total += scale * whole;
    } else if (absl::SimpleAtod(number, &fractional)) {
      total += scale * fractional;
    } else {
      return Invalid("duration", text, "number out of range");
    }
    if (total == absl::InfiniteDuration()) return Invalid("duration", text, "too large");
  }
  return total;
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  absl::string_view rest = text;
  size_t digits = 0;
  while (digits < rest.size() && absl::ascii_isdigit(rest[digits])) ++digits;
  uint64_t value = 0;
  if (digits == 0 || !absl::SimpleAtoi(rest.substr(0, digits), &value)) {
    return Invalid("byte size", text, "expected an integer with an optional unit, like 1MiB");
  }
  rest.remove_prefix(digits);
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  struct Unit {
    absl::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"kB", 1000},
      {"KB", 1000},
      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},
      {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"KiB", 1ULL << 10},
      {"MiB", 1ULL << 20},
      {"GiB", 1ULL << 30},
      {"TiB", 1ULL << 40},
  };
  for (const Unit& unit : kUnits) {
    if (rest != unit.name) continue;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(value, unit.factor, &bytes)) {
      return Invalid("byte size", text, "too large");
    }
    return bytes;
  }
  return Invalid(
      "byte size", text,
      absl::StrCat("unknown unit \"", rest, "\" (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"));
}

}  // namespace autostage::config
