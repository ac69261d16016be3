// "Any Kafka client can use the devbroker": kafka-python (Debian's python3-kafka, not
// librdkafka) produces, a librdkafka consumer reads everything back.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/kafka_client.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"

namespace autostage::testing {
namespace {

constexpr int kMessages = 100;
// The script's "kafka module missing" exit code (as in automake's skip convention).
constexpr int kSkipExitCode = 77;

std::string ScriptPath() {
  if (const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR"); source != nullptr) {
    return absl::StrCat(source, "/tests/devbroker/kafka_python_produce.py");
  }
  return absl::StrCat(AUTOSTAGE_DEVBROKER_TEST_DIR, "/kafka_python_produce.py");
}

// Debian's interpreter first: python3-kafka is installed for it, while a python3 earlier on
// $PATH (pyenv, venv) usually lacks the module.
absl::StatusOr<std::string> Python() {
  if (access("/usr/bin/python3", X_OK) == 0) return std::string("/usr/bin/python3");
  return FindExecutable("python3");
}

std::string ReadFile(const std::string& path) {
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  return text.str();
}

TEST(PythonClientTest, KafkaPythonProducesLibrdkafkaConsumes) {
  absl::StatusOr<std::string> python = Python();
  if (!python.ok()) GTEST_SKIP() << "no python3 interpreter: " << python.status();

  auto broker = DevBrokerProcess::Start({.brokers = 1, .topics = {{"from-python", 3}}});
  ASSERT_TRUE(broker.ok()) << broker.status();
  absl::StatusOr<TempDir> dir = TempDir::Create("python-client-test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string log = dir->File("python.log");
  auto script =
      Subprocess::Spawn({.argv = {*python, ScriptPath(), "--bootstrap", (*broker)->bootstrap(),
                                  "--topic", "from-python", "--count", absl::StrCat(kMessages)},
                         .output_file = log});
  ASSERT_TRUE(script.ok()) << script.status();
  absl::StatusOr<ExitInfo> exit = (*script)->Wait(absl::Seconds(25));
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << ReadFile(log);
  if (exit->exited && exit->code == kSkipExitCode) {
    GTEST_SKIP() << "kafka-python is not importable by " << *python << ": " << ReadFile(log);
  }
  ASSERT_TRUE(exit->success()) << exit->ToString() << "\n" << ReadFile(log);

  absl::StatusOr<KafkaConf> conf = NewKafkaConf({{"bootstrap.servers", (*broker)->bootstrap()},
                                                 {"group.id", "python-client-test"},
                                                 {"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(conf.ok()) << conf.status();
  absl::StatusOr<KafkaClient> consumer = NewKafkaClient(RD_KAFKA_CONSUMER, *std::move(conf));
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  rd_kafka_poll_set_consumer(consumer->get());
  KafkaPartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), "from-python", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(consumer->get(), topics.get()), RD_KAFKA_RESP_ERR_NO_ERROR);

  auto messages = ConsumeMessages(consumer->get(), kMessages, absl::Seconds(20));
  ASSERT_TRUE(messages.ok()) << messages.status();
  EXPECT_EQ(rd_kafka_consumer_close(consumer->get()), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::set<std::string> expected, got;
  for (int i = 0; i < kMessages; ++i) expected.insert(absl::StrCat("python-message-", i));
  for (const ConsumedMessage& message : *messages) {
    EXPECT_EQ(message.key, absl::StrCat("py-", message.value.substr(message.value.rfind('-') + 1)));
    got.insert(message.value);
  }
  EXPECT_EQ(got, expected);
}

}  // namespace
}  // namespace autostage::testing
