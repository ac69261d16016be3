// Strict RFC 3339 timestamps <-> google.protobuf.Timestamp.
//
// Accepted: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", 'T'/'Z' in either case, a leap
// second (:60) read as :59 (Timestamp has no leap seconds), fractions beyond nanoseconds
// truncated. Everything else (missing offset, space separator, one-digit fields, 2025-02-30,
// years outside 0001..9999 once in UTC) is rejected.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_RFC3339_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_RFC3339_H_

#include <string>
#include <string_view>

#include "google/protobuf/timestamp.pb.h"

namespace autostage::event::internal {

bool ParseRfc3339(std::string_view text, google::protobuf::Timestamp* out);

// True when `ts` lies in 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z with nanos in
// 0..999999999 (the range proto3 JSON can print).
bool IsValidTimestamp(const google::protobuf::Timestamp& ts);

// "2025-03-03T02:12:10Z", with 3, 6 or 9 fraction digits when nanos is not zero. `ts` must be
// valid (IsValidTimestamp).
void AppendRfc3339(const google::protobuf::Timestamp& ts, std::string* out);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_RFC3339_H_
