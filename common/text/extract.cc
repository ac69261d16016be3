#include "common/text/extract.h"

#include <charconv>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/text/html_to_text.h"
#include "common/text/internal/email_body.h"
#include "common/text/internal/email_machine.h"
#include "common/text/internal/email_util.h"

namespace autostage::text {
namespace {

using internal::Trim;

// A new last segment of `out`: a spare one (its strings keep their capacity) when there is one.
// Its text, field and map must all be overwritten.
Segment& NewSegment(Extraction& out) {
  if (out.spare_segments.empty()) return out.segments.emplace_back();
  out.segments.push_back(std::move(out.spare_segments.back()));
  out.spare_segments.pop_back();
  return out.segments.back();
}

// Appends a segment for field[begin, end) verbatim.
void AddSlice(Extraction& out, std::string_view field_value, size_t begin, size_t end,
              Speaker speaker, SegmentKind kind, const std::string& field) {
  if (end <= begin) return;
  Segment& seg = NewSegment(out);
  seg.text.assign(field_value.substr(begin, end - begin));
  seg.speaker = speaker;
  seg.kind = kind;
  seg.field.assign(field);
  // Identity map of the substring, shifted by `begin`.
  seg.to_field.Clear();
  if (begin > 0) seg.to_field.AddAnchor(0, begin);
  seg.to_field.SetEnd(end - begin, end);
}

// Trims `value` and appends it as one segment (nothing when blank).
void AddTrimmed(Extraction& out, std::string_view value, Speaker speaker, SegmentKind kind,
                const std::string& field) {
  size_t lead = internal::LeadingSpace(value);
  if (lead == value.size()) return;
  AddSlice(out, value, lead, value.size() - internal::TrailingSpace(value), speaker, kind, field);
}

// Sets `field` to prefix + decimal index + suffix ("chat.messages[3].text") in place: the
// buffer's capacity is reused from message to message, with no formatting machinery.
void SetIndexedField(std::string& field, std::string_view prefix, int index,
                     std::string_view suffix) {
  char digits[16];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), index);
  field.assign(prefix.data(), prefix.size());
  field.append(digits, end);
  field.append(suffix.data(), suffix.size());
}

void DropWhole(Extraction& out, std::string field, size_t length, std::string_view format) {
  out.dropped.push_back({std::move(field), 0, length, format});
}

Speaker DirectionSpeaker(std::string_view direction) {
  return direction == "inbound" ? Speaker::kCustomer : Speaker::kRep;
}

// ---- email ----

void ExtractEmail(const v1::Event& event, const ExtractOptions& options, Extraction& out) {
  const v1::Email& email = event.email();
  Speaker speaker = DirectionSpeaker(event.direction());

  // The plain-text part when it has content, else the HTML part.
  bool use_html = !(email.has_text() && !Trim(email.text()).empty()) && email.has_html();
  std::string body_field = use_html ? "email.html" : "email.text";
  std::string_view field_value = use_html ? std::string_view(email.html()) : email.text();
  HtmlText html;
  std::string_view body = field_value;
  if (use_html) {
    html = HtmlToText(field_value, options.max_html_depth);
    body = html.text;
  }

  std::string_view reason =
      internal::MachineMadeReason(email, event.from(), event.attributes(), body);
  if (!reason.empty()) {
    out.nothing_reason.assign(reason);
    DropWhole(out, body_field, field_value.size(), reason);
    return;
  }

  // Subject: a reply/forward subject is the old thread's subject, not new content.
  std::string_view subject = email.subject();
  if (!Trim(subject).empty()) {
    if (internal::ReplyPrefixLength(subject) > 0) {
      DropWhole(out, "email.subject", subject.size(), "reply_subject");
    } else {
      AddTrimmed(out, subject, speaker, SegmentKind::kSubject, "email.subject");
    }
  }

  std::vector<internal::FormatSpan> quoted;
  quoted.reserve(html.quoted.size());
  for (const HtmlText::QuotedRange& q : html.quoted) quoted.push_back({q.begin, q.end, q.format});
  internal::BodySplit split = internal::SplitEmailBody(body, quoted);

  auto to_field = [&](size_t text_offset) {
    return use_html ? html.to_html.ToSource(text_offset) : text_offset;
  };
  for (const internal::TextSpan& span : split.kept) {
    if (!use_html) {
      AddSlice(out, body, span.begin, span.end, speaker, SegmentKind::kBody, body_field);
      continue;
    }
    Segment& seg = NewSegment(out);
    seg.text.assign(body.substr(span.begin, span.end - span.begin));
    seg.speaker = speaker;
    seg.kind = SegmentKind::kBody;
    seg.field.assign(body_field);
    seg.to_field = MapTextRange(html, span.begin, span.end);
  }
  for (const internal::FormatSpan& d : split.dropped) {
    out.dropped.push_back({body_field, to_field(d.begin), to_field(d.end), d.format});
  }
  for (const HtmlText::HtmlRange& r : html.scripts_and_styles) {
    out.dropped.push_back({body_field, r.begin, r.end, "html_script_style"});
  }

  for (int i = 0; i < email.attachments_size(); ++i) {
    AddTrimmed(out, email.attachments(i).filename(), speaker, SegmentKind::kAttachmentName,
               absl::StrCat("email.attachments[", i, "].filename"));
  }
}

