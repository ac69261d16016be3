#include "common/testing/devbroker_process.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"
#include "common/testing/kafka_client.h"

namespace autostage::testing {
namespace {

constexpr char kLogFile[] = "devbroker.log";

std::string ReadTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  constexpr size_t kTail = 2000;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

// True once the cluster reports every broker and every declared topic with its partitions.
bool ClusterReady(rd_kafka_t* client, const DevBrokerProcessOptions& options) {
  absl::StatusOr<KafkaMetadata> metadata = FetchMetadata(client, absl::Milliseconds(500));
  if (!metadata.ok()) return false;
  if ((*metadata)->broker_cnt != options.brokers) return false;
  for (const KafkaTopic& topic : options.topics) {
    bool found = false;
    for (int i = 0; i < (*metadata)->topic_cnt; ++i) {
      const rd_kafka_metadata_topic& t = (*metadata)->topics[i];
      if (topic.name == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          t.partition_cnt == topic.partitions) {
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DevBrokerProcess>> DevBrokerProcess::Start(
    DevBrokerProcessOptions options) {
  const std::string binary =
      options.binary.empty() ? absl::StrCat(AutostageBinDir(), "/devbroker") : options.binary;
  if (access(binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("devbroker binary not found at ", binary,
                     " (build the `devbroker` target; AUTOSTAGE_BIN_DIR names the directory)"));
  }
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("autostage-devbroker"));

  SubprocessOptions spawn;
  spawn.argv = {binary, "--brokers", absl::StrCat(options.brokers), "--bootstrap-file",
                dir.File("bootstrap")};
  for (const KafkaTopic& topic : options.topics) {
    spawn.argv.push_back("--topic");
    spawn.argv.push_back(absl::StrCat(topic.name, ":", topic.partitions));
  }
  spawn.pipe_stdin = true;
  spawn.pipe_stdout = true;
  const std::string log = dir.File(kLogFile);
  spawn.output_file = log;
  ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Spawn(spawn));

  const absl::Time deadline = absl::Now() + options.start_timeout;
  absl::StatusOr<std::string> line = process->ReadLine(options.start_timeout);
  if (!line.ok() || line->empty()) {
    const ExitInfo info = process->Stop();
    return absl::UnavailableError(absl::StrCat("devbroker printed no bootstrap address (",
                                               line.ok() ? "empty line" : line.status().message(),
                                               "; ", info.ToString(), "); log tail:\n",
                                               ReadTail(log)));
  }
  const std::string bootstrap = *line;

  // The listeners are bound before the address is printed, but wait for a real protocol
  // answer: that is what the caller relies on.
  ASSIGN_OR_RETURN(KafkaConf conf, NewKafkaConf({{"bootstrap.servers", bootstrap},
                                                 {"client.id", "devbroker-probe"},
                                                 {"log_level", "3"}}));
  ASSIGN_OR_RETURN(KafkaClient probe, NewKafkaClient(RD_KAFKA_PRODUCER, std::move(conf)));
  bool exited = false;
  absl::Status ready = WaitFor(
      [&] {
        if (!process->Running()) {
          exited = true;
          return true;
        }
        return ClusterReady(probe.get(), options);
      },
      std::max(deadline - absl::Now(), absl::Seconds(1)));
  if (!ready.ok() || exited) {
    const ExitInfo info = process->Stop();
    return absl::UnavailableError(absl::StrCat("devbroker at ", bootstrap,
                                               " did not answer metadata requests (",
                                               info.ToString(), "); log tail:\n", ReadTail(log)));
  }
  return std::unique_ptr<DevBrokerProcess>(
      new DevBrokerProcess(std::move(dir), std::move(process), bootstrap));
}

absl::Status DevBrokerProcess::SendCommand(absl::string_view command, absl::Duration timeout) {
  RETURN_IF_ERROR(process_->WriteLine(command));
  absl::StatusOr<std::string> answer = process_->ReadLine(timeout);
  if (!answer.ok()) return answer.status();
  absl::string_view message = *answer;
  if (message == "ok") return absl::OkStatus();
  if (absl::ConsumePrefix(&message, "error: ")) return absl::InvalidArgumentError(message);
  return absl::InternalError(absl::StrCat("unexpected devbroker answer: '", *answer, "'"));
}

}  // namespace autostage::testing
