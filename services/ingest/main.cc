// autostage-ingest: parses flags, loads the config file, wires the ingest parts and runs the
// consumer loop until SIGTERM/SIGINT (then drains in-flight events, stores offsets and leaves
// the group). SIGHUP reloads the rules (a bad rule file keeps the old rules).
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/producer.h"
#include "common/log/log.h"
#include "common/metrics/metrics_server.h"
#include "common/redis/redis_pool.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"
#include "services/ingest/deduper.h"
#include "services/ingest/dlq_writer.h"
#include "services/ingest/ingest_config.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/opportunity_feed.h"
#include "services/ingest/review_client.h"
#include "services/ingest/rules_reloader.h"

namespace {

namespace ingest = autostage::ingest;

int Fail(const std::string& what) {
  std::fprintf(stderr, "autostage-ingest: %s\n", what.c_str());
  return 2;
}

std::string Millis(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"autostage-ingest: judges CRM events from Kafka and proposes stage advances"};
  std::string config_path;
  std::string brokers, group_id, redis_address, review_target, token_file, metrics_address;
  std::string log_level, unresolved;
  std::vector<std::string> rules_paths, topics;
  int workers = 0;
  app.add_option("--config", config_path, "YAML config file (docs/ingest.md)");
  app.add_option("--brokers", brokers, "Kafka bootstrap servers (kafka.brokers)");
  app.add_option("--group-id", group_id, "consumer group (kafka.group_id)");
  app.add_option("--topic", topics, "event topic, repeatable (kafka.topics)");
  app.add_option("--redis", redis_address, "Redis host:port (redis.host/port)");
  app.add_option("--review", review_target, "review gRPC target (review.target)");
  app.add_option("--review-token-file", token_file, "bearer token file (review.token_file)");
  app.add_option("--rules", rules_paths, "rule file or folder, repeatable (rules.paths)");
  app.add_option("--workers", workers, "worker threads (processing.workers)");
  app.add_option("--unresolved", unresolved, "dlq | skip (processing.unresolved)");
  app.add_option("--metrics-address", metrics_address,
                 "host:port of /metrics and /healthz (server.metrics_address)");
  app.add_option("--log-level", log_level, "trace..critical (log_level)");
  CLI11_PARSE(app, argc, argv);

