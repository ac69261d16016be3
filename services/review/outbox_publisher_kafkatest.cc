// OutboxPublisher against a real redis-server (AOF) and the devbroker (labels `redis`,
// `kafka`): publish once, Kafka down while confirming (scenario 16), crashed instances whose
// entries are reclaimed, restart of the same instance, stop with a flush deadline.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_pool.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/review/outbox_publisher.h"
#include "services/review/proposal_store.h"
#include "services/review/topic_reader_testing.h"

namespace autostage::review {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;
using ::testing::HasSubstr;

constexpr char kTopic[] = "crm.stage-changes";
constexpr int kPartitions = 2;

class OutboxPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = true});
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    absl::StatusOr<std::unique_ptr<DevBrokerProcess>> broker =
        DevBrokerProcess::Start({.brokers = 1, .topics = {{kTopic, kPartitions}}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    redis_options_.host = redis_->host();
    redis_options_.port = redis_->port();
    pool_ = std::make_unique<redis::RedisPool>(redis_options_, 2);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation"});
    store_ = std::make_unique<ProposalStore>(*pool_, pipelines, clock_);
  }

  OutboxPublisherOptions Options(const std::string& consumer) {
    return {.redis = redis_options_,
            .kafka = {{"bootstrap.servers", broker_->bootstrap()},
                      {"reconnect.backoff.ms", "20"},
                      {"reconnect.backoff.max.ms", "200"}},
            .topic = kTopic,
            .consumer = consumer,
            .block = absl::Milliseconds(100),
            .claim_idle = absl::Milliseconds(300),
            .retry_backoff = absl::Milliseconds(50)};
  }

  std::unique_ptr<OutboxPublisher> MakePublisher(const std::string& consumer) {
    absl::StatusOr<std::unique_ptr<OutboxPublisher>> p = OutboxPublisher::Create(Options(consumer));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  // Submits and confirms one proposal on its own opportunity; returns the proposal id.
  std::string Confirmed(const std::string& id) {
    const std::string opp = "opp-" + id;
    EXPECT_TRUE(store_
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = "b2b_standard",
                                      .stage = "prospecting",
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
    v1::SubmitProposalsRequest request;
    v1::Proposal* p = request.add_proposals();
    p->set_proposal_id(id);
    p->set_opportunity_id(opp);
    p->set_pipeline("b2b_standard");
    p->set_to_stage("proposal");
    v1::Evidence* e = p->add_evidence();
    e->set_event_id("e-" + id);
    e->set_source("email");
    e->set_rule_id("r-proposal");
    e->set_snippet("请发一份报价方案");
    EXPECT_TRUE(store_->Submit(request).ok());
    absl::StatusOr<v1::ReviewedProposal> done = store_->Decide({.proposal_id = id,
                                                                .version = 1,
                                                                .decision = Decision::kConfirm,
                                                                .actor = "alice",
                                                                .scope = ListScope{},
                                                                .expected = {"alice", "east"}});
    EXPECT_TRUE(done.ok()) << done.status();
    return id;
  }

  std::vector<TopicRecord> Topic() {
    absl::StatusOr<std::vector<TopicRecord>> records =
        ReadTopic(broker_->bootstrap(), kTopic, kPartitions, absl::Seconds(30));
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *std::move(records) : std::vector<TopicRecord>{};
  }

  // change_id → how many records carry it.
  std::map<std::string, int> CountByChangeId() {
    std::map<std::string, int> counts;
    for (const TopicRecord& r : Topic()) ++counts[r.change_id];
    return counts;
  }

  redis::Reply Raw(const redis::Args& args) {
    redis::RedisClient client(redis_options_);
    absl::StatusOr<redis::Reply> r = client.Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply();
  }

  int64_t OutboxLength() { return Raw({"XLEN", ProposalStore::OutboxKey()}).integer(); }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<DevBrokerProcess> broker_;
  redis::RedisOptions redis_options_;
  std::unique_ptr<redis::RedisPool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<ProposalStore> store_;
};

TEST(StageChangeJsonTest, UsesTheWireNamesOfTheSpec) {
  v1::StageChange change;
  change.set_change_id("sc-p1");
  change.set_opportunity_id("opp-1");
  change.set_pipeline("b2b_standard");
  change.set_from_stage("prospecting");
  change.set_to_stage("proposal");
  change.set_proposal_id("p1");
  change.set_confirmed_by("alice");
  change.mutable_confirmed_at()->set_seconds(1700000000);
  v1::StageChangeEvidence* e = change.add_evidence();
  e->set_event_id("e1");
  e->set_source("email");
  e->set_rule_id("r1");
  e->set_snippet("报价");
  absl::StatusOr<std::string> json = StageChangeToJson(change);
  ASSERT_TRUE(json.ok()) << json.status();
  for (const char* field :
       {"\"change_id\":\"sc-p1\"", "\"opportunity_id\":\"opp-1\"", "\"pipeline\":\"b2b_standard\"",
        "\"from_stage\":\"prospecting\"", "\"to_stage\":\"proposal\"", "\"proposal_id\":\"p1\"",
        "\"confirmed_by\":\"alice\"", "\"confirmed_at\":\"2023-11-14T22:13:20Z\"",
        "\"event_id\":\"e1\"", "\"rule_id\":\"r1\"", "\"snippet\":\"报价\""}) {
    EXPECT_THAT(*json, HasSubstr(field));
  }
  // Every field present even when empty.
  EXPECT_THAT(*StageChangeToJson(v1::StageChange()), HasSubstr("\"evidence\":[]"));
}

TEST_F(OutboxPublisherTest, PublishesEachConfirmationOnceAsJsonKeyedByOpportunity) {
  const std::vector<std::string> ids = {Confirmed("p1"), Confirmed("p2"), Confirmed("p3")};
  std::unique_ptr<OutboxPublisher> publisher = MakePublisher("review-1");
  ASSERT_NE(publisher, nullptr);
  publisher->Start();
  ASSERT_TRUE(
      WaitFor([&] { return publisher->stats().published_total == 3; }, absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return publisher->stats().backlog == 0; }, absl::Seconds(10)).ok());
  publisher->Stop(absl::Seconds(5));
  EXPECT_EQ(publisher->stats().publish_errors_total, 0);
  EXPECT_EQ(OutboxLength(), 0);

  const std::vector<TopicRecord> records = Topic();
  ASSERT_EQ(records.size(), 3u);
  std::set<std::string> change_ids;
  for (const TopicRecord& r : records) {
    v1::StageChange change;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.value, &change).ok()) << r.value;
    EXPECT_EQ(r.key, change.opportunity_id());
    EXPECT_EQ(r.key, "opp-" + change.proposal_id());
    EXPECT_EQ(r.change_id, change.change_id());
    EXPECT_EQ(change.change_id(), "sc-" + change.proposal_id());
    EXPECT_EQ(change.from_stage(), "prospecting");
    EXPECT_EQ(change.to_stage(), "proposal");
    EXPECT_EQ(change.confirmed_by(), "alice");
    ASSERT_EQ(change.evidence_size(), 1);
    EXPECT_EQ(change.evidence(0).snippet(), "请发一份报价方案");
    change_ids.insert(change.change_id());
  }
  EXPECT_EQ(change_ids, (std::set<std::string>{"sc-p1", "sc-p2", "sc-p3"}));
}

