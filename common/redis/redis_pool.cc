#include "common/redis/redis_pool.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"

namespace autostage::redis {

RedisPool::RedisPool(const RedisOptions& options, int size) {
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < size; ++i) idle_.push_back(std::make_unique<RedisClient>(options));
}

absl::StatusOr<RedisPool::Lease> RedisPool::Acquire(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !idle_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available), wait)) {
    return absl::DeadlineExceededError(
        absl::StrCat("redis pool: no idle client within ", absl::FormatDuration(wait)));
  }
  std::unique_ptr<RedisClient> client = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(client));
}

void RedisPool::Return(std::unique_ptr<RedisClient> client) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(client));
}

}  // namespace autostage::redis
