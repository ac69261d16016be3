// OpportunityFeed against the devbroker and a real redis-server (labels kafka, redis): replay
// from the beginning, JSON and protobuf snapshots, tombstones, invalid messages skipped,
// CaughtUp, following new snapshots, two instances each reading everything, Redis outages.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/event/decode.h"
#include "common/kafka/producer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/ingest/opportunity_feed.h"
#include "spdlog/sinks/ostream_sink.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;

constexpr char kTopic[] = "crm.opportunities";

v1::Opportunity Opp(const std::string& id, int64_t updated_ms, const std::string& stage,
                    const std::string& email) {
  v1::Opportunity o;
  o.set_opportunity_id(id);
  o.set_pipeline("b2b_standard");
  o.set_stage(stage);
  o.set_status("open");
  o.set_owner_id("alice");
  o.mutable_contacts()->add_emails(email);
  *o.mutable_updated_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(updated_ms);
  return o;
}

class OpportunityFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::BrokerWithProducer> started =
        testing::StartBrokerWithProducer({.brokers = 1, .topics = {{kTopic, 2}}});
    ASSERT_TRUE(started.ok()) << started.status();
    broker_ = std::move(started->broker);
    producer_ = std::move(started->producer);
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    redis::RedisOptions options;
    options.host = redis_->host();
    options.port = redis_->port();
    options.connect_timeout = absl::Milliseconds(200);
    pool_ = std::make_unique<redis::RedisPool>(options, 2);
    store_ = std::make_unique<crmstate::OpportunityStateStore>(*pool_);
  }

  void ProduceJson(const v1::Opportunity& o) {
    Produce(o.opportunity_id(), event::OpportunityToJson(o), {});
  }
  void ProduceProto(const v1::Opportunity& o) {
    Produce(o.opportunity_id(), o.SerializeAsString(),
            {{"content-type", "application/x-protobuf"}});
  }
  void ProduceTombstone(const std::string& id) { Produce(id, absl::string_view(), {}); }
  void Produce(const std::string& key, absl::string_view value,
               const std::vector<kafka::Header>& headers) {
    ASSERT_TRUE(producer_->Produce(kTopic, key, value, headers).ok());
  }
  void Flush() { ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok()); }

  std::unique_ptr<OpportunityFeed> MakeFeed(crmstate::OpportunityStateStore& store) {
    OpportunityFeedOptions options;
    options.kafka = {{"bootstrap.servers", broker_->bootstrap()}};
    options.topic = kTopic;
    options.retry_initial = absl::Milliseconds(10);
    options.retry_max = absl::Milliseconds(100);
    absl::StatusOr<std::unique_ptr<OpportunityFeed>> feed =
        OpportunityFeed::Create(options, store, Logger());
    EXPECT_TRUE(feed.ok()) << feed.status();
    return feed.ok() ? *std::move(feed) : nullptr;
  }

  log::Logger Logger() {
    return log::Logger("feed", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_),
                       log::Level::info);
  }

  std::string StageOf(const std::string& id) {
    absl::StatusOr<crmstate::StoredOpportunity> o = store_->Get(id);
    return o.ok() ? o->opportunity.stage() : std::string(o.status().message());
  }

  std::unique_ptr<DevBrokerProcess> broker_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<crmstate::OpportunityStateStore> store_;
  std::unique_ptr<kafka::Producer> producer_;
  std::ostringstream log_;
};

