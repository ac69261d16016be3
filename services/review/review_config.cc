#include "services/review/review_config.h"

#include <functional>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/config_reader.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace autostage::review {
namespace {

// Reports one problem about `key` of the mapping `section` ("" = the top level).
using Report =
    std::function<void(absl::string_view section, absl::string_view key, absl::string_view msg)>;

bool ValidHostPort(absl::string_view address) { return ParseHostPort(address, "").ok(); }

// Every value check, shared by the file reader (which reports with file:line) and by
// ValidateReviewConfig (which runs again after flags overrode values).
void Check(const ReviewConfig& c, const Report& report) {
  if (!ValidHostPort(c.listen)) report("", "listen", "must be host:port");
  if (!ValidHostPort(c.metrics_listen)) report("", "metrics_listen", "must be host:port");
  if (!log::ParseLevel(c.log_level).ok()) {
    report("", "log_level", "must be one of trace, debug, info, warn, error, critical, off");
  }
  if (c.evidence_cap < 1 || c.evidence_cap > 1000) report("", "evidence_cap", "must be 1..1000");
  if (c.shutdown_deadline <= absl::ZeroDuration()) {
    report("", "shutdown_deadline", "must be positive");
  }

  if (!ValidHostPort(c.redis.address)) report("redis", "address", "must be host:port");
  if (c.redis.pool_size < 1 || c.redis.pool_size > 256) {
    report("redis", "pool_size", "must be 1..256");
  }
  if (c.redis.connect_timeout <= absl::ZeroDuration()) {
    report("redis", "connect_timeout", "must be positive");
  }
  if (c.redis.command_timeout <= absl::ZeroDuration()) {
    report("redis", "command_timeout", "must be positive");
  }
  if (c.redis.pool_wait <= absl::ZeroDuration()) report("redis", "pool_wait", "must be positive");
  if (c.redis.db < 0 || c.redis.db > 15) report("redis", "db", "must be 0..15");

  if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
    // Reported on the key that is present, so the message points at its line.
    if (c.tls.key_file.empty()) {
      report("tls", "cert_file", "needs key_file (cert_file and key_file go together)");
    } else {
      report("tls", "key_file", "needs cert_file (cert_file and key_file go together)");
    }
  }
  if (!c.tls.client_ca_file.empty() && !c.tls.enabled()) {
    report("tls", "client_ca_file", "needs cert_file and key_file (client certificates need TLS)");
  }
  if (c.tls.require_client_cert && c.tls.client_ca_file.empty()) {
    report("tls", "require_client_cert", "needs client_ca_file");
  }

  if (c.outbox.topic.empty()) report("outbox", "topic", "must not be empty");
  for (const std::string& setting : c.outbox.producer_settings) {
    const size_t eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      report("outbox", "producer_settings", absl::StrCat("\"", setting, "\" is not name=value"));
    } else if (setting.compare(0, eq, "bootstrap.servers") == 0) {
      report("outbox", "producer_settings", "set bootstrap.servers with outbox.kafka_bootstrap");
    }
  }
  if (c.outbox.claim_idle <= absl::ZeroDuration()) {
    report("outbox", "claim_idle", "must be positive");
  }
  if (c.outbox.flush_deadline <= absl::ZeroDuration()) {
    report("outbox", "flush_deadline", "must be positive");
  }

  if (c.expiry.max_age <= absl::ZeroDuration()) report("expiry", "max_age", "must be positive");
  if (c.expiry.sweep_period <= absl::ZeroDuration()) {
    report("expiry", "sweep_period", "must be positive");
  }
}

void Resolve(absl::string_view base_dir, std::string* path) {
  if (base_dir.empty() || path->empty() || (*path)[0] == '/') return;
  *path = absl::StrCat(base_dir, "/", *path);
}

