// autostage-review: reads its config (--config review.yaml, flags override keys), loads the token
// and pipelines files, wires the store, core, WatchHub, gRPC server, metrics server, outbox
// publisher and expirer, and runs until SIGTERM/SIGINT. docs/review-operations.md describes the
// keys, signals and exit codes.
//
// Signals are handled by one thread with sigwait (they are blocked everywhere else):
//   SIGHUP          re-reads the token file; a bad file keeps the old tokens (logged).
//   SIGTERM/SIGINT  health goes NOT_SERVING (/healthz and grpc.health), open watches end, new
//                   calls are refused, in-flight calls get shutdown_deadline to finish; then the
//                   expirer stops and the outbox publisher flushes for up to
//                   outbox.flush_deadline; the process exits 0.
// Exit codes: 0 after a signal-driven shutdown, 2 for bad flags or config (one line on stderr
// naming the key, and file:line for keys from the file), 1 when a listener cannot start.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "common/config/units.h"
#include "common/log/log.h"
#include "common/metrics/metrics_server.h"
#include "common/redis/redis_pool.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/expiry.h"
#include "services/review/grpc_server.h"
#include "services/review/outbox_publisher.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/review_config.h"
#include "services/review/review_core.h"
#include "services/review/review_metrics.h"
#include "services/review/watch_hub.h"

