#include "common/event/decode.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace autostage::event {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// A valid event of each source, ASCII only, in canonical JSON.
constexpr std::string_view kEmailEvent =
    R"({"event_id":"ev-1","source":"email","occurred_at":"2025-03-03T10:12:10+08:00",)"
    R"("opportunity_id":"opp-1","direction":"inbound",)"
    R"("from":{"email":"a@customer.com","name":"A"},"to":[{"email":"rep@seller.com"}],)"
    R"("email":{"subject":"Hello","text":"Body text","message_id":"<m1@customer.com>"},)"
    R"("attributes":{"mailbox":"sales"}})";
constexpr std::string_view kCallEvent =
    R"({"event_id":"ev-2","source":"call","occurred_at":"2025-03-04T09:48:54Z",)"
    R"("direction":"inbound","from":{"phone":"+8613820196634"},)"
    R"("call":{"duration_s":402,"disposition":"answered","transcript":[)"
    R"({"speaker":"customer","text":"hello"},{"speaker":"rep","text":"hi"}],"notes":"n"}})";
constexpr std::string_view kChatEvent =
    R"({"event_id":"ev-3","source":"chat","occurred_at":"2025-03-03T10:12:10.250+08:00",)"
    R"("direction":"inbound","from":{"chat_id":"wm1"},)"
    R"("chat":{"channel":"wecom","thread_id":"t1","messages":[)"
    R"({"sender":"customer","text":"one","sent_at":"2025-03-03T10:08:51+08:00"},)"
    R"({"sender":"rep","text":"two"},{"sender":"customer","text":"three"}]}})";
constexpr std::string_view kOpportunity =
    R"({"opportunity_id":"opp-1","name":"n","pipeline":"b2b_standard","stage":"proposal",)"
    R"("status":"open","owner_id":"rep-zhang","team_id":"east","amount":3260000.5,)"
    R"("currency":"CNY","contacts":{"emails":["a@customer.com"],"phones":["+8613962145587"],)"
    R"("chat_ids":["wm1"]},"updated_at":"2025-02-24T16:40:12+08:00"})";

// `json` with the single occurrence of `from` replaced by `to`.
std::string Replace(std::string_view json, std::string_view from, std::string_view to) {
  std::string out(json);
  const size_t at = out.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: " << from << " not in " << json;
  EXPECT_EQ(out.find(from, at + 1), std::string::npos) << "test bug: " << from << " twice";
  if (at != std::string::npos) out.replace(at, from.size(), to);
  return out;
}

void ExpectError(const absl::Status& status, std::string_view reason, std::string_view text) {
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(ReasonOf(status), reason) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(std::string(text)));
}

absl::Status JsonEventStatus(std::string_view json, const DecodeLimits& limits = {}) {
  return DecodeEvent(json, Encoding::kJson, limits).status();
}

absl::Status JsonOpportunityStatus(std::string_view json) {
  return DecodeOpportunity(json, Encoding::kJson).status();
}

v1::Event MustDecode(std::string_view json) {
  absl::StatusOr<v1::Event> event = DecodeEvent(json, Encoding::kJson);
  EXPECT_TRUE(event.ok()) << event.status();
  return event.ok() ? *std::move(event) : v1::Event();
}

std::vector<std::string> ReadLines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::filesystem::path DevCorpus() {
  const char* source_dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source_dir == nullptr) return {};
  return std::filesystem::path(source_dir) / ".." / "shared" / "corpus" / "dev";
}

// ---- corpus ----------------------------------------------------------------------------------

TEST(DecodeCorpusTest, EveryDevEventDecodesAndRoundTrips) {
  const std::filesystem::path corpus = DevCorpus();
  if (corpus.empty() || !std::filesystem::exists(corpus / "events.jsonl")) {
    GTEST_SKIP() << "dev corpus not found (expected $AUTOSTAGE_SOURCE_DIR/../shared/corpus/dev)";
  }
  const std::vector<std::string> lines = ReadLines(corpus / "events.jsonl");
  ASSERT_FALSE(lines.empty());
  Decoder decoder;
  for (const std::string& line : lines) {
    absl::StatusOr<v1::Event> event = DecodeEvent(line, Encoding::kJson);
    ASSERT_TRUE(event.ok()) << event.status() << "\n" << line;
    EXPECT_FALSE(event->event_id().empty());
    EXPECT_TRUE(event->has_email() || event->has_call() || event->has_chat()) << line;

    // JSON -> proto -> binary -> proto.
    const std::string binary = event->SerializeAsString();
    absl::StatusOr<v1::Event> from_binary = DecodeEvent(binary, Encoding::kProtobuf);
    ASSERT_TRUE(from_binary.ok()) << from_binary.status() << "\n" << line;
    EXPECT_TRUE(MessageDifferencer::Equals(*event, *from_binary)) << line;

    // proto -> canonical JSON -> proto, through a reused decoder.
    absl::StatusOr<v1::Event> from_json = decoder.DecodeEvent(EventToJson(*event), Encoding::kJson);
    ASSERT_TRUE(from_json.ok()) << from_json.status() << "\n" << EventToJson(*event);
    EXPECT_TRUE(MessageDifferencer::Equals(*event, *from_json)) << line;
  }
}

