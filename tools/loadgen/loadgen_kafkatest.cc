// Smoke test of the load generator against the devbroker (label `kafka`): a few hundred events
// and the opportunities are produced, consumed back by an independent consumer, and decode
// (or fail with the announced reason); the consume-and-discard mode counts them all.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/testing/devbroker_process.h"
#include "gtest/gtest.h"
#include "tools/loadgen/loadgen.h"

namespace autostage::loadgen {
namespace {

using ::autostage::testing::DevBrokerProcess;

TEST(LoadgenKafkaTest, ProducedEventsComeBackDecodable) {
  absl::StatusOr<std::unique_ptr<DevBrokerProcess>> broker =
      DevBrokerProcess::Start({.brokers = 1,
                               .topics = {{"crm.events.email", 2},
                                          {"crm.events.call", 2},
                                          {"crm.events.chat", 2},
                                          {"crm.opportunities", 1}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  ProduceOptions produce;
  produce.brokers = (*broker)->bootstrap();
  produce.count = 300;
  produce.rate = 3000;
  produce.generator.seed = 9;
  produce.generator.opportunities = 50;
  produce.generator.malformed_fraction = 0.05;
  absl::StatusOr<ProduceSummary> summary = RunProduce(produce);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->sent, 300);
  EXPECT_EQ(summary->errors, 0);
  EXPECT_EQ(summary->opportunities, 50);
  EXPECT_GT(summary->malformed, 0);
  EXPECT_GT(summary->triggers, 0);
  EXPECT_NE(summary->ToJson().find("\"sent\":300"), std::string::npos) << summary->ToJson();
  // Every acknowledged event has a delivery time (produce call -> broker acknowledgement).
  EXPECT_GT(summary->delivery_p50_ms, 0);
  EXPECT_GE(summary->delivery_p99_ms, summary->delivery_p50_ms);

  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create({{"bootstrap.servers", (*broker)->bootstrap()},
                               {"group.id", "smoke"},
                               {"auto.offset.reset", "earliest"},
                               {"session.timeout.ms", "6000"}},
                              nullptr);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)
                  ->Subscribe({"crm.events.email", "crm.events.call", "crm.events.chat",
                               "crm.opportunities"})
                  .ok());
  int events = 0, opportunities = 0, malformed = 0, triggers = 0;
  std::map<std::string, int> per_topic;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((events < 300 || opportunities < 50) && absl::Now() < deadline) {
    std::optional<kafka::Message> m = (*consumer)->Poll(absl::Milliseconds(100));
    if (!m || !m->ok()) continue;
    if (m->topic() == "crm.opportunities") {
      absl::StatusOr<v1::Opportunity> o =
          event::DecodeOpportunity(std::string(m->payload()), event::Encoding::kJson);
      ASSERT_TRUE(o.ok()) << o.status();
      EXPECT_EQ(o->opportunity_id(), m->key());
      ++opportunities;
      continue;
    }
    ++events;
    ++per_topic[m->topic()];
    EXPECT_EQ(m->header("content-type"), "application/json");
    const std::optional<std::string> kind = m->header("loadgen-kind");
    ASSERT_TRUE(kind.has_value());
    absl::StatusOr<v1::Event> e =
        event::DecodeEvent(std::string(m->payload()), event::Encoding::kJson);
    if (*kind == "malformed") {
      ++malformed;
      ASSERT_FALSE(e.ok());
      EXPECT_EQ(event::ReasonOf(e.status()), m->header("loadgen-expect").value_or(""));
      continue;
    }
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(m->topic(), "crm.events." + e->source());
    EXPECT_EQ(m->key(), e->opportunity_id());
    triggers += *kind == "trigger";
  }
  EXPECT_EQ(events, 300);
  EXPECT_EQ(opportunities, 50);
  EXPECT_EQ(malformed, summary->malformed);
  EXPECT_EQ(triggers, summary->triggers);
  EXPECT_EQ(per_topic.size(), 3u);
  ASSERT_TRUE((*consumer)->Close().ok());

  ConsumeOptions consume;
  consume.brokers = (*broker)->bootstrap();
  consume.idle_timeout = absl::Seconds(2);
  absl::StatusOr<ConsumeSummary> consumed = RunConsume(consume);
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumed->consumed, 300);
  EXPECT_EQ(consumed->bytes, summary->bytes);
  // Create time -> consumed: here the age of the backlog, so at least the delivery time.
  EXPECT_GE(consumed->latency_p50_ms, summary->delivery_p50_ms);
  EXPECT_GE(consumed->latency_p99_ms, consumed->latency_p50_ms);
  EXPECT_NE(consumed->ToJson().find("\"latency_p99_ms\""), std::string::npos);
}

}  // namespace
}  // namespace autostage::loadgen
