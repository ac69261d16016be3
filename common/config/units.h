// Parsers for the human-friendly units used in config files.
//
//   ParseDuration("500ms"), ParseDuration("30s"), ParseDuration("14d"), ParseDuration("1h30m")
//   ParseByteSize("1MiB") == 1048576, ParseByteSize("10MB") == 10000000, ParseByteSize("512")
//
// Both return kInvalidArgument with the offending text on malformed, negative or overflowing
// input. Thread-safe (pure functions).
#ifndef AUTOSTAGE_COMMON_CONFIG_UNITS_H_
#define AUTOSTAGE_COMMON_CONFIG_UNITS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autostage::config {

// One or more <number><unit> terms, e.g. "1h30m", "1.5s"; units ns, us, ms, s, m, h, d
// (d = 24h). "0" alone is zero. No sign, no spaces.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// <integer>[unit], unit one of B, kB/KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024); no unit means bytes. One optional space before the unit.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// A config field holding a byte size (distinct from a plain integer so ConfigReader knows to
// accept units).
struct ByteSize {
  uint64_t bytes = 0;
};

}  // namespace autostage::config

#endif  // AUTOSTAGE_COMMON_CONFIG_UNITS_H_
