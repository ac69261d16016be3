// Splits a plain-text email body (or the visible text of an HTML one) into the new content and
// the parts that are not new: quoted history in every common format, forwarded messages,
// signatures, sign-off blocks and confidentiality disclaimers.
//
// Line-based, one forward pass plus a bounded look at the trailing lines: linear in the text,
// no regular expressions. Patterns tolerate "\r\n", full-width colons and spaces.
//
//   quote_gt            "> ..." lines (dropped one by one: inline replies between them stay)
//   on_wrote            "On <date>, <name> wrote:" / "在 ... 写道：" (and all that follows,
//                       unless "> " lines follow, then only the attribution line)
//   original_message    "-----Original Message-----"            (and all that follows)
//   original_message_zh "-----原始邮件-----"                      (and all that follows)
//   forwarded           "---------- Forwarded message ---------", "转发的邮件", "Begin
//                       forwarded message:"                     (and all that follows)
//   outlook_header      "From: / Sent: / To: / Subject:" block   (and all that follows)
//   zh_header           "发件人: / 发送时间: / 收件人: / 主题:"       (and all that follows)
//   disclaimer          trailing confidentiality paragraphs (zh/en)
//   signature           "-- " and trailing name/title/company/contact blocks
//   signoff             "Best regards,\nName\nTitle", "谢谢！\n张三\n采购部", "此致\n敬礼"
//
// Signatures and sign-offs are cut only when every line after the cut looks like a signature
// line (short, no sentence punctuation) and the block starts with a name or organization;
// real content is never cut to remove a signature.
//
// Thread safety: pure function.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_BODY_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_BODY_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace autostage::text::internal {

struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

struct FormatSpan {
  size_t begin = 0;
  size_t end = 0;
  std::string_view format;  // a string literal (valid forever)
};

struct BodySplit {
  std::vector<TextSpan> kept;       // new content, trimmed, in text order
  std::vector<FormatSpan> dropped;  // in text order
};

// `quoted`: spans of `text` already known to be quoted (HTML quote containers), sorted; lines
// starting inside one are dropped with its format.
BodySplit SplitEmailBody(std::string_view text, const std::vector<FormatSpan>& quoted = {});

// Exposed for the tests and the chat extractor.
bool IsSignoffLine(std::string_view trimmed);
bool IsDisclaimerParagraph(std::string_view paragraph, bool after_separator);
// A separator line ("-----", "______", "———", "＿＿"), not "--" (a signature marker).
bool IsSeparatorLine(std::string_view trimmed);

}  // namespace autostage::text::internal

#endif  // AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_BODY_H_
