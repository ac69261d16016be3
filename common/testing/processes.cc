#include "common/testing/processes.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace autostage::testing {
namespace {

// Closes a file descriptor at scope exit (fds are ints, so Handle does not fit).
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

absl::Status ErrnoStatus(absl::string_view what, int err = errno) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

ExitInfo FromWaitStatus(int wait_status) {
  ExitInfo info;
  if (WIFEXITED(wait_status)) {
    info.exited = true;
    info.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    info.signal = WTERMSIG(wait_status);
  }
  return info;
}

}  // namespace

absl::StatusOr<int> FreeTcpPort() {
  ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus("socket");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoStatus("bind 127.0.0.1:0");
  }
  socklen_t len = sizeof(addr);
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoStatus("getsockname");
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::Status WaitFor(const std::function<bool()>& predicate, absl::Duration timeout,
                     absl::Duration interval) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (predicate()) return absl::OkStatus();
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("condition not met within ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(std::min(interval, left));
  }
}

absl::StatusOr<TempDir> TempDir::Create(absl::string_view prefix) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp", "/", prefix, ".XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return ErrnoStatus(absl::StrCat("mkdtemp ", pattern));
  return TempDir(std::move(pattern));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::exchange(other.path_, "");
  }
  return *this;
}

TempDir::~TempDir() { Remove(); }

void TempDir::Remove() {
  if (path_.empty()) return;
  std::error_code ec;  // Best effort: a failed cleanup must not fail the test.
  std::filesystem::remove_all(path_, ec);
  path_.clear();
}

std::string TempDir::File(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

absl::StatusOr<std::string> FindExecutable(absl::string_view name,
                                           const std::vector<std::string>& fallback_dirs) {
  if (name.empty()) return absl::InvalidArgumentError("empty executable name");
  if (name.find('/') != absl::string_view::npos) {
    std::string path(name);
    if (access(path.c_str(), X_OK) == 0) return path;
    return absl::NotFoundError(absl::StrCat(path, " is missing or not executable"));
  }
  std::vector<std::string> dirs;
  if (const char* path_env = std::getenv("PATH"); path_env != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path_env, ':', absl::SkipEmpty())) {
      dirs.emplace_back(dir);
    }
  }
  dirs.insert(dirs.end(), fallback_dirs.begin(), fallback_dirs.end());
  for (const std::string& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(
      absl::StrCat("executable '", name, "' not found in: ", absl::StrJoin(dirs, ":")));
}