TEST(DecodeCorpusTest, EveryDevOpportunityDecodesAndRoundTrips) {
  const std::filesystem::path corpus = DevCorpus();
  if (corpus.empty() || !std::filesystem::exists(corpus / "opportunities.jsonl")) {
    GTEST_SKIP() << "dev corpus not found (expected $AUTOSTAGE_SOURCE_DIR/../shared/corpus/dev)";
  }
  const std::vector<std::string> lines = ReadLines(corpus / "opportunities.jsonl");
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    absl::StatusOr<v1::Opportunity> opportunity = DecodeOpportunity(line, Encoding::kJson);
    ASSERT_TRUE(opportunity.ok()) << opportunity.status() << "\n" << line;
    absl::StatusOr<v1::Opportunity> from_binary =
        DecodeOpportunity(opportunity->SerializeAsString(), Encoding::kProtobuf);
    ASSERT_TRUE(from_binary.ok()) << from_binary.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*opportunity, *from_binary)) << line;
    absl::StatusOr<v1::Opportunity> from_json =
        DecodeOpportunity(OpportunityToJson(*opportunity), Encoding::kJson);
    ASSERT_TRUE(from_json.ok()) << from_json.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*opportunity, *from_json)) << line;
  }
}

// ---- field mapping ---------------------------------------------------------------------------

TEST(DecodeEventTest, MapsEveryEmailField) {
  const v1::Event event = MustDecode(
      R"({"event_id":"e","source":"email","occurred_at":"2025-03-03T10:12:10+08:00",)"
      R"("opportunity_id":"o","direction":"outbound",)"
      R"("from":{"email":"f@x","phone":"+1","chat_id":"c","name":"F"},)"
      R"("to":[{"email":"t1@x"},{"email":"t2@x"}],"cc":[{"name":"C"}],)"
      R"("email":{"subject":"S","text":"T","html":"<p>H</p>","message_id":"M",)"
      R"("in_reply_to":"R","auto_submitted":true,"attachments":[)"
      R"({"filename":"报价单.pdf","content_type":"application/pdf","size_bytes":1234}]},)"
      R"("attributes":{"precedence":"bulk","k":"v"}})");
  EXPECT_EQ(event.event_id(), "e");
  EXPECT_EQ(event.source(), "email");
  EXPECT_EQ(event.occurred_at().seconds(), 1740967930);
  EXPECT_EQ(event.occurred_at().nanos(), 0);
  EXPECT_EQ(event.opportunity_id(), "o");
  EXPECT_EQ(event.direction(), "outbound");
  EXPECT_EQ(event.from().email(), "f@x");
  EXPECT_EQ(event.from().phone(), "+1");
  EXPECT_EQ(event.from().chat_id(), "c");
  EXPECT_EQ(event.from().name(), "F");
  ASSERT_EQ(event.to_size(), 2);
  EXPECT_EQ(event.to(1).email(), "t2@x");
  ASSERT_EQ(event.cc_size(), 1);
  EXPECT_EQ(event.cc(0).name(), "C");
  EXPECT_EQ(event.email().subject(), "S");
  EXPECT_EQ(event.email().text(), "T");
  EXPECT_EQ(event.email().html(), "<p>H</p>");
  EXPECT_EQ(event.email().message_id(), "M");
  EXPECT_EQ(event.email().in_reply_to(), "R");
  EXPECT_TRUE(event.email().auto_submitted());
  ASSERT_EQ(event.email().attachments_size(), 1);
  EXPECT_EQ(event.email().attachments(0).filename(), "报价单.pdf");
  EXPECT_EQ(event.email().attachments(0).content_type(), "application/pdf");
  EXPECT_EQ(event.email().attachments(0).size_bytes(), 1234);
  EXPECT_EQ(event.attributes().at("precedence"), "bulk");
  EXPECT_EQ(event.attributes().size(), 2u);
}

TEST(DecodeEventTest, MapsCallAndChatFields) {
  const v1::Event call = MustDecode(kCallEvent);
  EXPECT_EQ(call.call().duration_s(), 402);
  EXPECT_EQ(call.call().disposition(), "answered");
  ASSERT_EQ(call.call().transcript_size(), 2);
  EXPECT_EQ(call.call().transcript(1).speaker(), "rep");
  EXPECT_EQ(call.call().transcript(1).text(), "hi");
  EXPECT_EQ(call.call().notes(), "n");

  const v1::Event chat = MustDecode(kChatEvent);
  EXPECT_EQ(chat.occurred_at().seconds(), 1740967930);
  EXPECT_EQ(chat.occurred_at().nanos(), 250000000);
  EXPECT_EQ(chat.chat().channel(), "wecom");
  EXPECT_EQ(chat.chat().thread_id(), "t1");
  ASSERT_EQ(chat.chat().messages_size(), 3);
  EXPECT_EQ(chat.chat().messages(0).sent_at().seconds(), 1740967930 - 199);
  EXPECT_FALSE(chat.chat().messages(1).has_sent_at());
  EXPECT_EQ(chat.chat().messages(2).text(), "three");
}

TEST(DecodeEventTest, ParsesRfc3339Forms) {
  const struct {
    std::string_view text;
    int64_t seconds;
    int32_t nanos;
  } kCases[] = {
      {"2025-03-03T02:12:10Z", 1740967930, 0},
      {"2025-03-03t02:12:10z", 1740967930, 0},
      {"2025-03-02T21:12:10-05:00", 1740967930, 0},
      {"2025-03-03T02:12:10.5Z", 1740967930, 500000000},
      {"2025-03-03T02:12:10.123456789123Z", 1740967930, 123456789},
      {"2024-02-29T00:00:00Z", 1709164800, 0},
      {"1969-12-31T23:59:59Z", -1, 0},
  };
  for (const auto& c : kCases) {
    const v1::Event event = MustDecode(Replace(kCallEvent, "2025-03-04T09:48:54Z", c.text));
    EXPECT_EQ(event.occurred_at().seconds(), c.seconds) << c.text;
    EXPECT_EQ(event.occurred_at().nanos(), c.nanos) << c.text;
  }
  for (std::string_view bad :
       {"2025-03-03T10:12:10", "2025-03-03 10:12:10Z", "2025-3-3T10:12:10Z", "2025-02-30T10:12:10Z",
        "2025-03-03T24:00:00Z", "2025-03-03T10:12:10+8:00", "2025-03-03T10:12:10.Z", "yesterday",
        " 2025-03-03T10:12:10Z", "2025-03-03T10:12:10Z ", "0000-12-31T23:00:00Z", ""}) {
    ExpectError(JsonEventStatus(Replace(kCallEvent, "2025-03-04T09:48:54Z", bad)),
                kReasonInvalidValue, "occurred_at: not an RFC 3339 timestamp");
  }
  ExpectError(JsonEventStatus(Replace(kChatEvent, "2025-03-03T10:08:51+08:00", "soon")),
              kReasonInvalidValue, "chat.messages[0].sent_at: not an RFC 3339 timestamp");
}

