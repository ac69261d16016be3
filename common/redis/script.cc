#include "common/redis/script.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::redis {

std::string Script::sha() const {
  absl::MutexLock lock(&mu_);
  return sha_;
}

int Script::loads() const {
  absl::MutexLock lock(&mu_);
  return loads_;
}

absl::StatusOr<std::string> Script::Load(RedisClient& client) const {
  ASSIGN_OR_RETURN(Reply reply, client.Command("SCRIPT", "LOAD", source_));
  if (!reply.is_string()) {
    return absl::InternalError(absl::StrCat("redis: SCRIPT LOAD returned ", reply.DebugString()));
  }
  absl::MutexLock lock(&mu_);
  sha_ = reply.str();
  ++loads_;
  return sha_;
}

namespace {

Args EvalShaCommand(const std::string& sha, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args) {
  Args command{"EVALSHA", sha, absl::StrCat(keys.size())};
  command.reserve(command.size() + keys.size() + args.size());
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

bool IsNoScript(const Reply& reply) {
  return reply.is_error() && absl::IsNotFound(reply.ToStatus());
}

}  // namespace

absl::StatusOr<Reply> Script::Run(RedisClient& client, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const {
  std::string sha = this->sha();
  if (sha.empty()) {
    ASSIGN_OR_RETURN(sha, Load(client));
  }
  auto evalsha = [&](const std::string& digest) {
    return client.Command(EvalShaCommand(digest, keys, args));
  };
  absl::StatusOr<Reply> result = evalsha(sha);
  // NOSCRIPT: this server lost (or never had) the script. Load it and try exactly once more.
  // The script did not run, so repeating it is safe.
  if (absl::IsNotFound(result.status())) {
    ASSIGN_OR_RETURN(sha, Load(client));
    result = evalsha(sha);
  }
  return result;
}

absl::StatusOr<std::vector<Reply>> Script::RunPipelined(
    RedisClient& client, const std::vector<Invocation>& invocations) const {
  if (invocations.empty()) return std::vector<Reply>();
  std::string sha = this->sha();
  if (sha.empty()) {
    ASSIGN_OR_RETURN(sha, Load(client));
  }
  std::vector<Args> commands;
  commands.reserve(invocations.size());
  for (const Invocation& inv : invocations) {
    commands.push_back(EvalShaCommand(sha, inv.keys, inv.args));
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, client.Pipeline(commands));
  // NOSCRIPT: those invocations did not run (the server lost the script, possibly in the
  // middle of the batch). Load it and send exactly those once more, in their original order.
  std::vector<size_t> missing;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (IsNoScript(replies[i])) missing.push_back(i);
  }
  if (missing.empty()) return replies;
  ASSIGN_OR_RETURN(sha, Load(client));
  std::vector<Args> retry;
  retry.reserve(missing.size());
  for (size_t i : missing) {
    retry.push_back(EvalShaCommand(sha, invocations[i].keys, invocations[i].args));
  }
  ASSIGN_OR_RETURN(std::vector<Reply> retried, client.Pipeline(retry));
  for (size_t j = 0; j < missing.size(); ++j) replies[missing[j]] = std::move(retried[j]);
  return replies;
}

}  // namespace autostage::redis
