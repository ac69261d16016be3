// autostagectl's ops commands against devbroker (label `kafka`): dlq list, dlq redrive, replay
// and rules check. Messages are read back with a plain assigned consumer to check keys,
// payloads and headers (content-type kept, dlq-* dropped, autostage-replay: 1 added).
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/producer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/autostagectl/cli.h"
#include "tools/autostagectl/exit_codes.h"
#include "tools/autostagectl/internal/topic_reader.h"
#include "tools/autostagectl/kafka_commands.h"

namespace autostage::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDlq[] = "crm.events.dlq";
constexpr char kEmail[] = "crm.events.email";
constexpr char kChat[] = "crm.events.chat";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string EventJson(const std::string& id) {
  return absl::StrCat(R"({"event_id":")", id,
                      R"(","source":"email","occurred_at":"2026-01-05T10:00:00Z",)",
                      R"("direction":"inbound","from":{"email":"a@example.com"},)",
                      R"("email":{"subject":"hi","text":"hello"}})");
}

class CtlKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::BrokerWithProducer> started = testing::StartBrokerWithProducer(
        {.topics = {
             {kDlq, 1}, {kEmail, 2}, {kChat, 1}, {"crm.opportunities", 1}, {"events.check", 1}}});
    ASSERT_TRUE(started.ok()) << started.status();
    broker_ = std::move(started->broker);
    producer_ = std::move(started->producer);
    absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("autostagectl-kafka");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(*std::move(dir));
  }

  void Produce(const std::string& topic, const std::string& key, const std::string& value,
               const std::vector<kafka::Header>& headers) {
    ASSERT_TRUE(producer_->Produce(topic, key, value, headers).ok());
  }
  void Flush() { ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(20)).ok()); }

  // A DLQ entry as ingest writes it (spec/events.md), with the original content-type kept.
  void Dead(const std::string& event_id, const std::string& reason, int source_offset,
            const std::string& payload = "") {
    Produce(kDlq, "opp-" + event_id, payload.empty() ? EventJson(event_id) : payload,
            {{"content-type", "application/json"},
             {"dlq-reason", reason},
             {"dlq-detail", reason + ": details here"},
             {"dlq-source-topic", kEmail},
             {"dlq-partition", "0"},
             {"dlq-offset", std::to_string(source_offset)}});
  }

  Result Run(std::vector<std::string> args) {
    std::vector<std::string> full = {"--kafka", broker_->bootstrap(), "--timeout", "15"};
    full.insert(full.end(), args.begin(), args.end());
    std::ostringstream out, err;
    Result r;
    r.code = RunCli(full, CliEnvironment{}, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  // The messages reference the reader's client, which therefore lives as long as the fixture.
  std::vector<kafka::Message> ReadTopic(const std::string& topic) {
    absl::StatusOr<std::unique_ptr<internal::TopicReader>> reader =
        internal::TopicReader::Open(broker_->bootstrap(), absl::Seconds(15));
    EXPECT_TRUE(reader.ok()) << reader.status();
    if (!reader.ok()) return {};
    readers_.push_back(*std::move(reader));
    internal::TopicReader* r = readers_.back().get();
    absl::StatusOr<std::vector<internal::PartitionWindow>> windows = r->Windows(topic);
    EXPECT_TRUE(windows.ok()) << windows.status();
    if (!windows.ok()) return {};
    absl::StatusOr<std::vector<kafka::Message>> messages = r->Read(topic, *windows);
    EXPECT_TRUE(messages.ok()) << messages.status();
    return messages.ok() ? *std::move(messages) : std::vector<kafka::Message>();
  }

  std::unique_ptr<testing::DevBrokerProcess> broker_;
  std::unique_ptr<kafka::Producer> producer_;
  std::vector<std::unique_ptr<internal::TopicReader>> readers_;
  std::optional<testing::TempDir> dir_;
};

TEST_F(CtlKafkaTest, DlqListShowsReasonSourceAndEventWithoutCommitting) {
  Dead("ev-1", "missing_field", 7);
  Dead("ev-2", "wrong_type", 8);
  Dead("", "malformed_json", 9, "{not json");
  Flush();

  const Result all = Run({"dlq", "list"});
  ASSERT_EQ(all.code, kExitOk) << all.err;
  EXPECT_THAT(all.out, HasSubstr("REASON"));
  EXPECT_THAT(all.out, HasSubstr("missing_field"));
  EXPECT_THAT(all.out, HasSubstr("crm.events.email/0@7"));
  EXPECT_THAT(all.out, HasSubstr("ev-1"));
  EXPECT_THAT(all.out, HasSubstr("missing_field: details here"));
  EXPECT_THAT(all.out, HasSubstr("3 of 3 entries"));

  const Result newest = Run({"dlq", "list", "--limit", "2"});
  ASSERT_EQ(newest.code, kExitOk) << newest.err;
  EXPECT_THAT(newest.out, Not(HasSubstr("ev-1")));
  EXPECT_THAT(newest.out, HasSubstr("2 of 3 entries"));

  const Result json = Run({"--json", "dlq", "list", "--reason", "missing_field"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(simdjson::padded_string(json.out)).get(doc), simdjson::SUCCESS)
      << json.out;
  simdjson::dom::array entries;
  ASSERT_EQ(doc["entries"].get(entries), simdjson::SUCCESS);
  ASSERT_EQ(entries.size(), 1u);
  std::string_view event_id, source_topic, source_offset, payload;
  ASSERT_EQ(entries.at(0)["event_id"].get(event_id), simdjson::SUCCESS);
  ASSERT_EQ(entries.at(0)["source_topic"].get(source_topic), simdjson::SUCCESS);
  ASSERT_EQ(entries.at(0)["source_offset"].get(source_offset), simdjson::SUCCESS);
  ASSERT_EQ(entries.at(0)["payload"].get(payload), simdjson::SUCCESS);
  EXPECT_EQ(event_id, "ev-1");
  EXPECT_EQ(source_topic, kEmail);
  EXPECT_EQ(source_offset, "7");
  EXPECT_EQ(payload, EventJson("ev-1"));

  // Listing twice gives the same answer: nothing was consumed away or committed.
  EXPECT_EQ(Run({"dlq", "list"}).out, all.out);
}

TEST_F(CtlKafkaTest, DlqRedriveSendsOriginalsBackOnceWithTheReplayHeader) {
  Dead("ev-1", "missing_field", 7);
  Dead("ev-2", "wrong_type", 8);
  Dead("ev-3", "missing_field", 9);
  Dead("ev-1", "missing_field", 7);  // dead-lettered again after an earlier redrive
  Flush();

  const Result dry = Run({"dlq", "redrive", "--reason", "missing_field", "--dry-run"});
  ASSERT_EQ(dry.code, kExitOk) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("would redrive 2 messages"));
  EXPECT_TRUE(ReadTopic(kEmail).empty());

  const Result sent = Run({"dlq", "redrive", "--reason", "missing_field"});
  ASSERT_EQ(sent.code, kExitOk) << sent.err;
  EXPECT_THAT(sent.out, HasSubstr("redrove 2 messages"));
  std::vector<kafka::Message> email = ReadTopic(kEmail);
  ASSERT_EQ(email.size(), 2u);
  std::set<std::string> ids;
  for (const kafka::Message& m : email) {
    const std::string key(m.key());
    ids.insert(key);
    EXPECT_EQ(m.payload(), EventJson(key.substr(4)));  // key "opp-ev-N"
    EXPECT_EQ(m.header("content-type"), "application/json");
    EXPECT_EQ(m.header(kReplayHeader), "1");
    for (const kafka::Header& h : m.headers()) EXPECT_FALSE(absl::StartsWith(h.key, "dlq-"));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"opp-ev-1", "opp-ev-3"}));

  const Result by_id = Run({"--json", "dlq", "redrive", "--ids", "ev-2,ev-404"});
  ASSERT_EQ(by_id.code, kExitOk) << by_id.err;
  EXPECT_THAT(by_id.out, HasSubstr("\"event_id\":\"ev-2\""));
  EXPECT_EQ(ReadTopic(kEmail).size(), 3u);
}

