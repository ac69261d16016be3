// The semantic checks shared by both decode paths and the public Validate* functions.
//
// `check_utf8` is false when the bytes were already verified (simdjson validates the whole JSON
// document; CheckProtobufStrings every wire string). `from_json` is true when the JSON reader
// has already reported absent required keys, so an empty value is a present-but-invalid value
// (invalid_value) rather than an absent one (missing_field).
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_VALIDATE_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_VALIDATE_H_

#include "absl/status/status.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "common/event/decode.h"

namespace autostage::event::internal {

struct ValidateOptions {
  bool check_utf8 = true;
  // False when no string can exceed the text-field limit (the whole message is no longer than
  // it): then, with check_utf8 false too, the per-string checks are skipped.
  bool check_sizes = true;
  bool from_json = false;
};

absl::Status CheckEvent(const v1::Event& event, const DecodeLimits& limits,
                        const ValidateOptions& options);
absl::Status CheckOpportunity(const v1::Opportunity& opportunity, const DecodeLimits& limits,
                              const ValidateOptions& options);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_VALIDATE_H_