TEST_F(OpportunityFeedTest, ReplaysTopicCatchesUpAndKeepsFollowing) {
  for (int i = 0; i < 20; ++i) {
    const std::string id = "o" + std::to_string(i);
    ProduceJson(Opp(id, 1000, "prospecting", id + "@x.com"));
  }
  ProduceProto(Opp("o1", 2000, "proposal", "o1@x.com"));  // newer, protobuf
  ProduceJson(Opp("o2", 500, "contract", "o2@x.com"));    // older: ignored
  ProduceTombstone("o3");                                 // deleted
  Produce("o4", "{not json", {});                         // invalid, skipped
  Produce("o5", event::OpportunityToJson(Opp("o99", 9000, "contract", "o99@x.com")), {});  // key≠id
  Produce("o7", "x", {{"content-type", "text/plain"}});     // unknown content type
  ProduceJson(Opp("o8", 3000, "negotiation", "o8@x.com"));  // after the bad ones: still applied
  Flush();

  std::unique_ptr<OpportunityFeed> feed = MakeFeed(*store_);
  ASSERT_NE(feed, nullptr);
  EXPECT_FALSE(feed->CaughtUp());
  feed->Start();
  ASSERT_TRUE(feed->WaitCaughtUp(absl::Seconds(30))) << log_.str();

  EXPECT_EQ(StageOf("o0"), "prospecting");
  EXPECT_EQ(StageOf("o1"), "proposal");
  EXPECT_EQ(StageOf("o2"), "prospecting");
  EXPECT_TRUE(absl::IsNotFound(store_->Get("o3").status()));
  EXPECT_EQ(StageOf("o8"), "negotiation");
  EXPECT_TRUE(absl::IsNotFound(store_->Get("o99").status()));
  v1::Event e;
  e.mutable_from()->set_email("O1@X.COM");
  absl::StatusOr<rules::Resolution> r = store_->Resolve(e);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->opportunity.has_value());
  EXPECT_EQ(r->opportunity->opportunity_id(), "o1");

  OpportunityFeedStats stats = feed->stats();
  EXPECT_EQ(stats.applied, 20 + 2);  // 20 first snapshots, o1 newer, o8 newer
  EXPECT_EQ(stats.ignored_older, 1);
  EXPECT_EQ(stats.deleted, 1);
  EXPECT_EQ(stats.invalid, 3);
  EXPECT_EQ(stats.partitions, 2);
  EXPECT_EQ(stats.lag, 0);
  EXPECT_TRUE(stats.caught_up);
  EXPECT_THAT(log_.str(), ::testing::HasSubstr("invalid snapshot skipped"));

  // Keeps following the topic.
  ProduceJson(Opp("o0", 5000, "contract", "o0@x.com"));
  ProduceTombstone("o1");
  Flush();
  ASSERT_TRUE(WaitFor([&] { return StageOf("o0") == "contract"; }, absl::Seconds(20)).ok());
  ASSERT_TRUE(
      WaitFor([&] { return absl::IsNotFound(store_->Get("o1").status()); }, absl::Seconds(20))
          .ok());
  feed->Stop();
  feed->Stop();
}

TEST_F(OpportunityFeedTest, EveryInstanceReadsTheWholeTopic) {
  for (int i = 0; i < 10; ++i) {
    ProduceJson(Opp("o" + std::to_string(i), 1000, "proposal", "c" + std::to_string(i) + "@x"));
  }
  Flush();
  std::unique_ptr<OpportunityFeed> first = MakeFeed(*store_);
  std::unique_ptr<OpportunityFeed> second = MakeFeed(*store_);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  first->Start();
  ASSERT_TRUE(first->WaitCaughtUp(absl::Seconds(30))) << log_.str();
  second->Start();
  ASSERT_TRUE(second->WaitCaughtUp(absl::Seconds(30))) << log_.str();
  // Both read all 10 (no group sharing, nothing committed); the second found them applied.
  EXPECT_EQ(first->stats().applied, 10);
  EXPECT_EQ(second->stats().applied + second->stats().ignored_older, 10);
  EXPECT_EQ(second->stats().ignored_older, 10);
}

TEST_F(OpportunityFeedTest, EmptyTopicIsCaughtUpAtOnce) {
  std::unique_ptr<OpportunityFeed> feed = MakeFeed(*store_);
  ASSERT_NE(feed, nullptr);
  feed->Start();
  ASSERT_TRUE(feed->WaitCaughtUp(absl::Seconds(30))) << log_.str();
  EXPECT_EQ(feed->stats().applied, 0);
}

TEST_F(OpportunityFeedTest, RedisDownIsRetriedWithoutSkipping) {
  for (int i = 0; i < 5; ++i) {
    ProduceJson(Opp("o" + std::to_string(i), 1000, "proposal", "c" + std::to_string(i) + "@x"));
  }
  Flush();
  ASSERT_TRUE(redis_->Stop().ok());
  std::unique_ptr<OpportunityFeed> feed = MakeFeed(*store_);
  ASSERT_NE(feed, nullptr);
  feed->Start();
  ASSERT_TRUE(WaitFor([&] { return feed->stats().redis_retries >= 3; }, absl::Seconds(30)).ok());
  EXPECT_FALSE(feed->CaughtUp());
  EXPECT_EQ(feed->stats().applied, 0);
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(feed->WaitCaughtUp(absl::Seconds(30))) << log_.str();
  EXPECT_EQ(feed->stats().applied, 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(StageOf("o" + std::to_string(i)), "proposal");
}

}  // namespace
}  // namespace autostage::ingest
