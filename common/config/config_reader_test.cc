#include "common/config/config_reader.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::config {
namespace {

using ::testing::HasSubstr;

struct RedisSection {
  std::string host = "localhost";
  int port = 6379;
  absl::Duration timeout = absl::Seconds(1);
  ByteSize max_value{1024};
  bool tls = false;
};

constexpr char kGood[] = R"yaml(
redis:
  host: 10.0.0.5
  port: 6380
  timeout: 250ms
  max_value: 1MiB
topics:
  - name: crm.events.email
    partitions: 6
  - name: crm.events.call
retention: 14d
)yaml";

TEST(ConfigReaderTest, ReadsTypedFieldsAndKeepsDefaults) {
  absl::StatusOr<ConfigReader> root = ConfigReader::FromString(kGood, "svc.yaml");
  ASSERT_TRUE(root.ok()) << root.status();
  RedisSection redis;
  root->Child("redis")
      .Required("host", &redis.host)
      .Optional("port", &redis.port)
      .Optional("timeout", &redis.timeout)
      .Optional("max_value", &redis.max_value)
      .Optional("tls", &redis.tls);
  std::vector<std::pair<std::string, int>> topics;
  for (ConfigReader item : root->Items("topics")) {
    std::pair<std::string, int> topic{"", 1};
    item.Required("name", &topic.first).Optional("partitions", &topic.second);
    topics.push_back(topic);
  }
  absl::Duration retention;
  root->Required("retention", &retention);
  ASSERT_TRUE(root->Finish().ok()) << root->Finish();
  EXPECT_EQ(redis.host, "10.0.0.5");
  EXPECT_EQ(redis.port, 6380);
  EXPECT_EQ(redis.timeout, absl::Milliseconds(250));
  EXPECT_EQ(redis.max_value.bytes, 1u << 20);
  EXPECT_FALSE(redis.tls);
  EXPECT_EQ(retention, absl::Hours(24 * 14));
  EXPECT_EQ(topics, (std::vector<std::pair<std::string, int>>{{"crm.events.email", 6},
                                                              {"crm.events.call", 1}}));
}

TEST(ConfigReaderTest, UnknownKeysAreErrorsWithLineAndPath) {
  absl::StatusOr<ConfigReader> root =
      ConfigReader::FromString("redis:\n  host: a\n  pasword: x\nextra: 1\n", "svc.yaml");
  ASSERT_TRUE(root.ok());
  std::string host;
  root->Child("redis").Required("host", &host);
  const absl::Status s = root->Finish();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(s.message(), HasSubstr("svc.yaml:3: redis.pasword: unknown key"));
  EXPECT_THAT(s.message(), HasSubstr("svc.yaml:4: extra: unknown key"));
}

TEST(ConfigReaderTest, ReportsEveryTypeErrorAndMissingKeyAtOnce) {
  absl::StatusOr<ConfigReader> root = ConfigReader::FromString(
      "redis:\n  port: abc\n  timeout: 5 seconds\n  tls: yes\nitems:\n  - 3\n", "svc.yaml");
  ASSERT_TRUE(root.ok());
  RedisSection redis;
  ConfigReader r = root->Child("redis");
  r.Required("host", &redis.host)
      .Optional("port", &redis.port)
      .Optional("timeout", &redis.timeout)
      .Optional("tls", &redis.tls);
  EXPECT_TRUE(root->Items("items").empty());
  root->Child("kafka").Required("brokers", &redis.host);  // missing section: one error only
  const std::string message(root->Finish().message());
  EXPECT_THAT(message, HasSubstr("svc.yaml:2: redis.host: required key is missing"));
  EXPECT_THAT(message, HasSubstr("svc.yaml:2: redis.port: expected an integer, got \"abc\""));
  EXPECT_THAT(message, HasSubstr("svc.yaml:3: redis.timeout: invalid duration \"5 seconds\""));
  EXPECT_THAT(message, HasSubstr("svc.yaml:4: redis.tls: expected true or false"));
  EXPECT_THAT(message, HasSubstr("svc.yaml:6: items[0]: expected a mapping"));
  EXPECT_THAT(message, HasSubstr("kafka: required section is missing"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("kafka.brokers")));
  EXPECT_EQ(redis.port, 6379) << "a bad value leaves the default";
}

TEST(ConfigReaderTest, ValidationErrorsCarryTheLine) {
  absl::StatusOr<ConfigReader> root = ConfigReader::FromString("a: 1\nport: 70000\n", "x.yaml");
  ASSERT_TRUE(root.ok());
  int a = 0;
  int port = 0;
  root->Required("a", &a).Required("port", &port);
  if (port > 65535) root->Fail("port", "must be 1..65535");
  EXPECT_EQ(root->Finish().message(), "x.yaml:2: port: must be 1..65535");
}

TEST(ConfigReaderTest, MalformedYamlAndMissingFile) {
  absl::StatusOr<ConfigReader> bad = ConfigReader::FromString("a: [1, 2\nb: 3\n", "bad.yaml");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("bad.yaml:"));
  EXPECT_TRUE(absl::IsInvalidArgument(ConfigReader::FromString("- 1\n- 2\n").status()));
  EXPECT_TRUE(absl::IsNotFound(ConfigReader::FromFile("/nonexistent/dir/x.yaml").status()));
}

TEST(ConfigReaderTest, ReadsAFileAndEmptyFileIsEmptyMapping) {
  char path[] = "/tmp/config_reader_testXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "names: [a, b]\nlimit: 2GiB\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  absl::StatusOr<ConfigReader> root = ConfigReader::FromFile(path);
  std::remove(path);
  ASSERT_TRUE(root.ok()) << root.status();
  std::vector<std::string> names;
  ByteSize limit;
  root->Required("names", &names).Required("limit", &limit);
  EXPECT_TRUE(root->Finish().ok()) << root->Finish();
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(limit.bytes, 2ULL << 30);

  absl::StatusOr<ConfigReader> empty = ConfigReader::FromString("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->Has("x"));
  EXPECT_TRUE(empty->Finish().ok());
}

}  // namespace
}  // namespace autostage::config
