// DevBrokerProcess: the devbroker binary (tools/devbroker) as a child process, for tests that
// need a Kafka broker. Start() returns once a Kafka metadata request answers; the destructor
// stops the broker (all data is in memory and gone with it).
//
//   ASSIGN_OR_RETURN(auto kafka, DevBrokerProcess::Start({.brokers = 3,
//                                                         .topics = {{"events", 3}}}));
//   producer_settings.emplace_back("bootstrap.servers", kafka->bootstrap());
//   RETURN_IF_ERROR(kafka->SendCommand("down 1"));  // applied when this returns
//
// Thread safety: none; drive each DevBrokerProcess from one thread.
#ifndef AUTOSTAGE_COMMON_TESTING_DEVBROKER_PROCESS_H_
#define AUTOSTAGE_COMMON_TESTING_DEVBROKER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/testing/processes.h"

namespace autostage::testing {

struct KafkaTopic {
  std::string name;
  int partitions = 1;
};

struct DevBrokerProcessOptions {
  int brokers = 1;
  std::vector<KafkaTopic> topics;
  // The devbroker binary; empty: AutostageBinDir() + "/devbroker".
  std::string binary;
  // How long Start() waits for the bootstrap line and a metadata answer.
  absl::Duration start_timeout = absl::Seconds(15);
};

class DevBrokerProcess {
 public:
  // NotFound if the binary is missing (build the `devbroker` target); Unavailable, with the
  // broker's log tail, if it exits or does not answer in time.
  static absl::StatusOr<std::unique_ptr<DevBrokerProcess>> Start(DevBrokerProcessOptions options);

  DevBrokerProcess(const DevBrokerProcess&) = delete;
  DevBrokerProcess& operator=(const DevBrokerProcess&) = delete;
  ~DevBrokerProcess() = default;  // Subprocess stops the broker; TempDir removes its files.

  // bootstrap.servers for clients.
  const std::string& bootstrap() const { return bootstrap_; }
  // The file the broker wrote its bootstrap address to (removed when it exits cleanly).
  std::string bootstrap_file() const { return dir_.File("bootstrap"); }
  pid_t pid() const { return process_->pid(); }

  // Sends one fault command ("down 1", "rtt 1 500", "errors OffsetCommit NOT_COORDINATOR",
  // see tools/devbroker/README.md) and waits for its answer: OK once applied, InvalidArgument
  // with the broker's message if it refused, DeadlineExceeded/Unavailable if it is gone.
  absl::Status SendCommand(absl::string_view command, absl::Duration timeout = absl::Seconds(5));

  // SIGTERM, SIGKILL after `grace`; reports how the broker ended.
  ExitInfo Stop(absl::Duration grace = absl::Seconds(10)) { return process_->Stop(grace); }
  ExitInfo Kill() { return process_->Kill(); }

 private:
  DevBrokerProcess(TempDir dir, std::unique_ptr<Subprocess> process, std::string bootstrap)
      : dir_(std::move(dir)), process_(std::move(process)), bootstrap_(std::move(bootstrap)) {}

  // Declared first so it outlives the process writing into it.
  TempDir dir_;
  std::unique_ptr<Subprocess> process_;
  std::string bootstrap_;
};

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_DEVBROKER_PROCESS_H_
