#include "services/ingest/partition_queue.h"

#include <algorithm>

namespace autostage::ingest {

PartitionQueue::PartitionQueue(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

PartitionQueue::~PartitionQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& [key, lane] : lanes_) {
      queued_ -= lane.tasks.size();
      lane.tasks.clear();
    }
    ready_.clear();
  }
  for (std::thread& t : workers_) t.join();
}

void PartitionQueue::Submit(const PartitionKey& key, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  Lane& lane = lanes_[key];
  const bool was_empty = lane.tasks.empty();
  lane.tasks.push_back(std::move(task));
  ++queued_;
  if (was_empty && !lane.running) ready_.push_back(key);
}

size_t PartitionQueue::Drop(const PartitionKey& key) {
  absl::MutexLock lock(&mu_);
  auto it = lanes_.find(key);
  if (it == lanes_.end()) return 0;
  const size_t dropped = it->second.tasks.size();
  it->second.tasks.clear();
  queued_ -= dropped;
  ready_.erase(std::remove(ready_.begin(), ready_.end(), key), ready_.end());
  if (!it->second.running) lanes_.erase(it);
  return dropped;
}

bool PartitionQueue::WaitIdle(const PartitionKey& key, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = lanes_.find(key);
    return it == lanes_.end() || (!it->second.running && it->second.tasks.empty());
  };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

bool PartitionQueue::WaitAllIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queued_ == 0 && running_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

size_t PartitionQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_;
}

size_t PartitionQueue::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

void PartitionQueue::WorkerLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto has_work = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !ready_.empty(); };
    mu_.Await(absl::Condition(&has_work));
    if (stopping_) return;
    PartitionKey key = std::move(ready_.front());
    ready_.pop_front();
    auto found = lanes_.find(key);
    if (found == lanes_.end() || found->second.tasks.empty()) continue;  // dropped meanwhile
    Lane& lane = found->second;
    std::function<void()> task = std::move(lane.tasks.front());
    lane.tasks.pop_front();
    --queued_;
    lane.running = true;
    ++running_;
    mu_.Unlock();
    task();
    task = nullptr;  // destroy captures outside the lock too
    mu_.Lock();
    --running_;
    auto it = lanes_.find(key);
    if (it == lanes_.end()) continue;
    it->second.running = false;
    if (stopping_) continue;
    if (!it->second.tasks.empty()) {
      ready_.push_back(key);
    } else {
      lanes_.erase(it);
    }
  }
}

}  // namespace autostage::ingest
