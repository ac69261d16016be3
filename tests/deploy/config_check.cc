// deploy_config_check: loads a service config the way its binary does at start, plus the files
// the config names (token table, pipelines, ingest token), and prints the values the deploy
// test compares against the manifests. Neither binary has a --check-config flag, and starting
// one connects to Redis/Kafka, so this uses the same config libraries without the network.
//
//   deploy_config_check review FILE   → listen=…, metrics_listen=…, tokens=N, pipelines_file=…
//   deploy_config_check ingest FILE   → metrics_address=…, review_target=…, rules_path=… (each)
//   deploy_config_check tokens FILE   → tokens=N (a review token file alone)
// Exit 0 when everything loads and validates, 1 (with the error on stderr) otherwise.
#include <iostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/ingest/ingest_config.h"
#include "services/review/auth.h"
#include "services/review/pipelines.h"
#include "services/review/review_config.h"

namespace {

int Fail(const std::string& what, const absl::Status& status) {
  std::cerr << "deploy_config_check: " << what << ": " << status.ToString() << "\n";
  return 1;
}

int CheckTokens(const std::string& path) {
  absl::StatusOr<autostage::review::TokenTable> tokens = autostage::review::TokenTable::Load(path);
  if (!tokens.ok()) return Fail("tokens_file " + path, tokens.status());
  std::cout << "tokens_file=" << path << "\n";
  return 0;
}

int CheckReview(const std::string& path) {
  absl::StatusOr<autostage::review::ReviewConfig> config =
      autostage::review::LoadReviewConfig(path);
  if (!config.ok()) return Fail(path, config.status());
  if (absl::Status s = autostage::review::ValidateReviewConfig(*config); !s.ok()) {
    return Fail(path, s);
  }
  if (int rc = CheckTokens(config->tokens_file); rc != 0) return rc;
  absl::StatusOr<autostage::review::Pipelines> pipelines =
      autostage::review::Pipelines::Load(config->pipelines_file);
  if (!pipelines.ok()) return Fail("pipelines_file " + config->pipelines_file, pipelines.status());
  std::cout << "listen=" << config->listen << "\n"
            << "metrics_listen=" << config->metrics_listen << "\n"
            << "redis_address=" << config->redis.address << "\n"
            << "kafka_bootstrap=" << config->outbox.kafka_bootstrap << "\n"
            << "pipelines_file=" << config->pipelines_file << "\n";
  return 0;
}

int CheckIngest(const std::string& path) {
  absl::StatusOr<autostage::ingest::IngestConfig> config =
      autostage::ingest::LoadIngestConfig(path);
  if (!config.ok()) return Fail(path, config.status());
  if (absl::Status s = config->Validate(); !s.ok()) return Fail(path, s);
  absl::StatusOr<std::string> token = autostage::ingest::ReadSecretFile(config->review.token_file);
  if (!token.ok()) return Fail("review.token_file", token.status());
  std::cout << "metrics_address=" << config->server.metrics_address << "\n"
            << "review_target=" << config->review.target << "\n"
            << "brokers=" << config->kafka.brokers << "\n"
            << "redis=" << config->redis.host << ":" << config->redis.port << "\n"
            << "token_file=" << config->review.token_file << "\n";
  for (const std::string& p : config->rules.paths) std::cout << "rules_path=" << p << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: deploy_config_check review|ingest|tokens FILE\n";
    return 2;
  }
  const std::string kind = argv[1];
  const std::string file = argv[2];
  if (kind == "review") return CheckReview(file);
  if (kind == "ingest") return CheckIngest(file);
  if (kind == "tokens") return CheckTokens(file);
  std::cerr << "deploy_config_check: unknown kind " << kind << "\n";
  return 2;
}
