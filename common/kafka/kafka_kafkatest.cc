// Producer and Consumer against the devbroker (librdkafka's mock cluster in a child process),
// label `kafka`. The mock cluster's first group join takes about 3 s.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::kafka {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::testing::ElementsAre;

class RecordingListener : public RebalanceListener {
 public:
  void OnAssigned(const std::vector<TopicPartition>& partitions) override {
    absl::MutexLock lock(&mu_);
    for (const TopicPartition& tp : partitions) assigned_.push_back(tp.partition);
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions, bool /*lost*/) override {
    absl::MutexLock lock(&mu_);
    for (const TopicPartition& tp : partitions) revoked_.push_back(tp.partition);
  }
  void OnRebalanceError(const absl::Status& error) override {
    ADD_FAILURE() << "rebalance error: " << error;
  }
  std::vector<int32_t> assigned() {
    absl::MutexLock lock(&mu_);
    return assigned_;
  }
  std::vector<int32_t> revoked() {
    absl::MutexLock lock(&mu_);
    return revoked_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int32_t> assigned_ ABSL_GUARDED_BY(mu_);
  std::vector<int32_t> revoked_ ABSL_GUARDED_BY(mu_);
};

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DevBrokerProcess>> broker =
        DevBrokerProcess::Start({.brokers = 1, .topics = {{"events", 1}}});
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
  }

  std::unique_ptr<Producer> MakeProducer() {
    absl::StatusOr<std::unique_ptr<Producer>> p =
        Producer::Create({{"bootstrap.servers", broker_->bootstrap()}});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  std::unique_ptr<Consumer> MakeConsumer(RebalanceListener* listener,
                                         const std::string& strategy = "range,roundrobin") {
    absl::StatusOr<std::unique_ptr<Consumer>> c =
        Consumer::Create(testing::ConsumerConfigFor(broker_->bootstrap(), "test-group",
                                                    {{"partition.assignment.strategy", strategy}}),
                         listener);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  // Produces values "<prefix>0".. and waits for every delivery report.
  void ProduceValues(Producer& producer, const std::string& prefix, int count) {
    absl::Mutex mu;
    int delivered = 0;
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(producer
                      .Produce("events", absl::StrCat("key-", i), absl::StrCat(prefix, i),
                               {{"event_id", absl::StrCat(prefix, i)}, {"source", "email"}},
                               [&](const DeliveryReport& r) {
                                 EXPECT_TRUE(r.status.ok()) << r.status;
                                 absl::MutexLock lock(&mu);
                                 ++delivered;
                               })
                      .ok());
    }
    ASSERT_TRUE(producer.Flush(absl::Now() + absl::Seconds(10)).ok());
    absl::MutexLock lock(&mu);
    EXPECT_EQ(delivered, count);
  }

  // Polls until `count` data messages arrived or `timeout` passed.
  static std::vector<Message> Collect(Consumer& consumer, size_t count, absl::Duration timeout) {
    std::vector<Message> messages;
    const absl::Time deadline = absl::Now() + timeout;
    while (messages.size() < count && absl::Now() < deadline) {
      std::optional<Message> m = consumer.Poll(absl::Milliseconds(100));
      if (!m.has_value()) continue;
      if (!m->ok()) {
        EXPECT_FALSE(m->is_fatal()) << m->status();
        continue;
      }
      messages.push_back(std::move(*m));
    }
    return messages;
  }

  std::unique_ptr<DevBrokerProcess> broker_;
};

