#include "services/review/review_metrics.h"

#include <prometheus/text_serializer.h>

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::review {
namespace {

using ::testing::HasSubstr;

// The value of the series `name` with exactly-matching `labels` (histograms: sample count and
// sum); -1 when absent.
double Value(prometheus::Registry& registry, const std::string& name,
             const std::map<std::string, std::string>& labels = {}, bool sum = false) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& m : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Gauge:
          return m.gauge.value;
        case prometheus::MetricType::Histogram:
          return sum ? m.histogram.sample_sum : static_cast<double>(m.histogram.sample_count);
        default:
          return -1;
      }
    }
  }
  return -1;
}

TEST(ReviewMetricsTest, SubmitOutcomesAndExpiry) {
  prometheus::Registry registry;
  ReviewMetrics metrics(registry);
  v1::SubmitProposalsResponse r;
  for (v1::SubmitOutcome o :
       {v1::SUBMIT_OUTCOME_STORED, v1::SUBMIT_OUTCOME_MERGED, v1::SUBMIT_OUTCOME_MERGED,
        v1::SUBMIT_OUTCOME_STALE, v1::SUBMIT_OUTCOME_INVALID, v1::SUBMIT_OUTCOME_DUPLICATE}) {
    r.add_results()->set_outcome(o);
  }
  metrics.ObserveSubmit(r);
  metrics.ObserveExpired(3);
  metrics.ObserveExpired(0);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_received_total"), 6);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "merged"}}), 2);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "stored"}}), 1);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "stale"}}), 1);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "invalid"}}), 1);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "duplicate"}}), 1);
  EXPECT_EQ(Value(registry, "autostage_review_proposals_total", {{"outcome", "expired"}}), 3);
}

TEST(ReviewMetricsTest, DecisionCountsDelayAndRulesOncePerProposal) {
  prometheus::Registry registry;
  ReviewMetrics metrics(registry);
  v1::ReviewedProposal p;
  p.mutable_proposal()->set_to_stage("negotiation");
  p.mutable_proposal()->set_rule_id("r-quote");
  p.mutable_proposal()->mutable_created_at()->set_seconds(1000);
  p.mutable_decided_at()->set_seconds(1000 + 7200);
  p.mutable_proposal()->add_evidence()->set_rule_id("r-quote");
  p.mutable_proposal()->add_evidence()->set_rule_id("r-quote");
  p.mutable_proposal()->add_evidence()->set_rule_id("r-po");
  metrics.ObserveDecision(/*confirm=*/true, p);
  metrics.ObserveDecision(/*confirm=*/false, p);
  EXPECT_EQ(Value(registry, "autostage_review_decisions_total",
                  {{"decision", "confirm"}, {"to_stage", "negotiation"}}),
            1);
  EXPECT_EQ(Value(registry, "autostage_review_decisions_total",
                  {{"decision", "reject"}, {"to_stage", "negotiation"}}),
            1);
  EXPECT_EQ(Value(registry, "autostage_review_rule_decisions_total",
                  {{"rule_id", "r-quote"}, {"decision", "confirm"}}),
            1);
  EXPECT_EQ(Value(registry, "autostage_review_rule_decisions_total",
                  {{"rule_id", "r-po"}, {"decision", "reject"}}),
            1);
  EXPECT_EQ(Value(registry, "autostage_review_decision_delay_seconds"), 2);
  EXPECT_EQ(Value(registry, "autostage_review_decision_delay_seconds", {}, /*sum=*/true), 2 * 7200);
}

TEST(ReviewMetricsTest, OutboxStatsOnlyMoveTheCounterForward) {
  prometheus::Registry registry;
  ReviewMetrics metrics(registry);
  metrics.SetOutbox({.backlog = 5, .publish_errors = 2});
  metrics.SetOutbox({.backlog = -1, .publish_errors = 1});  // unknown backlog, stale errors
  EXPECT_EQ(Value(registry, "autostage_review_outbox_backlog"), 5);
  EXPECT_EQ(Value(registry, "autostage_review_outbox_publish_errors_total"), 2);
  metrics.SetOutbox({.backlog = 0, .publish_errors = 7});
  EXPECT_EQ(Value(registry, "autostage_review_outbox_backlog"), 0);
  EXPECT_EQ(Value(registry, "autostage_review_outbox_publish_errors_total"), 7);
}

TEST(ReviewMetricsTest, RpcLatencyByMethodAndCodeInTheTextFormat) {
  prometheus::Registry registry;
  ReviewMetrics metrics(registry);
  metrics.ObserveRpc("GetProposal", absl::StatusCode::kNotFound, absl::Milliseconds(3));
  metrics.ObserveDenied("GetProposal");
  metrics.ObserveUnauthenticated("ListPending");
  EXPECT_EQ(Value(registry, "autostage_review_grpc_request_duration_seconds",
                  {{"method", "GetProposal"}, {"code", "NOT_FOUND"}}),
            1);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, HasSubstr("autostage_review_denied_total{method=\"GetProposal\"} 1"));
  EXPECT_THAT(text, HasSubstr("autostage_review_unauthenticated_total{method=\"ListPending\"} 1"));
}

}  // namespace
}  // namespace autostage::review
