// simdjson DOM -> v1::Event / v1::Opportunity: field mapping, JSON types and presence of
// required keys. Meaning (enumerated values, lengths, ...) is checked afterwards by validate.h.
// Walks only the known schema, so its recursion is bounded by the schema, not by the input.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_

#include <memory>

#include "absl/status/status.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "simdjson.h"

namespace autostage::event::internal {

// Sub-messages of an earlier event kept for reuse: Event::Clear() deletes its singular message
// fields, so a decoder that reads a stream of events into one Event would allocate them (and
// every string in them) again per event. The reader installs a spare, cleared, when the JSON
// has that field; a cleared message keeps its strings' and repeated fields' capacity.
struct EventParts {
  std::unique_ptr<google::protobuf::Timestamp> occurred_at;
  std::unique_ptr<v1::Party> from;
  std::unique_ptr<v1::Email> email;
  std::unique_ptr<v1::Call> call;
  std::unique_ptr<v1::Chat> chat;

  // Moves the singular message fields of `event` (which must not be on an arena) into this.
  void TakeFrom(v1::Event* event);
};

// `spare` (optional) supplies sub-messages to reuse; those used are taken from it.
absl::Status ReadEventJson(simdjson::dom::element root, v1::Event* out,
                           EventParts* spare = nullptr);
absl::Status ReadOpportunityJson(simdjson::dom::element root, v1::Opportunity* out);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_READER_H_
