// EventToJson / OpportunityToJson: a small writer for the fixed schema rather than protobuf's
// JSON printer, because proto3 JSON prints int64 as strings and omits empty required strings,
// and the canonical form (which DecodeEvent reads back) has integers as numbers.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/event/internal/rfc3339.h"
#include "common/event/internal/utf8.h"

namespace autostage::event {
namespace {

void AppendEscaped(std::string_view text, std::string* out) {
  constexpr std::string_view kHex = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (byte < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[byte >> 4]);
          out->push_back(kHex[byte & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() {
    Separate();
    out_->push_back('{');
    first_ = true;
  }
  void EndObject() {
    out_->push_back('}');
    first_ = false;
  }
  void BeginArray() {
    Separate();
    out_->push_back('[');
    first_ = true;
  }
  void EndArray() {
    out_->push_back(']');
    first_ = false;
  }
  // A key; the next value call writes its value.
  void Key(std::string_view key) {
    Separate();
    Quoted(key);
    out_->push_back(':');
    first_ = true;  // no comma between a key and its value
  }
  void String(std::string_view text) {
    Separate();
    Quoted(text);
  }
  void Int(int64_t value) {
    Separate();
    absl::StrAppend(out_, value);
  }
  void Double(double value) {
    Separate();
    std::array<char, 32> storage;
    char* const buffer = storage.data();
    char* const end = buffer + storage.size();
    auto result = std::to_chars(buffer, end, value);
    // Shortest form may be a long integer ("1835451035334115300000"); simdjson reads integers
    // beyond 64 bits as an error, so write those in scientific notation.
    if (std::string_view(buffer, static_cast<size_t>(result.ptr - buffer)).find_first_of(".e") ==
            std::string_view::npos &&
        result.ptr - buffer > 15) {
      result = std::to_chars(buffer, end, value, std::chars_format::scientific);
    }
    out_->append(buffer, result.ptr);
  }
  void Bool(bool value) {
    Separate();
    out_->append(value ? "true" : "false");
  }
  void Timestamp(const google::protobuf::Timestamp& ts) {
    Separate();
    out_->push_back('"');
    internal::AppendRfc3339(ts, out_);
    out_->push_back('"');
  }

  // Convenience for "key": value pairs.
  void Field(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
  void OptionalField(std::string_view key, const std::string& value) {
    if (!value.empty()) Field(key, value);
  }

 private:
  void Quoted(std::string_view text) {
    out_->push_back('"');
    if (internal::IsValidUtf8(text)) {
      AppendEscaped(text, out_);
    } else {
      // Replace each ill-formed byte with U+FFFD so the output stays valid JSON.
      while (!text.empty()) {
        const size_t bad = internal::FirstInvalidUtf8(text);
        AppendEscaped(text.substr(0, bad), out_);
        if (bad == std::string_view::npos) break;
        out_->append("\xEF\xBF\xBD");
        text.remove_prefix(bad + 1);
      }
    }
    out_->push_back('"');
  }

  void Separate() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }

  std::string* out_;
  bool first_ = true;
};

void WriteParty(const v1::Party& party, JsonWriter& w) {
  w.BeginObject();
  w.OptionalField("email", party.email());
  w.OptionalField("phone", party.phone());
  w.OptionalField("chat_id", party.chat_id());
  w.OptionalField("name", party.name());
  w.EndObject();
}

void WriteParties(std::string_view key,
                  const google::protobuf::RepeatedPtrField<v1::Party>& parties, JsonWriter& w) {
  if (parties.empty()) return;
  w.Key(key);
  w.BeginArray();
  for (const v1::Party& party : parties) WriteParty(party, w);
  w.EndArray();
}

void WriteEmail(const v1::Email& email, JsonWriter& w) {
  w.BeginObject();
  w.Field("subject", email.subject());
  if (email.has_text()) w.Field("text", email.text());
  if (email.has_html()) w.Field("html", email.html());
  w.OptionalField("message_id", email.message_id());
  w.OptionalField("in_reply_to", email.in_reply_to());
  if (email.auto_submitted()) {
    w.Key("auto_submitted");
    w.Bool(true);
  }
  if (!email.attachments().empty()) {
    w.Key("attachments");
    w.BeginArray();
    for (const v1::Attachment& attachment : email.attachments()) {
      w.BeginObject();
      w.Field("filename", attachment.filename());
      w.Field("content_type", attachment.content_type());
      w.Key("size_bytes");
      w.Int(attachment.size_bytes());
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

void WriteCall(const v1::Call& call, JsonWriter& w) {
  w.BeginObject();
  w.Key("duration_s");
  w.Int(call.duration_s());
  w.Field("disposition", call.disposition());
  if (!call.transcript().empty()) {
    w.Key("transcript");
    w.BeginArray();
    for (const v1::TranscriptTurn& turn : call.transcript()) {
      w.BeginObject();
      w.Field("speaker", turn.speaker());
      w.Field("text", turn.text());
      w.EndObject();
    }
    w.EndArray();
  }
  w.OptionalField("notes", call.notes());
  w.OptionalField("recording_url", call.recording_url());
  w.EndObject();
}

void WriteChat(const v1::Chat& chat, JsonWriter& w) {
  w.BeginObject();
  w.Field("channel", chat.channel());
  w.OptionalField("thread_id", chat.thread_id());
  w.Key("messages");
  w.BeginArray();
  for (const v1::ChatMessage& message : chat.messages()) {
    w.BeginObject();
    w.Field("sender", message.sender());
    w.Field("text", message.text());
    if (message.has_sent_at() && internal::IsValidTimestamp(message.sent_at())) {
      w.Key("sent_at");
      w.Timestamp(message.sent_at());
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void WriteStringList(std::string_view key,
                     const google::protobuf::RepeatedPtrField<std::string>& values, JsonWriter& w) {
  if (values.empty()) return;
  w.Key(key);
  w.BeginArray();
  for (const std::string& value : values) w.String(value);
  w.EndArray();
}

}  // namespace

std::string EventToJson(const v1::Event& event) {
  std::string out;
  out.reserve(256 + event.ByteSizeLong() * 5 / 4);
  JsonWriter w(&out);
  w.BeginObject();
  w.Field("event_id", event.event_id());
  w.Field("source", event.source());
  if (event.has_occurred_at() && internal::IsValidTimestamp(event.occurred_at())) {
    w.Key("occurred_at");
    w.Timestamp(event.occurred_at());
  }
  w.OptionalField("opportunity_id", event.opportunity_id());
  w.Field("direction", event.direction());
  if (event.has_from()) {
    w.Key("from");
    WriteParty(event.from(), w);
  }
  WriteParties("to", event.to(), w);
  WriteParties("cc", event.cc(), w);
  if (event.has_email()) {
    w.Key("email");
    WriteEmail(event.email(), w);
  }
  if (event.has_call()) {
    w.Key("call");
    WriteCall(event.call(), w);
  }
  if (event.has_chat()) {
    w.Key("chat");
    WriteChat(event.chat(), w);
  }
  if (!event.attributes().empty()) {
    w.Key("attributes");
    w.BeginObject();
    for (const auto& [key, value] : event.attributes()) w.Field(key, value);
    w.EndObject();
  }
  w.EndObject();
  return out;
}

std::string OpportunityToJson(const v1::Opportunity& opportunity) {
  std::string out;
  out.reserve(256 + opportunity.ByteSizeLong() * 5 / 4);
  JsonWriter w(&out);
  w.BeginObject();
  w.Field("opportunity_id", opportunity.opportunity_id());
  w.OptionalField("name", opportunity.name());
  w.Field("pipeline", opportunity.pipeline());
  w.Field("stage", opportunity.stage());
  w.Field("status", opportunity.status());
  w.Field("owner_id", opportunity.owner_id());
  w.OptionalField("team_id", opportunity.team_id());
  if (opportunity.amount() != 0 && std::isfinite(opportunity.amount())) {
    w.Key("amount");
    w.Double(opportunity.amount());
  }
  w.OptionalField("currency", opportunity.currency());
  if (opportunity.has_contacts()) {
    w.Key("contacts");
    w.BeginObject();
    WriteStringList("emails", opportunity.contacts().emails(), w);
    WriteStringList("phones", opportunity.contacts().phones(), w);
    WriteStringList("chat_ids", opportunity.contacts().chat_ids(), w);
    w.EndObject();
  }
  if (opportunity.has_updated_at() && internal::IsValidTimestamp(opportunity.updated_at())) {
    w.Key("updated_at");
    w.Timestamp(opportunity.updated_at());
  }
  w.EndObject();
  return out;
}

}  // namespace autostage::event