// ---- call ----

void ExtractCall(const v1::Event& event, Extraction& out) {
  const v1::Call& call = event.call();
  if (call.disposition() != "answered") {
    out.nothing_reason = "call_not_answered";
    DropWhole(out, "call.disposition", call.disposition().size(), "call_disposition");
    return;
  }
  std::string field;  // one buffer for every turn's field name (AddTrimmed copies it)
  for (int i = 0; i < call.transcript_size(); ++i) {
    const v1::TranscriptTurn& turn = call.transcript(i);
    Speaker speaker = turn.speaker() == "rep" ? Speaker::kRep : Speaker::kCustomer;
    SetIndexedField(field, "call.transcript[", i, "].text");
    AddTrimmed(out, turn.text(), speaker, SegmentKind::kBody, field);
  }
  // Notes are written by the rep but record what the customer said (rule 8).
  AddTrimmed(out, call.notes(), Speaker::kCustomer, SegmentKind::kBody, "call.notes");
}

// ---- chat ----

// Bytes of a voice-to-text tag at the start of `t` ("[语音转文字] ", "【语音转文字】："), or 0.
size_t VoiceTagLength(std::string_view t) {
  static constexpr std::string_view kTags[] = {
      "[语音转文字]",     "【语音转文字】",     "[语音转文本]",    "【语音转文本】",
      "[語音轉文字]",     "【語音轉文字】",     "[voice to text]", "[voice-to-text]",
      "[speech to text]", "[voice transcript]", "[语音]",          "【语音】"};
  if (t.empty() || (t[0] != '[' && !t.starts_with("【"))) return 0;
  for (std::string_view tag : kTags) {
    if (!internal::StartsWithNoCase(t, tag)) continue;
    size_t n = tag.size();
    n += internal::LeadingSpace(t.substr(n));
    if (t.substr(n, 1) == ":") {
      ++n;
    } else if (t.substr(n, 3) == "\xEF\xBC\x9A") {
      n += 3;
    }
    return n + internal::LeadingSpace(t.substr(n));
  }
  return 0;
}

