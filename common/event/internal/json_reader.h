// simdjson DOM -> v1::Event / v1::Opportunity: field mapping, JSON types and presence of
// required keys. Meaning (enumerated values, lengths, ...) is checked afterwards by validate.h.
// Walks only the known schema, so its recursion is bounded by the schema, not by the input.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_

#include "absl/status/status.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "simdjson.h"

namespace autostage::event::internal {

absl::Status ReadEventJson(simdjson::dom::element root, v1::Event* out);
absl::Status ReadOpportunityJson(simdjson::dom::element root, v1::Opportunity* out);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_
