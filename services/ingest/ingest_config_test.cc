#include "services/ingest/ingest_config.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

using ::testing::HasSubstr;

TEST(IngestConfigTest, ReadsEverySectionAndKeepsDefaults) {
  absl::StatusOr<IngestConfig> c = ParseIngestConfig(R"(
kafka:
  brokers: "b1:9092,b2:9092"
  topics: [crm.events.email]
  session_timeout: 6s
redis: {host: redis, port: 6380, dedupe_ttl: 21d}
review: {target: "review:7070", token_file: /etc/autostage/ingest.token, batch_size: 100}
rules: {paths: [/etc/autostage/rules]}
processing: {workers: 4, unresolved: skip, max_event_bytes: 2MiB, max_run_events: 64,
             lag_interval: 15s}
server: {metrics_address: "0.0.0.0:9465"}
log_level: debug
)",
                                                     "ingest.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->kafka.brokers, "b1:9092,b2:9092");
  EXPECT_EQ(c->kafka.topics, std::vector<std::string>{"crm.events.email"});
  EXPECT_EQ(c->kafka.session_timeout, absl::Seconds(6));
  EXPECT_EQ(c->kafka.group_id, "autostage-ingest");  // default kept
  EXPECT_EQ(c->redis.port, 6380);
  EXPECT_EQ(c->redis.dedupe_ttl, absl::Hours(24 * 21));
  EXPECT_EQ(c->review.batch_size, 100);
  EXPECT_EQ(c->processing.workers, 4);
  EXPECT_EQ(c->processing.unresolved, "skip");
  EXPECT_EQ(c->processing.max_run_events, 64);
  EXPECT_EQ(c->processing.lag_interval, absl::Seconds(15));
  EXPECT_EQ(c->processing.max_event_bytes.bytes, 2u << 20);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_TRUE(c->Validate().ok()) << c->Validate();
}

TEST(IngestConfigTest, UnknownKeyIsAnErrorWithItsLine) {
  absl::StatusOr<IngestConfig> c =
      ParseIngestConfig("redis:\n  host: x\n  pasword: y\n", "ingest.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("ingest.yaml:3"));
  EXPECT_THAT(c.status().message(), HasSubstr("redis.pasword"));
}

TEST(IngestConfigTest, ValidateNamesEveryBadValue) {
  absl::StatusOr<IngestConfig> c = ParseIngestConfig(
      "processing: {workers: 0, unresolved: drop, max_run_events: 0, lag_interval: 1ms}\n",
      "ingest.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::Status v = c->Validate();
  EXPECT_THAT(v.message(), HasSubstr("processing.workers"));
  EXPECT_THAT(v.message(), HasSubstr("processing.unresolved"));
  EXPECT_THAT(v.message(), HasSubstr("processing.max_run_events"));
  EXPECT_THAT(v.message(), HasSubstr("processing.lag_interval"));
  EXPECT_THAT(v.message(), HasSubstr("review.token_file"));
  EXPECT_THAT(v.message(), HasSubstr("rules.paths"));
}

TEST(IngestConfigTest, TheDocumentedExampleIsValid) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
  absl::StatusOr<IngestConfig> c =
      LoadIngestConfig(std::string(source) + "/deploy/config/ingest.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->Validate().ok()) << c->Validate();
  EXPECT_EQ(c->kafka.topics.size(), 3u);
  EXPECT_EQ(c->review.token_file, "/etc/autostage/ingest.token");
}

}  // namespace
}  // namespace autostage::ingest
