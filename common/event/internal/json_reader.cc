#include "common/event/internal/json_reader.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/event/internal/errors.h"
#include "common/event/internal/rfc3339.h"
#include "common/status/status_macros.h"

namespace autostage::event::internal {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::key_value_pair;
using simdjson::dom::object;

std::string_view TypeName(element_type type) {
  switch (type) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

absl::Status WrongType(const Path& path, std::string_view expected, element value) {
  const std::string_view got = TypeName(value.type());
  return DecodeError(kReasonWrongType, path,
                     absl::StrCat("expected ", absl::string_view(expected.data(), expected.size()),
                                  ", got ", absl::string_view(got.data(), got.size())));
}

absl::Status Missing(const Path& path) {
  return DecodeError(kReasonMissingField, path, "required field missing");
}

bool IsNull(element value) { return value.type() == element_type::NULL_VALUE; }

// The type checks come first, so the simdjson getters below cannot fail.
absl::Status GetObject(element value, const Path& path, object* out) {
  if (value.get_object().get(*out) != simdjson::SUCCESS) return WrongType(path, "object", value);
  return absl::OkStatus();
}

absl::Status GetArray(element value, const Path& path, array* out) {
  if (value.get_array().get(*out) != simdjson::SUCCESS) return WrongType(path, "array", value);
  return absl::OkStatus();
}

absl::Status ReadString(element value, const Path& path, std::string* out) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return WrongType(path, "string", value);
  out->assign(text.data(), text.size());
  return absl::OkStatus();
}

absl::Status ReadInt(element value, const Path& path, int64_t* out) {
  switch (value.type()) {
    case element_type::INT64:
      if (value.get_int64().get(*out) != simdjson::SUCCESS) break;
      return absl::OkStatus();
    case element_type::UINT64:
      return DecodeError(kReasonInvalidValue, path, "integer out of range");
    default:
      break;
  }
  return WrongType(path, "integer", value);
}

absl::Status ReadBool(element value, const Path& path, bool* out) {
  if (value.get_bool().get(*out) != simdjson::SUCCESS) return WrongType(path, "boolean", value);
  return absl::OkStatus();
}

absl::Status ReadNumber(element value, const Path& path, double* out) {
  if (!value.is_number() || value.get_double().get(*out) != simdjson::SUCCESS) {
    return WrongType(path, "number", value);
  }
  return absl::OkStatus();
}

absl::Status ReadTimestamp(element value, const Path& path, google::protobuf::Timestamp* out) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return WrongType(path, "string", value);
  if (!ParseRfc3339(text, out)) {
    return DecodeError(kReasonInvalidValue, path,
                       absl::StrCat("not an RFC 3339 timestamp: ", Quote(text)));
  }
  return absl::OkStatus();
}

// Calls read(element, element_path) for each element of a JSON array (null = absent).
template <typename ReadElement>
absl::Status ForEachElement(element value, const Path& path, ReadElement read) {
  if (IsNull(value)) return absl::OkStatus();
  array elements;
  RETURN_IF_ERROR(GetArray(value, path, &elements));
  int64_t index = 0;
  for (element item : elements) {
    RETURN_IF_ERROR(read(item, Path(&path, index)));
    ++index;
  }
  return absl::OkStatus();
}

absl::Status ReadParty(element value, const Path& path, v1::Party* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "email") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_email()));
    } else if (field.key == "phone") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_phone()));
    } else if (field.key == "chat_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_chat_id()));
    } else if (field.key == "name") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_name()));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadParties(element value, const Path& path,
                         google::protobuf::RepeatedPtrField<v1::Party>* out) {
  out->Clear();
  return ForEachElement(value, path, [out](element item, const Path& item_path) {
    return ReadParty(item, item_path, out->Add());
  });
}

absl::Status ReadAttachment(element value, const Path& path, v1::Attachment* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_filename = false, has_content_type = false, has_size = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "filename") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_filename()));
      has_filename = true;
    } else if (field.key == "content_type") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_content_type()));
      has_content_type = true;
    } else if (field.key == "size_bytes") {
      int64_t size = 0;
      RETURN_IF_ERROR(ReadInt(field.value, child, &size));
      out->set_size_bytes(size);
      has_size = true;
    }
  }
  if (!has_filename) return Missing(Path(&path, "filename"));
  if (!has_content_type) return Missing(Path(&path, "content_type"));
  if (!has_size) return Missing(Path(&path, "size_bytes"));
  return absl::OkStatus();
}

absl::Status ReadEmail(element value, const Path& path, v1::Email* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_subject = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "subject") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_subject()));
      has_subject = true;
    } else if (field.key == "text") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_text()));
    } else if (field.key == "html") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_html()));
    } else if (field.key == "message_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_message_id()));
    } else if (field.key == "in_reply_to") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_in_reply_to()));
    } else if (field.key == "auto_submitted") {
      bool flag = false;
      RETURN_IF_ERROR(ReadBool(field.value, child, &flag));
      out->set_auto_submitted(flag);
    } else if (field.key == "attachments") {
      out->clear_attachments();
      RETURN_IF_ERROR(ForEachElement(field.value, child, [out](element item, const Path& p) {
        return ReadAttachment(item, p, out->add_attachments());
      }));
    }
  }
  if (!has_subject) return Missing(Path(&path, "subject"));
  return absl::OkStatus();
}

