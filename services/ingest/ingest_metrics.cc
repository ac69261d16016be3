#include "services/ingest/ingest_metrics.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace autostage::ingest {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Counter& Counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return CounterFamily(registry, name, help).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Histogram& Histogram(prometheus::Registry& registry, const std::string& name,
                                 const std::string& help) {
  // 1 ms .. ~60 s; finer around 100 ms, the latency target (BENCHMARKS.md).
  const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15,
                                        0.25,  0.5,    1,     2.5,  5,     10,   30,    60};
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, kBuckets);
}

}  // namespace

IngestMetrics::IngestMetrics(prometheus::Registry& r)
    : consumed(CounterFamily(r, "autostage_ingest_events_consumed_total",
                             "Events consumed, by source topic")),
      decoded(Counter(r, "autostage_ingest_events_decoded_total", "Events decoded and valid")),
      invalid(CounterFamily(r, "autostage_ingest_events_invalid_total",
                            "Events that failed decoding or validation, by reason")),
      deduped(Counter(r, "autostage_ingest_events_deduped_total",
                      "Events skipped because their event_id was already handled")),
      replays(Counter(r, "autostage_ingest_events_replayed_total",
                      "Events with autostage-replay: 1 (dedupe bypassed)")),
      unresolved(CounterFamily(r, "autostage_ingest_events_unresolved_total",
                               "Events whose opportunity could not be resolved, by action")),
      proposals(CounterFamily(r, "autostage_ingest_proposals_total",
                              "Proposals made, by stage and deciding rule")),
      outcomes(CounterFamily(r, "autostage_ingest_proposal_outcomes_total",
                             "Review answers to submitted proposals, by outcome")),
      dlq(CounterFamily(r, "autostage_ingest_dlq_writes_total",
                        "Events written to the dead-letter topic, by reason")),
      handled(Counter(r, "autostage_ingest_events_handled_total",
                      "Events fully handled (offset may be stored)")),
      retries(CounterFamily(r, "autostage_ingest_retries_total",
                            "Retried steps (dedupe, resolve, submit, dlq), by step")),
      engine_errors(Counter(r, "autostage_ingest_engine_errors_total",
                            "Events the engine failed on (dead-lettered)")),
      offsets_skipped(Counter(r, "autostage_ingest_offsets_skipped_total",
                              "Offsets never consumed because the log start moved past them "
                              "(offset reset to earliest)")),
      revoked_dropped(Counter(r, "autostage_ingest_revoked_dropped_total",
                              "Queued events dropped because their partition was revoked")),
      revoked_abandoned(Counter(r, "autostage_ingest_revoked_inflight_total",
                                "Revocations that found events of the partition still in "
                                "flight after the wait")),
      pauses(Counter(r, "autostage_ingest_pauses_total",
                     "Times consumption was paused (review or Redis down, queue full)")),
      offset_store_errors(Counter(r, "autostage_ingest_offset_store_errors_total",
                                  "Offset stores refused (e.g. partition revoked meanwhile)")),
      consumer_errors(Counter(r, "autostage_ingest_consumer_errors_total",
                              "Error events returned by the Kafka consumer")),
      poll_interval_exceeded(
          Counter(r, "autostage_ingest_poll_interval_exceeded_total",
                  "Times the poll loop stalled past max.poll.interval.ms and the consumer left "
                  "the group (its partitions were reassigned; late work is fenced)")),
      rule_engine_rebuilds(Counter(r, "autostage_ingest_engine_rebuilds_total",
                                   "Worker engines rebuilt after a rule reload")),
      event_to_ack(Histogram(r, "autostage_ingest_event_to_ack_seconds",
                             "Event occurred_at to proposal acknowledged by review")),
      event_to_consume(Histogram(r, "autostage_ingest_event_to_consume_seconds",
                                 "Event occurred_at to consumed (producer, broker and fetch)")),
      consume_to_ack(Histogram(r, "autostage_ingest_consume_to_ack_seconds",
                               "Event consumed to its proposal acknowledged by review")),
      consume_to_done(
          Histogram(r, "autostage_ingest_processing_seconds", "Event consumed to fully handled")),
      queued(Gauge(r, "autostage_ingest_queued_events", "Events waiting for a worker")),
      pending(Gauge(r, "autostage_ingest_pending_events", "Events consumed and not fully handled")),
      paused(Gauge(r, "autostage_ingest_paused", "1 while consumption is paused")),
      redis_up(Gauge(r, "autostage_ingest_redis_up", "0 while Redis calls fail")),
      review_up(Gauge(r, "autostage_ingest_review_up", "0 while review is unavailable")),
      assigned_partitions(
          Gauge(r, "autostage_ingest_assigned_partitions", "Partitions assigned to this instance")),
      rules_generation(Gauge(r, "autostage_ingest_rules_generation",
                             "Generation of the rule set the workers use")),
      lag(prometheus::BuildGauge()
              .Name("autostage_ingest_consumer_lag")
              .Help("High watermark minus next offset to read, per partition")
              .Register(r)),
      stripped_parts(CounterFamily(r, "autostage_ingest_stripped_parts_total",
                                   "Parts of judged events the text extraction dropped (quoted "
                                   "history, signatures, ...), by source and format")) {}

void IngestMetrics::StrippedParts(const std::string& source,
                                  const std::vector<std::string_view>& formats) {
  if (formats.empty()) return;
  // One Family::Add (a locked lookup) per distinct format of the event, not per part.
  std::vector<std::pair<std::string_view, int>> counts;
  for (std::string_view format : formats) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [format](const auto& c) { return c.first == format; });
    if (it == counts.end()) {
      counts.emplace_back(format, 1);
    } else {
      ++it->second;
    }
  }
  for (const auto& [format, n] : counts) {
    stripped_parts.Add({{"source", source}, {"format", std::string(format)}})
        .Increment(static_cast<double>(n));
  }
}

}  // namespace autostage::ingest
