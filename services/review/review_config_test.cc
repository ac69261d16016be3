#include "services/review/review_config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::review {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ReviewConfigTest, EmptyFileKeepsDefaults) {
  absl::StatusOr<ReviewConfig> c = ParseReviewConfig("{}", "review.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:7070");
  EXPECT_EQ(c->redis.pool_size, 8);
  EXPECT_EQ(c->expiry.max_age, absl::Hours(24 * 14));
  EXPECT_EQ(c->outbox.topic, "crm.stage-changes");
  EXPECT_FALSE(c->tls.enabled());
  // tokens_file/pipelines_file may come from flags, so only Validate insists on them.
  absl::Status v = ValidateReviewConfig(*c);
  EXPECT_THAT(v.message(), HasSubstr("tokens_file: required"));
  EXPECT_THAT(v.message(), HasSubstr("pipelines_file: required"));
}

TEST(ReviewConfigTest, ReadsEveryKey) {
  const char* yaml = R"(
listen: 0.0.0.0:7171
metrics_listen: 127.0.0.1:0
tokens_file: tokens.yaml
pipelines_file: /abs/pipelines.yaml
log_level: debug
evidence_cap: 7
shutdown_deadline: 3s
redis:
  address: redis.local:6380
  pool_size: 16
  connect_timeout: 250ms
  command_timeout: 2s
  pool_wait: 100ms
  username: review
  password_file: redis.pass
  db: 2
tls:
  cert_file: server.pem
  key_file: server.key
  client_ca_file: ca.pem
  require_client_cert: true
outbox:
  topic: changes
  kafka_bootstrap: k1:9092,k2:9092
  producer_settings: [linger.ms=5, "compression.type=lz4"]
  consumer: review-a
  claim_idle: 45s
  flush_deadline: 2s
expiry:
  max_age: 3d
  sweep_period: 30s
)";
  absl::StatusOr<ReviewConfig> c = ParseReviewConfig(yaml, "review.yaml", "/etc/as");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:7171");
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:0");
  EXPECT_EQ(c->tokens_file, "/etc/as/tokens.yaml");     // relative: next to the config
  EXPECT_EQ(c->pipelines_file, "/abs/pipelines.yaml");  // absolute: as given
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->evidence_cap, 7);
  EXPECT_EQ(c->shutdown_deadline, absl::Seconds(3));
  EXPECT_EQ(c->redis.address, "redis.local:6380");
  EXPECT_EQ(c->redis.pool_size, 16);
  EXPECT_EQ(c->redis.connect_timeout, absl::Milliseconds(250));
  EXPECT_EQ(c->redis.command_timeout, absl::Seconds(2));
  EXPECT_EQ(c->redis.pool_wait, absl::Milliseconds(100));
  EXPECT_EQ(c->redis.username, "review");
  EXPECT_EQ(c->redis.password_file, "/etc/as/redis.pass");
  EXPECT_EQ(c->redis.db, 2);
  EXPECT_EQ(c->tls.cert_file, "/etc/as/server.pem");
  EXPECT_EQ(c->tls.key_file, "/etc/as/server.key");
  EXPECT_EQ(c->tls.client_ca_file, "/etc/as/ca.pem");
  EXPECT_TRUE(c->tls.require_client_cert);
  EXPECT_EQ(c->outbox.topic, "changes");
  EXPECT_EQ(c->outbox.kafka_bootstrap, "k1:9092,k2:9092");
  EXPECT_EQ(c->outbox.consumer, "review-a");
  EXPECT_EQ(c->outbox.claim_idle, absl::Seconds(45));
  EXPECT_EQ(c->outbox.flush_deadline, absl::Seconds(2));
  using Setting = std::pair<std::string, std::string>;
  EXPECT_THAT(
      ProducerSettings(c->outbox),
      ::testing::ElementsAre(Setting{"linger.ms", "5"}, Setting{"compression.type", "lz4"}));
  EXPECT_EQ(c->expiry.max_age, absl::Hours(72));
  EXPECT_EQ(c->expiry.sweep_period, absl::Seconds(30));
  EXPECT_TRUE(ValidateReviewConfig(*c).ok()) << ValidateReviewConfig(*c);
}

