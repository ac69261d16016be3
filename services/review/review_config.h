// ReviewConfig: everything autostage-review is configured with, read from one YAML file
// (`--config review.yaml`, documented key by key in docs/review-operations.md and in
// deploy/config/review.yaml) and then overridden by command-line flags.
//
//   ASSIGN_OR_RETURN(ReviewConfig config, LoadReviewConfig("review.yaml"));
//   config.listen = flag_listen;                  // a flag the operator gave
//   RETURN_IF_ERROR(ValidateReviewConfig(config));  // again, after the overrides
//
// Reading is strict (common/config ConfigReader): an unknown or misspelt key, a wrong type or a
// value out of range is an error naming file:line and the dotted key, and every problem of the
// file is reported at once. Relative file paths in the file (tokens, pipelines, TLS files) are
// resolved against the config file's directory, so a config and its files move together.
//
// Errors: kInvalidArgument (every problem, one per line), kNotFound (file unreadable).
// Thread safety: pure functions over values.
#ifndef AUTOSTAGE_SERVICES_REVIEW_REVIEW_CONFIG_H_
#define AUTOSTAGE_SERVICES_REVIEW_REVIEW_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autostage::review {

struct RedisConfig {
  std::string address = "127.0.0.1:6379";  // host:port
  int pool_size = 8;                       // connections shared by all RPCs
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration command_timeout = absl::Seconds(1);
  absl::Duration pool_wait = absl::Seconds(2);  // wait for a free connection
  std::string username;                         // ACL user; empty: the default user
  std::string password_file;                    // file holding the password; empty: no AUTH
  int db = 0;
};

struct TlsConfig {
  std::string cert_file;       // PEM server certificate chain; empty: plaintext
  std::string key_file;        // PEM private key (with cert_file)
  std::string client_ca_file;  // PEM CA that client certificates must chain to
  bool require_client_cert = false;

  bool enabled() const { return !cert_file.empty(); }
};

struct OutboxConfig {
  std::string topic = "crm.stage-changes";
  std::string kafka_bootstrap;  // bootstrap.servers; empty: the publisher does not run
  // Extra librdkafka producer settings, "name=value" each (e.g. "linger.ms=5").
  std::vector<std::string> producer_settings;
  // This instance's consumer name in the outbox consumer group: unique per running instance
  // and stable across its restarts. Empty: the host name.
  std::string consumer;
  // An entry another instance read but did not acknowledge for this long is claimed here.
  absl::Duration claim_idle = absl::Seconds(30);
  // At shutdown, how long the publisher may keep publishing what it has read.
  absl::Duration flush_deadline = absl::Seconds(5);
};

struct ExpiryConfig {
  absl::Duration max_age = absl::Hours(24 * 14);  // pending proposals older than this expire
  absl::Duration sweep_period = absl::Minutes(1);
};

struct ReviewConfig {
  std::string listen = "127.0.0.1:7070";          // gRPC host:port
  std::string metrics_listen = "127.0.0.1:9465";  // /metrics and /healthz host:port
  std::string tokens_file;                        // required
  std::string pipelines_file;                     // required
  std::string log_level = "info";
  int evidence_cap = 20;  // evidence kept per pending proposal (newest)
  // SIGTERM: health NOT_SERVING, then in-flight RPCs get this long before they are cancelled.
  absl::Duration shutdown_deadline = absl::Seconds(10);
  RedisConfig redis;
  TlsConfig tls;
  OutboxConfig outbox;
  ExpiryConfig expiry;
};

// Reads and validates a config file (see the file comment). Missing keys keep the defaults
// above, except tokens_file and pipelines_file, which may instead come from flags: their
// absence is reported by ValidateReviewConfig, not here.
absl::StatusOr<ReviewConfig> LoadReviewConfig(const std::string& path);
// Same, from YAML text; `name` stands in for the file name in messages and relative paths
// resolve against `base_dir` (none when empty).
absl::StatusOr<ReviewConfig> ParseReviewConfig(absl::string_view yaml, absl::string_view name,
                                               absl::string_view base_dir = "");

// Checks the values (after flag overrides): every problem, one per line, "key: message".
absl::Status ValidateReviewConfig(const ReviewConfig& config);

// "host:port" → {host, port}; kInvalidArgument naming `key` otherwise.
absl::StatusOr<std::pair<std::string, int>> ParseHostPort(absl::string_view address,
                                                          absl::string_view key);

// outbox.producer_settings as name/value pairs (already validated by Validate).
std::vector<std::pair<std::string, std::string>> ProducerSettings(const OutboxConfig& outbox);

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_REVIEW_CONFIG_H_