absl::Status ReadTurn(element value, const Path& path, v1::TranscriptTurn* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_speaker = false, has_text = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "speaker") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_speaker()));
      has_speaker = true;
    } else if (field.key == "text") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_text()));
      has_text = true;
    }
  }
  if (!has_speaker) return Missing(Path(&path, "speaker"));
  if (!has_text) return Missing(Path(&path, "text"));
  return absl::OkStatus();
}

absl::Status ReadCall(element value, const Path& path, v1::Call* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_duration = false, has_disposition = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "duration_s") {
      int64_t duration = 0;
      RETURN_IF_ERROR(ReadInt(field.value, child, &duration));
      out->set_duration_s(duration);
      has_duration = true;
    } else if (field.key == "disposition") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_disposition()));
      has_disposition = true;
    } else if (field.key == "transcript") {
      out->clear_transcript();
      RETURN_IF_ERROR(ForEachElement(field.value, child, [out](element item, const Path& p) {
        return ReadTurn(item, p, out->add_transcript());
      }));
    } else if (field.key == "notes") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_notes()));
    } else if (field.key == "recording_url") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_recording_url()));
    }
  }
  if (!has_duration) return Missing(Path(&path, "duration_s"));
  if (!has_disposition) return Missing(Path(&path, "disposition"));
  return absl::OkStatus();
}

absl::Status ReadChatMessage(element value, const Path& path, v1::ChatMessage* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_sender = false, has_text = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "sender") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_sender()));
      has_sender = true;
    } else if (field.key == "text") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_text()));
      has_text = true;
    } else if (field.key == "sent_at") {
      RETURN_IF_ERROR(ReadTimestamp(field.value, child, out->mutable_sent_at()));
    }
  }
  if (!has_sender) return Missing(Path(&path, "sender"));
  if (!has_text) return Missing(Path(&path, "text"));
  return absl::OkStatus();
}

absl::Status ReadChat(element value, const Path& path, v1::Chat* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  bool has_channel = false, has_messages = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&path, field.key);
    if (field.key == "channel") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_channel()));
      has_channel = true;
    } else if (field.key == "thread_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_thread_id()));
    } else if (field.key == "messages") {
      out->clear_messages();
      RETURN_IF_ERROR(ForEachElement(field.value, child, [out](element item, const Path& p) {
        return ReadChatMessage(item, p, out->add_messages());
      }));
      has_messages = true;
    }
  }
  if (!has_channel) return Missing(Path(&path, "channel"));
  if (!has_messages) return Missing(Path(&path, "messages"));
  return absl::OkStatus();
}

absl::Status ReadAttributes(element value, const Path& path,
                            google::protobuf::Map<std::string, std::string>* out) {
  object fields;
  RETURN_IF_ERROR(GetObject(value, path, &fields));
  out->clear();
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    std::string key(field.key.data(), field.key.size());
    RETURN_IF_ERROR(ReadString(field.value, Path(&path, field.key), &(*out)[key]));
  }
  return absl::OkStatus();
}

// The cleared sub-message `Has`/`Mutable` name, reusing `*spare` when the event has none.
template <typename Message, typename Has, typename SetAllocated, typename Mutable>
Message* Reuse(v1::Event* out, std::unique_ptr<Message>* spare, Has has, SetAllocated set_allocated,
               Mutable mutable_field) {
  if (!(out->*has)() && spare != nullptr && *spare != nullptr) {
    (out->*set_allocated)(spare->release());
  }
  Message* message = (out->*mutable_field)();
  message->Clear();
  return message;
}

}  // namespace

void EventParts::TakeFrom(v1::Event* event) {
  if (event->has_occurred_at()) occurred_at.reset(event->release_occurred_at());
  if (event->has_from()) from.reset(event->release_from());
  if (event->has_email()) email.reset(event->release_email());
  if (event->has_call()) call.reset(event->release_call());
  if (event->has_chat()) chat.reset(event->release_chat());
}

