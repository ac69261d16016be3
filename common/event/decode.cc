#include "common/event/decode.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <climits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/event/internal/errors.h"
#include "common/event/internal/json_locate.h"
#include "common/event/internal/json_reader.h"
#include "common/event/internal/utf8.h"
#include "common/event/internal/validate.h"
#include "common/event/internal/wire_check.h"
#include "common/status/status_macros.h"
#include "simdjson.h"

namespace autostage::event {
namespace {

using internal::DecodeError;

// Smallest JSON parser buffer size worth allocating.
constexpr size_t kMinJsonCapacity = 4 << 10;

absl::Status CheckSize(std::string_view bytes, const DecodeLimits& limits) {
  if (bytes.size() > limits.max_message_bytes ||
      bytes.size() > static_cast<size_t>(INT_MAX)) {  // protobuf takes an int size
    return DecodeError(
        kReasonTooLarge, "message",
        absl::StrCat(bytes.size(), " bytes exceeds limit of ", limits.max_message_bytes));
  }
  return absl::OkStatus();
}

// simdjson reports no position for invalid UTF-8; find the first bad byte and the string that
// holds it for the message.
absl::Status InvalidUtf8InJson(std::string_view bytes, const DecodeLimits& limits) {
  const size_t at = internal::FirstInvalidUtf8(bytes);
  if (at == std::string_view::npos) {
    return DecodeError(kReasonInvalidUtf8, "message", "invalid UTF-8");
  }
  const internal::JsonLocation location =
      internal::LocateJsonByte(bytes, at, limits.max_json_depth);
  if (!location.in_string) {
    return DecodeError(kReasonInvalidUtf8, "message", absl::StrCat("invalid UTF-8 at byte ", at));
  }
  if (location.in_key) {
    return DecodeError(kReasonInvalidUtf8, location.path,
                       absl::StrCat("invalid UTF-8 in a key at byte ", location.value_offset,
                                    " (message byte ", at, ")"));
  }
  return DecodeError(
      kReasonInvalidUtf8, location.path,
      absl::StrCat("invalid UTF-8 at byte ", location.value_offset, " (message byte ", at, ")"));
}

// A decoded string (JSON unescaped, or a protobuf field) is never longer than the message
// that holds it: when the message fits the text-field limit, no string can exceed it.
bool StringsMayBeLong(std::string_view bytes, const DecodeLimits& limits) {
  return bytes.size() > limits.max_text_field_bytes;
}

template <typename Message>
absl::Status ParseProtobuf(std::string_view bytes, Message* out) {
  // Our own pass first: it names the field of bad UTF-8 (the parser would only fail, and log).
  bool has_unknown_fields = false;
  RETURN_IF_ERROR(
      internal::CheckProtobufStrings(bytes, *Message::descriptor(), &has_unknown_fields));
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return DecodeError(
        kReasonMalformedProtobuf, "message",
        absl::StrCat("not a valid ", Message::descriptor()->full_name(), " protobuf"));
  }
  // Unknown fields are ignored (spec), in binary as in JSON: nothing of them travels on.
  if (has_unknown_fields) out->DiscardUnknownFields();
  return absl::OkStatus();
}

}  // namespace

class Decoder::JsonParser {
 public:
  explicit JsonParser(const DecodeLimits& limits) : parser_(limits.max_message_bytes) {}

  // Parses `bytes` (copied into the parser's padded buffer) and returns the root, valid until
  // the next call.
  absl::StatusOr<simdjson::dom::element> Parse(std::string_view bytes, const DecodeLimits& limits) {
    if (bytes.size() > parser_.capacity() || document_.capacity() < bytes.size()) {
      // Grow to the next power of two so a stream of slowly growing messages reallocates
      // rarely. simdjson's max_depth counts one level more than the nesting it accepts.
      const size_t capacity = std::min(std::bit_ceil(std::max(bytes.size(), kMinJsonCapacity)),
                                       limits.max_message_bytes);
      if (parser_.allocate(capacity, limits.max_json_depth + 1) != simdjson::SUCCESS ||
          document_.allocate(capacity) != simdjson::SUCCESS) {
        return absl::ResourceExhaustedError("JSON parser: out of memory");
      }
    }
    simdjson::dom::element root;
    const simdjson::error_code error =
        parser_
            .parse_into_document(document_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size(), /*realloc_if_needed=*/true)
            .get(root);
    switch (error) {
      case simdjson::SUCCESS:
        return root;
      case simdjson::DEPTH_ERROR:
        return DecodeError(kReasonTooDeep, "message",
                           absl::StrCat("JSON nesting deeper than ", limits.max_json_depth));
      case simdjson::UTF8_ERROR:
        return InvalidUtf8InJson(bytes, limits);
      case simdjson::CAPACITY:
        return DecodeError(
            kReasonTooLarge, "message",
            absl::StrCat(bytes.size(), " bytes exceeds limit of ", limits.max_message_bytes));
      case simdjson::MEMALLOC:
        return absl::ResourceExhaustedError("JSON parser: out of memory");
      case simdjson::EMPTY:
        return DecodeError(kReasonMalformedJson, "message", "malformed JSON: empty document");
      default:
        return DecodeError(kReasonMalformedJson, "message",
                           absl::StrCat("malformed JSON: ", simdjson::error_message(error)));
    }
  }