// Scenario 16, first half: Kafka down never blocks a confirmation; the entries wait and go
// out once when the broker is back.
TEST_F(OutboxPublisherTest, KafkaDownWhileConfirmingPublishesOnceWhenItIsBack) {
  std::unique_ptr<OutboxPublisher> publisher = MakePublisher("review-1");
  ASSERT_NE(publisher, nullptr);
  publisher->Start();
  Confirmed("warm");
  ASSERT_TRUE(
      WaitFor([&] { return publisher->stats().published_total == 1; }, absl::Seconds(30)).ok());
  ASSERT_TRUE(broker_->SendCommand("down all").ok());
  const absl::Time before = absl::Now();
  for (int i = 0; i < 5; ++i) Confirmed("k" + std::to_string(i));
  EXPECT_LT(absl::Now() - before, absl::Seconds(2)) << "confirmations waited for Kafka";
  ASSERT_TRUE(WaitFor([&] { return publisher->stats().backlog == 5; }, absl::Seconds(10)).ok());
  EXPECT_EQ(publisher->stats().published_total, 1);
  ASSERT_TRUE(broker_->SendCommand("up all").ok());
  ASSERT_TRUE(
      WaitFor([&] { return publisher->stats().published_total == 6; }, absl::Seconds(60)).ok());
  ASSERT_TRUE(WaitFor([&] { return publisher->stats().backlog == 0; }, absl::Seconds(10)).ok());
  publisher->Stop(absl::Seconds(5));
  const std::map<std::string, int> counts = CountByChangeId();
  EXPECT_EQ(counts.size(), 6u);
  for (const auto& [change_id, n] : counts) EXPECT_EQ(n, 1) << change_id;
}

