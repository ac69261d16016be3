// Segment: one piece of new content of an event, with who said it and where it came from.
#ifndef AUTOSTAGE_COMMON_TEXT_SEGMENT_H_
#define AUTOSTAGE_COMMON_TEXT_SEGMENT_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/text/offset_map.h"

namespace autostage::text {

enum class Speaker { kCustomer, kRep };
std::string_view SpeakerName(Speaker speaker);  // "customer" | "rep"

enum class SegmentKind {
  kBody,            // email body, transcript turn, call notes, chat message text
  kSubject,         // an email subject that is not a reply/forward prefix chain
  kAttachmentName,  // an email attachment file name, or a chat file placeholder's file name
};
std::string_view SegmentKindName(SegmentKind kind);

struct Segment {
  std::string text;  // visible new content (HTML already converted to text), not normalized
  Speaker speaker = Speaker::kCustomer;
  SegmentKind kind = SegmentKind::kBody;
  // Field path in the event: "email.text", "email.html", "email.subject",
  // "email.attachments[1].filename", "call.transcript[3].text", "call.notes",
  // "chat.messages[2].text".
  std::string field;
  // Byte offsets of `text` -> byte offsets in the original value of `field`.
  OffsetMap to_field;
};

// Why a part of a field was not kept. The names are stable: they label a metric
// (autostage_stripper_hits_total{format=...}) and show in `rulectl explain`.
struct DroppedPart {
  std::string field;
  size_t begin = 0;  // byte range in the original field value
  size_t end = 0;
  // A view of a string literal (valid forever, costs no allocation): e.g. "quote_gt",
  // "on_wrote", "outlook_header", "zh_header", "original_message_zh", "forwarded",
  // "gmail_quote", "blockquote", "signature", "signoff", "disclaimer", "html_script_style",
  // "auto_reply", "call_disposition", "recalled_message", ...
  std::string_view format;
};

struct Extraction {
  std::vector<Segment> segments;
  std::vector<DroppedPart> dropped;
  // Non-empty when the whole event counts for nothing (machine-made message, unanswered
  // call, ...): the reason, e.g. "auto_reply", "calendar", "bounce", "newsletter",
  // "call_not_answered". Then `segments` is empty.
  std::string nothing_reason;
  // Not content: segments of earlier events kept by ExtractInto (extract.h) so that their
  // strings and offset maps keep their capacity for the next event.
  std::vector<Segment> spare_segments;
};

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_SEGMENT_H_
