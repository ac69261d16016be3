#include "services/ingest/ingest_config.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/config_reader.h"

namespace autostage::ingest {
namespace {

absl::StatusOr<IngestConfig> Read(config::ConfigReader root) {
  IngestConfig c;
  if (std::optional<config::ConfigReader> k = root.OptionalChild("kafka")) {
    k->Optional("brokers", &c.kafka.brokers)
        .Optional("group_id", &c.kafka.group_id)
        .Optional("topics", &c.kafka.topics)
        .Optional("opportunities_topic", &c.kafka.opportunities_topic)
        .Optional("dlq_topic", &c.kafka.dlq_topic)
        .Optional("session_timeout", &c.kafka.session_timeout)
        .Optional("max_poll_interval", &c.kafka.max_poll_interval)
        .Optional("commit_interval", &c.kafka.commit_interval);
  }
  if (std::optional<config::ConfigReader> r = root.OptionalChild("redis")) {
    r->Optional("host", &c.redis.host)
        .Optional("port", &c.redis.port)
        .Optional("password_file", &c.redis.password_file)
        .Optional("connections", &c.redis.connections)
        .Optional("command_timeout", &c.redis.command_timeout)
        .Optional("dedupe_ttl", &c.redis.dedupe_ttl);
  }
  if (std::optional<config::ConfigReader> r = root.OptionalChild("review")) {
    r->Optional("target", &c.review.target)
        .Optional("token_file", &c.review.token_file)
        .Optional("tls_ca_file", &c.review.tls_ca_file)
        .Optional("tls_cert_file", &c.review.tls_cert_file)
        .Optional("tls_key_file", &c.review.tls_key_file)
        .Optional("call_deadline", &c.review.call_deadline)
        .Optional("batch_size", &c.review.batch_size)
        .Optional("linger", &c.review.linger)
        .Optional("max_in_flight_batches", &c.review.max_in_flight_batches);
  }
  if (std::optional<config::ConfigReader> r = root.OptionalChild("rules")) {
    r->Optional("paths", &c.rules.paths).Optional("poll_interval", &c.rules.poll_interval);
  }
  if (std::optional<config::ConfigReader> p = root.OptionalChild("processing")) {
    p->Optional("workers", &c.processing.workers)
        .Optional("max_queued_events", &c.processing.max_queued_events)
        .Optional("max_run_events", &c.processing.max_run_events)
        .Optional("max_pending_events", &c.processing.max_pending_events)
        .Optional("unresolved", &c.processing.unresolved)
        .Optional("max_event_bytes", &c.processing.max_event_bytes)
        .Optional("revoke_wait", &c.processing.revoke_wait)
        .Optional("drain_timeout", &c.processing.drain_timeout)
        .Optional("state_ready_timeout", &c.processing.state_ready_timeout)
        .Optional("lag_interval", &c.processing.lag_interval);
  }
  if (std::optional<config::ConfigReader> s = root.OptionalChild("server")) {
    s->Optional("metrics_address", &c.server.metrics_address);
  }
  root.Optional("log_level", &c.log_level);
  if (absl::Status s = root.Finish(); !s.ok()) return s;
  return c;
}

}  // namespace

absl::Status IngestConfig::Validate() const {
  std::vector<std::string> errors;
  if (kafka.brokers.empty()) errors.push_back("kafka.brokers: required");
  if (kafka.group_id.empty()) errors.push_back("kafka.group_id: required");
  if (kafka.topics.empty()) errors.push_back("kafka.topics: at least one topic");
  if (redis.port < 1 || redis.port > 65535) errors.push_back("redis.port: must be 1..65535");
  if (redis.connections < 1) errors.push_back("redis.connections: must be >= 1");
  if (redis.dedupe_ttl < absl::Seconds(1)) errors.push_back("redis.dedupe_ttl: must be >= 1s");
  if (review.target.empty()) errors.push_back("review.target: required");
  if (review.token_file.empty()) errors.push_back("review.token_file: required");
  if (review.batch_size < 1 || review.batch_size > 1000) {
    errors.push_back("review.batch_size: must be 1..1000");
  }
  if (review.max_in_flight_batches < 1) errors.push_back("review.max_in_flight_batches: >= 1");
  if (rules.paths.empty()) errors.push_back("rules.paths: at least one rule file or folder");
  if (processing.workers < 1 || processing.workers > 256) {
    errors.push_back("processing.workers: must be 1..256");
  }
  if (processing.max_queued_events < 1) errors.push_back("processing.max_queued_events: >= 1");
  if (processing.max_run_events < 1) errors.push_back("processing.max_run_events: >= 1");
  if (processing.max_pending_events < processing.max_queued_events) {
    errors.push_back("processing.max_pending_events: must be >= max_queued_events");
  }
  if (processing.unresolved != "dlq" && processing.unresolved != "skip") {
    errors.push_back("processing.unresolved: must be dlq or skip");
  }
  if (processing.lag_interval < absl::Milliseconds(100)) {
    errors.push_back("processing.lag_interval: must be >= 100ms");
  }
  if (processing.max_event_bytes.bytes < 1024) {
    errors.push_back("processing.max_event_bytes: must be >= 1KiB");
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "; "));
}

absl::StatusOr<IngestConfig> LoadIngestConfig(const std::string& path) {
  absl::StatusOr<config::ConfigReader> root = config::ConfigReader::FromFile(path);
  if (!root.ok()) return root.status();
  return Read(*std::move(root));
}

absl::StatusOr<IngestConfig> ParseIngestConfig(absl::string_view yaml, absl::string_view name) {
  absl::StatusOr<config::ConfigReader> root = config::ConfigReader::FromString(yaml, name);
  if (!root.ok()) return root.status();
  return Read(*std::move(root));
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::string line;
  std::getline(in, line);
  std::string secret(absl::StripAsciiWhitespace(line));
  if (secret.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty"));
  return secret;
}

}  // namespace autostage::ingest
