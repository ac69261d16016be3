// The one-round-trip decide path and the stage analytics it feeds, against a real
// redis-server (label `redis`):
// - the StageChange the decide script writes to the outbox (protobuf wire format built in
//   Lua) is byte for byte what protobuf serializes for the same change;
// - confirmations observe autostage_review_stage_transitions_total and
//   autostage_review_time_in_stage_seconds from the opportunity's stage_entered_ms (set by a
//   confirm, or by crmstate when a dated CRM snapshot changes the stage; unknown → counted in
//   autostage_review_time_in_stage_unknown_total), with an injected clock; replays observe
//   nothing;
// - a confirm sends one Redis command (one EVALSHA) and denials are still audited.
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "autostage/v1/stage_change.pb.h"
#include "common/crmstate/opportunity_state_store.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/review_test_harness.h"

namespace autostage::review {
namespace {

using harness::Harness;

constexpr char kPipeline[] = "b2b_standard";

class StageAnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<Harness>(harness::HarnessOptions{.with_hub = false});
    ASSERT_TRUE(h_->status().ok()) << h_->status();
  }

  void PutOpp(const std::string& opp, const std::string& stage) {
    ASSERT_TRUE(h_->store
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = kPipeline,
                                      .stage = stage,
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
  }

  // Submits `p`, which must be stored as a new pending proposal (version 1).
  void Submit(const v1::Proposal& p) {
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = p;
    absl::StatusOr<v1::SubmitProposalsResponse> r = h_->store->Submit(request);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->results(0).outcome(), v1::SUBMIT_OUTCOME_STORED) << r->results(0).DebugString();
  }

  absl::StatusOr<v1::ReviewedProposal> Confirm(const std::string& id, int64_t version,
                                               const std::string& caller = "alice") {
    v1::ConfirmProposalRequest request;
    request.set_proposal_id(id);
    request.set_version(version);
    return h_->core->ConfirmProposal(
        {.authorization = "Bearer " + caller, .peer = "test", .method = "ConfirmProposal"},
        request);
  }

  double Transitions(const std::string& from, const std::string& to) {
    return h_->Metric("autostage_review_stage_transitions_total",
                      {{"pipeline", kPipeline}, {"from_stage", from}, {"to_stage", to}});
  }
  double Unknown(const std::string& stage) {
    return h_->Metric("autostage_review_time_in_stage_unknown_total",
                      {{"pipeline", kPipeline}, {"stage", stage}});
  }
  // {count, sum} of the time-in-stage histogram for `stage` ({0, 0} when absent).
  std::pair<uint64_t, double> TimeInStage(const std::string& stage) {
    for (const prometheus::MetricFamily& family : h_->registry.Collect()) {
      if (family.name != "autostage_review_time_in_stage_seconds") continue;
      for (const prometheus::ClientMetric& m : family.metric) {
        std::map<std::string, std::string> labels;
        for (const prometheus::ClientMetric::Label& l : m.label) labels[l.name] = l.value;
        if (labels["pipeline"] == kPipeline && labels["stage"] == stage) {
          return {m.histogram.sample_count, m.histogram.sample_sum};
        }
      }
    }
    return {0, 0};
  }

  std::string StageEnteredMs(const std::string& opp) {
    redis::RedisClient client(h_->redis_options);
    absl::StatusOr<redis::Reply> r =
        client.Command("HGET", "autostage:{" + opp + "}:opportunity", "stage_entered_ms");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->is_string() ? r->str() : "";
  }

  std::unique_ptr<Harness> h_;
};

