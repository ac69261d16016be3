// DlqWriter against the devbroker (label `kafka`): a consumed event dead-lettered keeps its
// key, bytes and headers, gains the dlq-* headers of spec/events.md, and the callback runs only
// after the broker acknowledged it.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "common/kafka/consumer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingest/dlq_writer.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::DevBrokerProcess;
using kafka::Header;
using ::testing::ElementsAre;

TEST(DlqWriterHeadersTest, ReplacesOldDlqHeadersAndTruncatesDetail) {
  DlqSource source{.topic = "crm.events.chat",
                   .partition = 2,
                   .offset = 41,
                   .key = "k",
                   .payload = "{}",
                   .headers = {{"content-type", "application/json"}, {"DLQ-Reason", "old"}},
                   .timestamp_ms = std::nullopt};
  // 1023 ASCII bytes then a 3-byte character that straddles the limit: cut before it.
  const std::string detail = std::string(1023, 'x') + "\xe4\xb8\xad" + "tail";
  const std::vector<Header> h = DlqWriter::Headers(source, "too_large", detail, 99);
  EXPECT_THAT(
      h, ElementsAre(Header{"content-type", "application/json"}, Header{"dlq-reason", "too_large"},
                     Header{"dlq-detail", std::string(1023, 'x')},
                     Header{"dlq-source-topic", "crm.events.chat"}, Header{"dlq-partition", "2"},
                     Header{"dlq-offset", "41"}, Header{"dlq-failed-at", "99"}));
}

class DlqWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::BrokerWithProducer> started = testing::StartBrokerWithProducer(
        {.brokers = 1, .topics = {{"crm.events.email", 2}, {"crm.events.dlq", 1}}});
    ASSERT_TRUE(started.ok()) << started.status();
    broker_ = std::move(started->broker);
    producer_ = std::move(started->producer);
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::Consumer::Create(
        testing::ConsumerConfigFor(broker_->bootstrap(), "dlq-test"), nullptr);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    consumer_ = *std::move(consumer);
    ASSERT_TRUE(consumer_->Subscribe({"crm.events.email", "crm.events.dlq"}).ok());
  }

  // The next data message of `topic`, skipping others' (kept in `others_`).
  std::optional<kafka::Message> Next(const std::string& topic) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      std::optional<kafka::Message> m = consumer_->Poll(absl::Milliseconds(100));
      if (!m || !m->ok()) continue;
      if (m->topic() == topic) return m;
      ADD_FAILURE() << "unexpected message on " << m->topic();
    }
    return std::nullopt;
  }

  std::unique_ptr<DevBrokerProcess> broker_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
};

TEST_F(DlqWriterTest, WritesOriginalBytesKeyAndHeadersAfterAck) {
  // Invalid UTF-8 and a NUL inside: the bytes must come through untouched.
  static constexpr char kPayload[] = "{\"event_id\":\"e1\",\"x\":\"\xff\xfe\"}\0end";
  const std::string payload(kPayload, sizeof(kPayload) - 1);
  const std::vector<Header> original_headers = {{"content-type", "application/json"},
                                                {"trace", "abc"}};
  absl::Notification produced;
  ASSERT_TRUE(producer_
                  ->Produce("crm.events.email", "opp-7", payload, original_headers,
                            [&](const kafka::DeliveryReport& r) {
                              EXPECT_TRUE(r.status.ok()) << r.status;
                              produced.Notify();
                            })
                  .ok());
  ASSERT_TRUE(produced.WaitForNotificationWithTimeout(absl::Seconds(10)));

  std::optional<kafka::Message> original = Next("crm.events.email");
  ASSERT_TRUE(original.has_value());
  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  DlqWriter dlq(*producer_, {});
  absl::Notification acked;
  absl::Status ack_status = absl::UnknownError("not called");
  ASSERT_TRUE(dlq.Write(*original, "invalid_utf8", "x: invalid UTF-8 at byte 1",
                        [&](absl::Status s) {
                          ack_status = s;
                          acked.Notify();
                        })
                  .ok());
  ASSERT_TRUE(acked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(ack_status.ok()) << ack_status;

  std::optional<kafka::Message> dead = Next("crm.events.dlq");
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->key(), "opp-7");
  EXPECT_EQ(dead->payload(), payload);
  std::vector<Header> headers = dead->headers();
  ASSERT_EQ(headers.size(), 9u);
  int64_t failed_at = 0;
  ASSERT_EQ(headers[8].key, "dlq-failed-at");
  ASSERT_TRUE(absl::SimpleAtoi(headers[8].value, &failed_at));
  EXPECT_GE(failed_at, before_ms);
  EXPECT_LE(failed_at, absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(original->timestamp_ms().has_value());
  EXPECT_THAT(std::vector<Header>(headers.begin(), headers.begin() + 8),
              ElementsAre(Header{"content-type", "application/json"}, Header{"trace", "abc"},
                          Header{"dlq-reason", "invalid_utf8"},
                          Header{"dlq-detail", "x: invalid UTF-8 at byte 1"},
                          Header{"dlq-source-topic", "crm.events.email"},
                          Header{"dlq-partition", std::to_string(original->partition())},
                          Header{"dlq-offset", std::to_string(original->offset())},
                          Header{"dlq-timestamp", std::to_string(*original->timestamp_ms())}));
}

TEST_F(DlqWriterTest, UnkeyedOriginalStaysUnkeyed) {
  DlqWriter dlq(*producer_, {});
  DlqSource source{.topic = "crm.events.call", .partition = 0, .offset = 5, .payload = "xx"};
  absl::Notification acked;
  ASSERT_TRUE(dlq.Write(source, "malformed_json", "bad",
                        [&](absl::Status s) {
                          EXPECT_TRUE(s.ok()) << s;
                          acked.Notify();
                        })
                  .ok());
  ASSERT_TRUE(acked.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::optional<kafka::Message> dead = Next("crm.events.dlq");
  ASSERT_TRUE(dead.has_value());
  EXPECT_FALSE(dead->has_key());
  EXPECT_EQ(dead->payload(), "xx");
  EXPECT_EQ(dead->header("dlq-reason"), "malformed_json");
  EXPECT_EQ(dead->header("dlq-source-topic"), "crm.events.call");
  EXPECT_EQ(dead->header("dlq-timestamp"), std::nullopt);
  EXPECT_EQ(dlq.Write(source, "", "no reason", nullptr).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DlqWriterTest, DeliveryFailureReachesTheCallback) {
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::Producer::Create(
      {{"bootstrap.servers", broker_->bootstrap()}, {"message.timeout.ms", "1000"}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  DlqWriter dlq(**producer, {.topic = "crm.events.dlq"});
  ASSERT_TRUE(broker_->SendCommand("down all").ok());
  absl::Notification called;
  absl::Status status;
  ASSERT_TRUE(dlq.Write(DlqSource{.topic = "t", .payload = "p"}, "too_large", "",
                        [&](absl::Status s) {
                          status = s;
                          called.Notify();
                        })
                  .ok());
  ASSERT_TRUE(called.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(status.ok());
  ASSERT_TRUE(broker_->SendCommand("up all").ok());
}

}  // namespace
}  // namespace autostage::ingest