TEST(DecodeEventTest, NullCountsAsAbsent) {
  const v1::Event event = MustDecode(Replace(kEmailEvent, R"("opp-1")", "null"));
  EXPECT_EQ(event.opportunity_id(), "");
  ExpectError(
      JsonEventStatus(Replace(kEmailEvent, R"({"email":"a@customer.com","name":"A"})", "null")),
      kReasonMissingField, "from: required field missing");
}

// ---- malformed and wrong types ---------------------------------------------------------------

TEST(DecodeEventTest, RejectsEveryTruncation) {
  for (size_t length = 0; length < kEmailEvent.size(); ++length) {
    const absl::Status status = JsonEventStatus(kEmailEvent.substr(0, length));
    ExpectError(status, kReasonMalformedJson, "message: malformed JSON");
  }
}

TEST(DecodeEventTest, RejectsMalformedJson) {
  ExpectError(JsonEventStatus("{\"event_id\": \"x\",}"), kReasonMalformedJson, "malformed JSON");
  ExpectError(JsonEventStatus(std::string(kEmailEvent) + " {}"), kReasonMalformedJson,
              "malformed JSON");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, "Body text", "Body\x01text")),
              kReasonMalformedJson, "malformed JSON");
  ExpectError(JsonEventStatus("   "), kReasonMalformedJson, "empty");
}

TEST(DecodeEventTest, RejectsWrongTypes) {
  ExpectError(JsonEventStatus(Replace(kCallEvent, "402", R"("402")")), kReasonWrongType,
              "call.duration_s: expected integer, got string");
  ExpectError(JsonEventStatus(Replace(kCallEvent, "402", "402.5")), kReasonWrongType,
              "call.duration_s: expected integer, got number");
  ExpectError(JsonEventStatus(Replace(kCallEvent, "402", "18446744073709551615")),
              kReasonInvalidValue, "call.duration_s: integer out of range");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("Hello")", "42")), kReasonWrongType,
              "email.subject: expected string, got number");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"({"email":"a@customer.com","name":"A"})",
                                      R"([{"email":"a@customer.com"}])")),
              kReasonWrongType, "from: expected object, got array");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"([{"email":"rep@seller.com"}])",
                                      R"({"email":"rep@seller.com"})")),
              kReasonWrongType, "to: expected array, got object");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("sales")", "1")), kReasonWrongType,
              "attributes.mailbox: expected string, got number");
  ExpectError(JsonEventStatus(Replace(kChatEvent, R"("two")", "true")), kReasonWrongType,
              "chat.messages[1].text: expected string, got boolean");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("2025-03-03T10:12:10+08:00")", "1740967930")),
              kReasonWrongType, "occurred_at: expected string, got number");
  ExpectError(JsonEventStatus(R"(["not","an","object"])"), kReasonWrongType,
              "message: expected object, got array");
  ExpectError(JsonOpportunityStatus(Replace(kOpportunity, "3260000.5", R"("many")")),
              kReasonWrongType, "amount: expected number, got string");
}

// ---- missing and invalid values --------------------------------------------------------------

TEST(DecodeEventTest, RejectsEachMissingRequiredField) {
  // Each case replaces `remove` in `json` with `keep` (usually nothing).
  const struct {
    std::string_view json;
    std::string_view remove;
    std::string_view keep;
    std::string_view error;
  } kCases[] = {
      {kEmailEvent, R"("event_id":"ev-1",)", "", "event_id: required field missing"},
      {kEmailEvent, R"("source":"email",)", "", "source: required field missing"},
      {kEmailEvent, R"("occurred_at":"2025-03-03T10:12:10+08:00",)", "",
       "occurred_at: required field missing"},
      {kEmailEvent, R"("direction":"inbound",)", "", "direction: required field missing"},
      {kEmailEvent, R"("from":{"email":"a@customer.com","name":"A"},)", "",
       "from: required field missing"},
      {kEmailEvent, R"("subject":"Hello",)", "", "email.subject: required field missing"},
      {kCallEvent, R"("duration_s":402,)", "", "call.duration_s: required field missing"},
      {kCallEvent, R"("disposition":"answered",)", "", "call.disposition: required field missing"},
      {kCallEvent, R"("speaker":"customer",)", "",
       "call.transcript[0].speaker: required field missing"},
      {kCallEvent, R"("speaker":"rep","text":"hi")", R"("speaker":"rep")",
       "call.transcript[1].text: required field missing"},
      {kChatEvent, R"("channel":"wecom",)", "", "chat.channel: required field missing"},
      {kChatEvent, R"({"sender":"rep","text":"two"})", R"({"sender":"rep"})",
       "chat.messages[1].text: required field missing"},
      {kChatEvent, R"({"sender":"rep","text":"two"})", R"({"text":"two"})",
       "chat.messages[1].sender: required field missing"},
  };
  for (const auto& c : kCases) {
    ExpectError(JsonEventStatus(Replace(c.json, c.remove, c.keep)), kReasonMissingField, c.error);
  }
  ExpectError(
      JsonEventStatus(Replace(
          kChatEvent,
          R"(,"messages":[{"sender":"customer","text":"one","sent_at":"2025-03-03T10:08:51+08:00"},{"sender":"rep","text":"two"},{"sender":"customer","text":"three"}])",
          "")),
      kReasonMissingField, "chat.messages: required field missing");
}

