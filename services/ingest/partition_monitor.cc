#include "services/ingest/partition_monitor.h"

#include <algorithm>
#include <string>
#include <utility>

namespace autostage::ingest {

int64_t SkippedAtAssignment(int64_t committed, int64_t first) {
  return committed >= 0 && first > committed ? first - committed : 0;
}

int64_t ConsumerLag(int64_t low, int64_t high, int64_t position, int64_t committed) {
  if (high < 0) return -1;
  int64_t next = position >= 0 ? position : committed >= 0 ? committed : low;
  if (next < 0) return -1;
  if (low >= 0) next = std::max(next, low);
  return std::max<int64_t>(0, high - next);
}

PartitionMonitor::PartitionMonitor(const kafka::Consumer& consumer, IngestMetrics& metrics,
                                   log::Logger log, PartitionMonitorOptions options)
    : consumer_(consumer), metrics_(metrics), log_(std::move(log)), options_(options) {}

PartitionMonitor::~PartitionMonitor() {
  Stop();
  absl::MutexLock lock(&mu_);
  for (auto& [key, state] : partitions_) {
    if (state.gauge != nullptr) metrics_.lag.Remove(state.gauge);
  }
}

void PartitionMonitor::Start() {
  thread_ = std::thread([this] { RefreshLoop(); });
}

void PartitionMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void PartitionMonitor::RefreshLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.lag_interval)) return;
    }
    RefreshNow();
  }
}

void PartitionMonitor::Assigned(const std::vector<kafka::TopicPartition>& partitions) {
  if (partitions.empty()) return;
  std::vector<kafka::TopicPartition> request;
  request.reserve(partitions.size());
  for (const kafka::TopicPartition& tp : partitions) request.push_back({tp.topic, tp.partition});
  absl::StatusOr<std::vector<kafka::TopicPartition>> committed =
      consumer_.Committed(request, options_.committed_timeout);
  if (!committed.ok()) {
    // Not fatal: the lag falls back to the log start and 9a is not checked at the start of
    // this assignment (OffsetTracker still sees gaps within it).
    log_.Warn("committed offsets unknown", {{"error", committed.status()}});
  }
  absl::MutexLock lock(&mu_);
  for (const kafka::TopicPartition& tp : partitions) {
    State& state = partitions_[PartitionKey{tp.topic, tp.partition}];
    if (state.gauge != nullptr) metrics_.lag.Remove(state.gauge);
    state = State{};
    state.generation = next_generation_++;
  }
  if (!committed.ok()) return;
  for (const kafka::TopicPartition& tp : *committed) {
    auto it = partitions_.find(PartitionKey{tp.topic, tp.partition});
    if (it != partitions_.end()) it->second.committed = tp.offset >= 0 ? tp.offset : -1;
  }
}

void PartitionMonitor::Revoked(const std::vector<kafka::TopicPartition>& partitions) {
  absl::MutexLock lock(&mu_);
  for (const kafka::TopicPartition& tp : partitions) {
    auto it = partitions_.find(PartitionKey{tp.topic, tp.partition});
    if (it == partitions_.end()) continue;
    if (it->second.gauge != nullptr) metrics_.lag.Remove(it->second.gauge);
    partitions_.erase(it);
  }
}

int64_t PartitionMonitor::Consumed(const PartitionKey& key, int64_t offset) {
  int64_t committed = -1;
  {
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end() || it->second.first_seen) return 0;
    it->second.first_seen = true;
    committed = it->second.committed;
  }
  const int64_t skipped = SkippedAtAssignment(committed, offset);
  if (skipped == 0) return 0;
  skipped_.fetch_add(skipped);
  metrics_.offsets_skipped.Increment(static_cast<double>(skipped));
  log_.Error("offsets skipped: the log start moved past unread events",
             {{"topic", key.topic},
              {"partition", key.partition},
              {"skipped", skipped},
              {"committed", committed},
              {"resumed_at", offset}});
  return skipped;
}

bool PartitionMonitor::ConsumerError(const kafka::Message& error) {
  if (error.error_code() != RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED) return false;
  metrics_.poll_interval_exceeded.Increment();
  log_.Error(
      "poll interval exceeded: the poll loop stalled past max.poll.interval.ms, the consumer "
      "left the group and its partitions are reassigned; their late work is fenced (offsets "
      "not stored, proposal ids idempotent)",
      {{"error", error.status()}});
  return true;
}

void PartitionMonitor::RefreshNow() {
  absl::MutexLock refresh(&refresh_mu_);
  struct Snapshot {
    uint64_t generation;
    int64_t committed;
    int64_t last_high;
    int64_t last_position;
  };
  std::vector<kafka::TopicPartition> request;
  std::map<PartitionKey, Snapshot> snapshots;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, state] : partitions_) {
      request.push_back({key.topic, key.partition});
      snapshots[key] = {state.generation, state.committed, state.last_high, state.last_position};
    }
  }
  if (request.empty()) return;
  // Outside the lock: QueryWatermarks is a round trip, and the poll thread must not wait for it.
  for (const kafka::PartitionOffsets& cached : consumer_.CachedOffsets(request)) {
    const PartitionKey key{cached.topic, cached.partition};
    const Snapshot& before = snapshots[key];
    int64_t low = cached.low;
    int64_t high = cached.high;
    if (high < 0 || (high == before.last_high && cached.position == before.last_position)) {
      absl::StatusOr<kafka::PartitionOffsets> fresh =
          consumer_.QueryWatermarks(cached.topic, cached.partition, options_.query_timeout);
      if (fresh.ok()) {
        low = fresh->low;
        high = fresh->high;
      }
    }
    const int64_t lag = ConsumerLag(low, high, cached.position, before.committed);
    absl::MutexLock lock(&mu_);
    auto it = partitions_.find(key);
    if (it == partitions_.end() || it->second.generation != before.generation) continue;
    State& state = it->second;
    state.last_high = cached.high;
    state.last_position = cached.position;
    if (lag < 0) continue;
    if (state.gauge == nullptr) state.gauge = &metrics_.Lag(key.topic, key.partition);
    state.gauge->Set(static_cast<double>(lag));
  }
}

}  // namespace autostage::ingest