// File placeholders: "[文件: x.pdf]", "[文件：x.pdf]", "[File: x.pdf]", "[文件] x.pdf",
// "【文件】x.pdf". Appends one kAttachmentName segment per file name found in `text`.
void AddFilePlaceholders(Extraction& out, std::string_view text, Speaker speaker,
                         const std::string& field) {
  static constexpr std::string_view kWords[] = {"文件", "file", "附件", "attachment",
                                                "文檔", "文档", "檔案"};
  size_t i = 0;
  while (i < text.size()) {
    size_t open_len = 0;
    // Only '[' and the lead byte of '【' (E3 80 90) can open a placeholder.
    if (text[i] != '[' && text[i] != '\xE3') {
      ++i;
      continue;
    }
    if (text[i] == '[') {
      open_len = 1;
    } else if (text.substr(i, 3) == "【") {
      open_len = 3;
    } else {
      ++i;
      continue;
    }
    size_t p = i + open_len;
    size_t line_end = text.find('\n', p);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view rest = text.substr(p, line_end - p);
    size_t word_len = 0;
    for (std::string_view w : kWords) {
      if (internal::StartsWithNoCase(rest, w)) {
        word_len = w.size();
        break;
      }
    }
    if (word_len == 0) {
      i = p;
      continue;
    }
    size_t k = word_len + internal::LeadingSpace(rest.substr(word_len));
    size_t name_begin = 0, name_end = 0;
    if (rest.substr(k, 1) == ":" || rest.substr(k, 3) == "\xEF\xBC\x9A") {
      name_begin = k + (rest[k] == ':' ? 1 : 3);
      size_t close = rest.find(']', name_begin);
      size_t close_zh = rest.find("】", name_begin);
      name_end = std::min(close, close_zh);
      if (name_end == std::string_view::npos) name_end = rest.size();
    } else if (rest.substr(k, 1) == "]" || rest.substr(k, 3) == "】") {
      name_begin = k + (rest[k] == ']' ? 1 : 3);
      name_end = rest.size();
    } else {
      i = p;
      continue;
    }
    std::string_view name = rest.substr(name_begin, name_end - name_begin);
    size_t lead = internal::LeadingSpace(name);
    if (lead < name.size()) {
      size_t begin = p + name_begin + lead;
      size_t end = p + name_end - internal::TrailingSpace(name);
      AddSlice(out, text, begin, end, speaker, SegmentKind::kAttachmentName, field);
    }
    i = p + name_end;
  }
}

void ExtractChat(const v1::Event& event, Extraction& out) {
  const v1::Chat& chat = event.chat();
  bool any_auto = false, any_recall = false;
  std::string field;  // one buffer for every message's field name (segments copy it)
  for (int i = 0; i < chat.messages_size(); ++i) {
    const v1::ChatMessage& msg = chat.messages(i);
    std::string_view text = msg.text();
    SetIndexedField(field, "chat.messages[", i, "].text");
    Speaker speaker = msg.sender() == "rep" ? Speaker::kRep : Speaker::kCustomer;
    size_t lead = internal::LeadingSpace(text);
    if (lead == text.size()) continue;
    size_t end = text.size() - internal::TrailingSpace(text);
    std::string_view trimmed = text.substr(lead, end - lead);
    if (internal::IsRecallNotice(trimmed)) {
      any_recall = true;
      DropWhole(out, field, text.size(), "recalled_message");
      continue;
    }
    if (internal::IsChatAutoReply(trimmed)) {
      any_auto = true;
      DropWhole(out, field, text.size(), "auto_reply");
      continue;
    }
    // A voice-to-text message is the sender's words: only the tag goes.
    size_t voice = VoiceTagLength(trimmed);
    if (voice > 0) out.dropped.push_back({field, lead, lead + voice, "voice_tag"});
    AddSlice(out, text, lead + voice, end, speaker, SegmentKind::kBody, field);
    AddFilePlaceholders(out, text, speaker, field);
  }
  if (out.segments.empty() && (any_auto || any_recall)) {
    out.nothing_reason = any_auto ? "auto_reply" : "recalled_message";
  }
}

}  // namespace

Extraction Extract(const v1::Event& event, const ExtractOptions& options) {
  Extraction out;
  ExtractInto(event, options, &out);
  return out;
}

void ExtractInto(const v1::Event& event, const ExtractOptions& options, Extraction* out) {
  // Moving a segment keeps its strings' buffers: they wait in the spares for the next one.
  for (Segment& segment : out->segments) out->spare_segments.push_back(std::move(segment));
  out->segments.clear();
  out->dropped.clear();
  out->nothing_reason.clear();
  const std::string& source = event.source();
  if (source == "email") {
    ExtractEmail(event, options, *out);
  } else if (source == "call") {
    ExtractCall(event, *out);
  } else if (source == "chat") {
    ExtractChat(event, *out);
  }
}

}  // namespace autostage::text
