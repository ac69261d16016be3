// libFuzzer target: every input goes through both decoders (JSON and binary protobuf) as an
// event and as an opportunity. Beyond "no crash, no sanitizer report" it checks the contract:
// a rejection always carries a reason code; an accepted message validates, survives a binary
// round trip and a canonical-JSON round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "common/event/decode.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using autostage::event::DecodeLimits;
using autostage::event::Encoding;
using google::protobuf::util::MessageDifferencer;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz_decode: %s\n", what);
    __builtin_trap();
  }
}

template <typename Message, typename DecodeFn, typename ValidateFn, typename ToJsonFn>
void Exercise(std::string_view input, Encoding encoding, const DecodeLimits& limits,
              DecodeFn decode, ValidateFn validate, ToJsonFn to_json) {
  absl::StatusOr<Message> message = decode(input, encoding, limits);
  if (!message.ok()) {
    Check(!autostage::event::ReasonOf(message.status()).empty(), "error without a reason");
    return;
  }
  Check(validate(*message, limits).ok(), "decoded message does not validate");
  // Escaping can grow the canonical JSON, so re-decode it with room to spare.
  DecodeLimits roomy = limits;
  roomy.max_message_bytes = limits.max_message_bytes * 8;
  absl::StatusOr<Message> binary = decode(message->SerializeAsString(), Encoding::kProtobuf, roomy);
  Check(binary.ok(), "binary round trip rejected");
  Check(MessageDifferencer::Equals(*message, *binary), "binary round trip changed the message");
  absl::StatusOr<Message> json = decode(to_json(*message), Encoding::kJson, roomy);
  Check(json.ok(), "canonical JSON round trip rejected");
  Check(MessageDifferencer::Equals(*message, *json), "JSON round trip changed the message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Small limits, so that the limit paths are reachable with small inputs too.
  DecodeLimits limits;
  limits.max_message_bytes = 64 << 10;
  limits.max_text_field_bytes = 4 << 10;
  limits.max_json_depth = 16;
  for (const Encoding encoding : {Encoding::kJson, Encoding::kProtobuf}) {
    Exercise<autostage::v1::Event>(
        input, encoding, limits,
        [](std::string_view bytes, Encoding e, const DecodeLimits& l) {
          return autostage::event::DecodeEvent(bytes, e, l);
        },
        [](const autostage::v1::Event& m, const DecodeLimits& l) {
          return autostage::event::ValidateEvent(m, l);
        },
        [](const autostage::v1::Event& m) { return autostage::event::EventToJson(m); });
    Exercise<autostage::v1::Opportunity>(
        input, encoding, limits,
        [](std::string_view bytes, Encoding e, const DecodeLimits& l) {
          return autostage::event::DecodeOpportunity(bytes, e, l);
        },
        [](const autostage::v1::Opportunity& m, const DecodeLimits& l) {
          return autostage::event::ValidateOpportunity(m, l);
        },
        [](const autostage::v1::Opportunity& m) { return autostage::event::OpportunityToJson(m); });
  }
  return 0;
}
