// RedisPool: a fixed number of RedisClients shared by threads. A thread borrows a client with
// Acquire() and gives it back when the Lease goes out of scope.
//
//   RedisPool pool(options, /*size=*/4);
//   ASSIGN_OR_RETURN(RedisPool::Lease lease, pool.Acquire(absl::Milliseconds(100)));
//   ASSIGN_OR_RETURN(Reply r, lease->Command("GET", key));
//
// Clients connect lazily and reconnect by themselves (see RedisClient), so a pool never needs
// rebuilding after a Redis restart.
//
// Errors: Acquire returns kDeadlineExceeded when no client frees up within `wait`.
// Thread safety: Acquire and Lease destruction are thread-safe; a leased client is used by one
// thread at a time. The pool must outlive its leases.
#ifndef AUTOSTAGE_COMMON_REDIS_REDIS_POOL_H_
#define AUTOSTAGE_COMMON_REDIS_REDIS_POOL_H_

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"

namespace autostage::redis {

class RedisPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)), client_(std::move(other.client_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(std::move(client_));
    }
    RedisClient* operator->() const { return client_.get(); }
    RedisClient& operator*() const { return *client_; }

   private:
    friend class RedisPool;
    Lease(RedisPool* pool, std::unique_ptr<RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    RedisPool* pool_;
    std::unique_ptr<RedisClient> client_;
  };

  RedisPool(const RedisOptions& options, int size);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  absl::StatusOr<Lease> Acquire(absl::Duration wait);

 private:
  void Return(std::unique_ptr<RedisClient> client);

  absl::Mutex mu_;
  std::vector<std::unique_ptr<RedisClient>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autostage::redis

#endif  // AUTOSTAGE_COMMON_REDIS_REDIS_POOL_H_
