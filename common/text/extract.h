// Extraction of the new content of an event (spec: stage-policy.md rules 3, 5, 7, 8).
//
//   email: quoted history ("> ", "On ... wrote:", "在...写道：", -----Original Message-----,
//          -----原始邮件-----, Outlook From:/Sent: and 发件人:/发送时间: header blocks, forwarded
//          messages, Gmail/blockquote/QQ/NetEase/Yahoo HTML quote containers), signatures,
//          sign-off blocks and confidentiality disclaimers are dropped; HTML is turned into
//          visible text (see html_to_text.h and internal/email_body.h for the formats).
//          Machine-made mail yields nothing: nothing_reason "auto_reply", "bounce",
//          "newsletter" or "calendar" (see internal/email_machine.h).
//          The subject is a kSubject segment, except a reply/forward subject (Re:, RE:, 回复:,
//          答复:, Fwd:, FW:, 转发:, "[EXTERNAL] RE:" ...): that is the old thread's subject, not
//          new content, so it is dropped with format "reply_subject".
//          Each attachment file name is a kAttachmentName segment.
//          Speaker: inbound -> customer; outbound and internal -> rep.
//          The plain-text part is used when it has content, else the HTML part.
//   call:  any disposition but "answered" yields nothing ("call_not_answered"); transcript
//          turns keep their speaker; notes are kBody segments spoken by the customer (they
//          record what the customer said).
//   chat:  each message keeps its sender; recall notices ("撤回了一条消息", "recalled a
//          message") and auto-replies ("【自动回复】...", "您好，我现在有事不在") are dropped
//          ("recalled_message", "auto_reply"; nothing_reason when no message is left);
//          "[语音转文字] ..." counts as the sender's words without the tag; file placeholders
//          ("[文件: x.pdf]", "[文件] x.pdf", "[File: x.pdf]", "【文件】x.pdf") also yield a
//          kAttachmentName segment for the file name (same field, offsets of the name).
//
// Segment text is not normalized. Each segment's OffsetMap maps its byte offsets to byte
// offsets of the original field value (for HTML bodies: into the HTML source); DroppedPart
// ranges are byte ranges of the original field value too.
//
// Cost: linear in the event's text, no regular expressions; HTML bombs (100,000 nested tags)
// and 1 MiB lines are handled in bounded time and memory.
//
// Thread safety: pure functions, safe to call concurrently.
#ifndef AUTOSTAGE_COMMON_TEXT_EXTRACT_H_
#define AUTOSTAGE_COMMON_TEXT_EXTRACT_H_

#include <cstddef>

#include "autostage/v1/event.pb.h"
#include "common/text/segment.h"

namespace autostage::text {

struct ExtractOptions {
  // Upper bound on HTML nesting depth honoured by the converter; deeper tags are flattened.
  size_t max_html_depth = 256;
};

// The event must already be validated (common/event). Never fails: bad input yields fewer
// segments, not an error.
Extraction Extract(const v1::Event& event, const ExtractOptions& options = {});
// The same into `*out` (overwritten), reusing its storage: a caller extracting a stream of
// events into one Extraction (one per thread) allocates only when an event has more or longer
// segments than any before. Same segments, dropped parts and reason as Extract().
void ExtractInto(const v1::Event& event, const ExtractOptions& options, Extraction* out);

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_EXTRACT_H_
