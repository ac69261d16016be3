// Building blocks for tests that start real processes: free loopback ports, temporary
// directories, deadline-bounded waiting and a child-process holder.
//
// Nothing here sleeps to "let things settle": WaitFor polls a condition until a deadline.
//
// Thread safety: TempDir and Subprocess are not thread-safe; use each from one thread (the
// test's). The free functions are thread-safe.
#ifndef AUTOSTAGE_COMMON_TESTING_PROCESSES_H_
#define AUTOSTAGE_COMMON_TESTING_PROCESSES_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autostage::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). Another
// process may take it before the caller binds it; fixtures retry on "address in use".
absl::StatusOr<int> FreeTcpPort();

// Polls `predicate` every `interval` until it returns true (OK) or `timeout` passes
// (DeadlineExceeded). The predicate is always evaluated at least once.
absl::Status WaitFor(const std::function<bool()>& predicate, absl::Duration timeout,
                     absl::Duration interval = absl::Milliseconds(10));

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(absl::string_view prefix = "autostage");
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(absl::string_view name) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove();
  std::string path_;
};

// An executable's absolute path: `name` itself if it contains '/', else the first match on
// $PATH, else each of `fallback_dirs`. NotFound names every place it looked.
absl::StatusOr<std::string> FindExecutable(absl::string_view name,
                                           const std::vector<std::string>& fallback_dirs = {});

// The directory holding autostage's binaries: $AUTOSTAGE_BIN_DIR (set by autostage_test), else
// the directory of the running executable.
std::string AutostageBinDir();

// How a child ended.
struct ExitInfo {
  bool exited = false;  // exited normally with `code`
  int code = 0;
  int signal = 0;  // the signal that ended it, if !exited
  // Stop() had to escalate to SIGKILL because SIGTERM did not end it within the grace period.
  bool force_killed = false;

  bool success() const { return exited && code == 0; }
  std::string ToString() const;
};

struct SubprocessOptions {
  // argv[0] must be a path to an executable (see FindExecutable).
  std::vector<std::string> argv;
  // Give the child a pipe as stdin (WriteLine) / stdout (ReadLine). Otherwise stdin is
  // /dev/null and stdout goes to `output_file` (if set) or is inherited.
  bool pipe_stdin = false;
  bool pipe_stdout = false;
  // Receives stdout (unless piped) and stderr, appended. Empty: inherit the test's.
  std::string output_file;
};

// A started child process. The destructor stops it (SIGTERM, then SIGKILL after 10 s) and
// reaps it. If the test process dies, the child gets SIGKILL (PR_SET_PDEATHSIG), so crashed
// tests do not leak servers.
class Subprocess {
 public:
  // NotFound if argv[0] is not executable; Internal if fork/exec fails.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const SubprocessOptions& options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // True until the child has been reaped (reaps it if it has exited).
  bool Running();
  // Set once the child has been reaped.
  const std::optional<ExitInfo>& exit_info() const { return exit_info_; }

  // One line from the child's stdout, without the newline. DeadlineExceeded on timeout,
  // OutOfRange at end of file, FailedPrecondition without pipe_stdout.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Writes `line` + '\n' to the child's stdin. Unavailable if the child closed it.
  absl::Status WriteLine(absl::string_view line);

  // Waits up to `timeout` for the child to exit by itself. DeadlineExceeded if it does not.
  absl::StatusOr<ExitInfo> Wait(absl::Duration timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL; reaps. Returns at once if already reaped.
  ExitInfo Stop(absl::Duration grace = absl::Seconds(10));
  // SIGKILL now (a crash), and reap.
  ExitInfo Kill();

 private:
  Subprocess(pid_t pid, int stdin_fd, int stdout_fd);
  void Reap(int wait_status);
  void CloseFds();

  pid_t pid_;
  int stdin_fd_;
  int stdout_fd_;
  std::string stdout_buffer_;
  bool stdout_eof_ = false;
  std::optional<ExitInfo> exit_info_;
};

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_PROCESSES_H_
