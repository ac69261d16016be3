// A pre-pass over binary protobuf that checks every string field (found through the message
// Descriptor, nested messages and map entries included) for UTF-8 before the real parse.
//
// Why: protobuf's own parser rejects a proto3 string with invalid UTF-8 but only says "parse
// failed" (and writes an ERROR line to the log for every such message); this pass names the
// field and offset, keeps bad input out of the log, and also catches builds or field kinds the
// parser does not verify. Malformed wire data is reported as malformed_protobuf.
//
// Thread safety: pure function.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_WIRE_CHECK_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_WIRE_CHECK_H_

#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"

namespace autostage::event::internal {

// OK, or a decode error with reason invalid_utf8 ("chat.messages[1].text: invalid UTF-8 at byte
// 3 (message byte 120)") or malformed_protobuf. Sets *has_unknown_fields when some field (at any
// level) is not in the schema or has an unexpected wire type, so the caller can drop unknown
// fields only when there are some (dropping walks the message by reflection).
absl::Status CheckProtobufStrings(std::string_view bytes,
                                  const google::protobuf::Descriptor& descriptor,
                                  bool* has_unknown_fields);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_WIRE_CHECK_H_