TEST_F(StageAnalyticsTest, OutboxStageChangeIsWhatProtobufSerializes) {
  PutOpp("opp-wire", "prospecting");
  v1::Proposal p = Harness::Proposal("p-wire", "opp-wire", "proposal");
  // Evidence with every field, the ones StageChangeEvidence drops included, and non-ASCII.
  p.clear_evidence();
  for (int i = 0; i < 3; ++i) {
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + std::to_string(i));
    e->set_source(i == 1 ? "call" : "email");
    e->set_rule_id(i == 2 ? "" : "rule-quote");
    e->add_matched_terms("报价");
    e->add_matched_terms("quote");
    e->set_snippet(std::string(i == 0 ? 300 : 5, 'x') + " 请发一份报价方案");
    e->set_field("email.text");
    e->set_start(-1);
    e->set_end(1234567890123);
    e->set_confidence(0.75);
    *e->mutable_occurred_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(1699999990000 + i * 1000);
  }
  Submit(p);
  absl::StatusOr<v1::ReviewedProposal> done = Confirm("p-wire", 1);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->proposal().evidence_size(), 3);

  redis::RedisClient client(h_->redis_options);
  absl::StatusOr<redis::Reply> entries =
      client.Command("XRANGE", ProposalStore::OutboxKey(), "-", "+");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 1u);
  std::string bytes;
  const redis::Reply& fields = (*entries)[0][1];
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == "change") bytes = fields[i + 1].str();
  }
  // What the service built before the script did it: the same fields from the decided
  // proposal (evidence newest first, as the store returns it).
  v1::StageChange want;
  want.set_change_id("sc-p-wire");
  want.set_opportunity_id("opp-wire");
  want.set_pipeline(kPipeline);
  want.set_from_stage("prospecting");
  want.set_to_stage("proposal");
  want.set_proposal_id("p-wire");
  want.set_confirmed_by("alice");
  *want.mutable_confirmed_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      absl::ToUnixMillis(h_->clock.Now()));
  for (const v1::Evidence& e : done->proposal().evidence()) {
    v1::StageChangeEvidence* out = want.add_evidence();
    out->set_event_id(e.event_id());
    out->set_source(e.source());
    out->set_rule_id(e.rule_id());
    out->set_snippet(e.snippet());
  }
  v1::StageChange got;
  ASSERT_TRUE(got.ParseFromString(bytes));
  EXPECT_EQ(got.DebugString(), want.DebugString());
  EXPECT_EQ(bytes, want.SerializeAsString());
  EXPECT_EQ(done->change_id(), "sc-p-wire");
}

TEST_F(StageAnalyticsTest, TwoConfirmedStageChangesWithAnInjectedClock) {
  PutOpp("opp-a", "prospecting");  // undated: entry time unknown
  Submit(Harness::Proposal("p-1", "opp-a", "needs_analysis"));
  h_->clock.Advance(absl::Hours(1));
  ASSERT_TRUE(Confirm("p-1", 1).ok());
  EXPECT_EQ(Transitions("prospecting", "needs_analysis"), 1);
  EXPECT_EQ(Unknown("prospecting"), 1);
  EXPECT_EQ(TimeInStage("prospecting").first, 0u);
  const int64_t entered = absl::ToUnixMillis(h_->clock.Now());
  EXPECT_EQ(StageEnteredMs("opp-a"), std::to_string(entered));

  // Three days in needs_analysis, then the next confirmed change.
  Submit(Harness::Proposal("p-2", "opp-a", "proposal"));
  h_->clock.Advance(absl::Hours(72));
  ASSERT_TRUE(Confirm("p-2", 1).ok());
  EXPECT_EQ(Transitions("needs_analysis", "proposal"), 1);
  EXPECT_EQ(TimeInStage("needs_analysis"), std::make_pair(uint64_t{1}, 72 * 3600.0));
  EXPECT_EQ(Unknown("needs_analysis"), 0);

  // A replay answers from the stored decision and observes nothing.
  h_->clock.Advance(absl::Hours(5));
  ASSERT_TRUE(Confirm("p-2", 1).ok());
  EXPECT_EQ(Transitions("needs_analysis", "proposal"), 1);
  EXPECT_EQ(TimeInStage("needs_analysis").first, 1u);
  EXPECT_EQ(h_->Metric("autostage_review_decisions_total",
                       {{"decision", "confirm"}, {"to_stage", "proposal"}}),
            1);
  // A rejection moves no stage.
  Submit(Harness::Proposal("p-3", "opp-a", "contract"));
  v1::RejectProposalRequest reject;
  reject.set_proposal_id("p-3");
  reject.set_version(1);
  reject.set_reason("only a price question");
  ASSERT_TRUE(h_->core->RejectProposal({.authorization = "Bearer alice"}, reject).ok());
  EXPECT_EQ(Transitions("proposal", "contract"), 0);
  EXPECT_EQ(TimeInStage("proposal").first, 0u);
}

