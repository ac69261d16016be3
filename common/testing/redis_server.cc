#include "common/testing/redis_server.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/handle/handle.h"
#include "common/status/status_macros.h"

namespace autostage::testing {
namespace {

using RedisContext = Handle<redisContext, &redisFree>;
using RedisReply = Handle<redisReply, &freeReplyObject>;

constexpr char kLogFile[] = "redis.log";
// Another process may grab the port FreeTcpPort found before redis binds it.
constexpr int kPortAttempts = 3;

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(RedisServerOptions options) {
  std::string binary = options.binary;
  if (binary.empty()) {
    absl::StatusOr<std::string> found = FindExecutable("redis-server", {"/usr/bin"});
    if (!found.ok()) {
      return absl::NotFoundError(absl::StrCat(
          found.status().message(), " (install the redis-server package: tools/setup.sh)"));
    }
    binary = *std::move(found);
  }
  absl::Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("autostage-redis"));
    ASSIGN_OR_RETURN(int port, FreeTcpPort());
    std::unique_ptr<RedisServer> server(new RedisServer(options, binary, std::move(dir), port));
    last = server->Launch();
    if (last.ok()) return server;
    if (!absl::StrContains(last.message(), "Address already in use")) return last;
  }
  return last;
}

RedisServer::RedisServer(RedisServerOptions options, std::string binary, TempDir dir, int port)
    : options_(std::move(options)), binary_(std::move(binary)), dir_(std::move(dir)), port_(port) {}

RedisServer::~RedisServer() {
  if (process_) process_->Stop();
}

bool RedisServer::Running() { return process_ != nullptr && process_->Running(); }

absl::Status RedisServer::Launch() {
  const bool aof = options_.append_only;
  SubprocessOptions spawn;
  spawn.argv = {binary_,
                "--port",
                absl::StrCat(port_),
                "--bind",
                host_,
                "--dir",
                dir_.path(),
                "--save",
                "",
                "--appendonly",
                aof ? "yes" : "no",
                "--appendfsync",
                "always",
                "--daemonize",
                "no"};
  spawn.output_file = dir_.File(kLogFile);
  ASSIGN_OR_RETURN(process_, Subprocess::Spawn(spawn));

  bool exited = false;
  absl::Status ready = WaitFor(
      [&] {
        if (!process_->Running()) {
          exited = true;
          return true;
        }
        return Ping(absl::Milliseconds(200)).ok();
      },
      options_.start_timeout);
  if (ready.ok() && !exited) return absl::OkStatus();
  std::string why = exited ? absl::StrCat("redis-server ", process_->exit_info()->ToString())
                           : absl::StrCat("redis-server did not answer PING on port ", port_,
                                          " within ", absl::FormatDuration(options_.start_timeout));
  process_->Stop();
  return absl::UnavailableError(absl::StrCat(why, "; log tail:\n", LogTail()));
}

std::string RedisServer::LogTail() const {
  std::ifstream in(dir_.File(kLogFile));
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  constexpr size_t kTail = 2000;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

absl::Status RedisServer::Ping(absl::Duration timeout) const {
  const timeval tv = absl::ToTimeval(timeout);
  RedisContext context(redisConnectWithTimeout(host_.c_str(), port_, tv));
  if (!context) return absl::UnavailableError("redisConnect: out of memory");
  if (context->err != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", host_, ":", port_, ": ", context->errstr));
  }
  redisSetTimeout(context.get(), tv);
  RedisReply reply(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
  if (!reply) return absl::UnavailableError(absl::StrCat("PING: ", context->errstr));
  if (reply->type != REDIS_REPLY_STATUS || std::string(reply->str, reply->len) != "PONG") {
    return absl::UnavailableError("PING did not answer PONG (server still loading?)");
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Stop(absl::Duration grace) {
  if (!Running()) return absl::OkStatus();  // Never started, already stopped or killed.
  const ExitInfo info = process_->Stop(grace);
  if (!info.success()) {
    return absl::InternalError(
        absl::StrCat("redis-server ", info.ToString(), "; log tail:\n", LogTail()));
  }
  return absl::OkStatus();
}

void RedisServer::Kill() {
  if (process_) process_->Kill();
}

absl::Status RedisServer::Restart() {
  if (Running()) RETURN_IF_ERROR(Stop());
  return Launch();
}

}  // namespace autostage::testing