  // Sub-messages of the previous event, reused by the next (see internal::EventParts).
  internal::EventParts* spare_parts() { return &spare_parts_; }

 private:
  internal::EventParts spare_parts_;
  simdjson::dom::parser parser_;
  simdjson::dom::document document_;
};

Decoder::Decoder(const DecodeLimits& limits)
    : limits_(limits), json_(std::make_unique<JsonParser>(limits)) {}
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

absl::StatusOr<v1::Event> Decoder::DecodeEvent(std::string_view bytes, Encoding encoding) {
  v1::Event event;
  RETURN_IF_ERROR(DecodeEventInto(bytes, encoding, &event));
  return event;
}

absl::Status Decoder::DecodeEventInto(std::string_view bytes, Encoding encoding, v1::Event* event) {
  // Clear() would delete the sub-messages; kept, the next JSON event reuses them.
  if (event->GetArena() == nullptr) json_->spare_parts()->TakeFrom(event);
  event->Clear();
  RETURN_IF_ERROR(CheckSize(bytes, limits_));
  if (encoding == Encoding::kProtobuf) {
    RETURN_IF_ERROR(ParseProtobuf(bytes, event));
    return internal::CheckEvent(
        *event, limits_, {.check_utf8 = false, .check_sizes = StringsMayBeLong(bytes, limits_)});
  }
  ASSIGN_OR_RETURN(const simdjson::dom::element root, json_->Parse(bytes, limits_));
  RETURN_IF_ERROR(internal::ReadEventJson(root, event, json_->spare_parts()));
  return internal::CheckEvent(
      *event, limits_,
      {.check_utf8 = false, .check_sizes = StringsMayBeLong(bytes, limits_), .from_json = true});
}

absl::StatusOr<v1::Opportunity> Decoder::DecodeOpportunity(std::string_view bytes,
                                                           Encoding encoding) {
  RETURN_IF_ERROR(CheckSize(bytes, limits_));
  v1::Opportunity opportunity;
  if (encoding == Encoding::kProtobuf) {
    RETURN_IF_ERROR(ParseProtobuf(bytes, &opportunity));
    RETURN_IF_ERROR(internal::CheckOpportunity(opportunity, limits_, {.check_utf8 = false}));
    return opportunity;
  }
  ASSIGN_OR_RETURN(const simdjson::dom::element root, json_->Parse(bytes, limits_));
  RETURN_IF_ERROR(internal::ReadOpportunityJson(root, &opportunity));
  RETURN_IF_ERROR(
      internal::CheckOpportunity(opportunity, limits_, {.check_utf8 = false, .from_json = true}));
  return opportunity;
}

absl::StatusOr<v1::Event> DecodeEvent(std::string_view bytes, Encoding encoding,
                                      const DecodeLimits& limits) {
  // Reject by size before the decoder allocates anything.
  RETURN_IF_ERROR(CheckSize(bytes, limits));
  return Decoder(limits).DecodeEvent(bytes, encoding);
}

absl::StatusOr<v1::Opportunity> DecodeOpportunity(std::string_view bytes, Encoding encoding,
                                                  const DecodeLimits& limits) {
  RETURN_IF_ERROR(CheckSize(bytes, limits));
  return Decoder(limits).DecodeOpportunity(bytes, encoding);
}

absl::Status ValidateEvent(const v1::Event& event, const DecodeLimits& limits) {
  return internal::CheckEvent(event, limits, {});
}

absl::Status ValidateOpportunity(const v1::Opportunity& opportunity, const DecodeLimits& limits) {
  return internal::CheckOpportunity(opportunity, limits, {});
}

absl::StatusOr<Encoding> EncodingFromContentType(std::string_view content_type) {
  const size_t semicolon = content_type.find(';');
  const absl::string_view media_type = absl::StripAsciiWhitespace(absl::string_view(
      content_type.data(), semicolon == std::string_view::npos ? content_type.size() : semicolon));
  if (media_type.empty() || absl::EqualsIgnoreCase(media_type, "application/json")) {
    return Encoding::kJson;
  }
  if (absl::EqualsIgnoreCase(media_type, "application/x-protobuf") ||
      absl::EqualsIgnoreCase(media_type, "application/protobuf")) {
    return Encoding::kProtobuf;
  }
  return DecodeError(
      kReasonInvalidValue, "content-type",
      absl::StrCat("unsupported content type ",
                   internal::Quote(std::string_view(media_type.data(), media_type.size()))));
}

std::string_view ReasonOf(const absl::Status& status) {
  if (status.ok()) return {};
  const absl::optional<absl::Cord> payload = status.GetPayload(
      absl::string_view(internal::kReasonPayloadUrl.data(), internal::kReasonPayloadUrl.size()));
  if (!payload.has_value()) return {};
  for (std::string_view reason :
       {kReasonTooLarge, kReasonMalformedJson, kReasonTooDeep, kReasonInvalidUtf8,
        kReasonMissingField, kReasonWrongType, kReasonInvalidValue, kReasonMalformedProtobuf}) {
    if (*payload == absl::string_view(reason.data(), reason.size())) return reason;
  }
  return {};
}

}  // namespace autostage::event
