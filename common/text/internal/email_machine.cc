#include "common/text/internal/email_machine.h"

#include <string>

#include "common/text/internal/email_util.h"

namespace autostage::text::internal {
namespace {

constexpr size_t kBodyHead = 320;
constexpr size_t kBodyTail = 768;
constexpr size_t kChatHead = 256;
constexpr size_t kMaxAutoReplyBody = 2048;

// A list of lower-case words with the table of their first bytes: most strings start with none
// of them and skip the list with one lookup. Declare as `static constexpr`.
struct WordList {
  template <size_t N>
  constexpr explicit WordList(const std::string_view (&list)[N])
      : words(list), size(N), first_bytes(list) {}

  // `s` starts (after brackets) with a word followed by a colon: "Accepted: x", "邀请：x".
  bool Label(std::string_view s) const {
    if (!first_bytes.MayStart(s)) return false;
    const char first = AsciiLower(s[0]);
    for (size_t i = 0; i < size; ++i) {
      if (words[i][0] == first && MatchLabel(s, words[i]) > 0) return true;
    }
    return false;
  }
  bool StartOf(std::string_view s) const {
    if (!first_bytes.MayStart(s)) return false;
    const char first = AsciiLower(s[0]);
    for (size_t i = 0; i < size; ++i) {
      if (words[i][0] == first && StartsWithNoCase(s, words[i])) return true;
    }
    return false;
  }

