// IngestConfig: autostage-ingest's configuration file (contract C6; documented example in
// deploy/config/ingest.yaml, reference in docs/ingest.md). Read strictly with
// config::ConfigReader: unknown keys are errors with file:line; every problem is reported at
// once. Flags in main.cc override single values after the file was read; Validate() checks the
// combined result.
//
// Thread safety: a plain value.
#ifndef AUTOSTAGE_SERVICES_INGEST_INGEST_CONFIG_H_
#define AUTOSTAGE_SERVICES_INGEST_INGEST_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config/units.h"

namespace autostage::ingest {

struct IngestConfig {
  struct Kafka {
    std::string brokers = "127.0.0.1:9092";
    std::string group_id = "autostage-ingest";
    std::vector<std::string> topics = {"crm.events.email", "crm.events.call", "crm.events.chat"};
    std::string opportunities_topic = "crm.opportunities";
    std::string dlq_topic = "crm.events.dlq";
    absl::Duration session_timeout = absl::Seconds(10);
    absl::Duration max_poll_interval = absl::Minutes(5);
    absl::Duration commit_interval = absl::Seconds(1);
  } kafka;
  struct Redis {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password_file;  // empty: no AUTH
    int connections = 8;
    absl::Duration command_timeout = absl::Seconds(1);
    absl::Duration dedupe_ttl = absl::Hours(24 * 14);
  } redis;
  struct Review {
    std::string target = "127.0.0.1:7070";
    std::string token_file;  // required: the bearer token of an `ingest` service principal
    std::string tls_ca_file;
    std::string tls_cert_file;
    std::string tls_key_file;
    absl::Duration call_deadline = absl::Seconds(5);
    int batch_size = 200;
    absl::Duration linger = absl::Milliseconds(5);
    int max_in_flight_batches = 4;
  } review;
  struct Rules {
    std::vector<std::string> paths;  // required: rule files or folders
    absl::Duration poll_interval = absl::Seconds(2);
  } rules;
  struct Processing {
    int workers = 8;  // they mostly wait on Redis and review: more than cores (BENCHMARKS.md)
    // Large enough that a burst does not pause the consumer: a pause drops librdkafka's
    // prefetched messages and the resume re-fetches them, which capped throughput at ~5k
    // events/s with 2000 (BENCHMARKS.md, "Summary"). 20,000 raw events are ~30 MB.
    int max_queued_events = 20000;
    int max_run_events = 500;  // most events of one partition a worker handles at once
    int max_pending_events = 40000;
    std::string unresolved = "dlq";  // dlq | skip
    config::ByteSize max_event_bytes{1 << 20};
    absl::Duration revoke_wait = absl::Seconds(2);
    absl::Duration drain_timeout = absl::Seconds(15);
    absl::Duration state_ready_timeout = absl::Minutes(5);
    // How often the consumer-lag gauges are refreshed (and 9a checked); see partition_monitor.h.
    absl::Duration lag_interval = absl::Seconds(5);
  } processing;
  struct Server {
    std::string metrics_address = "127.0.0.1:9464";
  } server;
  std::string log_level = "info";

  // kInvalidArgument naming every bad value.
  absl::Status Validate() const;
};

// Reads a YAML file / text (`name` stands in for the file in messages); missing sections keep
// their defaults. Does not Validate().
absl::StatusOr<IngestConfig> LoadIngestConfig(const std::string& path);
absl::StatusOr<IngestConfig> ParseIngestConfig(absl::string_view yaml,
                                               absl::string_view name = "<config>");

// The first line of a secret file, whitespace trimmed. kNotFound when unreadable,
// kInvalidArgument when empty.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_INGEST_CONFIG_H_
