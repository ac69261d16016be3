// RedisClient: one blocking connection to one Redis server (hiredis 0.14.1, RESP2, no TLS).
//
//   RedisClient client(RedisOptions{.host = "127.0.0.1", .port = 6379});
//   ASSIGN_OR_RETURN(Reply r, client.Command("HGET", key, "stage"));
//
// Connection lifecycle. The client connects lazily on the first call (or on Connect()). After
// any I/O error or timeout hiredis leaves the context unusable (its read buffer may hold half a
// reply), so the client drops that context at once and the call returns kUnavailable; the next
// call connects a fresh context. Before reusing an idle connection the client peeks at the
// socket, so a server that closed it (restart, idle timeout) is noticed and replaced without
// failing the call. A failed call is never retried here: the caller knows whether its command
// is safe to repeat.
//
// Error codes:
//   kUnavailable        — cannot connect, I/O error, timeout, or a transient error reply
//                         (LOADING, BUSY, READONLY, ...): retry later.
//   kFailedPrecondition — WRONGTYPE, NOAUTH, WRONGPASS, ...: do not retry.
//   kInternal           — any other error reply (ERR ..., errors raised by scripts).
//   kInvalidArgument    — empty command.
// Command() turns an error reply into one of these Statuses; Pipeline() keeps per-command
// error replies as Reply::Error values (one failed command does not fail the others).
//
// Thread safety: a RedisClient is NOT thread-safe; use one per thread or a RedisPool.
#ifndef AUTOSTAGE_COMMON_REDIS_REDIS_CLIENT_H_
#define AUTOSTAGE_COMMON_REDIS_REDIS_CLIENT_H_

#include <hiredis/hiredis.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/handle/handle.h"
#include "common/redis/reply.h"

namespace autostage::redis {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  absl::Duration connect_timeout = absl::Seconds(1);
  // Applies to each send and each reply read; a blocking command (XREADGROUP BLOCK, BLPOP)
  // needs a command_timeout longer than its own block time.
  absl::Duration command_timeout = absl::Seconds(1);
  std::string username;  // ACL user; empty → "AUTH password" (the default user).
  std::string password;  // Empty → no AUTH.
  int db = 0;            // SELECT db after connecting when non-zero.
};

// One command: the command name then its arguments, binary-safe.
using Args = std::vector<std::string>;

class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  RedisClient(RedisClient&&) = default;
  RedisClient& operator=(RedisClient&&) = default;
  ~RedisClient() = default;

  // Connects now (AUTH and SELECT included) unless a usable connection exists.
  absl::Status Connect();
  bool connected() const { return static_cast<bool>(context_); }
  // Drops the connection; the next call reconnects.
  void Disconnect() { context_.reset(); }

  // Sends one command and reads its reply. An error reply becomes a non-ok Status.
  absl::StatusOr<Reply> Command(const Args& args);

  // Command("SET", key, 42, "EX", 10): arguments may be strings, string views, char pointers,
  // or numbers (formatted with absl::StrCat).
  template <typename... Ts>
  absl::StatusOr<Reply> Command(const Ts&... args) {
    return Command(Args{ToArg(args)...});
  }

  // Sends all commands in one write, then reads one reply per command, in order. Error replies
  // stay in the result as Reply::Error. Wrap in MULTI/EXEC yourself for atomicity.
  absl::StatusOr<std::vector<Reply>> Pipeline(const std::vector<Args>& commands);

  const RedisOptions& options() const { return options_; }
  // How many connections were made (tests: "it reconnected").
  int connects() const { return connects_; }

 private:
  static void FreeContext(redisContext* c) { redisFree(c); }
  using Context = Handle<redisContext, &FreeContext>;

  static std::string ToArg(const std::string& s) { return s; }
  static std::string ToArg(std::string_view s) { return std::string(s); }
  static std::string ToArg(absl::string_view s) { return std::string(s); }
  static std::string ToArg(const char* s) { return s; }
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  static std::string ToArg(N n) {
    return absl::StrCat(n);
  }

  // Connects if needed and replaces a connection the server has closed.
  absl::Status EnsureConnected();
  // Reads one reply; on failure drops the context and returns kUnavailable.
  absl::StatusOr<Reply> ReadReply();
  // Builds the kUnavailable status for the context's error, then drops the context.
  absl::Status FailConnection(absl::string_view what);

  RedisOptions options_;
  Context context_;
  int connects_ = 0;
};

}  // namespace autostage::redis

#endif  // AUTOSTAGE_COMMON_REDIS_REDIS_CLIENT_H_
