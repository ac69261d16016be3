// ReviewMetrics: the review service's Prometheus series (contract C5: prefix autostage_review_,
// counters end in _total, durations are _seconds histograms), built once on an injected
// registry that common/metrics' MetricsServer serves.
//
//   prometheus::Registry registry;
//   ReviewMetrics metrics(registry);
//   ReviewCore core(store, tokens, &metrics, &hub);   // counts submits, decisions, refusals
//   // the adapter records RPC latency; the health probe refreshes the gauges (MakeRedisProbe)
//
// Series (labels are bounded: method names, status codes, pipeline stages, rule ids):
//   autostage_review_proposals_received_total               proposals submitted
//   autostage_review_proposals_total{outcome}                stored|merged|duplicate|stale|
//                                                            invalid|expired
//   autostage_review_decisions_total{decision,to_stage}      confirm|reject, applied once
//   autostage_review_decision_delay_seconds                  proposal created_at → decision
//   autostage_review_rule_decisions_total{rule_id,decision}  per rule in the evidence
//   autostage_review_pending_proposals                       ZCARD of pending:all
//   autostage_review_outbox_backlog                          from the outbox publisher
//   autostage_review_outbox_publish_errors_total             from the outbox publisher
//   autostage_review_denied_total{method}                    PERMISSION_DENIED (audited)
//   autostage_review_unauthenticated_total{method}
//   autostage_review_grpc_request_duration_seconds{method,code}
//   autostage_review_watchers_dropped_total                  slow WatchProposals clients
//   autostage_review_redis_up                                1 when the last probe answered
//   autostage_review_stage_transitions_total{pipeline,from_stage,to_stage}
//                                                            confirmations that moved a stage
//   autostage_review_time_in_stage_seconds{pipeline,stage}   time the opportunity spent in the
//                                                            stage a confirmation left
//   autostage_review_time_in_stage_unknown_total{pipeline,stage}
//                                                            ... when that entry time was unknown
//
// Hot path: prometheus-cpp's Family::Add builds and hashes a label map under the family's lock
// on every call; the per-call observations (RPC latency, decisions, stage changes) look their
// series up in a cache keyed by the label values instead, so a confirm does not pay five
// label-map builds.
//
// Thread safety: all methods are thread-safe (prometheus-cpp metrics are; the caches are
// guarded by mu_).
#ifndef AUTOSTAGE_SERVICES_REVIEW_REVIEW_METRICS_H_
#define AUTOSTAGE_SERVICES_REVIEW_REVIEW_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autostage/v1/review.pb.h"
#include "common/redis/redis_client.h"

namespace autostage::review {

// What the outbox publisher reports (R1's OutboxPublisher accessors).
struct OutboxStats {
  int64_t backlog = -1;        // -1: unknown (the gauge keeps its last value)
  int64_t publish_errors = 0;  // since start, monotonic
};

class ReviewMetrics {
 public:
  // `registry` is borrowed and must outlive this object.
  explicit ReviewMetrics(prometheus::Registry& registry);
  ReviewMetrics(const ReviewMetrics&) = delete;
  ReviewMetrics& operator=(const ReviewMetrics&) = delete;

  void ObserveSubmit(const v1::SubmitProposalsResponse& response);
  void ObserveExpired(int64_t n);
  // A decision that was applied (not a replay): `decided` as the store returned it.
  void ObserveDecision(bool confirm, const v1::ReviewedProposal& decided);
  // A confirmation that moved an opportunity of `pipeline` from `from_stage` to `to_stage`
  // (applied once; replays are not observed). `time_in_stage`: how long it had been in
  // from_stage; nullopt when the entry time is unknown (counted apart, not observed).
  void ObserveStageChange(absl::string_view pipeline, absl::string_view from_stage,
                          absl::string_view to_stage, std::optional<absl::Duration> time_in_stage);
  void ObserveDenied(absl::string_view method);
  void ObserveUnauthenticated(absl::string_view method);
  void ObserveRpc(absl::string_view method, absl::StatusCode code, absl::Duration latency);
  void ObserveWatcherDropped();

  void SetPending(int64_t n);
  void SetRedisUp(bool up);
  // Publish errors only move up: a smaller value than seen before is ignored.
  void SetOutbox(const OutboxStats& stats);
  // Where Refresh() reads outbox stats from (set by main once the publisher exists).
  void SetOutboxSource(std::function<OutboxStats()> source);

  // Reads the pending count (ZCARD) with `client` and the outbox source; called by the
  // periodic Redis probe. Returns the Redis error, if any.
  absl::Status Refresh(redis::RedisClient& client);

  // The pending:all index key (docs/api.md "Redis keys").
  static constexpr absl::string_view kPendingAllKey = "autostage:{review}:pending:all";

 private:
  prometheus::Counter& received_;
  prometheus::Family<prometheus::Counter>& proposals_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& decision_delay_;
  prometheus::Family<prometheus::Counter>& rule_decisions_;
  prometheus::Gauge& pending_;
  prometheus::Gauge& outbox_backlog_;
  prometheus::Counter& outbox_errors_;
  prometheus::Family<prometheus::Counter>& denied_;
  prometheus::Family<prometheus::Counter>& unauthenticated_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Counter& watchers_dropped_;
  prometheus::Gauge& redis_up_;
  prometheus::Family<prometheus::Counter>& stage_transitions_;
  prometheus::Family<prometheus::Histogram>& time_in_stage_;
  prometheus::Family<prometheus::Counter>& time_in_stage_unknown_;

  // Series already added, by a key of family and label values (Series() builds it). Children of
  // a prometheus-cpp family live as long as the family (nothing here removes series).
  template <typename T>
  using SeriesMap = absl::flat_hash_map<std::string, T*>;
  // `labels` is called only the first time `key` is seen.
  prometheus::Counter& CounterOf(prometheus::Family<prometheus::Counter>& family,
                                 const std::string& key,
                                 absl::FunctionRef<prometheus::Labels()> labels);
  prometheus::Histogram& HistogramOf(prometheus::Family<prometheus::Histogram>& family,
                                     const std::string& key,
                                     absl::FunctionRef<prometheus::Labels()> labels,
                                     const prometheus::Histogram::BucketBoundaries& buckets);

  absl::Mutex mu_;
  int64_t outbox_errors_seen_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<OutboxStats()> outbox_source_ ABSL_GUARDED_BY(mu_);
  absl::Mutex series_mu_;
  SeriesMap<prometheus::Counter> counters_ ABSL_GUARDED_BY(series_mu_);
  SeriesMap<prometheus::Histogram> histograms_ ABSL_GUARDED_BY(series_mu_);
  const prometheus::Histogram::BucketBoundaries rpc_buckets_;
  const prometheus::Histogram::BucketBoundaries stage_buckets_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_REVIEW_METRICS_H_
