// DevBroker: a Kafka-protocol broker for development and tests, on librdkafka's mock cluster.
//
// The mock cluster runs inside this process on its own threads and listens on random loopback
// ports (librdkafka 2.0.2 cannot bind a fixed port). Any Kafka client can connect to
// bootstrap(). Data lives in memory only and is gone after Stop().
//
//   ASSIGN_OR_RETURN(auto broker, DevBroker::Start({.brokers = 3, .topics = {{"events", 3}}}));
//   Produce(broker->bootstrap(), ...);
//   RETURN_IF_ERROR(broker->SetBrokerDown(1));
//
// Fault hooks (SetBrokerDown/Up, SetRtt, PushRequestErrors, ClearRequestErrors) and
// ExecuteCommand take effect synchronously: when they return, the mock has applied them.
//
// Thread safety: the hooks, CreateTopic and ExecuteCommand may be called from any thread
// concurrently (the mock cluster serializes them). Stop() and destruction must not race with
// any other call.
#ifndef AUTOSTAGE_TOOLS_DEVBROKER_DEVBROKER_H_
#define AUTOSTAGE_TOOLS_DEVBROKER_DEVBROKER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/handle/handle.h"

namespace autostage::devbroker {

// Largest cluster we allow; the mock starts one thread and one listener per broker.
inline constexpr int kMaxBrokers = 16;
// Pass as a broker id to address every broker at once.
inline constexpr int32_t kAllBrokers = -1;

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

struct DevBrokerOptions {
  int brokers = 1;
  std::vector<TopicSpec> topics;
};

// Parses "NAME:PARTITIONS" (or just "NAME", meaning 1 partition). InvalidArgument on a bad
// name or partition count.
absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view spec);

// Parses a Kafka API name ("Produce", "OffsetCommit", case-insensitive) or a numeric ApiKey.
absl::StatusOr<int16_t> ParseApiKey(absl::string_view name);

// Parses a librdkafka error name ("REBALANCE_IN_PROGRESS", "_TRANSPORT", with or without the
// "RD_KAFKA_RESP_ERR_" prefix, case-insensitive) or a numeric code.
absl::StatusOr<rd_kafka_resp_err_t> ParseErrorCode(absl::string_view name);

class DevBroker {
 public:
  // Creates the mock cluster and the declared topics. InvalidArgument on bad options,
  // Internal if librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<DevBroker>> Start(const DevBrokerOptions& options);

  DevBroker(const DevBroker&) = delete;
  DevBroker& operator=(const DevBroker&) = delete;
  ~DevBroker();

  // "127.0.0.1:PORT,127.0.0.1:PORT,..." — valid from Start() until Stop().
  const std::string& bootstrap() const { return bootstrap_; }
  int broker_count() const { return broker_count_; }

  absl::Status CreateTopic(const TopicSpec& topic);

  // Disconnects broker `id` (1..broker_count, or kAllBrokers) and refuses new connections.
  // Partition leadership does not move.
  absl::Status SetBrokerDown(int32_t id);
  absl::Status SetBrokerUp(int32_t id);
  // Delays every response of broker `id` by `rtt_ms` (0 clears it).
  absl::Status SetRtt(int32_t id, int rtt_ms);
  // The next errors.size() requests with `api_key` fail with these errors, in order.
  // RD_KAFKA_RESP_ERR__TRANSPORT makes the broker drop the connection instead.
  absl::Status PushRequestErrors(int16_t api_key, const std::vector<rd_kafka_resp_err_t>& errors);
  absl::Status ClearRequestErrors(int16_t api_key);

  // Runs one text command (see README.md): "down 1", "up all", "rtt 1 500",
  // "errors OffsetCommit REBALANCE_IN_PROGRESS NOT_COORDINATOR", "clear OffsetCommit",
  // "topic NAME:PARTITIONS". InvalidArgument on a malformed command.
  absl::Status ExecuteCommand(absl::string_view line);

  // Destroys the cluster: every connection drops. Idempotent; hooks fail afterwards.
  void Stop();

 private:
  using KafkaHandle = Handle<rd_kafka_t, &rd_kafka_destroy>;
  using MockCluster = Handle<rd_kafka_mock_cluster_t, &rd_kafka_mock_cluster_destroy>;

  DevBroker(KafkaHandle rk, MockCluster cluster, int broker_count);
  absl::Status CheckBrokerId(int32_t id) const;
  absl::Status CheckRunning() const;

  // Declared before cluster_: the cluster must be destroyed before the handle it lives on.
  KafkaHandle rk_;
  MockCluster cluster_;
  int broker_count_;
  std::string bootstrap_;
};

}  // namespace autostage::devbroker

#endif  // AUTOSTAGE_TOOLS_DEVBROKER_DEVBROKER_H_