TEST(ReviewConfigTest, UnknownKeyNamesFileLineAndKey) {
  absl::StatusOr<ReviewConfig> c =
      ParseReviewConfig("listen: 127.0.0.1:1\nredis:\n  adress: x:1\n", "review.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("review.yaml:3: redis.adress: unknown key"));
}

TEST(ReviewConfigTest, BadValuesAreReportedWithTheirLinesAllAtOnce) {
  const char* yaml =
      "listen: nowhere\n"                   // 1
      "redis:\n"                            // 2
      "  pool_size: 0\n"                    // 3
      "tls:\n"                              // 4
      "  cert_file: a.pem\n"                // 5
      "outbox:\n"                           // 6
      "  producer_settings: [linger.ms]\n"  // 7
      "expiry:\n"                           // 8
      "  max_age: 0\n"                      // 9
      "shutdown_deadline: soon\n"           // 10
      "log_level: loud\n";                  // 11
  absl::StatusOr<ReviewConfig> c = ParseReviewConfig(yaml, "r.yaml");
  ASSERT_FALSE(c.ok());
  const std::string m(c.status().message());
  EXPECT_THAT(m, HasSubstr("r.yaml:1: listen: must be host:port"));
  EXPECT_THAT(m, HasSubstr("r.yaml:3: redis.pool_size: must be 1..256"));
  EXPECT_THAT(m, HasSubstr("r.yaml:5: tls.cert_file: needs key_file"));
  EXPECT_THAT(m, HasSubstr("r.yaml:7: outbox.producer_settings: \"linger.ms\" is not name=value"));
  EXPECT_THAT(m, HasSubstr("r.yaml:9: expiry.max_age: must be positive"));
  EXPECT_THAT(m, HasSubstr("r.yaml:10: shutdown_deadline"));
  EXPECT_THAT(m, HasSubstr("r.yaml:11: log_level"));
}

TEST(ReviewConfigTest, TlsCombinations) {
  EXPECT_THAT(ParseReviewConfig("tls: {require_client_cert: true}", "r.yaml").status().message(),
              HasSubstr("tls.require_client_cert: needs client_ca_file"));
  EXPECT_THAT(ParseReviewConfig("tls: {client_ca_file: ca.pem}", "r.yaml").status().message(),
              HasSubstr("tls.client_ca_file: needs cert_file and key_file"));
  EXPECT_TRUE(
      ParseReviewConfig("tls: {cert_file: c, key_file: k, client_ca_file: ca}", "r.yaml").ok());
}

TEST(ReviewConfigTest, BootstrapOnlyThroughItsOwnKey) {
  EXPECT_THAT(ParseReviewConfig("outbox: {producer_settings: [bootstrap.servers=x:1]}", "r.yaml")
                  .status()
                  .message(),
              HasSubstr("outbox.kafka_bootstrap"));
}

TEST(ReviewConfigTest, ValidateAfterOverridesNamesTheKey) {
  ReviewConfig c;
  c.tokens_file = "t";
  c.pipelines_file = "p";
  EXPECT_TRUE(ValidateReviewConfig(c).ok());
  c.redis.address = "no-port";
  c.redis.pool_size = 1000;
  absl::Status s = ValidateReviewConfig(c);
  EXPECT_THAT(s.message(), HasSubstr("redis.address: must be host:port"));
  EXPECT_THAT(s.message(), HasSubstr("redis.pool_size: must be 1..256"));
  EXPECT_THAT(s.message(), Not(HasSubstr("tokens_file")));
}

TEST(ReviewConfigTest, ParseHostPort) {
  auto hp = ParseHostPort("127.0.0.1:6379", "redis.address");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_EQ(hp->second, 6379);
  hp = ParseHostPort("[::1]:7070", "listen");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "::1");
  EXPECT_FALSE(ParseHostPort("localhost", "k").ok());
  EXPECT_FALSE(ParseHostPort(":80", "k").ok());
  EXPECT_FALSE(ParseHostPort("h:70000", "k").ok());
  EXPECT_THAT(ParseHostPort("h:x", "redis.address").status().message(), HasSubstr("redis.address"));
}

TEST(ReviewConfigTest, ShippedExampleParses) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "AUTOSTAGE_SOURCE_DIR is set by autostage_test";
  const std::string path = std::string(source) + "/deploy/config/review.yaml";
  absl::StatusOr<ReviewConfig> c = LoadReviewConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(ValidateReviewConfig(*c).ok()) << ValidateReviewConfig(*c);
  EXPECT_EQ(c->expiry.max_age, absl::Hours(24 * 14));
  // The pipelines file it names is the repo's own (relative to the config's directory).
  std::ifstream pipelines(c->pipelines_file);
  EXPECT_TRUE(pipelines.good()) << c->pipelines_file;
}

TEST(ReviewConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadReviewConfig("/nonexistent/review.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace autostage::review
