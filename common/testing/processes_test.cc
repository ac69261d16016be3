#include "common/testing/processes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace autostage::testing {
namespace {

TEST(FreeTcpPortTest, PortCanBeBoundOnLoopback) {
  absl::StatusOr<int> port = FreeTcpPort();
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

TEST(TempDirTest, ExistsUntilDestroyedAndMovesOwnership) {
  std::string path;
  {
    absl::StatusOr<TempDir> dir = TempDir::Create("processes-test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    TempDir moved = *std::move(dir);
    path = moved.path();
    ASSERT_TRUE(std::filesystem::is_directory(path));
    std::ofstream(moved.File("a.txt")) << "x";
    std::filesystem::create_directory(moved.File("sub"));
    std::ofstream(moved.File("sub/b.txt")) << "y";
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(WaitForTest, ReturnsOkOnceThePredicateHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls == 3; }, absl::Seconds(5), absl::Milliseconds(1)).ok());
  EXPECT_EQ(calls, 3);
}

TEST(WaitForTest, DeadlineExceededWhenItNeverHolds) {
  int calls = 0;
  absl::Status status = WaitFor(
      [&] {
        ++calls;
        return false;
      },
      absl::Milliseconds(30), absl::Milliseconds(5));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(calls, 2);
}

TEST(FindExecutableTest, FindsShellAndNamesMissingBinaries) {
  absl::StatusOr<std::string> sh = FindExecutable("sh", {"/bin"});
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(access(sh->c_str(), X_OK), 0);
  absl::StatusOr<std::string> missing = FindExecutable("no-such-binary-autostage");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no-such-binary-autostage"), absl::string_view::npos);
}

std::string Shell() { return *FindExecutable("sh", {"/bin"}); }

TEST(SubprocessTest, MissingBinaryIsNotFound) {
  auto process = Subprocess::Spawn({.argv = {"/nonexistent/autostage-binary"}});
  EXPECT_EQ(process.status().code(), absl::StatusCode::kNotFound);
}

TEST(SubprocessTest, EchoesStdinLinesAndReportsExitCode) {
  auto process = Subprocess::Spawn(
      {.argv = {Shell(), "-c", "echo ready; read line; echo \"got $line\"; exit 3"},
       .pipe_stdin = true,
       .pipe_stdout = true});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<std::string> line = (*process)->ReadLine(absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "ready");
  ASSERT_TRUE((*process)->WriteLine("hello").ok());
  line = (*process)->ReadLine(absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "got hello");
  absl::StatusOr<ExitInfo> info = (*process)->Wait(absl::Seconds(10));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->exited);
  EXPECT_EQ(info->code, 3);
  EXPECT_EQ((*process)->ReadLine(absl::Seconds(1)).status().code(), absl::StatusCode::kOutOfRange);
  // Writing to a child that is gone is an error, not a SIGPIPE for the test.
  EXPECT_EQ((*process)->WriteLine("late").code(), absl::StatusCode::kUnavailable);
}

TEST(SubprocessTest, ReadLineTimesOutWhenChildIsSilent) {
  auto process = Subprocess::Spawn(
      {.argv = {Shell(), "-c", "read line"}, .pipe_stdin = true, .pipe_stdout = true});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->ReadLine(absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  const ExitInfo info = (*process)->Stop();
  EXPECT_FALSE(info.exited);
  EXPECT_EQ(info.signal, SIGTERM);
  EXPECT_FALSE(info.force_killed);
}

TEST(SubprocessTest, StopEscalatesToSigkillWhenTermIsIgnored) {
  auto process = Subprocess::Spawn({.argv = {Shell(), "-c", "trap '' TERM; echo armed; read x"},
                                    .pipe_stdin = true,
                                    .pipe_stdout = true});
  ASSERT_TRUE(process.ok()) << process.status();
  // Wait until the trap is installed, or SIGTERM could arrive first.
  ASSERT_TRUE((*process)->ReadLine(absl::Seconds(10)).ok());
  const ExitInfo info = (*process)->Stop(absl::Milliseconds(200));
  EXPECT_TRUE(info.force_killed);
  EXPECT_EQ(info.signal, SIGKILL);
  EXPECT_FALSE((*process)->Running());
}

TEST(SubprocessTest, KillEndsTheChildAtOnce) {
  auto process = Subprocess::Spawn({.argv = {Shell(), "-c", "read x"}, .pipe_stdin = true});
  ASSERT_TRUE(process.ok()) << process.status();
  const pid_t pid = (*process)->pid();
  const ExitInfo info = (*process)->Kill();
  EXPECT_EQ(info.signal, SIGKILL);
  EXPECT_NE(kill(pid, 0), 0);  // reaped: the pid is gone
}

TEST(SubprocessTest, OutputFileReceivesStdoutAndStderr) {
  absl::StatusOr<TempDir> dir = TempDir::Create("processes-test");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string out = dir->File("out.log");
  auto process = Subprocess::Spawn(
      {.argv = {Shell(), "-c", "echo to-out; echo to-err >&2"}, .output_file = out});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<ExitInfo> info = (*process)->Wait(absl::Seconds(10));
  ASSERT_TRUE(info.ok() && info->success()) << info.status();
  std::ifstream in(out);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  EXPECT_EQ(first, "to-out");
  EXPECT_EQ(second, "to-err");
}

}  // namespace
}  // namespace autostage::testing
