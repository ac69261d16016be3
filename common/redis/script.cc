#include "common/redis/script.h"

#include <string>
#include <vector>

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

absl::StatusOr<Reply> Script::Run(RedisClient& client, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const {
  std::string sha = this->sha();
  if (sha.empty()) {
    ASSIGN_OR_RETURN(sha, Load(client));
  }
  auto evalsha = [&](const std::string& digest) {
    Args command{"EVALSHA", digest, absl::StrCat(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    return client.Command(command);
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

}  // namespace autostage::redis
