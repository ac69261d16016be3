#include "common/event/internal/validate.h"

#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/event/internal/errors.h"
#include "common/event/internal/rfc3339.h"
#include "common/event/internal/utf8.h"
#include "common/status/status_macros.h"

namespace autostage::event::internal {
namespace {

constexpr size_t kMaxEventIdBytes = 256;

struct Context {
  const DecodeLimits& limits;
  const ValidateOptions& options;
  // Whether any per-string check (size, UTF-8) is on; when off, their calls are skipped.
  bool strings = options.check_utf8 || options.check_sizes;
};

// Size and UTF-8 of one string.
absl::Status CheckString(const Context& ctx, const std::string& value, const Path& path) {
  if (ctx.options.check_sizes && value.size() > ctx.limits.max_text_field_bytes) {
    return DecodeError(
        kReasonTooLarge, path,
        absl::StrCat(value.size(), " bytes exceeds limit of ", ctx.limits.max_text_field_bytes));
  }
  if (ctx.options.check_utf8 && !IsValidUtf8(value)) {
    return DecodeError(kReasonInvalidUtf8, path,
                       absl::StrCat("invalid UTF-8 at byte ", FirstInvalidUtf8(value)));
  }
  return absl::OkStatus();
}

absl::Status Missing(const Path& path) {
  return DecodeError(kReasonMissingField, path, "required field missing");
}

// A required string that must not be empty. In JSON an empty value was present, so it is an
// invalid value; in protobuf it is indistinguishable from absent.
absl::Status CheckNonEmpty(const Context& ctx, const std::string& value, const Path& path) {
  if (!value.empty()) return absl::OkStatus();
  if (ctx.options.from_json) return DecodeError(kReasonInvalidValue, path, "must not be empty");
  return Missing(path);
}

// A required string holding one of `allowed`.
absl::Status CheckEnum(const Context& ctx, const std::string& value, const Path& path,
                       std::initializer_list<std::string_view> allowed) {
  if (value.empty() && !ctx.options.from_json) return Missing(path);
  for (std::string_view candidate : allowed) {
    if (value == candidate) return absl::OkStatus();
  }
  std::string expected;
  size_t i = 0;
  for (std::string_view candidate : allowed) {
    if (i > 0) expected += i + 1 == allowed.size() ? " or " : ", ";
    absl::StrAppend(&expected, "\"", absl::string_view(candidate.data(), candidate.size()), "\"");
    ++i;
  }
  return DecodeError(kReasonInvalidValue, path,
                     absl::StrCat("expected ", expected, ", got ", Quote(value)));
}

absl::Status CheckTimestamp(const google::protobuf::Timestamp& ts, const Path& path) {
  if (!IsValidTimestamp(ts)) {
    return DecodeError(kReasonInvalidValue, path, "timestamp outside 0001-01-01..9999-12-31");
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(int64_t value, const Path& path) {
  if (value < 0) {
    return DecodeError(kReasonInvalidValue, path, absl::StrCat("must be >= 0, got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckPartyStrings(const Context& ctx, const v1::Party& party, const Path& path) {
  RETURN_IF_ERROR(CheckString(ctx, party.email(), Path(&path, "email")));
  RETURN_IF_ERROR(CheckString(ctx, party.phone(), Path(&path, "phone")));
  RETURN_IF_ERROR(CheckString(ctx, party.chat_id(), Path(&path, "chat_id")));
  RETURN_IF_ERROR(CheckString(ctx, party.name(), Path(&path, "name")));
  return absl::OkStatus();
}

absl::Status CheckParties(const Context& ctx,
                          const google::protobuf::RepeatedPtrField<v1::Party>& parties,
                          const Path& path) {
  for (int i = 0; i < parties.size(); ++i) {
    RETURN_IF_ERROR(CheckPartyStrings(ctx, parties[i], Path(&path, int64_t{i})));
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(const Context& ctx, const v1::Email& email, const Path& path) {
  if (ctx.strings) {
    RETURN_IF_ERROR(CheckString(ctx, email.subject(), Path(&path, "subject")));
    RETURN_IF_ERROR(CheckString(ctx, email.text(), Path(&path, "text")));
    RETURN_IF_ERROR(CheckString(ctx, email.html(), Path(&path, "html")));
    RETURN_IF_ERROR(CheckString(ctx, email.message_id(), Path(&path, "message_id")));
    RETURN_IF_ERROR(CheckString(ctx, email.in_reply_to(), Path(&path, "in_reply_to")));
  }
  const Path attachments(&path, "attachments");
  for (int i = 0; i < email.attachments_size(); ++i) {
    const v1::Attachment& attachment = email.attachments(i);
    const Path element(&attachments, int64_t{i});
    if (ctx.strings) {
      RETURN_IF_ERROR(CheckString(ctx, attachment.filename(), Path(&element, "filename")));
      RETURN_IF_ERROR(CheckString(ctx, attachment.content_type(), Path(&element, "content_type")));
    }
    RETURN_IF_ERROR(CheckNonNegative(attachment.size_bytes(), Path(&element, "size_bytes")));
  }
  if (!email.has_text() && !email.has_html()) {
    return DecodeError(kReasonMissingField, path, "needs text or html");
  }
  return absl::OkStatus();
}

absl::Status CheckCall(const Context& ctx, const v1::Call& call, const Path& path) {
  const Path transcript(&path, "transcript");
  if (ctx.strings) {
    RETURN_IF_ERROR(CheckString(ctx, call.disposition(), Path(&path, "disposition")));
    RETURN_IF_ERROR(CheckString(ctx, call.notes(), Path(&path, "notes")));
    RETURN_IF_ERROR(CheckString(ctx, call.recording_url(), Path(&path, "recording_url")));
    for (int i = 0; i < call.transcript_size(); ++i) {
      const Path element(&transcript, int64_t{i});
      RETURN_IF_ERROR(CheckString(ctx, call.transcript(i).speaker(), Path(&element, "speaker")));
      RETURN_IF_ERROR(CheckString(ctx, call.transcript(i).text(), Path(&element, "text")));
    }
  }
  RETURN_IF_ERROR(CheckNonNegative(call.duration_s(), Path(&path, "duration_s")));
  RETURN_IF_ERROR(CheckEnum(ctx, call.disposition(), Path(&path, "disposition"),
                            {"answered", "no_answer", "busy", "voicemail", "failed"}));
  for (int i = 0; i < call.transcript_size(); ++i) {
    const Path element(&transcript, int64_t{i});
    RETURN_IF_ERROR(CheckEnum(ctx, call.transcript(i).speaker(), Path(&element, "speaker"),
                              {"customer", "rep"}));
  }
  return absl::OkStatus();
}

absl::Status CheckChat(const Context& ctx, const v1::Chat& chat, const Path& path) {
  const Path messages(&path, "messages");
  if (ctx.strings) {
    RETURN_IF_ERROR(CheckString(ctx, chat.channel(), Path(&path, "channel")));
    RETURN_IF_ERROR(CheckString(ctx, chat.thread_id(), Path(&path, "thread_id")));
    for (int i = 0; i < chat.messages_size(); ++i) {
      const Path element(&messages, int64_t{i});
      RETURN_IF_ERROR(CheckString(ctx, chat.messages(i).sender(), Path(&element, "sender")));
      RETURN_IF_ERROR(CheckString(ctx, chat.messages(i).text(), Path(&element, "text")));
    }
  }
  RETURN_IF_ERROR(CheckNonEmpty(ctx, chat.channel(), Path(&path, "channel")));
  for (int i = 0; i < chat.messages_size(); ++i) {
    const v1::ChatMessage& message = chat.messages(i);
    const Path element(&messages, int64_t{i});
    RETURN_IF_ERROR(
        CheckEnum(ctx, message.sender(), Path(&element, "sender"), {"customer", "rep"}));
    if (message.has_sent_at()) {
      RETURN_IF_ERROR(CheckTimestamp(message.sent_at(), Path(&element, "sent_at")));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAttributes(const Context& ctx,
                             const google::protobuf::Map<std::string, std::string>& attributes,
                             const Path& path) {
  for (const auto& [key, value] : attributes) {
    if (ctx.options.check_sizes && key.size() > ctx.limits.max_text_field_bytes) {
      return DecodeError(kReasonTooLarge, path,
                         absl::StrCat("key of ", key.size(), " bytes exceeds limit of ",
                                      ctx.limits.max_text_field_bytes));
    }
    if (ctx.options.check_utf8 && !IsValidUtf8(key)) {
      return DecodeError(kReasonInvalidUtf8, path,
                         absl::StrCat("invalid UTF-8 in a key at byte ", FirstInvalidUtf8(key)));
    }
    RETURN_IF_ERROR(CheckString(ctx, value, Path(&path, key)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEvent(const v1::Event& event, const DecodeLimits& limits,
                        const ValidateOptions& options) {
  const Context ctx{limits, options};
  const Path root;
  // Bytes first (sizes, UTF-8), then meaning.
  if (ctx.strings) {
    RETURN_IF_ERROR(CheckString(ctx, event.event_id(), Path(&root, "event_id")));
    RETURN_IF_ERROR(CheckString(ctx, event.source(), Path(&root, "source")));
    RETURN_IF_ERROR(CheckString(ctx, event.opportunity_id(), Path(&root, "opportunity_id")));
    RETURN_IF_ERROR(CheckString(ctx, event.direction(), Path(&root, "direction")));
    RETURN_IF_ERROR(CheckPartyStrings(ctx, event.from(), Path(&root, "from")));
    RETURN_IF_ERROR(CheckParties(ctx, event.to(), Path(&root, "to")));
    RETURN_IF_ERROR(CheckParties(ctx, event.cc(), Path(&root, "cc")));
    RETURN_IF_ERROR(CheckAttributes(ctx, event.attributes(), Path(&root, "attributes")));
  }

  const Path event_id(&root, "event_id");
  if (event.event_id().empty() && !options.from_json) return Missing(event_id);
  if (event.event_id().empty() || event.event_id().size() > kMaxEventIdBytes) {
    return DecodeError(
        kReasonInvalidValue, event_id,
        absl::StrCat("length must be 1..", kMaxEventIdBytes, ", got ", event.event_id().size()));
  }
  RETURN_IF_ERROR(CheckEnum(ctx, event.source(), Path(&root, "source"), {"email", "call", "chat"}));
  const Path occurred_at(&root, "occurred_at");
  if (!event.has_occurred_at()) return Missing(occurred_at);
  RETURN_IF_ERROR(CheckTimestamp(event.occurred_at(), occurred_at));
  RETURN_IF_ERROR(CheckEnum(ctx, event.direction(), Path(&root, "direction"),
                            {"inbound", "outbound", "internal"}));
  if (!event.has_from()) return Missing(Path(&root, "from"));

  const Path email(&root, "email");
  const Path call(&root, "call");
  const Path chat(&root, "chat");
  if (event.source() == "email" && !event.has_email()) {
    return DecodeError(kReasonMissingField, email, "required when source is \"email\"");
  }
  if (event.source() == "call" && !event.has_call()) {
    return DecodeError(kReasonMissingField, call, "required when source is \"call\"");
  }
  if (event.source() == "chat" && !event.has_chat()) {
    return DecodeError(kReasonMissingField, chat, "required when source is \"chat\"");
  }
  if (event.has_email()) RETURN_IF_ERROR(CheckEmail(ctx, event.email(), email));
  if (event.has_call()) RETURN_IF_ERROR(CheckCall(ctx, event.call(), call));
  if (event.has_chat()) RETURN_IF_ERROR(CheckChat(ctx, event.chat(), chat));
  return absl::OkStatus();
}

absl::Status CheckOpportunity(const v1::Opportunity& opportunity, const DecodeLimits& limits,
                              const ValidateOptions& options) {
  const Context ctx{limits, options};
  const Path root;
  RETURN_IF_ERROR(CheckString(ctx, opportunity.opportunity_id(), Path(&root, "opportunity_id")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.name(), Path(&root, "name")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.pipeline(), Path(&root, "pipeline")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.stage(), Path(&root, "stage")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.status(), Path(&root, "status")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.owner_id(), Path(&root, "owner_id")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.team_id(), Path(&root, "team_id")));
  RETURN_IF_ERROR(CheckString(ctx, opportunity.currency(), Path(&root, "currency")));
  const Path contacts(&root, "contacts");
  const auto check_list = [&](const google::protobuf::RepeatedPtrField<std::string>& values,
                              std::string_view name) -> absl::Status {
    const Path list(&contacts, name);
    for (int i = 0; i < values.size(); ++i) {
      RETURN_IF_ERROR(CheckString(ctx, values[i], Path(&list, int64_t{i})));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(check_list(opportunity.contacts().emails(), "emails"));
  RETURN_IF_ERROR(check_list(opportunity.contacts().phones(), "phones"));
  RETURN_IF_ERROR(check_list(opportunity.contacts().chat_ids(), "chat_ids"));

  RETURN_IF_ERROR(CheckNonEmpty(ctx, opportunity.opportunity_id(), Path(&root, "opportunity_id")));
  RETURN_IF_ERROR(CheckNonEmpty(ctx, opportunity.pipeline(), Path(&root, "pipeline")));
  RETURN_IF_ERROR(CheckNonEmpty(ctx, opportunity.stage(), Path(&root, "stage")));
  RETURN_IF_ERROR(
      CheckEnum(ctx, opportunity.status(), Path(&root, "status"), {"open", "won", "lost"}));
  RETURN_IF_ERROR(CheckNonEmpty(ctx, opportunity.owner_id(), Path(&root, "owner_id")));
  if (!std::isfinite(opportunity.amount())) {
    return DecodeError(kReasonInvalidValue, Path(&root, "amount"), "must be a finite number");
  }
  const Path updated_at(&root, "updated_at");
  if (!opportunity.has_updated_at()) return Missing(updated_at);
  RETURN_IF_ERROR(CheckTimestamp(opportunity.updated_at(), updated_at));
  return absl::OkStatus();
}

}  // namespace autostage::event::internal
