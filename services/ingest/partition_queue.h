// PartitionQueue: a bounded pool of worker threads that runs tasks keyed by partition, each
// partition's tasks in submission order and never two of one partition at once, different
// partitions in parallel.
//
//   PartitionQueue pool(4);
//   pool.Submit({"crm.events.email", 3}, [m = std::move(message)] { Handle(m); });
//   if (pool.queued() >= limit) PauseConsumption();   // the caller bounds memory
//   pool.Drop(key);  pool.WaitIdle(key, absl::Now() + absl::Seconds(2));   // on revocation
//
// Why per-partition FIFOs instead of hashing partitions onto fixed threads: a slow partition
// (an event waiting for Redis to come back) then holds only its own worker, and the other
// workers keep serving the remaining partitions.
//
// Thread safety: all methods are thread-safe. Tasks run on the pool's threads and must not
// call WaitIdle/WaitAllIdle for their own key (they would wait for themselves).
#ifndef AUTOSTAGE_SERVICES_INGEST_PARTITION_QUEUE_H_
#define AUTOSTAGE_SERVICES_INGEST_PARTITION_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace autostage::ingest {

// A topic partition as a map key.
struct PartitionKey {
  std::string topic;
  int32_t partition = 0;
  friend bool operator<(const PartitionKey& a, const PartitionKey& b) {
    return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
  }
  friend bool operator==(const PartitionKey& a, const PartitionKey& b) {
    return a.topic == b.topic && a.partition == b.partition;
  }
};

class PartitionQueue {
 public:
  // Starts `threads` workers (at least 1).
  explicit PartitionQueue(int threads);
  // Drops what is queued and joins the workers (running tasks finish first).
  ~PartitionQueue();
  PartitionQueue(const PartitionQueue&) = delete;
  PartitionQueue& operator=(const PartitionQueue&) = delete;

  // Appends `task` to `key`'s FIFO. Never blocks (the caller bounds the queue via queued()).
  void Submit(const PartitionKey& key, std::function<void()> task);

  // Removes `key`'s queued (not yet started) tasks; returns how many were dropped.
  size_t Drop(const PartitionKey& key);
  // Waits until no task of `key` runs and none is queued, or `deadline`. True when idle.
  bool WaitIdle(const PartitionKey& key, absl::Time deadline);
  // Waits until nothing is queued or running, or `deadline`. True when idle.
  bool WaitAllIdle(absl::Time deadline);

  // Tasks queued and not started, over all partitions.
  size_t queued() const;
  // Tasks running now.
  size_t running() const;

 private:
  struct Lane {
    std::deque<std::function<void()>> tasks;
    bool running = false;  // a worker holds this lane
  };
  void WorkerLoop();

  mutable absl::Mutex mu_;
  std::map<PartitionKey, Lane> lanes_ ABSL_GUARDED_BY(mu_);
  // Lanes with tasks and no worker, in the order they became ready (fairness).
  std::deque<PartitionKey> ready_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_PARTITION_QUEUE_H_