TEST(DecodeEventTest, RequiresTheBodyOfTheSource) {
  ExpectError(
      JsonEventStatus(Replace(
          kEmailEvent,
          R"(,"email":{"subject":"Hello","text":"Body text","message_id":"<m1@customer.com>"})",
          "")),
      kReasonMissingField, R"(email: required when source is "email")");
  ExpectError(JsonEventStatus(Replace(kCallEvent, R"("source":"call")", R"("source":"chat")")),
              kReasonMissingField, R"(chat: required when source is "chat")");
  ExpectError(JsonEventStatus(Replace(kChatEvent, R"("source":"chat")", R"("source":"call")")),
              kReasonMissingField, R"(call: required when source is "call")");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("text":"Body text",)", "")),
              kReasonMissingField, "email: needs text or html");
  // html alone is enough.
  MustDecode(Replace(kEmailEvent, R"("text":"Body text")", R"("html":"<b>x</b>")"));
}

TEST(DecodeEventTest, RejectsInvalidValues) {
  ExpectError(JsonEventStatus(Replace(kChatEvent, R"("sender":"customer","text":"three")",
                                      R"("sender":"bot","text":"three")")),
              kReasonInvalidValue,
              R"(chat.messages[2].sender: expected "customer" or "rep", got "bot")");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("source":"email")", R"("source":"fax")")),
              kReasonInvalidValue, R"(source: expected "email", "call" or "chat", got "fax")");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("inbound")", R"("sideways")")),
              kReasonInvalidValue,
              R"(direction: expected "inbound", "outbound" or "internal", got "sideways")");
  ExpectError(
      JsonEventStatus(Replace(kCallEvent, R"("answered")", R"("")")), kReasonInvalidValue,
      R"(call.disposition: expected "answered", "no_answer", "busy", "voicemail" or "failed", got "")");
  ExpectError(JsonEventStatus(Replace(kCallEvent, R"("speaker":"rep")", R"("speaker":"agent")")),
              kReasonInvalidValue, R"(call.transcript[1].speaker: expected "customer" or "rep")");
  ExpectError(JsonEventStatus(Replace(kCallEvent, "402", "-1")), kReasonInvalidValue,
              "call.duration_s: must be >= 0, got -1");
  ExpectError(JsonEventStatus(Replace(kChatEvent, R"("wecom")", R"("")")), kReasonInvalidValue,
              "chat.channel: must not be empty");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("ev-1")", R"("")")), kReasonInvalidValue,
              "event_id: length must be 1..256");
  const std::string long_id(257, 'x');
  ExpectError(JsonEventStatus(Replace(kEmailEvent, "ev-1", long_id)), kReasonInvalidValue,
              "event_id: length must be 1..256, got 257");
  MustDecode(Replace(kEmailEvent, "ev-1", std::string(256, 'x')));
}

TEST(DecodeOpportunityTest, DecodesAndValidates) {
  absl::StatusOr<v1::Opportunity> opportunity = DecodeOpportunity(kOpportunity, Encoding::kJson);
  ASSERT_TRUE(opportunity.ok()) << opportunity.status();
  EXPECT_EQ(opportunity->opportunity_id(), "opp-1");
  EXPECT_EQ(opportunity->name(), "n");
  EXPECT_EQ(opportunity->pipeline(), "b2b_standard");
  EXPECT_EQ(opportunity->stage(), "proposal");
  EXPECT_EQ(opportunity->status(), "open");
  EXPECT_EQ(opportunity->owner_id(), "rep-zhang");
  EXPECT_EQ(opportunity->team_id(), "east");
  EXPECT_DOUBLE_EQ(opportunity->amount(), 3260000.5);
  EXPECT_EQ(opportunity->currency(), "CNY");
  EXPECT_EQ(opportunity->contacts().emails(0), "a@customer.com");
  EXPECT_EQ(opportunity->contacts().phones(0), "+8613962145587");
  EXPECT_EQ(opportunity->contacts().chat_ids(0), "wm1");
  EXPECT_EQ(opportunity->updated_at().seconds(), 1740386412);

  // Contacts are optional.
  EXPECT_TRUE(
      JsonOpportunityStatus(
          Replace(
              kOpportunity,
              R"("contacts":{"emails":["a@customer.com"],"phones":["+8613962145587"],"chat_ids":["wm1"]},)",
              ""))
          .ok());
  for (std::string_view field :
       {R"("opportunity_id":"opp-1",)", R"("pipeline":"b2b_standard",)", R"("stage":"proposal",)",
        R"("status":"open",)", R"("owner_id":"rep-zhang",)"}) {
    const std::string name(field.substr(1, field.find('"', 1) - 1));
    ExpectError(JsonOpportunityStatus(Replace(kOpportunity, field, "")), kReasonMissingField,
                name + ": required field missing");
  }
  ExpectError(JsonOpportunityStatus(
                  Replace(kOpportunity, R"(,"updated_at":"2025-02-24T16:40:12+08:00")", "")),
              kReasonMissingField, "updated_at: required field missing");
  ExpectError(JsonOpportunityStatus(Replace(kOpportunity, R"("open")", R"("pending")")),
              kReasonInvalidValue, R"(status: expected "open", "won" or "lost", got "pending")");
  // Large amounts survive the canonical JSON.
  opportunity->set_amount(1.8354510353341153e+21);
  absl::StatusOr<v1::Opportunity> large =
      DecodeOpportunity(OpportunityToJson(*opportunity), Encoding::kJson);
  ASSERT_TRUE(large.ok()) << large.status() << OpportunityToJson(*opportunity);
  EXPECT_EQ(large->amount(), 1.8354510353341153e+21);
  ExpectError(JsonOpportunityStatus(Replace(kOpportunity, R"("wm1")", "7")), kReasonWrongType,
              "contacts.chat_ids[0]: expected string, got number");
}

