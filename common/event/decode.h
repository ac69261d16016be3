// Decoding and validation of the wire contract (spec/events.md): canonical JSON (simdjson) or
// binary protobuf into v1::Event / v1::Opportunity.
//
// Errors are kInvalidArgument (bad input: dead-letter it, never retry) with a message that
// names the field path and the reason, e.g.
//   "email.text: invalid UTF-8 at byte 17 (message byte 245)",
//   "from: required field missing", "call.duration_s: expected integer, got string",
//   "chat.messages[2].sender: expected \"customer\" or \"rep\", got \"bot\"",
//   "message: 2097152 bytes exceeds limit of 1048576".
// ReasonOf(status) gives the short machine-readable code for the DLQ header and metrics.
//
// JSON rules: unknown fields are ignored; `null` counts as absent; integers must be JSON
// integers (no quoted numbers, no fractions); timestamps are strict RFC 3339. In binary
// protobuf an empty string or an unset message is "absent" (proto3 has no presence for them).
//
// Thread safety: the free functions are pure (each call uses its own parser) and safe to call
// concurrently. A Decoder is NOT thread-safe; give each thread its own.
#ifndef AUTOSTAGE_COMMON_EVENT_DECODE_H_
#define AUTOSTAGE_COMMON_EVENT_DECODE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"

namespace autostage::event {

struct DecodeLimits {
  size_t max_message_bytes = 1 << 20;       // 1 MiB, checked before any parsing
  size_t max_text_field_bytes = 256 << 10;  // 256 KiB, any single string
  // Nesting of objects and arrays, the top-level object being level 1. (simdjson does not
  // count an empty innermost [] or {}, so one may sit a level deeper; no recursion depends on it.)
  size_t max_json_depth = 64;
};

enum class Encoding { kJson, kProtobuf };

// Maps a Kafka `content-type` header to an encoding: "application/x-protobuf" -> kProtobuf,
// absent/empty/"application/json" -> kJson (case-insensitive, parameters such as
// "; charset=utf-8" ignored); anything else kInvalidArgument with reason "invalid_value".
absl::StatusOr<Encoding> EncodingFromContentType(std::string_view content_type);

// Machine-readable reason codes carried by every decode error.
inline constexpr std::string_view kReasonTooLarge = "too_large";
inline constexpr std::string_view kReasonMalformedJson = "malformed_json";
inline constexpr std::string_view kReasonTooDeep = "too_deep";
inline constexpr std::string_view kReasonInvalidUtf8 = "invalid_utf8";
inline constexpr std::string_view kReasonMissingField = "missing_field";
inline constexpr std::string_view kReasonWrongType = "wrong_type";
inline constexpr std::string_view kReasonInvalidValue = "invalid_value";
inline constexpr std::string_view kReasonMalformedProtobuf = "malformed_protobuf";

// The reason code of a status made by this library (one of the constants above); "" for OK
// and for statuses that carry none. The view refers to static storage.
std::string_view ReasonOf(const absl::Status& status);

absl::StatusOr<v1::Event> DecodeEvent(std::string_view bytes, Encoding encoding,
                                      const DecodeLimits& limits = {});
absl::StatusOr<v1::Opportunity> DecodeOpportunity(std::string_view bytes, Encoding encoding,
                                                  const DecodeLimits& limits = {});

// A decoder that keeps its JSON parser buffers between calls, so a worker decoding a stream of
// messages allocates only when a message is larger than any before it. Same results as the
// free functions. NOT thread-safe: one per thread.
class Decoder {
 public:
  explicit Decoder(const DecodeLimits& limits = {});
  ~Decoder();
  Decoder(Decoder&&) noexcept;
  Decoder& operator=(Decoder&&) noexcept;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  absl::StatusOr<v1::Event> DecodeEvent(std::string_view bytes, Encoding encoding);
  absl::StatusOr<v1::Opportunity> DecodeOpportunity(std::string_view bytes, Encoding encoding);
  // The same into `*event`, cleared first: a worker that keeps one Event per thread reuses its
  // strings' and repeated fields' capacity (protobuf's Clear keeps them), so a stream of
  // similar messages allocates little. On error `*event` holds an unspecified partial value.
  absl::Status DecodeEventInto(std::string_view bytes, Encoding encoding, v1::Event* event);

 private:
  class JsonParser;  // hides simdjson from includers
  DecodeLimits limits_;
  std::unique_ptr<JsonParser> json_;
};

// Validation alone (both decode paths end with it): required fields, enumerated values,
// source-specific body present, timestamps in range, UTF-8 of every string, text-field
// limits. For messages built in-process; empty strings and unset messages count as absent.
absl::Status ValidateEvent(const v1::Event& event, const DecodeLimits& limits = {});
absl::Status ValidateOpportunity(const v1::Opportunity& opportunity,
                                 const DecodeLimits& limits = {});

// Canonical JSON (spec field names; integers as JSON numbers; timestamps RFC 3339 in UTC;
// required strings printed even when empty) of a valid event / opportunity, for tools and
// tests. DecodeEvent(EventToJson(e)) == e for every valid e. Invalid UTF-8 in a string is
// replaced by U+FFFD so the output is always valid JSON.
std::string EventToJson(const v1::Event& event);
std::string OpportunityToJson(const v1::Opportunity& opportunity);

}  // namespace autostage::event

#endif  // AUTOSTAGE_COMMON_EVENT_DECODE_H_