// Scenario 16, second half: an instance read entries and died before publishing them; another
// instance takes them over after claim_idle and publishes each once.
TEST_F(OutboxPublisherTest, EntriesOfACrashedInstanceAreReclaimedAndPublishedOnce) {
  Confirmed("c1");
  Confirmed("c2");
  Raw({"XGROUP", "CREATE", ProposalStore::OutboxKey(), "autostage-review-outbox", "0", "MKSTREAM"});
  // What the dead instance did before it crashed: read both entries, never acknowledged.
  redis::Reply read = Raw({"XREADGROUP", "GROUP", "autostage-review-outbox", "review-dead", "COUNT",
                           "10", "STREAMS", ProposalStore::OutboxKey(), ">"});
  ASSERT_EQ(read[0][1].size(), 2u);

  std::unique_ptr<OutboxPublisher> publisher = MakePublisher("review-2");
  ASSERT_NE(publisher, nullptr);
  publisher->Start();
  ASSERT_TRUE(
      WaitFor([&] { return publisher->stats().published_total == 2; }, absl::Seconds(30)).ok());
  publisher->Stop(absl::Seconds(5));
  EXPECT_EQ(publisher->stats().reclaimed_total, 2);
  EXPECT_EQ(OutboxLength(), 0);
  EXPECT_EQ(CountByChangeId(), (std::map<std::string, int>{{"sc-c1", 1}, {"sc-c2", 1}}));
}

// The one window where a duplicate is possible: the instance died after the broker had the
// record but before XACK. The entry is published again, with the same change_id.
TEST_F(OutboxPublisherTest, CrashBetweenPublishAndAckGivesADuplicateWithTheSameChangeId) {
  Confirmed("d1");
  Raw({"XGROUP", "CREATE", ProposalStore::OutboxKey(), "autostage-review-outbox", "0", "MKSTREAM"});
  redis::Reply read = Raw({"XREADGROUP", "GROUP", "autostage-review-outbox", "review-dead", "COUNT",
                           "10", "STREAMS", ProposalStore::OutboxKey(), ">"});
  ASSERT_EQ(read[0][1].size(), 1u);
  // The dead instance's publish, exactly as the publisher makes it.
  v1::StageChange change;
  const redis::Reply& fields = read[0][1][0][1];
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == "change") {
      ASSERT_TRUE(change.ParseFromString(fields[i + 1].str()));
    }
  }
  {
    absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
        kafka::Producer::Create({{"bootstrap.servers", broker_->bootstrap()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE((*producer)
                    ->Produce(kTopic, change.opportunity_id(), *StageChangeToJson(change),
                              {{"change_id", change.change_id()}})
                    .ok());
    ASSERT_TRUE((*producer)->Flush(absl::Now() + absl::Seconds(10)).ok());
  }
  std::unique_ptr<OutboxPublisher> publisher = MakePublisher("review-2");
  ASSERT_NE(publisher, nullptr);
  publisher->Start();
  ASSERT_TRUE(
      WaitFor([&] { return publisher->stats().published_total == 1; }, absl::Seconds(30)).ok());
  publisher->Stop(absl::Seconds(5));
  const std::vector<TopicRecord> records = Topic();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].change_id, "sc-d1");
  EXPECT_EQ(records[1].change_id, "sc-d1");
  EXPECT_EQ(records[0].value, records[1].value);
}