std::string AutostageBinDir() {
  if (const char* dir = std::getenv("AUTOSTAGE_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

std::string ExitInfo::ToString() const {
  std::string text = exited
                         ? absl::StrCat("exited with code ", code)
                         : absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  if (force_killed) absl::StrAppend(&text, " after SIGTERM was ignored");
  return text;
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const SubprocessOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  const std::string& path = options.argv[0];
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat(path, " is missing or not executable (", std::strerror(errno), ")"));
  }
  // Everything the child needs is prepared here: between fork and exec only async-signal-safe
  // calls are allowed (the test process has other threads).
  std::vector<char*> argv;
  for (const std::string& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  int fds[2];
  ScopedFd stdin_read, stdin_write, stdout_read, stdout_write, exec_error_read, exec_error_write;
  if (options.pipe_stdin) {
    if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
    stdin_read.Reset(fds[0]);
    stdin_write.Reset(fds[1]);
  } else {
    stdin_read.Reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (stdin_read.get() < 0) return ErrnoStatus("open /dev/null");
  }
  if (options.pipe_stdout) {
    if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
    stdout_read.Reset(fds[0]);
    stdout_write.Reset(fds[1]);
  }
  ScopedFd output;
  if (!options.output_file.empty()) {
    output.Reset(
        open(options.output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (output.get() < 0) return ErrnoStatus(absl::StrCat("open ", options.output_file));
  }
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  exec_error_read.Reset(fds[0]);
  exec_error_write.Reset(fds[1]);

  const int child_stdout = options.pipe_stdout ? stdout_write.get() : output.get();
  const int child_stderr = output.get();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) {
    // Child. Die with the test process, start with a clean signal state.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action = {};
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &default_action, nullptr);
    if (dup2(stdin_read.get(), STDIN_FILENO) < 0) _exit(127);
    if (child_stdout >= 0 && dup2(child_stdout, STDOUT_FILENO) < 0) _exit(127);
    if (child_stderr >= 0 && dup2(child_stderr, STDERR_FILENO) < 0) _exit(127);
    execv(argv[0], argv.data());
    const int err = errno;
    (void)!write(exec_error_write.get(), &err, sizeof(err));
    _exit(127);
  }

  // Parent: the exec-error pipe reads end-of-file once exec succeeded (it is close-on-exec).
  exec_error_write.Reset();
  stdin_read.Reset();
  stdout_write.Reset();
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_error_read.get(), &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    return ErrnoStatus(absl::StrCat("exec ", path), exec_errno);
  }
  return std::unique_ptr<Subprocess>(
      new Subprocess(pid, stdin_write.Release(), stdout_read.Release()));
}

Subprocess::Subprocess(pid_t pid, int stdin_fd, int stdout_fd)
    : pid_(pid), stdin_fd_(stdin_fd), stdout_fd_(stdout_fd) {}

Subprocess::~Subprocess() {
  Stop();
  CloseFds();
}

void Subprocess::CloseFds() {
  if (stdin_fd_ >= 0) close(std::exchange(stdin_fd_, -1));
  if (stdout_fd_ >= 0) close(std::exchange(stdout_fd_, -1));
}

void Subprocess::Reap(int wait_status) { exit_info_ = FromWaitStatus(wait_status); }

bool Subprocess::Running() {
  if (exit_info_.has_value()) return false;
  int status = 0;
  const pid_t rc = waitpid(pid_, &status, WNOHANG);
  if (rc == 0) return true;
  if (rc == pid_) {
    Reap(status);
  } else {
    exit_info_ = ExitInfo{};  // ECHILD: someone else reaped it; nothing more to learn.
  }
  return false;
}

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Duration timeout) {
  if (stdout_fd_ < 0) return absl::FailedPreconditionError("stdout is not piped");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (size_t newline = stdout_buffer_.find('\n'); newline != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, newline);
      stdout_buffer_.erase(0, newline + 1);
      return line;
    }
    if (stdout_eof_) return absl::OutOfRangeError("child closed its stdout");
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("no line from pid ", pid_, " within ", absl::FormatDuration(timeout)));
    }
    pollfd pfd = {stdout_fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read");
    }
    if (n == 0) {
      stdout_eof_ = true;
    } else {
      stdout_buffer_.append(buf, static_cast<size_t>(n));
    }
  }
}

absl::Status Subprocess::WriteLine(absl::string_view line) {
  if (stdin_fd_ < 0) return absl::FailedPreconditionError("stdin is not piped");
  const std::string data = absl::StrCat(line, "\n");
  // A child that exited raises SIGPIPE in the writing thread; block it here and swallow the
  // pending signal, so the caller gets an error instead of a dead test process.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  size_t written = 0;
  int err = 0;
  while (written < data.size()) {
    const ssize_t n = write(stdin_fd_, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (err == EPIPE) {
    const timespec zero = {0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (err != 0) {
    return absl::UnavailableError(
        absl::StrCat("write to stdin of pid ", pid_, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExitInfo> Subprocess::Wait(absl::Duration timeout) {
  absl::Status done = WaitFor([this] { return !Running(); }, timeout, absl::Milliseconds(5));
  if (!done.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("pid ", pid_, " still running after ", absl::FormatDuration(timeout)));
  }
  return *exit_info_;
}

ExitInfo Subprocess::Stop(absl::Duration grace) {
  if (!Running()) return *exit_info_;
  kill(pid_, SIGTERM);
  if (absl::StatusOr<ExitInfo> info = Wait(grace); info.ok()) return *info;
  ExitInfo info = Kill();
  info.force_killed = true;
  exit_info_ = info;
  return info;
}

ExitInfo Subprocess::Kill() {
  if (!Running()) return *exit_info_;
  kill(pid_, SIGKILL);
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid(pid_, &status, 0);
  } while (rc < 0 && errno == EINTR);
  if (rc == pid_) {
    Reap(status);
  } else {
    exit_info_ = ExitInfo{};
  }
  return *exit_info_;
}

}  // namespace autostage::testing