TEST_F(KafkaTest, RoundTripKeepsKeysValuesAndHeaders) {
  std::unique_ptr<Producer> producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  ProduceValues(*producer, "v", 3);

  RecordingListener listener;
  std::unique_ptr<Consumer> consumer = MakeConsumer(&listener);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Subscribe({"events"}).ok());
  std::vector<Message> messages = Collect(*consumer, 3, absl::Seconds(20));
  ASSERT_EQ(messages.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const Message& m = messages[i];
    EXPECT_EQ(m.topic(), "events");
    EXPECT_EQ(m.offset(), i);
    EXPECT_EQ(m.key(), absl::StrCat("key-", i));
    EXPECT_EQ(m.payload(), absl::StrCat("v", i));
    EXPECT_EQ(m.headers(),
              (std::vector<Header>{{"event_id", absl::StrCat("v", i)}, {"source", "email"}}));
    EXPECT_EQ(m.header("source"), "email");
    EXPECT_EQ(m.header("missing"), std::nullopt);
    EXPECT_TRUE(m.timestamp_ms().has_value());
  }
  EXPECT_THAT(listener.assigned(), ElementsAre(0));
  EXPECT_EQ(consumer->RebalanceProtocol(), "EAGER");
  ASSERT_TRUE(consumer->Close().ok());
  EXPECT_THAT(listener.revoked(), ElementsAre(0));
  EXPECT_FALSE(consumer->Poll(absl::Milliseconds(1)).has_value());
}

TEST_F(KafkaTest, SecondConsumerResumesAfterTheLastStoredOffset) {
  std::unique_ptr<Producer> producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  ProduceValues(*producer, "m", 10);

  {
    RecordingListener listener;
    std::unique_ptr<Consumer> first = MakeConsumer(&listener);
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->Subscribe({"events"}).ok());
    std::vector<Message> messages = Collect(*first, 10, absl::Seconds(20));
    ASSERT_EQ(messages.size(), 10u);
    // Only the first six were "done": their offsets are stored; 6..9 were read but not done.
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(first->StoreOffset(messages[i]).ok());
    ASSERT_TRUE(first->CommitSync().ok());
    ASSERT_TRUE(first->Close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(first->StoreOffset(messages[6])));
  }

  // The second member uses the cooperative protocol: the incremental assign path.
  RecordingListener listener;
  std::unique_ptr<Consumer> second = MakeConsumer(&listener, "cooperative-sticky");
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->Subscribe({"events"}).ok());
  std::vector<Message> rest = Collect(*second, 4, absl::Seconds(20));
  ASSERT_EQ(rest.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(rest[i].offset(), 6 + i) << "no message skipped, none before the stored offset";
    EXPECT_EQ(rest[i].payload(), absl::StrCat("m", 6 + i));
  }
  EXPECT_EQ(second->RebalanceProtocol(), "COOPERATIVE");
  EXPECT_THAT(listener.assigned(), ElementsAre(0));
  absl::StatusOr<std::vector<TopicPartition>> assignment = second->Assignment();
  ASSERT_TRUE(assignment.ok());
  ASSERT_EQ(assignment->size(), 1u);
  EXPECT_EQ((*assignment)[0].partition, 0);
  ASSERT_TRUE(second->Close().ok());
  EXPECT_THAT(listener.revoked(), ElementsAre(0));
}

TEST_F(KafkaTest, PausedPartitionDeliversNothingUntilResumed) {
  std::unique_ptr<Producer> producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  ProduceValues(*producer, "a", 2);

  std::unique_ptr<Consumer> consumer = MakeConsumer(nullptr);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Subscribe({"events"}).ok());
  ASSERT_EQ(Collect(*consumer, 2, absl::Seconds(20)).size(), 2u);

  const std::vector<TopicPartition> partition = {{"events", 0}};
  ASSERT_TRUE(consumer->Pause(partition).ok());
  ProduceValues(*producer, "b", 3);
  // An observation window, not a settle-sleep: a paused partition must stay silent.
  EXPECT_TRUE(Collect(*consumer, 1, absl::Milliseconds(1500)).empty());

  ASSERT_TRUE(consumer->Resume(partition).ok());
  std::vector<Message> resumed = Collect(*consumer, 3, absl::Seconds(10));
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0].payload(), "b0");
  EXPECT_EQ(resumed[2].offset(), 4);
}

}  // namespace
}  // namespace autostage::kafka