// A restarted instance (same consumer name) republishes what it had read at once, without
// waiting for claim_idle.
TEST_F(OutboxPublisherTest, RestartedInstanceFinishesItsOwnPendingEntriesFirst) {
  Confirmed("r1");
  Raw({"XGROUP", "CREATE", ProposalStore::OutboxKey(), "autostage-review-outbox", "0", "MKSTREAM"});
  Raw({"XREADGROUP", "GROUP", "autostage-review-outbox", "review-1", "COUNT", "10", "STREAMS",
       ProposalStore::OutboxKey(), ">"});
  OutboxPublisherOptions options = Options("review-1");
  options.claim_idle = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<OutboxPublisher>> publisher = OutboxPublisher::Create(options);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  (*publisher)->Start();
  ASSERT_TRUE(
      WaitFor([&] { return (*publisher)->stats().published_total == 1; }, absl::Seconds(30)).ok());
  (*publisher)->Stop(absl::Seconds(5));
  EXPECT_EQ((*publisher)->stats().reclaimed_total, 0);
  EXPECT_EQ(CountByChangeId(), (std::map<std::string, int>{{"sc-r1", 1}}));
}

// SIGTERM path: Stop returns by its flush deadline even with Kafka down; the entry stays in
// the outbox and the next instance publishes it.
TEST_F(OutboxPublisherTest, StopWithKafkaDownReturnsByTheDeadlineAndKeepsTheEntry) {
  std::unique_ptr<OutboxPublisher> publisher = MakePublisher("review-1");
  ASSERT_NE(publisher, nullptr);
  publisher->Start();
  ASSERT_TRUE(broker_->SendCommand("down all").ok());
  Confirmed("s1");
  // Wait until the publisher holds it (read, in flight).
  ASSERT_TRUE(WaitFor(
                  [&] {
                    redis::Reply p =
                        Raw({"XPENDING", ProposalStore::OutboxKey(), "autostage-review-outbox"});
                    return p.size() > 0 && p[0].integer() == 1;
                  },
                  absl::Seconds(10))
                  .ok());
  const absl::Time before = absl::Now();
  publisher->Stop(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  EXPECT_EQ(publisher->stats().published_total, 0);
  publisher.reset();
  EXPECT_EQ(OutboxLength(), 1);

  ASSERT_TRUE(broker_->SendCommand("up all").ok());
  std::unique_ptr<OutboxPublisher> next = MakePublisher("review-1");
  next->Start();
  ASSERT_TRUE(WaitFor([&] { return next->stats().published_total == 1; }, absl::Seconds(60)).ok());
  next->Stop(absl::Seconds(5));
  EXPECT_EQ(OutboxLength(), 0);
  EXPECT_EQ(CountByChangeId(), (std::map<std::string, int>{{"sc-s1", 1}}));
}

TEST_F(OutboxPublisherTest, CreateRefusesIncompleteOptions) {
  OutboxPublisherOptions options = Options("");
  EXPECT_TRUE(absl::IsInvalidArgument(OutboxPublisher::Create(options).status()));
  options = Options("x");
  options.kafka.erase("bootstrap.servers");
  EXPECT_TRUE(absl::IsInvalidArgument(OutboxPublisher::Create(options).status()));
  options = Options("x");
  options.kafka["no.such.property"] = "1";
  EXPECT_TRUE(absl::IsInvalidArgument(OutboxPublisher::Create(options).status()));
}

}  // namespace
}  // namespace autostage::review
