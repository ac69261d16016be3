// The devbroker binary as a separate process, used by librdkafka clients the way services and
// tests will use it: produce/consume through a consumer group, fault commands over stdin, and
// a clean SIGTERM shutdown.
#include <librdkafka/rdkafka.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/kafka_client.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"

namespace autostage::testing {
namespace {

constexpr int kMessages = 1000;

// A producer whose delivery reports land in `log`; drive it with Poll* on the test thread.
struct Producer {
  DeliveryLog log;
  KafkaClient client;

  absl::Status Init(const std::string& bootstrap, KafkaSettings extra) {
    extra.emplace_back("bootstrap.servers", bootstrap);
    extra.emplace_back("linger.ms", "5");
    // Reconnect quickly after a broker comes back up (the default backoff grows to 10 s).
    extra.emplace_back("reconnect.backoff.ms", "50");
    extra.emplace_back("reconnect.backoff.max.ms", "200");
    absl::StatusOr<KafkaConf> conf = NewKafkaConf(extra);
    if (!conf.ok()) return conf.status();
    CollectDeliveryReports(conf->get(), &log);
    absl::StatusOr<KafkaClient> made = NewKafkaClient(RD_KAFKA_PRODUCER, *std::move(conf));
    if (!made.ok()) return made.status();
    client = *std::move(made);
    return absl::OkStatus();
  }

  // Serves delivery reports until `count` have arrived.
  absl::Status PollUntilReports(size_t count, absl::Duration timeout) {
    return WaitFor(
        [&] {
          rd_kafka_poll(client.get(), 20);
          return log.errors.size() >= count;
        },
        timeout, absl::Milliseconds(1));
  }

  // Produces one message to partition 0 and returns its delivery outcome.
  rd_kafka_resp_err_t ProduceOne(const std::string& topic, absl::Duration timeout) {
    const size_t before = log.errors.size();
    if (!Produce(client.get(), topic, 0, "k", "v").ok()) return RD_KAFKA_RESP_ERR__FAIL;
    if (!PollUntilReports(before + 1, timeout).ok()) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    return log.errors[before];
  }
};

absl::StatusOr<KafkaClient> NewGroupConsumer(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic) {
  absl::StatusOr<KafkaConf> conf = NewKafkaConf({{"bootstrap.servers", bootstrap},
                                                 {"group.id", group},
                                                 {"auto.offset.reset", "earliest"},
                                                 {"enable.auto.commit", "false"}});
  if (!conf.ok()) return conf.status();
  absl::StatusOr<KafkaClient> consumer = NewKafkaClient(RD_KAFKA_CONSUMER, *std::move(conf));
  if (!consumer.ok()) return consumer.status();
  rd_kafka_poll_set_consumer(consumer->get());
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer->get(), topics.get()); err != 0) {
    return absl::InternalError(absl::StrCat("subscribe: ", rd_kafka_err2str(err)));
  }
  return consumer;
}

TEST(DevBrokerProcessTest, IdempotentProduceThenGroupConsumeAThousandMessages) {
  auto broker = DevBrokerProcess::Start({.brokers = 3, .topics = {{"events", 3}}});
  ASSERT_TRUE(broker.ok()) << broker.status();

  Producer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap(), {{"enable.idempotence", "true"}}).ok());
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(Produce(producer.client.get(), "events", RD_KAFKA_PARTITION_UA,
                        absl::StrCat("key-", i), absl::StrCat("message-", i))
                    .ok());
  }
  ASSERT_TRUE(producer.PollUntilReports(kMessages, absl::Seconds(20)).ok())
      << producer.log.errors.size() << " delivery reports";
  EXPECT_EQ(producer.log.ok_count(), static_cast<size_t>(kMessages));

  auto consumer = NewGroupConsumer((*broker)->bootstrap(), "devbroker-test", "events");
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  auto messages = ConsumeMessages(consumer->get(), kMessages, absl::Seconds(25));
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(rd_kafka_commit(consumer->get(), nullptr, /*async=*/0), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_consumer_close(consumer->get()), RD_KAFKA_RESP_ERR_NO_ERROR);

  std::set<std::string> values;
  std::map<int32_t, int> last_index_per_partition;
  for (const ConsumedMessage& message : *messages) {
    absl::string_view value = message.value;
    int index = -1;
    ASSERT_TRUE(absl::ConsumePrefix(&value, "message-") && absl::SimpleAtoi(value, &index))
        << message.value;
    EXPECT_EQ(message.key, absl::StrCat("key-", index));
    EXPECT_TRUE(values.insert(message.value).second) << "duplicate " << message.value;
    // The idempotent producer keeps each partition in production order.
    auto [it, first] = last_index_per_partition.try_emplace(message.partition, index);
    if (!first) {
      EXPECT_LT(it->second, index) << "partition " << message.partition;
      it->second = index;
    }
  }
  EXPECT_EQ(values.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(last_index_per_partition.size(), 3u) << "keys should spread over all partitions";
}

TEST(DevBrokerProcessTest, BrokerDownFailsProduceAndUpRecovers) {
  auto broker = DevBrokerProcess::Start({.brokers = 1, .topics = {{"faults", 1}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  Producer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap(), {{"message.timeout.ms", "1500"}}).ok());
  ASSERT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR_NO_ERROR);

  ASSERT_TRUE((*broker)->SendCommand("down 1").ok());
  // Nothing can be delivered: the message waits for the broker and then times out.
  EXPECT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);

  ASSERT_TRUE((*broker)->SendCommand("up 1").ok());
  EXPECT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(DevBrokerProcessTest, InjectedRequestErrorsReachTheClient) {
  auto broker = DevBrokerProcess::Start({.brokers = 1, .topics = {{"faults", 1}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  Producer producer;
  ASSERT_TRUE(producer.Init((*broker)->bootstrap(), {}).ok());
  ASSERT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR_NO_ERROR);

  ASSERT_TRUE((*broker)->SendCommand("errors Produce MSG_SIZE_TOO_LARGE").ok());
  EXPECT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  EXPECT_EQ(producer.ProduceOne("faults", absl::Seconds(10)), RD_KAFKA_RESP_ERR_NO_ERROR);

  // A refused command is an error for the sender, and the broker keeps serving.
  absl::Status refused = (*broker)->SendCommand("down 7");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("no broker 7"), absl::string_view::npos) << refused;
  EXPECT_TRUE((*broker)->SendCommand("rtt all 0").ok());
}

TEST(DevBrokerProcessTest, WritesBootstrapFileAndExitsZeroOnSigterm) {
  auto broker = DevBrokerProcess::Start({.brokers = 2});
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string file = (*broker)->bootstrap_file();
  std::string line;
  std::getline(std::ifstream(file) >> std::ws, line);
  EXPECT_EQ(line, (*broker)->bootstrap());

  const absl::Time start = absl::Now();
  const ExitInfo info = (*broker)->Stop(absl::Seconds(5));
  EXPECT_TRUE(info.success()) << info.ToString();
  EXPECT_FALSE(info.force_killed);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_FALSE(std::filesystem::exists(file)) << "stale bootstrap file left behind";
}

TEST(DevBrokerProcessTest, MissingBinaryIsAClearError) {
  auto broker = DevBrokerProcess::Start({.binary = "/nonexistent/devbroker"});
  ASSERT_FALSE(broker.ok());
  EXPECT_EQ(broker.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(broker.status().message().find("/nonexistent/devbroker"), absl::string_view::npos);
}

}  // namespace
}  // namespace autostage::testing
