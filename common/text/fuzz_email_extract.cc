// libFuzzer target: Extract() on events built from arbitrary bytes. The input is split on
// 0x00 into fields: the first byte picks the source and direction, then subject / text / html /
// attachment name for email, transcript turns and notes for calls, messages for chats.
// Checks that every segment maps back into its field and every dropped range lies inside it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "autostage/v1/event.pb.h"
#include "common/text/extract.h"

namespace {

std::string_view FieldValue(const autostage::v1::Event& e, const std::string& field) {
  if (field == "email.subject") return e.email().subject();
  if (field == "email.text") return e.email().text();
  if (field == "email.html") return e.email().html();
  if (field == "call.notes") return e.call().notes();
  if (field == "call.disposition") return e.call().disposition();
  auto index = [&](size_t at) {
    return static_cast<int>(std::strtol(field.c_str() + at, nullptr, 10));
  };
  if (field.rfind("email.attachments[", 0) == 0) return e.email().attachments(index(18)).filename();
  if (field.rfind("call.transcript[", 0) == 0) return e.call().transcript(index(16)).text();
  if (field.rfind("chat.messages[", 0) == 0) return e.chat().messages(index(14)).text();
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= in.size() && parts.size() < 8) {
    size_t end = in.find('\0', pos);
    if (end == std::string_view::npos) end = in.size();
    parts.emplace_back(in.substr(pos, end - pos));
    pos = end + 1;
  }
  parts.resize(8);
  autostage::v1::Event e;
  static constexpr const char* kDirections[] = {"inbound", "outbound", "internal"};
  e.set_direction(kDirections[(data[0] >> 2) % 3]);
  switch (data[0] % 3) {
    case 0: {
      e.set_source("email");
      e.mutable_email()->set_subject(parts[0]);
      if (!parts[1].empty() || (data[0] & 0x20)) e.mutable_email()->set_text(parts[1]);
      if (!parts[2].empty()) e.mutable_email()->set_html(parts[2]);
      if (!parts[3].empty()) e.mutable_email()->add_attachments()->set_filename(parts[3]);
      e.mutable_email()->set_auto_submitted((data[0] & 0x40) != 0);
      e.mutable_from()->set_email(parts[4]);
      break;
    }
    case 1: {
      e.set_source("call");
      e.mutable_call()->set_disposition((data[0] & 0x80) ? "busy" : "answered");
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto* t = e.mutable_call()->add_transcript();
        t->set_speaker(i % 2 ? "rep" : "customer");
        t->set_text(parts[i]);
      }
      e.mutable_call()->set_notes(parts.back());
      break;
    }
    default: {
      e.set_source("chat");
      for (size_t i = 0; i < parts.size(); ++i) {
        auto* m = e.mutable_chat()->add_messages();
        m->set_sender(i % 2 ? "rep" : "customer");
        m->set_text(parts[i]);
      }
      break;
    }
  }
  autostage::text::Extraction x = autostage::text::Extract(e);
  if (!x.nothing_reason.empty() && !x.segments.empty()) std::abort();
  for (const auto& s : x.segments) {
    std::string_view field = FieldValue(e, s.field);
    size_t b = s.to_field.ToSource(0), end = s.to_field.ToSource(s.text.size());
    if (b > end || end > field.size()) std::abort();
    // Plain-text fields map byte for byte.
    if (s.field != "email.html" && field.substr(b, end - b) != s.text) std::abort();
  }
  for (const auto& d : x.dropped) {
    std::string_view field = FieldValue(e, d.field);
    if (d.begin > d.end || d.end > field.size()) std::abort();
  }
  return 0;
}
