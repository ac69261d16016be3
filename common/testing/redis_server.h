// RedisServer: a real redis-server on a free loopback port in a fresh temporary directory,
// for tests. Start() returns once PING answers PONG; the destructor stops the server and
// removes the directory.
//
//   ASSIGN_OR_RETURN(auto redis, RedisServer::Start({.append_only = true}));
//   Connect(redis->host(), redis->port());
//   redis->Kill();     // a crash: SIGKILL, no shutdown save
//   redis->Restart();  // same port and directory, so AOF data comes back
//
// Thread safety: none; drive each RedisServer from one thread.
#ifndef AUTOSTAGE_COMMON_TESTING_REDIS_SERVER_H_
#define AUTOSTAGE_COMMON_TESTING_REDIS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/processes.h"

namespace autostage::testing {

struct RedisServerOptions {
  // Append-only file on, with appendfsync always, so every acknowledged write survives Kill().
  bool append_only = false;
  // redis-server to run; empty: search $PATH, then /usr/bin.
  std::string binary;
  // How long Start()/Restart() wait for PONG.
  absl::Duration start_timeout = absl::Seconds(10);
};

class RedisServer {
 public:
  // NotFound if redis-server is missing; DeadlineExceeded/Internal (with the server's log tail)
  // if it does not answer PING in time or exits.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(RedisServerOptions options = {});

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // The server's working directory (AOF and its log file, redis.log).
  const std::string& dir() const { return dir_.path(); }
  bool Running();

  // OK if PING answers PONG within `timeout`.
  absl::Status Ping(absl::Duration timeout = absl::Seconds(1)) const;

  // SIGTERM (a clean shutdown), SIGKILL after `grace`. Internal if it did not exit cleanly.
  absl::Status Stop(absl::Duration grace = absl::Seconds(10));
  // SIGKILL: a crash, for durability tests.
  void Kill();
  // Stops the server if running, then starts it again on the same port and directory.
  absl::Status Restart();

 private:
  RedisServer(RedisServerOptions options, std::string binary, TempDir dir, int port);
  // Spawns the server and waits for PONG; on failure the process is stopped.
  absl::Status Launch();
  std::string LogTail() const;

  RedisServerOptions options_;
  std::string binary_;
  TempDir dir_;
  std::string host_ = "127.0.0.1";
  int port_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_REDIS_SERVER_H_
