// Script: a Lua script run with EVALSHA, loaded with SCRIPT LOAD once per process and reloaded
// when a server answers NOSCRIPT (restart, failover, SCRIPT FLUSH).
//
//   static const Script kConfirm(R"lua( ... )lua");   // or a member built once at startup
//   ASSIGN_OR_RETURN(Reply r, kConfirm.Run(client, {key1, key2}, {arg1}));
//
// All keys a script touches must be passed in `keys` (and share one hash tag to stay usable on
// Redis Cluster: see Key()).
//
// Errors: those of RedisClient::Command (an error raised inside the script — redis.error_reply
// or a runtime error — comes back as kInternal with the script's message).
//
// RunPipelined sends many invocations of the script in one write and reads the replies in one
// go (one round trip instead of one per invocation). Redis runs them one after another, in
// order, each atomic on its own (not the batch: wrap the work in one script for that).
//
// Thread safety: Run() and RunPipelined() may be called from several threads, each with its own
// client; the cached SHA1 is guarded by a mutex.
#ifndef AUTOSTAGE_COMMON_REDIS_SCRIPT_H_
#define AUTOSTAGE_COMMON_REDIS_SCRIPT_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_client.h"
#include "common/redis/reply.h"

namespace autostage::redis {

class Script {
 public:
  explicit Script(std::string source) : source_(std::move(source)) {}
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  absl::StatusOr<Reply> Run(RedisClient& client, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) const;

  struct Invocation {
    std::vector<std::string> keys;
    std::vector<std::string> args;
  };
  // One reply per invocation, in order. As with RedisClient::Pipeline, an error reply (an
  // error raised by the script) stays in the result as Reply::Error and does not fail the
  // others; the call fails only for I/O errors (then some invocations may have run). An
  // invocation answered NOSCRIPT did not run: the script is loaded and exactly those
  // invocations are sent again, in order, in one more round trip.
  absl::StatusOr<std::vector<Reply>> RunPipelined(RedisClient& client,
                                                  const std::vector<Invocation>& invocations) const;

  const std::string& source() const { return source_; }
  // The SHA1 from the last SCRIPT LOAD; empty before the first Run.
  std::string sha() const;
  // SCRIPT LOAD calls made so far (tests: "it reloaded after NOSCRIPT").
  int loads() const;

 private:
  absl::StatusOr<std::string> Load(RedisClient& client) const;

  const std::string source_;
  mutable absl::Mutex mu_;
  mutable std::string sha_ ABSL_GUARDED_BY(mu_);
  mutable int loads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace autostage::redis

#endif  // AUTOSTAGE_COMMON_REDIS_SCRIPT_H_