// ---- limits ----------------------------------------------------------------------------------

TEST(DecodeLimitsTest, RejectsTwoMebibyteBody) {
  const std::string json = Replace(kEmailEvent, "Body text", std::string(2 << 20, 'a'));
  ExpectError(JsonEventStatus(json), kReasonTooLarge,
              "message: " + std::to_string(json.size()) + " bytes exceeds limit of 1048576");
  ExpectError(DecodeEvent(json, Encoding::kProtobuf).status(), kReasonTooLarge,
              "bytes exceeds limit of 1048576");
}

TEST(DecodeLimitsTest, RejectsFiftyMegabytesBySizeBeforeParsing) {
  // Not even JSON (50 MB of '[' nests far past the depth limit): only a size check made
  // before parsing answers too_large for it; parsing first would answer too_deep or invalid.
  const std::string huge(50'000'000, '[');
  const absl::Status json_status = JsonEventStatus(huge);
  const absl::Status proto_status = DecodeEvent(huge, Encoding::kProtobuf).status();
  ExpectError(json_status, kReasonTooLarge, "message: 50000000 bytes exceeds limit of 1048576");
  ExpectError(proto_status, kReasonTooLarge, "message: 50000000 bytes exceeds limit of 1048576");
}

TEST(DecodeLimitsTest, TextFieldLimitAppliesToEveryString) {
  const std::string text(300 << 10, 'a');  // over the 256 KiB default, under 1 MiB
  ExpectError(JsonEventStatus(Replace(kEmailEvent, "Body text", text)), kReasonTooLarge,
              "email.text: 307200 bytes exceeds limit of 262144");
  ExpectError(JsonEventStatus(Replace(kChatEvent, R"("two")", "\"" + text + "\"")), kReasonTooLarge,
              "chat.messages[1].text: 307200 bytes exceeds limit of 262144");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, "sales", text)), kReasonTooLarge,
              "attributes.mailbox: 307200 bytes exceeds limit of 262144");
}

TEST(DecodeLimitsTest, OneMebibyteSingleLineTextOnBothSidesOfTheLimit) {
  const std::string text(1 << 20, 'x');
  const std::string json = Replace(kEmailEvent, "Body text", text);
  DecodeLimits limits;
  limits.max_message_bytes = 4 << 20;
  limits.max_text_field_bytes = 1 << 20;
  absl::StatusOr<v1::Event> event = DecodeEvent(json, Encoding::kJson, limits);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->email().text().size(), size_t{1} << 20);
  absl::StatusOr<v1::Event> binary =
      DecodeEvent(event->SerializeAsString(), Encoding::kProtobuf, limits);
  EXPECT_TRUE(binary.ok()) << binary.status();

  limits.max_text_field_bytes = (1 << 20) - 1;
  ExpectError(JsonEventStatus(json, limits), kReasonTooLarge,
              "email.text: 1048576 bytes exceeds limit of 1048575");
  ExpectError(DecodeEvent(event->SerializeAsString(), Encoding::kProtobuf, limits).status(),
              kReasonTooLarge, "email.text: 1048576 bytes exceeds limit of 1048575");
  // Default limits: the message itself is too large.
  ExpectError(JsonEventStatus(json), kReasonTooLarge, "message: ");
}

// `depth` nested arrays around a number.
std::string Nested(size_t depth) { return std::string(depth, '[') + "0" + std::string(depth, ']'); }

