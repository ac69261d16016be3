// In-process tests of DevBroker: flag/command parsing and the fault hooks, seen by a real
// librdkafka producer.
#include "tools/devbroker/devbroker.h"

#include "absl/strings/str_cat.h"
#include "common/testing/kafka_client.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"

namespace autostage::devbroker {
namespace {

using ::autostage::testing::CollectDeliveryReports;
using ::autostage::testing::DeliveryLog;
using ::autostage::testing::FetchMetadata;
using ::autostage::testing::KafkaClient;
using ::autostage::testing::NewKafkaClient;
using ::autostage::testing::NewKafkaConf;
using ::autostage::testing::Produce;
using ::autostage::testing::WaitFor;

TEST(ParseTopicSpecTest, AcceptsNameWithPartitions) {
  absl::StatusOr<TopicSpec> topic = ParseTopicSpec("crm.events-v1:3");
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->name, "crm.events-v1");
  EXPECT_EQ(topic->partitions, 3);
  topic = ParseTopicSpec("plain");
  ASSERT_TRUE(topic.ok()) << topic.status();
  EXPECT_EQ(topic->partitions, 1);
}

TEST(ParseTopicSpecTest, RejectsBadNamesAndCounts) {
  for (const char* bad : {"", ":3", "events:0", "events:-1", "events:x", "bad name:1", "a/b:1",
                          "events:99999", ".."}) {
    EXPECT_EQ(ParseTopicSpec(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseApiKeyTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseApiKey("Produce"), 0);
  EXPECT_EQ(*ParseApiKey("offsetcommit"), 8);
  EXPECT_EQ(*ParseApiKey("JoinGroup"), 11);
  EXPECT_EQ(*ParseApiKey("22"), 22);
  EXPECT_FALSE(ParseApiKey("Frobnicate").ok());
  EXPECT_FALSE(ParseApiKey("-1").ok());
  EXPECT_FALSE(ParseApiKey("1000").ok());
}

TEST(ParseErrorCodeTest, NamesWithOrWithoutPrefixAndNumbers) {
  EXPECT_EQ(*ParseErrorCode("REBALANCE_IN_PROGRESS"), RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
  EXPECT_EQ(*ParseErrorCode("not_coordinator"), RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
  EXPECT_EQ(*ParseErrorCode("RD_KAFKA_RESP_ERR__TRANSPORT"), RD_KAFKA_RESP_ERR__TRANSPORT);
  EXPECT_EQ(*ParseErrorCode("_TRANSPORT"), RD_KAFKA_RESP_ERR__TRANSPORT);
  EXPECT_EQ(*ParseErrorCode("27"), RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
  EXPECT_FALSE(ParseErrorCode("NOT_AN_ERROR").ok());
  EXPECT_FALSE(ParseErrorCode("123456").ok());
}

TEST(DevBrokerTest, RejectsBadOptions) {
  EXPECT_EQ(DevBroker::Start({.brokers = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DevBroker::Start({.brokers = kMaxBrokers + 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DevBroker::Start({.topics = {{"t", 0}}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DevBrokerTest, ExecuteCommandValidatesEveryVerb) {
  absl::StatusOr<std::unique_ptr<DevBroker>> broker = DevBroker::Start({.brokers = 2});
  ASSERT_TRUE(broker.ok()) << broker.status();
  DevBroker& b = **broker;
  for (const char* good : {"down 1", "up 1", "down all", "up all", "rtt 2 50", "rtt all 0",
                           "errors OffsetCommit REBALANCE_IN_PROGRESS NOT_COORDINATOR",
                           "clear OffsetCommit", "topic extra:2", "  up   2  "}) {
    EXPECT_TRUE(b.ExecuteCommand(good).ok()) << good << ": " << b.ExecuteCommand(good);
  }
  for (const char* bad :
       {"", "down", "down 3", "down 0", "up x", "rtt 1", "rtt 1 -5", "rtt 1 abc", "errors Produce",
        "errors Nope NOT_COORDINATOR", "errors Produce NOPE", "clear", "topic bad:0", "reboot"}) {
    EXPECT_EQ(b.ExecuteCommand(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  b.Stop();
  EXPECT_EQ(b.SetBrokerDown(1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(b.ExecuteCommand("up 1").code(), absl::StatusCode::kFailedPrecondition);
}

// A producer on the in-process broker that records its delivery reports.
struct TestProducer {
  DeliveryLog log;
  KafkaClient client;

  absl::Status Init(const std::string& bootstrap) {
    absl::StatusOr<testing::KafkaConf> conf = NewKafkaConf(
        {{"bootstrap.servers", bootstrap}, {"linger.ms", "0"}, {"message.timeout.ms", "10000"}});
    if (!conf.ok()) return conf.status();
    CollectDeliveryReports(conf->get(), &log);
    absl::StatusOr<KafkaClient> made = NewKafkaClient(RD_KAFKA_PRODUCER, *std::move(conf));
    if (!made.ok()) return made.status();
    client = *std::move(made);
    return absl::OkStatus();
  }

  // Produces one message and waits for its delivery report.
  rd_kafka_resp_err_t ProduceOne(const std::string& topic) {
    const size_t before = log.errors.size();
    absl::Status produced = Produce(client.get(), topic, 0, "k", "v");
    if (!produced.ok()) return RD_KAFKA_RESP_ERR__FAIL;
    absl::Status done = WaitFor(
        [&] {
          rd_kafka_poll(client.get(), 50);
          return log.errors.size() > before;
        },
        absl::Seconds(15));
    return done.ok() ? log.errors.back() : RD_KAFKA_RESP_ERR__TIMED_OUT;
  }
};

TEST(DevBrokerTest, PushedProduceErrorReachesTheProducerOnce) {
  absl::StatusOr<std::unique_ptr<DevBroker>> broker =
      DevBroker::Start({.brokers = 1, .topics = {{"events", 1}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  TestProducer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap()).ok());
  EXPECT_EQ(producer.ProduceOne("events"), RD_KAFKA_RESP_ERR_NO_ERROR);

  // A non-retriable error fails the message outright; the next one goes through again.
  ASSERT_TRUE((*broker)->PushRequestErrors(0, {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE}).ok());
  EXPECT_EQ(producer.ProduceOne("events"), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(producer.ProduceOne("events"), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(DevBrokerTest, RttDelaysResponses) {
  absl::StatusOr<std::unique_ptr<DevBroker>> broker =
      DevBroker::Start({.brokers = 1, .topics = {{"events", 1}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  TestProducer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap()).ok());
  ASSERT_EQ(producer.ProduceOne("events"), RD_KAFKA_RESP_ERR_NO_ERROR);

  constexpr int kRttMs = 400;
  ASSERT_TRUE((*broker)->SetRtt(1, kRttMs).ok());
  const absl::Time start = absl::Now();
  EXPECT_EQ(producer.ProduceOne("events"), RD_KAFKA_RESP_ERR_NO_ERROR);
  // Only a lower bound: the delay is the mock's, a slow machine only adds to it.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(kRttMs));
}

TEST(DevBrokerTest, UndeclaredTopicsAreAutoCreated) {
  absl::StatusOr<std::unique_ptr<DevBroker>> broker = DevBroker::Start({.brokers = 1});
  ASSERT_TRUE(broker.ok()) << broker.status();
  TestProducer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap()).ok());
  EXPECT_EQ(producer.ProduceOne("never-declared"), RD_KAFKA_RESP_ERR_NO_ERROR);

  absl::StatusOr<testing::KafkaMetadata> metadata =
      FetchMetadata(producer.client.get(), absl::Seconds(5));
  ASSERT_TRUE(metadata.ok()) << metadata.status();
  bool found = false;
  for (int i = 0; i < (*metadata)->topic_cnt; ++i) {
    found |= std::string((*metadata)->topics[i].topic) == "never-declared";
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace autostage::devbroker
