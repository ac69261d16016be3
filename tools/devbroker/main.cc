// devbroker: serves a librdkafka mock cluster until SIGTERM/SIGINT. See README.md.
//
// main only parses flags, wires signals and stdin to the DevBroker library, and prints.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/devbroker/devbroker.h"

namespace autostage::devbroker {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Writes `contents` to `path` atomically: readers see either no file or the whole line.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << contents;
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

// Answers each complete stdin line with "ok" or "error: ..." on stdout.
void RunCommands(DevBroker& broker, std::string& pending) {
  size_t newline;
  while ((newline = pending.find('\n')) != std::string::npos) {
    std::string line = pending.substr(0, newline);
    pending.erase(0, newline + 1);
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    absl::Status status = broker.ExecuteCommand(line);
    if (status.ok()) {
      std::fputs("ok\n", stdout);
    } else {
      std::fprintf(stderr, "devbroker: command '%s' failed: %s\n", line.c_str(),
                   std::string(status.message()).c_str());
      std::fprintf(stdout, "error: %s\n", std::string(status.message()).c_str());
    }
    std::fflush(stdout);
  }
}

// Serves until SIGTERM/SIGINT arrives on `signal_fd`. Stdin is read for fault commands until
// it reaches end of file; after that only the signal ends the loop.
absl::Status Serve(DevBroker& broker, int signal_fd) {
  bool stdin_open = true;
  std::string pending;
  while (true) {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int rc = poll(fds, stdin_open ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
        std::fprintf(stderr, "devbroker: got %s, shutting down\n", strsignal(info.ssi_signo));
      }
      return absl::OkStatus();
    }
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        stdin_open = false;
        continue;
      }
      pending.append(buf, static_cast<size_t>(n));
      RunCommands(broker, pending);
    }
  }
}

int Main(int argc, char** argv) {
  // Block the stop signals before librdkafka starts its threads (they inherit the mask), so
  // they are only ever consumed through the signalfd below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr) != 0) {
    std::fprintf(stderr, "devbroker: cannot block signals\n");
    return kExitFailure;
  }
  // A test that stops reading our stdout must not kill us mid-answer; the write just fails.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "devbroker: a single-process Kafka-protocol broker for development and tests "
      "(librdkafka mock cluster). Prints the bootstrap address as the first stdout line, "
      "then answers fault commands read from stdin (see README.md)."};
  int brokers = 1;
  std::vector<std::string> topic_flags;
  std::string bootstrap_file;
  int port = 0;
  app.add_option("--brokers", brokers, "number of brokers (ids 1..N)")
      ->check(CLI::Range(1, kMaxBrokers));
  app.add_option("--topic", topic_flags, "topic to create, NAME:PARTITIONS (repeatable)");
  app.add_option("--bootstrap-file", bootstrap_file,
                 "also write the bootstrap address to this file (atomically)");
  CLI::Option* port_option =
      app.add_option("--port", port, "not supported: the mock binds random loopback ports");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (port_option->count() > 0) {
    std::fprintf(stderr,
                 "devbroker: --port is not supported: librdkafka 2.0.2's mock cluster binds "
                 "random loopback ports; read the first stdout line or use --bootstrap-file\n");
    return kExitUsage;
  }

  DevBrokerOptions options{.brokers = brokers};
  for (const std::string& flag : topic_flags) {
    absl::StatusOr<TopicSpec> topic = ParseTopicSpec(flag);
    if (!topic.ok()) {
      std::fprintf(stderr, "devbroker: --topic: %s\n",
                   std::string(topic.status().message()).c_str());
      return kExitUsage;
    }
    options.topics.push_back(*std::move(topic));
  }

  const int signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    std::fprintf(stderr, "devbroker: signalfd: %s\n", std::strerror(errno));
    return kExitFailure;
  }

  absl::StatusOr<std::unique_ptr<DevBroker>> broker = DevBroker::Start(options);
  if (!broker.ok()) {
    std::fprintf(stderr, "devbroker: %s\n", broker.status().ToString().c_str());
    close(signal_fd);
    return kExitFailure;
  }
  std::fprintf(stdout, "%s\n", (*broker)->bootstrap().c_str());
  std::fflush(stdout);
  if (!bootstrap_file.empty()) {
    absl::Status written =
        WriteFileAtomically(bootstrap_file, absl::StrCat((*broker)->bootstrap(), "\n"));
    if (!written.ok()) {
      std::fprintf(stderr, "devbroker: --bootstrap-file: %s\n", written.ToString().c_str());
      close(signal_fd);
      return kExitFailure;
    }
  }
  std::fprintf(stderr, "devbroker: %d broker(s) at %s\n", brokers, (*broker)->bootstrap().c_str());

  absl::Status served = Serve(**broker, signal_fd);
  close(signal_fd);
  (*broker)->Stop();
  if (!bootstrap_file.empty()) {
    // A stale address would send the next reader to a dead port.
    std::error_code ec;
    std::filesystem::remove(bootstrap_file, ec);
  }
  if (!served.ok()) {
    std::fprintf(stderr, "devbroker: %s\n", served.ToString().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace
}  // namespace autostage::devbroker

int main(int argc, char** argv) { return autostage::devbroker::Main(argc, argv); }