TEST(DecodeLimitsTest, RejectsHundredThousandLevelsAsTooDeep) {
  ExpectError(JsonEventStatus(Nested(100'000)), kReasonTooDeep,
              "message: JSON nesting deeper than 64");
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("event_id":"ev-1",)",
                                      R"("event_id":"ev-1","x":)" + Nested(100'000) + ",")),
              kReasonTooDeep, "message: JSON nesting deeper than 64");
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += R"({"a":)";
  objects += "1" + std::string(100'000, '}');
  ExpectError(JsonEventStatus(objects), kReasonTooDeep, "nesting deeper than 64");
}

TEST(DecodeLimitsTest, DepthLimitIsExact) {
  // The event object is level 1, so 63 nested arrays in an unknown field make 64 levels.
  const auto with_unknown = [](size_t arrays) {
    return Replace(kEmailEvent, R"("event_id":"ev-1",)",
                   R"("event_id":"ev-1","x":)" + Nested(arrays) + ",");
  };
  EXPECT_TRUE(JsonEventStatus(with_unknown(62)).ok());
  EXPECT_TRUE(JsonEventStatus(with_unknown(63)).ok());
  ExpectError(JsonEventStatus(with_unknown(64)), kReasonTooDeep, "deeper than 64");
  DecodeLimits limits;
  limits.max_json_depth = 3;
  ExpectError(JsonEventStatus(kChatEvent, limits), kReasonTooDeep, "deeper than 3");
  limits.max_json_depth = 4;
  EXPECT_TRUE(JsonEventStatus(kChatEvent, limits).ok());
}

// ---- UTF-8 -----------------------------------------------------------------------------------

TEST(DecodeUtf8Test, NamesFieldAndOffsetInJson) {
  {
    const std::string json = Replace(kEmailEvent, "Body text", "Body\xff text");
    const size_t at = json.find('\xff');
    ExpectError(JsonEventStatus(json), kReasonInvalidUtf8,
                "email.text: invalid UTF-8 at byte 4 (message byte " + std::to_string(at) + ")");
  }
  {
    // A truncated two-byte sequence; escapes before it count as their decoded size.
    const std::string json = Replace(kEmailEvent, R"("Hello")", "\"H\\u00e9\\n\xc3\"");
    ExpectError(JsonEventStatus(json), kReasonInvalidUtf8,
                "email.subject: invalid UTF-8 at byte 4");
  }
  {
    const std::string json = Replace(kChatEvent, R"("two")", "\"tw\xed\xa0\x80o\"");  // surrogate
    const size_t at = json.find('\xed');
    ExpectError(
        JsonEventStatus(json), kReasonInvalidUtf8,
        "chat.messages[1].text: invalid UTF-8 at byte 2 (message byte " + std::to_string(at) + ")");
  }
  ExpectError(JsonEventStatus(Replace(kEmailEvent, R"("mailbox")",
                                      "\"mail\xc0\xaf"
                                      "box\"")),
              kReasonInvalidUtf8, "attributes: invalid UTF-8 in a key at byte 4");
  ExpectError(JsonEventStatus(std::string(kEmailEvent) + "\xff"), kReasonInvalidUtf8,
              "message: invalid UTF-8 at byte " + std::to_string(kEmailEvent.size()));
}

// Binary protobuf of `event` with the bytes `marker` (same length) swapped for `bad`.
std::string WithBytes(const v1::Event& event, std::string_view marker, std::string_view bad) {
  std::string binary = event.SerializeAsString();
  EXPECT_EQ(marker.size(), bad.size());
  const size_t at = binary.find(marker);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) binary.replace(at, marker.size(), bad);
  return binary;
}

TEST(DecodeUtf8Test, NamesFieldAndOffsetInProtobuf) {
  v1::Event event = MustDecode(kChatEvent);
  event.mutable_chat()->mutable_messages(2)->set_text("abcMARK");
  std::string binary = WithBytes(event, "MARK", "M\xf5RK");
  ExpectError(DecodeEvent(binary, Encoding::kProtobuf).status(), kReasonInvalidUtf8,
              "chat.messages[2].text: invalid UTF-8 at byte 4 (message byte " +
                  std::to_string(binary.find('\xf5')) + ")");

  event = MustDecode(kEmailEvent);
  event.mutable_email()->set_subject("MARK");
  ExpectError(DecodeEvent(WithBytes(event, "MARK", "\x80MRK"), Encoding::kProtobuf).status(),
              kReasonInvalidUtf8, "email.subject: invalid UTF-8 at byte 0");
  (*event.mutable_attributes())["kMARK"] = "v";
  ExpectError(DecodeEvent(WithBytes(event, "kMARK", "k\xe2\x82RK"), Encoding::kProtobuf).status(),
              kReasonInvalidUtf8, "attributes[");
}

TEST(DecodeUtf8Test, ValidateEventChecksStringsBuiltInProcess) {
  v1::Event event = MustDecode(kEmailEvent);
  ASSERT_TRUE(ValidateEvent(event).ok());
  event.mutable_email()->set_text("ok \xff");
  ExpectError(ValidateEvent(event), kReasonInvalidUtf8, "email.text: invalid UTF-8 at byte 3");
}

TEST(DecodeUtf8Test, EmptyAndEmojiOnlyTextAreValid) {
  v1::Event email = MustDecode(Replace(kEmailEvent, "Body text", ""));
  EXPECT_TRUE(email.email().has_text());
  EXPECT_EQ(email.email().text(), "");
  email = MustDecode(Replace(kEmailEvent, R"("Hello")", R"("")"));
  EXPECT_EQ(email.email().subject(), "");
  const v1::Event chat = MustDecode(Replace(kChatEvent, "three", "😀🎉👍🏽"));
  EXPECT_EQ(chat.chat().messages(2).text(), "😀🎉👍🏽");
  const v1::Event escaped = MustDecode(Replace(kChatEvent, "three", R"(\ud83d\ude00)"));
  EXPECT_EQ(escaped.chat().messages(2).text(), "😀");
  EXPECT_TRUE(DecodeEvent(chat.SerializeAsString(), Encoding::kProtobuf).ok());
}

// ---- forward compatibility -------------------------------------------------------------------

TEST(DecodeEventTest, IgnoresUnknownFields) {
  const v1::Event plain = MustDecode(kChatEvent);
  std::string json = Replace(kChatEvent, R"("event_id":"ev-3",)",
                             R"("event_id":"ev-3","schema":{"v":[1,2,{"x":null}]},"tags":[],)");
  json = Replace(json, R"("channel":"wecom",)", R"("channel":"wecom","bot":false,)");
  json = Replace(json, R"({"sender":"rep","text":"two"})",
                 R"({"sender":"rep","text":"two","reactions":["👍"],"edited":1.5})");
  json = Replace(json, R"({"chat_id":"wm1"})", R"({"chat_id":"wm1","avatar":"u"})");
  EXPECT_TRUE(MessageDifferencer::Equals(plain, MustDecode(json)));

  // Binary: an unknown field 99 (varint 1) at the top and inside a chat message is dropped.
  constexpr std::string_view kUnknown = "\x98\x06\x01";
  v1::Event with_unknown = plain;
  v1::ChatMessage* message = with_unknown.mutable_chat()->mutable_messages(0);
  ASSERT_TRUE(message->ParseFromString(message->SerializeAsString() + std::string(kUnknown)));
  ASSERT_FALSE(message->GetReflection()->GetUnknownFields(*message).empty());
  absl::StatusOr<v1::Event> decoded =
      DecodeEvent(with_unknown.SerializeAsString() + std::string(kUnknown), Encoding::kProtobuf);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(MessageDifferencer::Equals(plain, *decoded));
  EXPECT_EQ(decoded->SerializeAsString(), plain.SerializeAsString());
}

// ---- protobuf path ---------------------------------------------------------------------------

TEST(DecodeProtobufTest, RejectsGarbage) {
  for (std::string_view garbage :
       {std::string_view("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
        std::string_view("\x0a\x10short", 7), std::string_view("\x00\x01", 2),
        std::string_view("{\"event_id\":\"x\"}")}) {
    ExpectError(DecodeEvent(garbage, Encoding::kProtobuf).status(), kReasonMalformedProtobuf,
                "malformed protobuf");
  }
  // Every truncation of a valid message either fails cleanly or decodes a valid prefix.
  const std::string binary = MustDecode(kChatEvent).SerializeAsString();
  for (size_t length = 0; length < binary.size(); ++length) {
    const absl::Status status = DecodeEvent(binary.substr(0, length), Encoding::kProtobuf).status();
    EXPECT_FALSE(status.ok());
    EXPECT_FALSE(ReasonOf(status).empty()) << status;
  }
}

TEST(DecodeProtobufTest, ReportsMissingFields) {
  ExpectError(DecodeEvent("", Encoding::kProtobuf).status(), kReasonMissingField,
              "event_id: required field missing");
  v1::Event event = MustDecode(kChatEvent);
  event.clear_from();
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "from: required field missing");
  event = MustDecode(kChatEvent);
  event.clear_occurred_at();
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "occurred_at: required field missing");
  event = MustDecode(kChatEvent);
  event.mutable_chat()->clear_channel();
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "chat.channel: required field missing");
  event = MustDecode(kChatEvent);
  event.mutable_chat()->mutable_messages(1)->clear_sender();
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "chat.messages[1].sender: required field missing");
  event = MustDecode(kEmailEvent);
  event.mutable_email()->clear_text();
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "email: needs text or html");
  event = MustDecode(kEmailEvent);
  event.mutable_occurred_at()->set_seconds(253402300800);  // year 10000
  ExpectError(DecodeEvent(event.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonInvalidValue, "occurred_at: timestamp outside");

  v1::Opportunity opportunity = *DecodeOpportunity(kOpportunity, Encoding::kJson);
  opportunity.clear_status();
  ExpectError(DecodeOpportunity(opportunity.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonMissingField, "status: required field missing");
  opportunity = *DecodeOpportunity(kOpportunity, Encoding::kJson);
  opportunity.set_amount(std::numeric_limits<double>::quiet_NaN());
  ExpectError(DecodeOpportunity(opportunity.SerializeAsString(), Encoding::kProtobuf).status(),
              kReasonInvalidValue, "amount: must be a finite number");
}

// ---- robustness ------------------------------------------------------------------------------

TEST(DecodeRobustnessTest, RandomMutationsFailWithAReason) {
  std::mt19937 random(20250303);  // fixed seed: deterministic
  const std::string_view bases[] = {kEmailEvent, kCallEvent, kChatEvent};
  Decoder decoder;
  for (int i = 0; i < 3000; ++i) {
    std::string input(bases[i % 3]);
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = random() % input.size();
      switch (random() % 3) {
        case 0:
          input[at] = static_cast<char>(random() % 256);
          break;
        case 1:
          input.erase(at, 1 + random() % 8);
          break;
        default:
          input.insert(at, 1, "{}[]\",:\\"[random() % 8]);
          break;
      }
      // push_back, not = "x": GCC 12 at -O3 reports a false -Wrestrict on the assignment.
      if (input.empty()) input.push_back('x');
    }
    const Encoding encoding = i % 5 == 0 ? Encoding::kProtobuf : Encoding::kJson;
    absl::StatusOr<v1::Event> event = decoder.DecodeEvent(input, encoding);
    if (event.ok()) {
      EXPECT_TRUE(ValidateEvent(*event).ok()) << input;
    } else {
      EXPECT_FALSE(ReasonOf(event.status()).empty()) << event.status();
    }
  }
}