  ingest::IngestConfig config;
  if (!config_path.empty()) {
    absl::StatusOr<ingest::IngestConfig> loaded = ingest::LoadIngestConfig(config_path);
    if (!loaded.ok()) return Fail(loaded.status().ToString());
    config = *std::move(loaded);
  }
  if (!brokers.empty()) config.kafka.brokers = brokers;
  if (!group_id.empty()) config.kafka.group_id = group_id;
  if (!topics.empty()) config.kafka.topics = topics;
  if (!redis_address.empty()) {
    const std::vector<std::string> hp = absl::StrSplit(redis_address, ':');
    if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &config.redis.port)) {
      return Fail("--redis must be host:port");
    }
    config.redis.host = hp[0];
  }
  if (!review_target.empty()) config.review.target = review_target;
  if (!token_file.empty()) config.review.token_file = token_file;
  if (!rules_paths.empty()) config.rules.paths = rules_paths;
  if (workers > 0) config.processing.workers = workers;
  if (!unresolved.empty()) config.processing.unresolved = unresolved;
  if (!metrics_address.empty()) config.server.metrics_address = metrics_address;
  if (!log_level.empty()) config.log_level = log_level;
  if (absl::Status s = config.Validate(); !s.ok()) return Fail(s.ToString());

  absl::StatusOr<autostage::log::Logger> log =
      autostage::log::MakeStderrLogger("ingest", config.log_level);
  if (!log.ok()) return Fail(log.status().ToString());
  absl::StatusOr<std::string> token = ingest::ReadSecretFile(config.review.token_file);
  if (!token.ok()) return Fail(token.status().ToString());

  // Block the signals before any thread starts, so only the waiter below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  prometheus::Registry registry;
  ingest::IngestMetrics metrics(registry);

  autostage::redis::RedisOptions redis_options;
  redis_options.host = config.redis.host;
  redis_options.port = config.redis.port;
  redis_options.command_timeout = config.redis.command_timeout;
  if (!config.redis.password_file.empty()) {
    absl::StatusOr<std::string> password = ingest::ReadSecretFile(config.redis.password_file);
    if (!password.ok()) return Fail(password.status().ToString());
    redis_options.password = *password;
  }
  autostage::redis::RedisPool redis_pool(redis_options, config.redis.connections);
  ingest::Deduper deduper(redis_pool, {.ttl = config.redis.dedupe_ttl});
  autostage::crmstate::OpportunityStateStore state(redis_pool);

  const autostage::kafka::KafkaConfig base_kafka = {{"bootstrap.servers", config.kafka.brokers}};
  autostage::kafka::KafkaConfig producer_config = base_kafka;
  // Dead letters carry the original bytes, which the broker accepted: allow as much.
  producer_config["message.max.bytes"] =
      absl::StrCat(std::max<uint64_t>(config.processing.max_event_bytes.bytes * 2, 1000000));
  absl::StatusOr<std::unique_ptr<autostage::kafka::Producer>> producer =
      autostage::kafka::Producer::Create(producer_config);
  if (!producer.ok()) return Fail(producer.status().ToString());
  ingest::DlqWriter dlq(**producer, {.topic = config.kafka.dlq_topic});

  absl::StatusOr<std::unique_ptr<ingest::ReviewClient>> review =
      ingest::ReviewClient::Create({.target = config.review.target,
                                    .token = *token,
                                    .tls_ca_file = config.review.tls_ca_file,
                                    .tls_cert_file = config.review.tls_cert_file,
                                    .tls_key_file = config.review.tls_key_file,
                                    .call_deadline = config.review.call_deadline});
  if (!review.ok()) return Fail(review.status().ToString());
  ingest::ProposalBatcher batcher(**review,
                                  {.batch_size = static_cast<size_t>(config.review.batch_size),
                                   .linger = config.review.linger,
                                   .max_in_flight_batches = config.review.max_in_flight_batches});

  absl::StatusOr<std::unique_ptr<const autostage::text::Normalizer>> normalizer =
      autostage::text::Normalizer::Create();
  if (!normalizer.ok()) return Fail(normalizer.status().ToString());
  absl::StatusOr<std::unique_ptr<ingest::RulesReloader>> reloader = ingest::RulesReloader::Create(
      {.paths = config.rules.paths, .poll_interval = config.rules.poll_interval},
      std::shared_ptr<const autostage::text::Normalizer>(*std::move(normalizer)), *log);
  if (!reloader.ok()) return Fail(reloader.status().ToString());
  (*reloader)->StartWatching();
  absl::StatusOr<std::unique_ptr<autostage::text::GuardAnalyzer>> guards =
      autostage::text::GuardAnalyzer::Create();
  if (!guards.ok()) return Fail(guards.status().ToString());

  ingest::OpportunityFeedOptions feed_options;
  feed_options.kafka = base_kafka;
  feed_options.topic = config.kafka.opportunities_topic;
  feed_options.decode_limits.max_message_bytes = config.processing.max_event_bytes.bytes;
  absl::StatusOr<std::unique_ptr<ingest::OpportunityFeed>> feed =
      ingest::OpportunityFeed::Create(feed_options, state, log->Named("feed"));
  if (!feed.ok()) return Fail(feed.status().ToString());
  (*feed)->Start();

  ingest::IngestServiceOptions options;
  options.kafka = base_kafka;
  options.kafka["group.id"] = config.kafka.group_id;
  options.kafka["session.timeout.ms"] = Millis(config.kafka.session_timeout);
  options.kafka["max.poll.interval.ms"] = Millis(config.kafka.max_poll_interval);
  options.kafka["auto.commit.interval.ms"] = Millis(config.kafka.commit_interval);
  options.topics = config.kafka.topics;
  options.workers = config.processing.workers;
  options.max_queued_events = static_cast<size_t>(config.processing.max_queued_events);
  options.max_run_events = static_cast<size_t>(config.processing.max_run_events);
  options.max_pending_events = static_cast<size_t>(config.processing.max_pending_events);
  options.unresolved = config.processing.unresolved == "skip"
                           ? ingest::UnresolvedPolicy::kSkip
                           : ingest::UnresolvedPolicy::kDeadLetter;
  options.decode_limits.max_message_bytes = config.processing.max_event_bytes.bytes;
  options.revoke_wait = config.processing.revoke_wait;
  options.drain_timeout = config.processing.drain_timeout;
  options.state_ready_timeout = config.processing.state_ready_timeout;
  options.lag_interval = config.processing.lag_interval;
  ingest::RulesReloader* rules = reloader->get();
  ingest::OpportunityFeed* feed_ptr = feed->get();
  absl::StatusOr<std::unique_ptr<ingest::IngestService>> service = ingest::IngestService::Create(
      options, ingest::IngestDependencies{
                   .proposals = batcher,
                   .dlq = dlq,
                   .deduper = deduper,
                   .state = state,
                   .rules =
                       [rules] {
                         ingest::RulesReloader::Snapshot s = rules->Current();
                         return ingest::RuleSnapshot{s.rules, s.generation};
                       },
                   .guards = **guards,
                   .metrics = metrics,
                   .log = *log,
                   .state_ready = [feed_ptr] { return feed_ptr->CaughtUp(); },
               });
  if (!service.ok()) return Fail(service.status().ToString());
  ingest::IngestService* ingest_service = service->get();

  absl::StatusOr<std::unique_ptr<autostage::metrics::MetricsServer>> metrics_server =
      autostage::metrics::MetricsServer::Start(
          {.address = config.server.metrics_address}, registry,
          [ingest_service] { return ingest_service->Health(); });
  if (!metrics_server.ok()) return Fail(metrics_server.status().ToString());
  log->Info("started", {{"metrics_port", (*metrics_server)->port()},
                        {"brokers", config.kafka.brokers},
                        {"group_id", config.kafka.group_id},
                        {"review", config.review.target}});

  std::thread waiter([&] {
    while (true) {
      int signal = 0;
      if (sigwait(&signals, &signal) != 0) continue;
      if (signal == SIGHUP) {
        absl::Status reloaded = rules->Reload();
        if (reloaded.ok()) {
          log->Info("rules reloaded",
                    {{"generation", static_cast<int64_t>(rules->Current().generation)}});
        } else {
          log->Error("rules reload failed, keeping the old rules", {{"error", reloaded}});
        }
        continue;
      }
      log->Info("stopping", {{"signal", signal}});
      ingest_service->Stop();
      return;
    }
  });

  absl::Status run = ingest_service->Run();
  // If Run() ended by itself (fatal error), wake the waiter so it can be joined.
  ingest_service->Stop();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  batcher.Shutdown(absl::Now() + absl::Seconds(5));
  (*feed)->Stop();
  (*reloader)->StopWatching();
  (void)(*producer)->Flush(absl::Now() + absl::Seconds(5));
  service->reset();
  if (!run.ok()) {
    log->Error("ingest stopped with an error", {{"error", run}});
    return 1;
  }
  return 0;
}
