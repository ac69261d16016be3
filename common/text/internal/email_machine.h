// Machine-made email (stage-policy rule 5) and reply/forward subjects.
//
//   auto_reply  auto_submitted, "Automatic reply:" / "Auto:" / "Out of Office" / "自动回复" /
//               "自动答复" subjects, out-of-office body patterns (zh/en), X-Autoreply-style
//               attributes
//   bounce      mailer-daemon / postmaster senders, "Delivery Status Notification",
//               "Undeliverable", "退信" subjects
//   newsletter  attributes.precedence bulk/list/junk, List-Unsubscribe / List-Id attributes, or
//               an unsubscribe footer from a bulk sender address
//   calendar    text/calendar or .ics attachments; "Invitation:", "Accepted:", "Declined:",
//               "邀请:", "已接受:" ... subjects
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_MACHINE_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_MACHINE_H_

#include <cstddef>
#include <string_view>

#include "autostage/v1/event.pb.h"

namespace autostage::text::internal {

// The reason the email counts for nothing ("auto_reply", "bounce", "newsletter", "calendar"),
// or empty. `body` is the plain text (or visible text of the HTML) of the email; only its
// first and last kilobytes are looked at.
std::string_view MachineMadeReason(const v1::Email& email, const v1::Party& from,
                                   const google::protobuf::Map<std::string, std::string>& attrs,
                                   std::string_view body);

// Bytes of the reply/forward prefix chain at the start of `subject` ("Re: ", "RE: FW: ",
// "回复：", "Re[2]: ", "答复: 转发: "), 0 when the subject has none.
size_t ReplyPrefixLength(std::string_view subject);

// True for chat messages that are auto-replies ("[自动回复] ...", "您好，我现在有事不在...").
bool IsChatAutoReply(std::string_view trimmed);
// True for chat recall notices ("张三撤回了一条消息", "Alex recalled a message").
bool IsRecallNotice(std::string_view trimmed);

}  // namespace autostage::text::internal

#endif  // AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_MACHINE_H_
