// Kafka library parts that need no broker: config errors, error mapping, delivery failures.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::kafka {
namespace {

using ::testing::HasSubstr;

// A port nothing listens on: connections are refused at once.
constexpr char kNoBroker[] = "127.0.0.1:1";

TEST(KafkaStatusTest, MapsByWhatTheCallerShouldDo) {
  EXPECT_TRUE(KafkaStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "x").ok());
  EXPECT_TRUE(absl::IsUnavailable(KafkaStatus(RD_KAFKA_RESP_ERR__TRANSPORT, "x")));
  EXPECT_TRUE(absl::IsUnavailable(KafkaStatus(RD_KAFKA_RESP_ERR_NOT_COORDINATOR, "x")));
  EXPECT_TRUE(absl::IsResourceExhausted(KafkaStatus(RD_KAFKA_RESP_ERR__QUEUE_FULL, "x")));
  EXPECT_TRUE(absl::IsDeadlineExceeded(KafkaStatus(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "x")));
  EXPECT_TRUE(absl::IsFailedPrecondition(KafkaStatus(RD_KAFKA_RESP_ERR__STATE, "x")));
  EXPECT_TRUE(absl::IsOutOfRange(KafkaStatus(RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, "x")));
  EXPECT_TRUE(absl::IsInternal(KafkaStatus(RD_KAFKA_RESP_ERR__FATAL, "x")));
  const absl::Status s = KafkaStatus(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, "produce to t");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("produce to t: MSG_SIZE_TOO_LARGE"));
}

TEST(KafkaConfigTest, BadPropertiesAreReportedByName) {
  absl::StatusOr<std::unique_ptr<Producer>> p =
      Producer::Create({{"bootstrap.servers", kNoBroker}, {"no.such.property", "1"}});
  EXPECT_TRUE(absl::IsInvalidArgument(p.status()));
  EXPECT_THAT(p.status().message(), HasSubstr("no.such.property"));

  absl::StatusOr<std::unique_ptr<Producer>> bad_value =
      Producer::Create({{"bootstrap.servers", kNoBroker}, {"acks", "sometimes"}});
  EXPECT_TRUE(absl::IsInvalidArgument(bad_value.status()));
  EXPECT_THAT(bad_value.status().message(), HasSubstr("acks"));

  // Idempotence needs acks=all: rd_kafka_new refuses, and the conf must not leak (ASan).
  absl::StatusOr<std::unique_ptr<Producer>> conflict =
      Producer::Create({{"bootstrap.servers", kNoBroker}, {"acks", "1"}});
  EXPECT_TRUE(absl::IsInvalidArgument(conflict.status())) << conflict.status();

  absl::StatusOr<std::unique_ptr<Consumer>> no_group =
      Consumer::Create({{"bootstrap.servers", kNoBroker}}, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(no_group.status()));
  EXPECT_THAT(no_group.status().message(), HasSubstr("group.id"));
}

TEST(ProducerTest, UndeliverableMessagesReportDeadlineExceeded) {
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(
      {{"bootstrap.servers", kNoBroker}, {"message.timeout.ms", "300"}, {"log_level", "0"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  absl::Mutex mu;
  std::vector<DeliveryReport> reports;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*producer)
                    ->Produce("t", "k", "v", {{"h", "1"}},
                              [&](const DeliveryReport& r) {
                                absl::MutexLock lock(&mu);
                                reports.push_back(r);
                              })
                    .ok());
  }
  EXPECT_TRUE((*producer)->Flush(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_EQ((*producer)->outstanding(), 0);
  absl::MutexLock lock(&mu);
  ASSERT_EQ(reports.size(), 3u);
  for (const DeliveryReport& r : reports) {
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    EXPECT_EQ(r.topic, "t");
  }
}

TEST(ProducerTest, DestroyingWithQueuedMessagesCancelsThem) {
  std::atomic<int> cancelled{0};
  {
    absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(
        {{"bootstrap.servers", kNoBroker}, {"message.timeout.ms", "60000"}, {"log_level", "0"}},
        /*close_timeout=*/absl::ZeroDuration());
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE((*producer)
                    ->Produce("t", "", "v", {},
                              [&](const DeliveryReport& r) {
                                if (absl::IsCancelled(r.status)) ++cancelled;
                              })
                    .ok());
    EXPECT_TRUE(absl::IsDeadlineExceeded((*producer)->Flush(absl::Now() + absl::Milliseconds(50))));
    EXPECT_EQ((*producer)->outstanding(), 1);
  }
  EXPECT_EQ(cancelled.load(), 1);
}

TEST(ProducerTest, OversizedMessageIsRefusedAtOnce) {
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(
      {{"bootstrap.servers", kNoBroker}, {"message.max.bytes", "1000"}, {"log_level", "0"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  bool called = false;
  const absl::Status s = (*producer)->Produce("t", "k", std::string(5000, 'x'), {},
                                              [&](const DeliveryReport&) { called = true; });
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ((*producer)->outstanding(), 0);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace autostage::kafka
