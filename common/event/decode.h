// Decoding and validation of the wire contract (spec/events.md): canonical JSON (simdjson) or
// binary protobuf into v1::Event / v1::Opportunity.
//
// Errors are kInvalidArgument with a message that names the field path and the reason, e.g.
//   "email.text: invalid UTF-8 at byte 17", "from: required field missing",
//   "call.duration_s: expected integer, got string", "message: 2097152 bytes exceeds limit".
// DecodeError::reason is a short machine-readable code for the DLQ header and metrics.
//
// Thread safety: pure functions (each call uses its own parser), safe concurrently.
#ifndef AUTOSTAGE_COMMON_EVENT_DECODE_H_
#define AUTOSTAGE_COMMON_EVENT_DECODE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"

namespace autostage::event {

struct DecodeLimits {
  size_t max_message_bytes = 1 << 20;       // 1 MiB
  size_t max_text_field_bytes = 256 << 10;  // 256 KiB, any single string
  size_t max_json_depth = 64;
};

enum class Encoding { kJson, kProtobuf };

// Maps a Kafka `content-type` header to an encoding: "application/x-protobuf" -> kProtobuf,
// absent/empty/"application/json" (parameters ignored) -> kJson; anything else kInvalidArgument.
absl::StatusOr<Encoding> EncodingFromContentType(std::string_view content_type);

// Machine-readable reason codes (DLQ header `dlq-reason`, metric label): "too_large",
// "malformed_json", "too_deep", "invalid_utf8", "missing_field", "wrong_type", "invalid_value",
// "malformed_protobuf".
std::string_view ReasonOf(const absl::Status& status);

absl::StatusOr<v1::Event> DecodeEvent(std::string_view bytes, Encoding encoding,
                                      const DecodeLimits& limits = {});
absl::StatusOr<v1::Opportunity> DecodeOpportunity(std::string_view bytes, Encoding encoding,
                                                  const DecodeLimits& limits = {});

// Validation alone (the JSON path calls it; the protobuf path too): required fields, enum
// values, source-specific body present, UTF-8 of every string, text-field limits.
absl::Status ValidateEvent(const v1::Event& event, const DecodeLimits& limits = {});
absl::Status ValidateOpportunity(const v1::Opportunity& opportunity,
                                 const DecodeLimits& limits = {});

// Canonical JSON of an event / opportunity (proto3 JSON with the spec's names), for tools.
std::string EventToJson(const v1::Event& event);

}  // namespace autostage::event

#endif  // AUTOSTAGE_COMMON_EVENT_DECODE_H_
