#include "services/review/review_metrics.h"

#include <initializer_list>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace autostage::review {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const char* OutcomeName(v1::SubmitOutcome outcome) {
  switch (outcome) {
    case v1::SUBMIT_OUTCOME_STORED:
      return "stored";
    case v1::SUBMIT_OUTCOME_MERGED:
      return "merged";
    case v1::SUBMIT_OUTCOME_DUPLICATE:
      return "duplicate";
    case v1::SUBMIT_OUTCOME_STALE:
      return "stale";
    case v1::SUBMIT_OUTCOME_INVALID:
      return "invalid";
    default:
      return "unspecified";
  }
}

// RPC latency: 0.5 ms .. ~16 s.
prometheus::Histogram::BucketBoundaries RpcBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 0.0005; v < 20; v *= 2) b.push_back(v);
  return b;
}

// Time in a sales stage: 1 min .. 180 d.
prometheus::Histogram::BucketBoundaries StageBuckets() {
  constexpr double kHour = 3600;
  constexpr double kDay = 24 * kHour;
  return {60,       600,      kHour,     4 * kHour, 12 * kHour, kDay,      2 * kDay,
          4 * kDay, 7 * kDay, 14 * kDay, 30 * kDay, 60 * kDay,  90 * kDay, 180 * kDay};
}

// A series cache key: a letter per family, then each label value prefixed by its length, so
// that no two label sets share a key whatever bytes the values hold.
std::string SeriesKey(char family, std::initializer_list<absl::string_view> values) {
  std::string key(1, family);
  for (absl::string_view v : values) absl::StrAppend(&key, v.size(), ":", v);
  return key;
}

}  // namespace

ReviewMetrics::ReviewMetrics(prometheus::Registry& registry)
    : received_(BuildCounter()
                    .Name("autostage_review_proposals_received_total")
                    .Help("Proposals submitted by ingest (each proposal of each batch)")
                    .Register(registry)
                    .Add({})),
      proposals_(BuildCounter()
                     .Name("autostage_review_proposals_total")
                     .Help("Submitted proposals by outcome, and proposals expired")
                     .Register(registry)),
      decisions_(BuildCounter()
                     .Name("autostage_review_decisions_total")
                     .Help("Confirmations and rejections applied (replays not counted)")
                     .Register(registry)),
      decision_delay_(
          BuildHistogram()
              .Name("autostage_review_decision_delay_seconds")
              .Help("Time from a proposal's creation to its confirmation or rejection")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{60, 300, 900, 3600, 4 * 3600,
                                                               12 * 3600, 86400, 3 * 86400,
                                                               7 * 86400, 30 * 86400})),
      rule_decisions_(BuildCounter()
                          .Name("autostage_review_rule_decisions_total")
                          .Help("Decided proposals per rule id found in their evidence")
                          .Register(registry)),
      pending_(BuildGauge()
                   .Name("autostage_review_pending_proposals")
                   .Help("Pending proposals (all scopes), refreshed by the Redis probe")
                   .Register(registry)
                   .Add({})),
      outbox_backlog_(BuildGauge()
                          .Name("autostage_review_outbox_backlog")
                          .Help("Stage changes in the outbox not yet published to Kafka")
                          .Register(registry)
                          .Add({})),
      outbox_errors_(BuildCounter()
                         .Name("autostage_review_outbox_publish_errors_total")
                         .Help("Failed attempts to publish outbox entries to Kafka")
                         .Register(registry)
                         .Add({})),
      denied_(BuildCounter()
                  .Name("autostage_review_denied_total")
                  .Help("Calls refused with PERMISSION_DENIED, by method")
                  .Register(registry)),
      unauthenticated_(BuildCounter()
                           .Name("autostage_review_unauthenticated_total")
                           .Help("Calls without a valid bearer token, by method")
                           .Register(registry)),
      rpc_duration_(BuildHistogram()
                        .Name("autostage_review_grpc_request_duration_seconds")
                        .Help("gRPC call latency by method and status code (streams: lifetime)")
                        .Register(registry)),
      watchers_dropped_(BuildCounter()
                            .Name("autostage_review_watchers_dropped_total")
                            .Help("WatchProposals streams ended for falling behind")
                            .Register(registry)
                            .Add({})),
      redis_up_(BuildGauge()
                    .Name("autostage_review_redis_up")
                    .Help("1 when the last Redis probe answered, else 0")
                    .Register(registry)
                    .Add({})),
      stage_transitions_(BuildCounter()
                             .Name("autostage_review_stage_transitions_total")
                             .Help("Confirmations that moved an opportunity, by pipeline and "
                                   "the stages left and entered")
                             .Register(registry)),
      time_in_stage_(BuildHistogram()
                         .Name("autostage_review_time_in_stage_seconds")
                         .Help("Time an opportunity spent in the stage a confirmation moved it "
                               "out of, by pipeline and that stage")
                         .Register(registry)),
      time_in_stage_unknown_(
          BuildCounter()
              .Name("autostage_review_time_in_stage_unknown_total")
              .Help("Confirmed stage changes whose stage entry time was unknown (not observed "
                    "in the time-in-stage histogram)")
              .Register(registry)),
      rpc_buckets_(RpcBuckets()),
      stage_buckets_(StageBuckets()) {}

prometheus::Counter& ReviewMetrics::CounterOf(prometheus::Family<prometheus::Counter>& family,
                                              const std::string& key,
                                              absl::FunctionRef<prometheus::Labels()> labels) {
  absl::MutexLock lock(&series_mu_);
  prometheus::Counter*& counter = counters_[key];
  if (counter == nullptr) counter = &family.Add(labels());
  return *counter;
}