  const std::string_view* words;
  size_t size;
  FirstByteSet first_bytes;
};

std::string_view LocalPart(std::string_view address) {
  size_t at = address.find('@');
  return at == std::string_view::npos ? address : address.substr(0, at);
}

// Attribute keys compare tolerant of case and '-' vs '_' ("List-Unsubscribe",
// "list_unsubscribe"); `key` is lower case with '_'.
bool SameAttrKey(std::string_view k, std::string_view key) {
  if (k.size() != key.size()) return false;
  for (size_t i = 0; i < k.size(); ++i) {
    char c = AsciiLower(k[i]);
    if (c == '-') c = '_';
    if (c != key[i]) return false;
  }
  return true;
}

// The attributes the checks below read, found in one pass over the map (it is a hash map:
// walking it costs more than comparing keys). Of equal keys ("List-Id", "list_id") the first in
// map order wins.
struct MachineAttrs {
  const std::string* auto_submitted = nullptr;
  const std::string* x_autoreply = nullptr;
  const std::string* x_autorespond = nullptr;
  const std::string* precedence = nullptr;
  const std::string* list_unsubscribe = nullptr;
  const std::string* list_id = nullptr;
};

MachineAttrs FindMachineAttrs(const google::protobuf::Map<std::string, std::string>& attrs) {
  struct Wanted {
    std::string_view key;
    const std::string* MachineAttrs::*slot;
  };
  static constexpr Wanted kWanted[] = {
      {"auto_submitted", &MachineAttrs::auto_submitted},
      {"x_autoreply", &MachineAttrs::x_autoreply},
      {"x_autorespond", &MachineAttrs::x_autorespond},
      {"precedence", &MachineAttrs::precedence},
      {"list_unsubscribe", &MachineAttrs::list_unsubscribe},
      {"list_id", &MachineAttrs::list_id},
  };
  MachineAttrs found;
  for (const auto& [k, v] : attrs) {
    for (const Wanted& w : kWanted) {
      if (found.*w.slot == nullptr && SameAttrKey(k, w.key)) {
        found.*w.slot = &v;
        break;
      }
    }
  }
  return found;
}

bool IsCalendar(const v1::Email& email, std::string_view subject) {
  for (const v1::Attachment& a : email.attachments()) {
    if (StartsWithNoCase(a.content_type(), "text/calendar") ||
        StartsWithNoCase(a.content_type(), "application/ics") ||
        EndsWithNoCase(Trim(a.filename()), ".ics") || EndsWithNoCase(Trim(a.filename()), ".vcs")) {
      return true;
    }
  }
  static constexpr std::string_view kLabels[] = {"invitation",
                                                 "updated invitation",
                                                 "invitation updated",
                                                 "accepted",
                                                 "declined",
                                                 "tentative",
                                                 "tentatively accepted",
                                                 "canceled",
                                                 "cancelled",
                                                 "canceled event",
                                                 "cancelled event",
                                                 "new event",
                                                 "updated event",
                                                 "meeting request",
                                                 "meeting invitation",
                                                 "邀请",
                                                 "会议邀请",
                                                 "更新的邀请",
                                                 "已更新的邀请",
                                                 "已接受",
                                                 "已拒绝",
                                                 "已谢绝",
                                                 "暂定",
                                                 "暂定接受",
                                                 "已暂定接受",
                                                 "已取消",
                                                 "会议已取消",
                                                 "接受",
                                                 "拒绝",
                                                 "邀請",
                                                 "已接受邀请",
                                                 "已拒绝邀请",
                                                 "更新后的邀请",
                                                 "已更新邀请",
                                                 "邀请已更新",
                                                 "已暂定",
                                                 "updated invitation with note"};
  static constexpr WordList kLabelList(kLabels);
  return kLabelList.Label(subject);
}

bool IsBounce(const v1::Party& from, std::string_view subject) {
  std::string_view local = LocalPart(from.email());
  if (EqualsNoCase(local, "mailer-daemon") || EqualsNoCase(local, "mailerdaemon") ||
      EqualsNoCase(local, "mail-daemon") || EqualsNoCase(local, "postmaster")) {
    return true;
  }
  static constexpr std::string_view kNames[] = {"mail delivery", "mailer-daemon", "postmaster"};
  static constexpr NeedleSet kNamesSet(kNames);
  if (kNamesSet.FoundIn(from.name())) return true;
  static constexpr std::string_view kSubjects[] = {"delivery status notification",
                                                   "undeliverable",
                                                   "undelivered mail",
                                                   "delivery failure",
                                                   "delivery has failed",
                                                   "mail delivery failed",
                                                   "returned mail",
                                                   "failure notice",
                                                   "delivery failed",
                                                   "退信",
                                                   "邮件退回",
                                                   "投递失败",
                                                   "无法投递",
                                                   "未能送达",
                                                   "无法送达"};
  static constexpr NeedleSet kSubjectsSet(kSubjects);
  return kSubjectsSet.FoundIn(subject);
}

bool IsAutoReply(const v1::Email& email, const MachineAttrs& attrs, std::string_view subject,
                 std::string_view body) {
  if (email.auto_submitted()) return true;
  if (const std::string* v = attrs.auto_submitted) {
    std::string_view value = Trim(*v);
    if (!value.empty() && !EqualsNoCase(value, "no") && !EqualsNoCase(value, "false")) return true;
  }
  if (attrs.x_autoreply != nullptr || attrs.x_autorespond != nullptr) {
    return true;
  }
  static constexpr std::string_view kSubjectStarts[] = {
      "automatic reply",   "auto reply",    "auto-reply",         "autoreply",
      "auto response",     "auto-response", "automatic response", "out of office",
      "out of the office", "ooo:",          "自动回复",           "自动答复",
      "自動回覆",          "自動回復",      "自动应答",           "自動答覆"};
  static constexpr WordList kSubjectStartList(kSubjectStarts);
  if (kSubjectStartList.StartOf(subject) || MatchLabel(subject, "auto") > 0) {
    return true;
  }
  // Out-of-office texts are short; a long mail that mentions being away is a person writing.
  if (Trim(body).size() > kMaxAutoReplyBody) return false;
  std::string_view head = body.substr(0, kBodyHead);
  static constexpr std::string_view kCues[] = {"out of the office",
                                               "out of office",
                                               "automatic reply",
                                               "auto-reply",
                                               "autoreply",
                                               "automated reply",
                                               "this is an automated",
                                               "this is an automatic",
                                               "自动回复",
                                               "自动答复",
                                               "自動回覆",
                                               "不在办公室",
                                               "不在辦公室",
                                               "不处理邮件",
                                               "邮件回复可能不及时",
                                               "无法及时回复邮件",
                                               "休假期间",
                                               "休产假"};
  static constexpr NeedleSet kCuesSet(kCues);
  return kCuesSet.FoundIn(head);
}

bool IsNewsletter(const v1::Party& from, const MachineAttrs& attrs, std::string_view body) {
  if (const std::string* v = attrs.precedence) {
    std::string_view value = Trim(*v);
    if (EqualsNoCase(value, "bulk") || EqualsNoCase(value, "list") || EqualsNoCase(value, "junk")) {
      return true;
    }
  }
  if (attrs.list_unsubscribe != nullptr || attrs.list_id != nullptr) {
    return true;
  }
  std::string_view local = LocalPart(from.email());
  static constexpr std::string_view kBulkSenders[] = {
      "newsletter", "noreply", "no-reply", "no_reply",     "donotreply", "do-not-reply",
      "marketing",  "news",    "mailer",   "notification", "digest",     "promo"};
  static constexpr NeedleSet kBulkSendersSet(kBulkSenders);
  if (!kBulkSendersSet.FoundIn(local)) return false;
  std::string_view tail = body.size() > kBodyTail ? body.substr(body.size() - kBodyTail) : body;
  static constexpr std::string_view kUnsubscribe[] = {"unsubscribe", "opt out", "opt-out", "退订",
                                                      "取消订阅",    "退阅",    "取消訂閱"};
  static constexpr NeedleSet kUnsubscribeSet(kUnsubscribe);
  return kUnsubscribeSet.FoundIn(tail);
}

// Bytes of the chain of reply/forward prefixes at the very start of `subject`.
size_t ReplyPrefixChain(std::string_view subject);

}  // namespace

std::string_view MachineMadeReason(const v1::Email& email, const v1::Party& from,
                                   const google::protobuf::Map<std::string, std::string>& attrs,
                                   std::string_view body) {
  std::string_view subject = SkipOpeningBrackets(email.subject());
  if (IsCalendar(email, subject)) return "calendar";
  if (IsBounce(from, subject)) return "bounce";
  const MachineAttrs machine_attrs = FindMachineAttrs(attrs);
  if (IsAutoReply(email, machine_attrs, subject, body)) return "auto_reply";
  if (IsNewsletter(from, machine_attrs, body)) return "newsletter";
  return {};
}

size_t ReplyPrefixLength(std::string_view subject) {
  // A leading tag a mail gateway adds ("[EXTERNAL] RE: x", "【外部邮件】回复：x") is skipped.
  std::string_view trimmed = subject.substr(LeadingSpace(subject));
  if (!trimmed.empty() && (trimmed[0] == '[' || trimmed.starts_with("【"))) {
    bool ascii = trimmed[0] == '[';
    size_t close = trimmed.find(ascii ? "]" : "】");
    if (close != std::string_view::npos && close <= 40) {
      size_t offset = subject.size() - trimmed.size() + close + (ascii ? 1 : 3);
      size_t inner = ReplyPrefixChain(subject.substr(offset));
      return inner > 0 ? offset + inner : 0;
    }
  }
  return ReplyPrefixChain(subject);
}

namespace {

size_t ReplyPrefixChain(std::string_view subject) {
  static constexpr std::string_view kPrefixes[] = {"re",   "fw",   "fwd",  "aw",   "wg",
                                                   "sv",   "回复", "答复", "转发", "回覆",
                                                   "轉寄", "轉發", "转寄", "答覆", "回覆"};
  // Every match below starts with a prefix (MatchLabel or StartsWithNoCase).
  static constexpr FirstByteSet kFirstBytes(kPrefixes);
  size_t consumed = 0;
  while (true) {
    std::string_view rest = subject.substr(consumed);
    size_t lead = LeadingSpace(rest);
    rest.remove_prefix(lead);
    if (!kFirstBytes.MayStart(rest)) return consumed;
    const char first = AsciiLower(rest[0]);
    size_t matched = 0;
    for (std::string_view p : kPrefixes) {
      if (p[0] != first) continue;  // no match can start here (matched is still 0)
      matched = MatchLabel(rest, p);
      if (matched == 0 && StartsWithNoCase(rest, p) && rest.size() > p.size() &&
          rest[p.size()] == '[') {
        // "Re[2]:" / "RE[3]："
        size_t close = rest.find(']', p.size());
        if (close != std::string_view::npos && close < p.size() + 6) {
          size_t after = MatchLabel(rest.substr(close + 1), "");
          if (after > 0) matched = close + 1 + after;
        }
      }
      if (matched > 0) break;
    }
    if (matched == 0) return consumed;
    consumed += lead + matched;
  }
}

}  // namespace

bool IsChatAutoReply(std::string_view t) {
  std::string_view s = SkipOpeningBrackets(t);
  bool bracketed = s.size() != t.size();
  static constexpr std::string_view kBracketedStarts[] = {
      "自动回复",   "自動回覆",  "自动答复",       "auto reply",
      "auto-reply", "autoreply", "automatic reply"};
  static constexpr WordList kBracketedStartList(kBracketedStarts);
  if (bracketed && kBracketedStartList.StartOf(s)) return true;
  if (MatchLabel(t, "自动回复") > 0 || MatchLabel(t, "auto-reply") > 0 ||
      MatchLabel(t, "auto reply") > 0 || MatchLabel(t, "automatic reply") > 0) {
    return true;
  }
  std::string_view head = t.substr(0, kChatHead);
  static constexpr std::string_view kPhrases[] = {
      "我现在有事不在",        "我現在有事不在",
      "此消息为自动回复",      "本消息为自动回复",
      "这是一条自动回复",      "this is an automatic reply",
      "this is an auto-reply", "this is an automated reply"};
  static constexpr NeedleSet kPhraseSet(kPhrases);
  return kPhraseSet.FoundIn(head);
}

bool IsRecallNotice(std::string_view t) {
  if (t.size() > 300) return false;
  static constexpr std::string_view kPhrases[] = {"撤回了一条消息",
                                                  "撤回了一條訊息",
                                                  "撤回了一条信息",
                                                  "撤回了一條消息",
                                                  "recalled a message",
                                                  "message was recalled",
                                                  "message has been recalled",
                                                  "消息已撤回",
                                                  "此消息已撤回",
                                                  "unsent a message"};
  static constexpr NeedleSet kPhraseSet(kPhrases);
  return kPhraseSet.FoundIn(t);
}

}  // namespace autostage::text::internal
