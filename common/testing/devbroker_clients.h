// Test-only: common/kafka clients of a DevBrokerProcess — a broker started together with a
// producer, and the settings of a consumer-group member. Header-only, so that only tests which
// already link autostage_kafka include it (autostage_testing itself does not link it).
//
//   absl::StatusOr<BrokerWithProducer> kafka = StartBrokerWithProducer({.topics = {{"t", 2}}});
//   ASSERT_TRUE(kafka.ok()) << kafka.status();
//   kafka::Consumer::Create(ConsumerConfigFor(kafka->broker->bootstrap(), "group"), nullptr);
//
// Thread safety: the functions keep no state; see DevBrokerProcess and kafka::Producer for the
// objects they return.
#ifndef AUTOSTAGE_COMMON_TESTING_DEVBROKER_CLIENTS_H_
#define AUTOSTAGE_COMMON_TESTING_DEVBROKER_CLIENTS_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/producer.h"
#include "common/testing/devbroker_process.h"

namespace autostage::testing {

// Settings of a consumer-group member that reads from the start of its partitions, with a 6 s
// session timeout: the mock cluster holds the next join for up to the session timeout after a
// member left without saying so, and librdkafka's default is 45 s. `extra` adds settings or
// overrides these.
inline kafka::KafkaConfig ConsumerConfigFor(const std::string& bootstrap, const std::string& group,
                                            const kafka::KafkaConfig& extra = {}) {
  kafka::KafkaConfig config = {{"bootstrap.servers", bootstrap},
                               {"group.id", group},
                               {"auto.offset.reset", "earliest"},
                               {"session.timeout.ms", "6000"}};
  for (const auto& [key, value] : extra) config[key] = value;
  return config;
}

struct BrokerWithProducer {
  std::unique_ptr<DevBrokerProcess> broker;
  // Default settings, connected to `broker`; destroy it before the broker.
  std::unique_ptr<kafka::Producer> producer;
};

// Starts a devbroker with `options` and a producer for it; the error of whichever failed.
inline absl::StatusOr<BrokerWithProducer> StartBrokerWithProducer(DevBrokerProcessOptions options) {
  absl::StatusOr<std::unique_ptr<DevBrokerProcess>> broker =
      DevBrokerProcess::Start(std::move(options));
  if (!broker.ok()) return broker.status();
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create({{"bootstrap.servers", (*broker)->bootstrap()}});
  if (!producer.ok()) return producer.status();
  return BrokerWithProducer{*std::move(broker), *std::move(producer)};
}

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_DEVBROKER_CLIENTS_H_