prometheus::Histogram& ReviewMetrics::HistogramOf(
    prometheus::Family<prometheus::Histogram>& family, const std::string& key,
    absl::FunctionRef<prometheus::Labels()> labels,
    const prometheus::Histogram::BucketBoundaries& buckets) {
  absl::MutexLock lock(&series_mu_);
  prometheus::Histogram*& histogram = histograms_[key];
  if (histogram == nullptr) histogram = &family.Add(labels(), buckets);
  return *histogram;
}

void ReviewMetrics::ObserveSubmit(const v1::SubmitProposalsResponse& response) {
  received_.Increment(response.results_size());
  for (const v1::SubmitResult& r : response.results()) {
    proposals_.Add({{"outcome", OutcomeName(r.outcome())}}).Increment();
  }
}

void ReviewMetrics::ObserveExpired(int64_t n) {
  if (n > 0) proposals_.Add({{"outcome", "expired"}}).Increment(static_cast<double>(n));
}

void ReviewMetrics::ObserveDecision(bool confirm, const v1::ReviewedProposal& decided) {
  const std::string decision = confirm ? "confirm" : "reject";
  const std::string& to_stage = decided.proposal().to_stage();
  CounterOf(decisions_, SeriesKey('d', {decision, to_stage}), [&] {
    return prometheus::Labels{{"decision", decision}, {"to_stage", to_stage}};
  }).Increment();
  if (decided.proposal().has_created_at() && decided.has_decided_at()) {
    const int64_t ms = google::protobuf::util::TimeUtil::DurationToMilliseconds(
        decided.decided_at() - decided.proposal().created_at());
    if (ms >= 0) decision_delay_.Observe(static_cast<double>(ms) / 1000.0);
  }
  // Each rule once per proposal, however many pieces of evidence it contributed.
  std::set<std::string> rules;
  if (!decided.proposal().rule_id().empty()) rules.insert(decided.proposal().rule_id());
  for (const v1::Evidence& e : decided.proposal().evidence()) {
    if (!e.rule_id().empty()) rules.insert(e.rule_id());
  }
  for (const std::string& rule : rules) {
    CounterOf(rule_decisions_, SeriesKey('r', {rule, decision}), [&] {
      return prometheus::Labels{{"rule_id", rule}, {"decision", decision}};
    }).Increment();
  }
}

void ReviewMetrics::ObserveStageChange(absl::string_view pipeline, absl::string_view from_stage,
                                       absl::string_view to_stage,
                                       std::optional<absl::Duration> time_in_stage) {
  CounterOf(stage_transitions_, SeriesKey('t', {pipeline, from_stage, to_stage}), [&] {
    return prometheus::Labels{{"pipeline", std::string(pipeline)},
                              {"from_stage", std::string(from_stage)},
                              {"to_stage", std::string(to_stage)}};
  }).Increment();
  auto stage = [&] {
    return prometheus::Labels{{"pipeline", std::string(pipeline)},
                              {"stage", std::string(from_stage)}};
  };
  // A negative time (clocks of the CRM and review disagree) is as unknown as a missing one.
  if (!time_in_stage.has_value() || *time_in_stage < absl::ZeroDuration()) {
    CounterOf(time_in_stage_unknown_, SeriesKey('u', {pipeline, from_stage}), stage).Increment();
    return;
  }
  HistogramOf(time_in_stage_, SeriesKey('s', {pipeline, from_stage}), stage, stage_buckets_)
      .Observe(absl::ToDoubleSeconds(*time_in_stage));
}

void ReviewMetrics::ObserveDenied(absl::string_view method) {
  denied_.Add({{"method", std::string(method)}}).Increment();
}

void ReviewMetrics::ObserveUnauthenticated(absl::string_view method) {
  unauthenticated_.Add({{"method", std::string(method)}}).Increment();
}

void ReviewMetrics::ObserveRpc(absl::string_view method, absl::StatusCode code,
                               absl::Duration latency) {
  const std::string code_name = absl::StatusCodeToString(code);
  HistogramOf(
      rpc_duration_, SeriesKey('g', {method, code_name}),
      [&] {
        return prometheus::Labels{{"method", std::string(method)}, {"code", code_name}};
      },
      rpc_buckets_)
      .Observe(absl::ToDoubleSeconds(latency));
}

void ReviewMetrics::ObserveWatcherDropped() { watchers_dropped_.Increment(); }

void ReviewMetrics::SetPending(int64_t n) { pending_.Set(static_cast<double>(n)); }

void ReviewMetrics::SetRedisUp(bool up) { redis_up_.Set(up ? 1 : 0); }

void ReviewMetrics::SetOutbox(const OutboxStats& stats) {
  if (stats.backlog >= 0) outbox_backlog_.Set(static_cast<double>(stats.backlog));
  absl::MutexLock lock(&mu_);
  if (stats.publish_errors > outbox_errors_seen_) {
    outbox_errors_.Increment(static_cast<double>(stats.publish_errors - outbox_errors_seen_));
    outbox_errors_seen_ = stats.publish_errors;
  }
}

void ReviewMetrics::SetOutboxSource(std::function<OutboxStats()> source) {
  absl::MutexLock lock(&mu_);
  outbox_source_ = std::move(source);
}

absl::Status ReviewMetrics::Refresh(redis::RedisClient& client) {
  std::function<OutboxStats()> source;
  {
    absl::MutexLock lock(&mu_);
    source = outbox_source_;
  }
  if (source) SetOutbox(source());
  absl::StatusOr<redis::Reply> n = client.Command("ZCARD", kPendingAllKey);
  if (!n.ok()) return n.status();
  SetPending(n->integer());
  return absl::OkStatus();
}

}  // namespace autostage::review