TEST(DecoderTest, ReusedDecoderMatchesFreeFunctions) {
  Decoder decoder;
  const std::string big = Replace(kEmailEvent, "Body text", std::string(200'000, 'b'));
  for (std::string_view json :
       {kEmailEvent, std::string_view(big), kCallEvent, std::string_view(big), kChatEvent}) {
    absl::StatusOr<v1::Event> reused = decoder.DecodeEvent(json, Encoding::kJson);
    ASSERT_TRUE(reused.ok()) << reused.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*reused, MustDecode(json)));
  }
  ExpectError(decoder.DecodeEvent(Nested(1000), Encoding::kJson).status(), kReasonTooDeep, "");
  EXPECT_TRUE(decoder.DecodeEvent(kChatEvent, Encoding::kJson).ok());
  EXPECT_TRUE(decoder.DecodeOpportunity(kOpportunity, Encoding::kJson).ok());
}

// One Event reused across messages of every source, an error and binary protobuf: each result
// equals a fresh decode (nothing of the previous message survives Clear()).
TEST(DecoderTest, DecodeEventIntoReusedEventMatchesFreshDecode) {
  Decoder decoder;
  v1::Event reused;
  const std::string big = Replace(kEmailEvent, "Body text", std::string(200'000, 'b'));
  std::string binary;
  ASSERT_TRUE(MustDecode(kCallEvent).SerializeToString(&binary));
  const std::string_view jsons[] = {kEmailEvent, kChatEvent,  big,
                                    kCallEvent,  kEmailEvent, kChatEvent};
  for (std::string_view json : jsons) {
    ASSERT_TRUE(decoder.DecodeEventInto(json, Encoding::kJson, &reused).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(reused, MustDecode(json)));
    ExpectError(decoder.DecodeEventInto(Nested(100), Encoding::kJson, &reused), kReasonTooDeep, "");
    ASSERT_TRUE(decoder.DecodeEventInto(binary, Encoding::kProtobuf, &reused).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(reused, MustDecode(kCallEvent)));
  }
}

// A reused Decoder and Event: every sequence of same, fewer, more, other, duplicate and null
// attribute keys, and a wrong type, equals a fresh decode (nothing of the previous map stays).
TEST(DecoderTest, ReusedAttributesMatchFreshDecode) {
  const std::string_view kAttributes = R"("attributes":{"mailbox":"sales"})";
  const std::string_view variants[] = {
      R"("attributes":{"mailbox":"sales","connector":"imap"})",
      R"("attributes":{"connector":"smtp","mailbox":"support"})",
      R"("attributes":{"mailbox":"x"})",
      R"("attributes":{"mailbox":"a","connector":"b","queue":"c"})",
      R"("attributes":{"mailbox":"a","mailbox":"b"})",
      R"("attributes":{"mailbox":"a","connector":null})",
      R"("attributes":{"queue":"q","corp_id":"c"})",
      R"("attributes":{"mailbox":"a","connector":"b"},"attributes":{"connector":"c"})",
      R"("attributes":{"mailbox":"a","connector":"b"},"attributes":{"connector":"d","mailbox":"e"})",
      R"("attributes":{})",
      R"("attributes":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8","i":"9"})",
      R"("attributes":{"a":"1","b":"2","c":"3","d":"4","e":"5","f":"6","g":"7","h":"8"})",
      R"("attributes":{"h":"8","g":"7","f":"6","e":"5","d":"4","c":"3","b":"2","a":"0"})",
      R"("attributes":null)",
      R"("attributes":{"mailbox":"sales","connector":7})",
  };
  Decoder decoder;
  v1::Event reused;
  for (std::string_view first : variants) {
    for (std::string_view second : variants) {
      for (std::string_view json : {first, second}) {
        const std::string event = Replace(kEmailEvent, kAttributes, json);
        const absl::Status status = decoder.DecodeEventInto(event, Encoding::kJson, &reused);
        const absl::Status fresh = JsonEventStatus(event);
        EXPECT_EQ(status, fresh) << first << " then " << second;
        if (status.ok()) {
          EXPECT_TRUE(MessageDifferencer::Equals(reused, MustDecode(event)))
              << first << " then " << second;
        }
      }
      // Between pairs, an event without attributes.
      ASSERT_TRUE(decoder.DecodeEventInto(kCallEvent, Encoding::kJson, &reused).ok());
      EXPECT_TRUE(reused.attributes().empty());
    }
  }
}