absl::StatusOr<ReviewConfig> Read(config::ConfigReader root, absl::string_view base_dir) {
  ReviewConfig c;
  root.Optional("listen", &c.listen)
      .Optional("metrics_listen", &c.metrics_listen)
      .Optional("tokens_file", &c.tokens_file)
      .Optional("pipelines_file", &c.pipelines_file)
      .Optional("log_level", &c.log_level)
      .Optional("evidence_cap", &c.evidence_cap)
      .Optional("shutdown_deadline", &c.shutdown_deadline);

  std::optional<config::ConfigReader> redis = root.OptionalChild("redis");
  if (redis) {
    redis->Optional("address", &c.redis.address)
        .Optional("pool_size", &c.redis.pool_size)
        .Optional("connect_timeout", &c.redis.connect_timeout)
        .Optional("command_timeout", &c.redis.command_timeout)
        .Optional("pool_wait", &c.redis.pool_wait)
        .Optional("username", &c.redis.username)
        .Optional("password_file", &c.redis.password_file)
        .Optional("db", &c.redis.db);
  }
  std::optional<config::ConfigReader> tls = root.OptionalChild("tls");
  if (tls) {
    tls->Optional("cert_file", &c.tls.cert_file)
        .Optional("key_file", &c.tls.key_file)
        .Optional("client_ca_file", &c.tls.client_ca_file)
        .Optional("require_client_cert", &c.tls.require_client_cert);
  }
  std::optional<config::ConfigReader> outbox = root.OptionalChild("outbox");
  if (outbox) {
    outbox->Optional("topic", &c.outbox.topic)
        .Optional("kafka_bootstrap", &c.outbox.kafka_bootstrap)
        .Optional("producer_settings", &c.outbox.producer_settings)
        .Optional("consumer", &c.outbox.consumer)
        .Optional("claim_idle", &c.outbox.claim_idle)
        .Optional("flush_deadline", &c.outbox.flush_deadline);
  }
  std::optional<config::ConfigReader> expiry = root.OptionalChild("expiry");
  if (expiry) {
    expiry->Optional("max_age", &c.expiry.max_age).Optional("sweep_period", &c.expiry.sweep_period);
  }

  Check(c, [&](absl::string_view section, absl::string_view key, absl::string_view msg) {
    std::optional<config::ConfigReader>* child = section == "redis"    ? &redis
                                                 : section == "tls"    ? &tls
                                                 : section == "outbox" ? &outbox
                                                 : section == "expiry" ? &expiry
                                                                       : nullptr;
    // A default that fails a check can only come from a section that is absent; the checks
    // above never fail on defaults, so the top level is the fallback.
    if (child != nullptr && child->has_value()) {
      (*child)->Fail(key, msg);
    } else {
      root.Fail(section.empty() ? key : absl::StrCat(section, ".", key), msg);
    }
  });
  RETURN_IF_ERROR(root.Finish());

  Resolve(base_dir, &c.tokens_file);
  Resolve(base_dir, &c.pipelines_file);
  Resolve(base_dir, &c.redis.password_file);
  Resolve(base_dir, &c.tls.cert_file);
  Resolve(base_dir, &c.tls.key_file);
  Resolve(base_dir, &c.tls.client_ca_file);
  return c;
}

}  // namespace

absl::StatusOr<ReviewConfig> ParseReviewConfig(absl::string_view yaml, absl::string_view name,
                                               absl::string_view base_dir) {
  ASSIGN_OR_RETURN(config::ConfigReader root, config::ConfigReader::FromString(yaml, name));
  return Read(std::move(root), base_dir);
}

absl::StatusOr<ReviewConfig> LoadReviewConfig(const std::string& path) {
  ASSIGN_OR_RETURN(config::ConfigReader root, config::ConfigReader::FromFile(path));
  const size_t slash = path.rfind('/');
  const std::string base_dir = slash == std::string::npos ? "" : path.substr(0, slash);
  return Read(std::move(root), base_dir.empty() && slash == 0 ? "/" : base_dir);
}

absl::Status ValidateReviewConfig(const ReviewConfig& config) {
  std::vector<std::string> problems;
  if (config.tokens_file.empty()) {
    problems.push_back("tokens_file: required (config key tokens_file or --tokens)");
  }
  if (config.pipelines_file.empty()) {
    problems.push_back("pipelines_file: required (config key pipelines_file or --pipelines)");
  }
  Check(config, [&](absl::string_view section, absl::string_view key, absl::string_view msg) {
    problems.push_back(
        absl::StrCat(section.empty() ? "" : absl::StrCat(section, "."), key, ": ", msg));
  });
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

absl::StatusOr<std::pair<std::string, int>> ParseHostPort(absl::string_view address,
                                                          absl::string_view key) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": \"", address, "\" is not host:port (port 0..65535)"));
  }
  std::string host(address.substr(0, colon));
  // "[::1]:7070" → "::1" for clients that take a bare host.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(std::move(host), port);
}

std::vector<std::pair<std::string, std::string>> ProducerSettings(const OutboxConfig& outbox) {
  std::vector<std::pair<std::string, std::string>> settings;
  for (const std::string& setting : outbox.producer_settings) {
    const size_t eq = setting.find('=');
    if (eq == std::string::npos) continue;
    settings.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
  }
  return settings;
}

}  // namespace autostage::review
