// IngestMetrics: the ingest service's Prometheus families (contract C5: prefix
// autostage_ingest_, counters end in _total, durations are histograms in seconds). Built once
// from an injected registry; label values are bounded (topic, source, reason, stage, rule id,
// outcome), never an event or opportunity id.
//
// Thread safety: prometheus-cpp metrics are thread-safe (StrippedParts too); the Family::Add
// lookups below take the family's lock, so hot paths cache what they can.
#ifndef AUTOSTAGE_SERVICES_INGEST_INGEST_METRICS_H_
#define AUTOSTAGE_SERVICES_INGEST_INGEST_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>
#include <string_view>
#include <vector>

namespace autostage::ingest {

struct IngestMetrics {
  explicit IngestMetrics(prometheus::Registry& registry);

  prometheus::Counter& Consumed(const std::string& source) {
    return consumed.Add({{"source", source}});
  }
  prometheus::Counter& Invalid(const std::string& reason) {
    return invalid.Add({{"reason", reason}});
  }
  prometheus::Counter& Unresolved(const std::string& action) {
    return unresolved.Add({{"action", action}});
  }
  prometheus::Counter& Proposal(const std::string& stage, const std::string& rule) {
    return proposals.Add({{"stage", stage}, {"rule", rule}});
  }
  prometheus::Counter& Outcome(const std::string& outcome) {
    return outcomes.Add({{"outcome", outcome}});
  }
  prometheus::Counter& Dlq(const std::string& reason) { return dlq.Add({{"reason", reason}}); }
  prometheus::Counter& Retry(const std::string& what) { return retries.Add({{"what", what}}); }
  // Counts the parts extraction dropped from one judged event of `source`, by format
  // (rules::Decision::dropped_formats: "quote_gt", "signature", ...).
  void StrippedParts(const std::string& source, const std::vector<std::string_view>& formats);
  prometheus::Gauge& Lag(const std::string& topic, int partition) {
    return lag.Add({{"topic", topic}, {"partition", std::to_string(partition)}});
  }

  prometheus::Family<prometheus::Counter>& consumed;
  prometheus::Counter& decoded;
  prometheus::Family<prometheus::Counter>& invalid;
  prometheus::Counter& deduped;
  prometheus::Counter& replays;
  prometheus::Family<prometheus::Counter>& unresolved;
  prometheus::Family<prometheus::Counter>& proposals;
  prometheus::Family<prometheus::Counter>& outcomes;
  prometheus::Family<prometheus::Counter>& dlq;
  prometheus::Counter& handled;
  prometheus::Family<prometheus::Counter>& retries;
  prometheus::Counter& engine_errors;
  prometheus::Counter& offsets_skipped;
  prometheus::Counter& revoked_dropped;
  prometheus::Counter& revoked_abandoned;
  prometheus::Counter& pauses;
  prometheus::Counter& offset_store_errors;
  prometheus::Counter& consumer_errors;
  // The poll loop stalled past max.poll.interval.ms and the member left the group (scenario 4).
  prometheus::Counter& poll_interval_exceeded;
  prometheus::Counter& rule_engine_rebuilds;
  // occurred_at → proposal acknowledged by review (= event_to_consume + consume_to_ack).
  prometheus::Histogram& event_to_ack;
  // occurred_at → consumed: the producer's, the broker's and the fetch's share, which ingest
  // does not control (every decoded event).
  prometheus::Histogram& event_to_consume;
  // Consumed → proposal acknowledged by review: ingest's own share of event_to_ack.
  prometheus::Histogram& consume_to_ack;
  // Consumed → fully handled (offset storable).
  prometheus::Histogram& consume_to_done;
  prometheus::Gauge& queued;
  prometheus::Gauge& pending;
  prometheus::Gauge& paused;
  prometheus::Gauge& redis_up;
  prometheus::Gauge& review_up;
  prometheus::Gauge& assigned_partitions;
  prometheus::Gauge& rules_generation;
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Family<prometheus::Counter>& stripped_parts;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_INGEST_METRICS_H_