TEST_F(CtlKafkaTest, ReplayReproducesAWindowWithKeysAndHeaders) {
  for (int i = 0; i < 5; ++i) {
    Produce(kChat, absl::StrCat("key-", i), absl::StrCat("payload-", i),
            {{"content-type", "application/x-protobuf"}, {"autostage-replay", "0"}});
  }
  Flush();
  const Result dry = Run({"replay", "--topic", kChat, "--from", "1", "--to", "4", "--dry-run"});
  ASSERT_EQ(dry.code, kExitOk) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("would replay 3 messages"));
  EXPECT_EQ(ReadTopic(kChat).size(), 5u);

  const Result r = Run({"replay", "--topic", kChat, "--from", "1", "--to", "4"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("partition 0: offsets 1..3"));
  EXPECT_THAT(r.out, HasSubstr("replayed 3 messages"));
  std::vector<kafka::Message> chat = ReadTopic(kChat);
  ASSERT_EQ(chat.size(), 8u);
  for (int i = 5; i < 8; ++i) {
    const kafka::Message& m = chat[i];
    EXPECT_EQ(m.key(), absl::StrCat("key-", i - 4));
    EXPECT_EQ(m.payload(), absl::StrCat("payload-", i - 4));
    EXPECT_EQ(m.header("content-type"), "application/x-protobuf");
    EXPECT_EQ(m.header(kReplayHeader), "1");  // replaces the old value
    EXPECT_EQ(m.headers().size(), 2u);
  }

  // Time bounds: everything since the epoch up to the far future; nothing from the future.
  const Result by_time = Run({"--json", "replay", "--topic", kChat, "--from",
                              "1970-01-01T00:00:00Z", "--to", "2200-01-01T00:00:00Z", "--dry-run"});
  ASSERT_EQ(by_time.code, kExitOk) << by_time.err;
  EXPECT_THAT(by_time.out, HasSubstr("\"messages\":8"));
  const Result future = Run({"replay", "--topic", kChat, "--from", "2200-01-01T00:00:00Z"});
  ASSERT_EQ(future.code, kExitOk) << future.err;
  EXPECT_THAT(future.out, HasSubstr("replayed 0 messages"));
  EXPECT_EQ(ReadTopic(kChat).size(), 8u);

  const Result bad = Run({"replay", "--topic", kChat, "--from", "yesterday"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err, HasSubstr("neither an offset nor an RFC 3339 time"));
  const Result missing = Run({"replay", "--topic", "no.such.topic", "--from", "0"});
  EXPECT_EQ(missing.code, kExitKafka);
  EXPECT_THAT(missing.err, HasSubstr("topic no.such.topic does not exist"));
}

TEST_F(CtlKafkaTest, UnreachableKafkaIsAOneLineError) {
  broker_->Stop();
  const Result r = Run({"--timeout", "2", "dlq", "list"});
  EXPECT_EQ(r.code, kExitKafka);
  EXPECT_THAT(r.err, HasSubstr("is unreachable"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// The dev corpus (shared/corpus/dev) through a topic: rules check reports the proposals the
// rules library makes, the same whether opportunities come from the topic or a file, and
// mostly the labeled ones.
TEST_F(CtlKafkaTest, RulesCheckReportsWhatWouldBeProposed) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
  const std::string corpus = std::string(source) + "/../shared/corpus/dev";
  const std::string rules = std::string(source) + "/deploy/rules";
  std::ifstream events(corpus + "/events.jsonl");
  if (!events) GTEST_SKIP() << corpus << " is absent";
  std::map<std::string, std::string> expected;  // event_id → to_stage ("" = none)
  {
    std::ifstream in(corpus + "/expected.jsonl");
    std::string line;
    simdjson::dom::parser parser;
    while (std::getline(in, line)) {
      simdjson::dom::element e;
      ASSERT_EQ(parser.parse(simdjson::padded_string(line)).get(e), simdjson::SUCCESS);
      std::string_view id, stage;
      ASSERT_EQ(e["event_id"].get(id), simdjson::SUCCESS);
      if (e["to_stage"].get(stage) != simdjson::SUCCESS) stage = "";
      expected[std::string(id)] = std::string(stage);
    }
  }
  std::string line;
  int produced = 0;
  while (std::getline(events, line)) {
    if (line.empty()) continue;
    Produce("events.check", "", line, {{"content-type", "application/json"}});
    ++produced;
  }
  std::ifstream opportunities(corpus + "/opportunities.jsonl");
  simdjson::dom::parser parser;
  while (std::getline(opportunities, line)) {
    if (line.empty()) continue;
    simdjson::dom::element o;
    ASSERT_EQ(parser.parse(simdjson::padded_string(line)).get(o), simdjson::SUCCESS);
    std::string_view id;
    ASSERT_EQ(o["opportunity_id"].get(id), simdjson::SUCCESS);
    Produce("crm.opportunities", std::string(id), line, {});
  }
  Flush();

  const Result from_topic = Run({"--json", "rules", "check", "--rules", rules, "--against",
                                 "events.check", "--last", std::to_string(produced)});
  ASSERT_EQ(from_topic.code, kExitOk) << from_topic.err;
  const Result from_file =
      Run({"--json", "rules", "check", "--rules", rules, "--against", "events.check", "--last",
           std::to_string(produced), "--opportunities", corpus + "/opportunities.jsonl"});
  ASSERT_EQ(from_file.code, kExitOk) << from_file.err;
  EXPECT_EQ(from_topic.out, from_file.out);

  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(simdjson::padded_string(from_topic.out)).get(doc), simdjson::SUCCESS);
  int64_t count = 0;
  ASSERT_EQ(doc["events"].get(count), simdjson::SUCCESS);
  EXPECT_EQ(count, produced);
  simdjson::dom::array proposals;
  ASSERT_EQ(doc["proposals"].get(proposals), simdjson::SUCCESS);
  ASSERT_GT(proposals.size(), 0u);
  size_t agree = 0;
  for (simdjson::dom::element p : proposals) {
    std::string_view id, stage;
    ASSERT_EQ(p["event_id"].get(id), simdjson::SUCCESS);
    ASSERT_EQ(p["to_stage"].get(stage), simdjson::SUCCESS);
    ASSERT_TRUE(expected.count(std::string(id))) << id;
    agree += expected[std::string(id)] == stage;
  }
  EXPECT_GE(agree * 10, proposals.size() * 8) << from_topic.out;  // >= 80% precision

  // --last N takes the newest N; the text form says nothing was proposed.
  const Result text = Run({"rules", "check", "--rules", rules, "--against", "events.check",
                           "--last", "10", "--opportunities", corpus + "/opportunities.jsonl"});
  ASSERT_EQ(text.code, kExitOk) << text.err;
  EXPECT_THAT(text.out, HasSubstr("10 events from events.check"));
  EXPECT_THAT(text.out, HasSubstr("(nothing was proposed)"));

  const Result bad_rules =
      Run({"rules", "check", "--rules", "/nonexistent-rules", "--against", "events.check"});
  EXPECT_EQ(bad_rules.code, kExitUsage) << bad_rules.err;
}

}  // namespace
}  // namespace autostage::ctl