TEST_F(StageAnalyticsTest, CrmSnapshotThatChangesTheStageSetsTheEntryTime) {
  crmstate::OpportunityStateStore crm(*h_->pool);
  v1::Opportunity o;
  o.set_opportunity_id("opp-crm");
  o.set_pipeline(kPipeline);
  o.set_stage("prospecting");
  o.set_status("open");
  o.set_owner_id("alice");
  o.set_team_id("east");
  const int64_t t0 = absl::ToUnixMillis(h_->clock.Now()) - 86400000;
  *o.mutable_updated_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(t0);
  ASSERT_TRUE(crm.Apply(o).ok());
  EXPECT_EQ(StageEnteredMs("opp-crm"), "");  // first sighting: entry time unknown
  // The CRM moved it (a day ago); a later snapshot in the same stage keeps that entry time.
  o.set_stage("needs_analysis");
  *o.mutable_updated_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(t0 + 1000);
  ASSERT_TRUE(crm.Apply(o).ok());
  *o.mutable_updated_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(t0 + 5000);
  ASSERT_TRUE(crm.Apply(o).ok());
  EXPECT_EQ(StageEnteredMs("opp-crm"), std::to_string(t0 + 1000));

  Submit(Harness::Proposal("p-crm", "opp-crm", "proposal"));
  ASSERT_TRUE(Confirm("p-crm", 1).ok());
  EXPECT_EQ(TimeInStage("needs_analysis"),
            std::make_pair(uint64_t{1}, (86400000.0 - 1000.0) / 1000.0));
  // An undated administrative write that changes the stage forgets the entry time.
  PutOpp("opp-crm", "negotiation");
  EXPECT_EQ(StageEnteredMs("opp-crm"), "");
}

TEST_F(StageAnalyticsTest, AConfirmIsOneRedisCommandAndDenialsStillAudited) {
  const std::string mine = h_->NewPending("alice", "east");
  const std::string other = h_->NewPending("bob", "west");
  // One EVALSHA per confirm (Redis counts a script's inner commands too, so the benchmark's
  // redis_calls_per_op, not this test, shows that no other command is sent).
  auto calls = [&](absl::string_view command) -> int64_t {
    redis::RedisClient client(h_->redis_options);
    absl::StatusOr<redis::Reply> info = client.Command("INFO", "commandstats");
    EXPECT_TRUE(info.ok());
    for (absl::string_view line : absl::StrSplit(info->str(), "\r\n")) {
      int64_t v = 0;
      if (absl::ConsumePrefix(&line, absl::StrCat("cmdstat_", command, ":calls=")) &&
          absl::SimpleAtoi(line.substr(0, line.find(',')), &v)) {
        return v;
      }
    }
    return 0;
  };
  const int64_t evalsha = calls("evalsha");
  ASSERT_TRUE(Confirm(mine, 1).ok());
  EXPECT_EQ(calls("evalsha") - evalsha, 1);
  // Someone else's: PERMISSION_DENIED from inside the script, then the audit entry.
  absl::Status denied = Confirm(other, 1).status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_EQ(h_->CountAudit("denied", "ConfirmProposal"), 1);
  EXPECT_EQ(h_->Metric("autostage_review_denied_total", {{"method", "ConfirmProposal"}}), 1);
  // An unknown id is NOT_FOUND before any scope check.
  EXPECT_TRUE(absl::IsNotFound(Confirm("p-none", 1, "bob").status()));
  EXPECT_EQ(h_->CountAudit("denied", "ConfirmProposal"), 1);
}

}  // namespace
}  // namespace autostage::review