absl::Status ReadEventJson(element root, v1::Event* out, EventParts* spare) {
  const Path top;
  object fields;
  RETURN_IF_ERROR(GetObject(root, top, &fields));
  bool has_event_id = false, has_source = false, has_occurred_at = false, has_direction = false,
       has_from = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&top, field.key);
    const std::string_view key = field.key;
    if (key == "event_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_event_id()));
      has_event_id = true;
    } else if (key == "source") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_source()));
      has_source = true;
    } else if (key == "occurred_at") {
      RETURN_IF_ERROR(ReadTimestamp(
          field.value, child,
          Reuse(out, spare == nullptr ? nullptr : &spare->occurred_at, &v1::Event::has_occurred_at,
                &v1::Event::set_allocated_occurred_at, &v1::Event::mutable_occurred_at)));
      has_occurred_at = true;
    } else if (key == "opportunity_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_opportunity_id()));
    } else if (key == "direction") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_direction()));
      has_direction = true;
    } else if (key == "from") {
      RETURN_IF_ERROR(
          ReadParty(field.value, child,
                    Reuse(out, spare == nullptr ? nullptr : &spare->from, &v1::Event::has_from,
                          &v1::Event::set_allocated_from, &v1::Event::mutable_from)));
      has_from = true;
    } else if (key == "to") {
      RETURN_IF_ERROR(ReadParties(field.value, child, out->mutable_to()));
    } else if (key == "cc") {
      RETURN_IF_ERROR(ReadParties(field.value, child, out->mutable_cc()));
    } else if (key == "email") {
      RETURN_IF_ERROR(
          ReadEmail(field.value, child,
                    Reuse(out, spare == nullptr ? nullptr : &spare->email, &v1::Event::has_email,
                          &v1::Event::set_allocated_email, &v1::Event::mutable_email)));
    } else if (key == "call") {
      RETURN_IF_ERROR(
          ReadCall(field.value, child,
                   Reuse(out, spare == nullptr ? nullptr : &spare->call, &v1::Event::has_call,
                         &v1::Event::set_allocated_call, &v1::Event::mutable_call)));
    } else if (key == "chat") {
      RETURN_IF_ERROR(
          ReadChat(field.value, child,
                   Reuse(out, spare == nullptr ? nullptr : &spare->chat, &v1::Event::has_chat,
                         &v1::Event::set_allocated_chat, &v1::Event::mutable_chat)));
    } else if (key == "attributes") {
      RETURN_IF_ERROR(ReadAttributes(field.value, child, out->mutable_attributes()));
    }
  }
  if (!has_event_id) return Missing(Path(&top, "event_id"));
  if (!has_source) return Missing(Path(&top, "source"));
  if (!has_occurred_at) return Missing(Path(&top, "occurred_at"));
  if (!has_direction) return Missing(Path(&top, "direction"));
  if (!has_from) return Missing(Path(&top, "from"));
  return absl::OkStatus();
}

absl::Status ReadOpportunityJson(element root, v1::Opportunity* out) {
  const Path top;
  object fields;
  RETURN_IF_ERROR(GetObject(root, top, &fields));
  bool has_id = false, has_pipeline = false, has_stage = false, has_status = false,
       has_owner = false, has_updated_at = false;
  for (key_value_pair field : fields) {
    if (IsNull(field.value)) continue;
    const Path child(&top, field.key);
    const std::string_view key = field.key;
    if (key == "opportunity_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_opportunity_id()));
      has_id = true;
    } else if (key == "name") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_name()));
    } else if (key == "pipeline") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_pipeline()));
      has_pipeline = true;
    } else if (key == "stage") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_stage()));
      has_stage = true;
    } else if (key == "status") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_status()));
      has_status = true;
    } else if (key == "owner_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_owner_id()));
      has_owner = true;
    } else if (key == "team_id") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_team_id()));
    } else if (key == "amount") {
      double amount = 0;
      RETURN_IF_ERROR(ReadNumber(field.value, child, &amount));
      out->set_amount(amount);
    } else if (key == "currency") {
      RETURN_IF_ERROR(ReadString(field.value, child, out->mutable_currency()));
    } else if (key == "contacts") {
      object contacts;
      RETURN_IF_ERROR(GetObject(field.value, child, &contacts));
      v1::Contacts* target = out->mutable_contacts();
      target->Clear();
      for (key_value_pair list : contacts) {
        google::protobuf::RepeatedPtrField<std::string>* values = nullptr;
        if (list.key == "emails") {
          values = target->mutable_emails();
        } else if (list.key == "phones") {
          values = target->mutable_phones();
        } else if (list.key == "chat_ids") {
          values = target->mutable_chat_ids();
        } else {
          continue;
        }
        values->Clear();
        RETURN_IF_ERROR(ForEachElement(
            list.value, Path(&child, list.key),
            [values](element item, const Path& p) { return ReadString(item, p, values->Add()); }));
      }
    } else if (key == "updated_at") {
      RETURN_IF_ERROR(ReadTimestamp(field.value, child, out->mutable_updated_at()));
      has_updated_at = true;
    }
  }
  if (!has_id) return Missing(Path(&top, "opportunity_id"));
  if (!has_pipeline) return Missing(Path(&top, "pipeline"));
  if (!has_stage) return Missing(Path(&top, "stage"));
  if (!has_status) return Missing(Path(&top, "status"));
  if (!has_owner) return Missing(Path(&top, "owner_id"));
  if (!has_updated_at) return Missing(Path(&top, "updated_at"));
  return absl::OkStatus();
}

}  // namespace autostage::event::internal