namespace {

namespace review = autostage::review;
namespace aslog = autostage::log;

constexpr int kExitConfig = 2;
constexpr int kExitStart = 1;

// The one place output bypasses the JSON logger: the logger itself may be what is misconfigured.
int FailConfig(const absl::Status& status) {
  std::string message(status.message());
  absl::StrReplaceAll({{"\n", "; "}}, &message);
  std::fprintf(stderr, "autostage-review: bad config: %s\n", message.c_str());
  return kExitConfig;
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("redis.password_file: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "autostage-review";
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on: every Lock records and checks a
  // lock-order graph (~3 % of the server's CPU under SubmitProposals/Confirm load). It is a
  // debugging aid (abseil's optimized builds leave it off), not a production safeguard. Set
  // before any thread starts.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"autostage-review: holds proposals until a person confirms or rejects them"};
  std::string config_path;
  std::optional<std::string> listen, metrics_listen, redis_address, tokens, pipelines, log_level,
      kafka_bootstrap, shutdown_deadline;
  std::optional<int> redis_connections;
  app.add_option("--config", config_path, "YAML config file (docs/review-operations.md)");
  app.add_option("--listen", listen, "gRPC host:port (key listen)");
  app.add_option("--metrics-listen", metrics_listen, "/metrics host:port (key metrics_listen)");
  app.add_option("--redis", redis_address, "Redis host:port (key redis.address)");
  app.add_option("--redis-connections", redis_connections, "pool size (key redis.pool_size)");
  app.add_option("--tokens", tokens, "token file (key tokens_file)");
  app.add_option("--pipelines", pipelines, "pipelines.yaml (key pipelines_file)");
  app.add_option("--log-level", log_level, "log level (key log_level)");
  app.add_option("--kafka-bootstrap", kafka_bootstrap, "Kafka (key outbox.kafka_bootstrap)");
  app.add_option("--shutdown-deadline", shutdown_deadline, "e.g. 10s (key shutdown_deadline)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitConfig;
  }

  review::ReviewConfig config;
  if (!config_path.empty()) {
    absl::StatusOr<review::ReviewConfig> loaded = review::LoadReviewConfig(config_path);
    if (!loaded.ok()) return FailConfig(loaded.status());
    config = *std::move(loaded);
  }
  if (listen) config.listen = *listen;
  if (metrics_listen) config.metrics_listen = *metrics_listen;
  if (redis_address) config.redis.address = *redis_address;
  if (redis_connections) config.redis.pool_size = *redis_connections;
  if (tokens) config.tokens_file = *tokens;
  if (pipelines) config.pipelines_file = *pipelines;
  if (log_level) config.log_level = *log_level;
  if (kafka_bootstrap) config.outbox.kafka_bootstrap = *kafka_bootstrap;
  if (shutdown_deadline) {
    absl::StatusOr<absl::Duration> d = autostage::config::ParseDuration(*shutdown_deadline);
    if (!d.ok())
      return FailConfig(
          absl::InvalidArgumentError(absl::StrCat("--shutdown-deadline: ", d.status().message())));
    config.shutdown_deadline = *d;
  }
  if (absl::Status valid = review::ValidateReviewConfig(config); !valid.ok()) {
    return FailConfig(valid);
  }

  absl::StatusOr<aslog::Logger> made_log = aslog::MakeStderrLogger("review", config.log_level);
  if (!made_log.ok()) return FailConfig(made_log.status());
  const aslog::Logger logger = *std::move(made_log);

  absl::StatusOr<review::TokenTable> token_table = review::TokenTable::Load(config.tokens_file);
  if (!token_table.ok()) {
    return FailConfig(
        absl::InvalidArgumentError(absl::StrCat("tokens_file: ", token_table.status().message())));
  }
  absl::StatusOr<review::Pipelines> stages = review::Pipelines::Load(config.pipelines_file);
  if (!stages.ok()) {
    return FailConfig(
        absl::InvalidArgumentError(absl::StrCat("pipelines_file: ", stages.status().message())));
  }
  autostage::redis::RedisOptions redis_options;
  {
    absl::StatusOr<std::pair<std::string, int>> host_port =
        review::ParseHostPort(config.redis.address, "redis.address");
    if (!host_port.ok()) return FailConfig(host_port.status());  // validated; kept for safety
    redis_options.host = host_port->first;
    redis_options.port = host_port->second;
  }
  redis_options.connect_timeout = config.redis.connect_timeout;
  redis_options.command_timeout = config.redis.command_timeout;
  redis_options.username = config.redis.username;
  redis_options.db = config.redis.db;
  if (!config.redis.password_file.empty()) {
    absl::StatusOr<std::string> password = ReadSecretFile(config.redis.password_file);
    if (!password.ok()) return FailConfig(password.status());
    redis_options.password = *std::move(password);
  }

  // Block the signals before any thread starts, so only the signal thread below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  prometheus::Registry registry;
  review::ReviewMetrics metrics(registry);
  autostage::redis::RedisPool pool(redis_options, config.redis.pool_size);
  review::SystemClock clock;
  review::ProposalStore store(
      pool, *std::move(stages), clock,
      {.evidence_cap = config.evidence_cap, .pool_wait = config.redis.pool_wait});
  review::WatchHub hub(redis_options, [&store](absl::string_view id) { return store.Get(id); });
  hub.Start();
  review::ReviewCore core(store, *token_table, &metrics, &hub);

  // The publisher runs only where Kafka is configured; without it entries wait in the outbox.
  std::unique_ptr<review::OutboxPublisher> publisher;
  if (!config.outbox.kafka_bootstrap.empty()) {
    review::OutboxPublisherOptions options{
        .redis = redis_options,
        .topic = config.outbox.topic,
        .consumer = config.outbox.consumer.empty() ? HostName() : config.outbox.consumer,
        .claim_idle = config.outbox.claim_idle};
    for (auto& [name, value] : review::ProducerSettings(config.outbox)) {
      options.kafka[name] = value;
    }
    options.kafka["bootstrap.servers"] = config.outbox.kafka_bootstrap;
    absl::StatusOr<std::unique_ptr<review::OutboxPublisher>> created =
        review::OutboxPublisher::Create(std::move(options));
    if (!created.ok()) {
      return FailConfig(
          absl::InvalidArgumentError(absl::StrCat("outbox: ", created.status().message())));
    }
    publisher = *std::move(created);
    metrics.SetOutboxSource([p = publisher.get()] {
      const review::OutboxPublisherStats stats = p->stats();
      return review::OutboxStats{.backlog = stats.backlog,
                                 .publish_errors = stats.publish_errors_total};
    });
    publisher->Start();
  } else {
    logger.Warn(
        "outbox.kafka_bootstrap is empty: this instance publishes nothing; "
        "confirmed changes wait in the outbox");
  }
  review::Expirer expirer(
      store, {.max_age = config.expiry.max_age, .interval = config.expiry.sweep_period},
      [&metrics](int64_t expired) { metrics.ObserveExpired(expired); });
  expirer.Start();

  absl::StatusOr<std::unique_ptr<review::ReviewServer>> server =
      review::ReviewServer::Start({.listen = config.listen,
                                   .tls_cert_file = config.tls.cert_file,
                                   .tls_key_file = config.tls.key_file,
                                   .tls_client_ca_file = config.tls.client_ca_file,
                                   .require_client_cert = config.tls.require_client_cert,
                                   .readiness_probe = review::MakeRedisProbe(pool, &metrics)},
                                  core);
  if (!server.ok()) {
    logger.Error("gRPC server did not start",
                 {{"address", config.listen}, {"status", server.status()}});
    return server.status().code() == absl::StatusCode::kUnavailable ? kExitStart : kExitConfig;
  }
  // /healthz answers what grpc.health answers: the Redis probe, NOT_SERVING from shutdown on.
  absl::StatusOr<std::unique_ptr<autostage::metrics::MetricsServer>> metrics_server =
      autostage::metrics::MetricsServer::Start({.address = config.metrics_listen}, registry,
                                               [s = server->get()] { return s->Health(); });
  if (!metrics_server.ok()) {
    logger.Error("metrics server did not start",
                 {{"address", config.metrics_listen}, {"status", metrics_server.status()}});
    (*server)->Shutdown(absl::ZeroDuration());
    return kExitStart;
  }
  logger.Info("listening", {{"grpc_port", (*server)->port()},
                            {"metrics_port", (*metrics_server)->port()},
                            {"redis", config.redis.address},
                            {"redis_pool_size", config.redis.pool_size},
                            {"tokens", token_table->size()},
                            {"tls", config.tls.enabled()},
                            {"outbox_publisher", publisher != nullptr}});

  std::thread signal_thread([&] {
    for (;;) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (signal == SIGHUP) {
        const absl::Status reloaded = token_table->Reload();
        if (reloaded.ok()) {
          logger.Info("token file reloaded",
                      {{"path", config.tokens_file}, {"tokens", token_table->size()}});
        } else {
          logger.Error("token file reload failed; keeping the previous tokens",
                       {{"path", config.tokens_file}, {"status", reloaded}});
        }
        continue;
      }
      logger.Info("draining", {{"signal", signal}, {"deadline", config.shutdown_deadline}});
      // NOT_SERVING first (inside Shutdown), then in-flight calls get the deadline.
      (*server)->Shutdown(config.shutdown_deadline);
      return;
    }
  });
  (*server)->Wait();
  signal_thread.join();
  // No RPC runs any more: stop the background work. Confirmed changes the publisher already
  // read get flush_deadline to be acknowledged by Kafka; the rest stay in the outbox for the
  // next instance (at least once, deduplicated by change_id downstream).
  expirer.Stop();
  if (publisher != nullptr) {
    publisher->Stop(config.outbox.flush_deadline);
    const review::OutboxPublisherStats stats = publisher->stats();
    logger.Info("outbox publisher stopped", {{"published", stats.published_total},
                                             {"publish_errors", stats.publish_errors_total},
                                             {"backlog", stats.backlog}});
  }
  hub.Stop();
  logger.Info("stopped");
  logger.Flush();
  return 0;
}