// ---- helpers ---------------------------------------------------------------------------------

TEST(EncodingTest, FromContentType) {
  EXPECT_EQ(*EncodingFromContentType(""), Encoding::kJson);
  EXPECT_EQ(*EncodingFromContentType("application/json"), Encoding::kJson);
  EXPECT_EQ(*EncodingFromContentType("Application/JSON; charset=utf-8"), Encoding::kJson);
  EXPECT_EQ(*EncodingFromContentType("application/x-protobuf"), Encoding::kProtobuf);
  EXPECT_EQ(*EncodingFromContentType(" application/x-protobuf ;proto=autostage.v1.Event"),
            Encoding::kProtobuf);
  ExpectError(EncodingFromContentType("text/xml").status(), kReasonInvalidValue,
              R"(content-type: unsupported content type "text/xml")");
}

TEST(ReasonTest, EmptyForOkAndForeignStatuses) {
  EXPECT_EQ(ReasonOf(absl::OkStatus()), "");
  EXPECT_EQ(ReasonOf(absl::InvalidArgumentError("x")), "");
  EXPECT_EQ(ReasonOf(JsonEventStatus("{")), "malformed_json");
}

TEST(EventToJsonTest, UsesSpecNamesAndIntegerNumbers) {
  const std::string json = EventToJson(MustDecode(kCallEvent));
  EXPECT_THAT(json, HasSubstr(R"("event_id":"ev-2")"));
  EXPECT_THAT(json, HasSubstr(R"("occurred_at":"2025-03-04T09:48:54Z")"));
  EXPECT_THAT(json, HasSubstr(R"("duration_s":402)"));
  EXPECT_THAT(json, HasSubstr(R"("transcript":[{"speaker":"customer","text":"hello"})"));
  const std::string chat = EventToJson(MustDecode(kChatEvent));
  EXPECT_THAT(chat, HasSubstr(R"("occurred_at":"2025-03-03T02:12:10.250Z")"));
  EXPECT_THAT(chat, HasSubstr(R"("thread_id":"t1")"));
  v1::Event odd = MustDecode(kEmailEvent);
  odd.mutable_email()->set_text("quote\" slash\\ nl\n ctl\x01 bad\xff");
  const std::string odd_json = EventToJson(odd);
  EXPECT_THAT(odd_json, HasSubstr(R"(quote\" slash\\ nl\n ctl\u0001 bad)"
                                  "\xEF\xBF\xBD"));
  EXPECT_TRUE(DecodeEvent(odd_json, Encoding::kJson).ok());
}

}  // namespace
}  // namespace autostage::event
