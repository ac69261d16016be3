#include "services/ingest/offset_tracker.h"

namespace autostage::ingest {

uint64_t OffsetTracker::Assign(const PartitionKey& key) {
  absl::MutexLock lock(&mu_);
  State& state = partitions_[key];
  state = State{};
  state.epoch = next_epoch_++;
  return state.epoch;
}

void OffsetTracker::Revoke(const PartitionKey& key) {
  absl::MutexLock lock(&mu_);
  partitions_.erase(key);
}

int64_t OffsetTracker::Track(const PartitionKey& key, uint64_t epoch, int64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end() || it->second.epoch != epoch) return 0;
  State& state = it->second;
  int64_t skipped = 0;
  if (state.last_tracked >= 0 && offset > state.last_tracked + 1) {
    skipped = offset - state.last_tracked - 1;
  }
  state.pending.insert(offset);
  if (offset > state.last_tracked) state.last_tracked = offset;
  return skipped;
}

void OffsetTracker::Done(const PartitionKey& key, uint64_t epoch, int64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  if (it == partitions_.end() || it->second.epoch != epoch) return;
  it->second.pending.erase(offset);
}

std::vector<std::pair<PartitionKey, int64_t>> OffsetTracker::TakeCommittable() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<PartitionKey, int64_t>> out;
  for (auto& [key, state] : partitions_) {
    if (state.last_tracked < 0) continue;
    const int64_t next = state.pending.empty() ? state.last_tracked + 1 : *state.pending.begin();
    if (next > state.stored) {
      state.stored = next;
      out.emplace_back(key, next);
    }
  }
  return out;
}

size_t OffsetTracker::Pending(const PartitionKey& key) const {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  return it == partitions_.end() ? 0 : it->second.pending.size();
}

size_t OffsetTracker::PendingTotal() const {
  absl::MutexLock lock(&mu_);
  size_t total = 0;
  for (const auto& [key, state] : partitions_) total += state.pending.size();
  return total;
}

bool OffsetTracker::IsCurrent(const PartitionKey& key, uint64_t epoch) const {
  absl::MutexLock lock(&mu_);
  auto it = partitions_.find(key);
  return it != partitions_.end() && it->second.epoch == epoch;
}

std::vector<PartitionKey> OffsetTracker::Partitions() const {
  absl::MutexLock lock(&mu_);
  std::vector<PartitionKey> out;
  out.reserve(partitions_.size());
  for (const auto& [key, state] : partitions_) out.push_back(key);
  return out;
}

}  // namespace autostage::ingest
