#include "common/rules/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/rules/internal/test_util.h"

namespace autostage::rules {
namespace {

using testing::CompilePack;

class JudgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = CompilePack(R"(pack: p
pipeline: b2b
rules:
  - {id: needs, stage: needs_analysis, any: [需求], confidence: 0.6}
  - {id: quote, stage: proposal, any: [报价], confidence: 0.7}
  - {id: quote2, stage: proposal, any: [quote], confidence: 0.9}
  - {id: signed, stage: contract, any: [已签], confidence: 0.8}
  - {id: paid, stage: follow_up, any: [已付款], confidence: 0.9}
)");
    ASSERT_NE(set_, nullptr);
    pipeline_ = set_->FindPipeline("b2b");
    event_.set_event_id("ev-1");
    event_.set_source("email");
    event_.set_direction("inbound");
    opportunity_.set_opportunity_id("opp-1");
    opportunity_.set_pipeline("b2b");
    opportunity_.set_stage("needs_analysis");
    opportunity_.set_status("open");
    opportunity_.set_owner_id("rep-zhang");
  }
  FiredRule Fired(const std::string& id) {
    for (uint32_t i = 0; i < pipeline_->rules().size(); ++i) {
      if (pipeline_->rules()[i].rule->id == id) return FiredRule{i, {id}, "email.text", "…", 0, 3};
    }
    ADD_FAILURE() << id;
    return {};
  }
  Resolution Resolved() { return {opportunity_, ""}; }

  std::shared_ptr<const RuleSet> set_;
  const CompiledPipeline* pipeline_ = nullptr;
  v1::Event event_;
  v1::Opportunity opportunity_;
};

TEST_F(JudgeTest, Rule1ClosedOpportunitiesYieldNothing) {
  opportunity_.set_status("won");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "not_open");
  opportunity_.set_status("lost");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "not_open");
  opportunity_.set_status("open");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "");
}

TEST_F(JudgeTest, Rule1ForwardOnly) {
  opportunity_.set_stage("contract");
  Decision d = Decide(event_, opportunity_, *pipeline_, {Fired("quote"), Fired("signed")});
  EXPECT_EQ(d.reason, "backward_or_same");
  EXPECT_FALSE(d.proposal.has_value());
  opportunity_.set_stage("follow_up");  // the last stage can never move forward
  EXPECT_EQ(Decide(event_, opportunity_, *pipeline_, {Fired("paid")}).reason, "backward_or_same");
}

TEST_F(JudgeTest, Rule2FurthestStageWithItsEvidenceOnly) {
  Decision d = Decide(event_, opportunity_, *pipeline_,
                      {Fired("quote"), Fired("signed"), Fired("needs"), Fired("quote2")});
  ASSERT_TRUE(d.proposal.has_value());
  EXPECT_EQ(d.reason, "proposed");
  EXPECT_EQ(d.proposal->to_stage(), "contract");
  EXPECT_EQ(d.proposal->from_stage(), "needs_analysis");
  EXPECT_EQ(d.proposal->rule_id(), "signed");
  ASSERT_EQ(d.proposal->evidence_size(), 1);
  EXPECT_EQ(d.proposal->evidence(0).rule_id(), "signed");
  EXPECT_EQ(d.proposal->owner_id(), "rep-zhang");
  EXPECT_EQ(d.proposal->pipeline(), "b2b");
}

TEST_F(JudgeTest, StrongestRuleOfTheStageLeads) {
  Decision d = Decide(event_, opportunity_, *pipeline_, {Fired("quote"), Fired("quote2")});
  ASSERT_TRUE(d.proposal.has_value());
  EXPECT_EQ(d.proposal->rule_id(), "quote2");
  EXPECT_DOUBLE_EQ(d.proposal->confidence(), 0.9);
  ASSERT_EQ(d.proposal->evidence_size(), 2);
  EXPECT_EQ(d.proposal->evidence(0).rule_id(), "quote2");
}

TEST_F(JudgeTest, NoMatch) {
  EXPECT_EQ(Decide(event_, opportunity_, *pipeline_, {}).reason, "no_match");
}

TEST_F(JudgeTest, Rule6InternalYieldsNothing) {
  event_.set_direction("internal");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "internal");
}

TEST_F(JudgeTest, UnknownPipelineOrStageAndResolution) {
  opportunity_.set_pipeline("other");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "unknown_pipeline");
  opportunity_.set_pipeline("b2b");
  opportunity_.set_stage("limbo");
  EXPECT_EQ(Precheck(event_, Resolved(), *set_), "unknown_stage");
  EXPECT_EQ(Precheck(event_, {std::nullopt, "ambiguous_opportunity"}, *set_),
            "ambiguous_opportunity");
  EXPECT_EQ(Precheck(event_, {std::nullopt, "unresolved"}, *set_), "unresolved");
}

TEST(JudgeMaxSkipTest, FurthestWithinMaxSkip) {
  auto set = CompilePack(R"(pack: s
pipeline: short
rules:
  - {id: b, stage: b, any: [bee]}
  - {id: c, stage: c, any: [sea]}
)");
  ASSERT_NE(set, nullptr);
  const CompiledPipeline* p = set->FindPipeline("short");
  v1::Event e;
  e.set_event_id("e");
  v1::Opportunity o;
  o.set_opportunity_id("o");
  o.set_pipeline("short");
  o.set_stage("a");
  o.set_status("open");
  // max_skip 0: a -> c jumps over b, so only a -> b is allowed.
  Decision both =
      Decide(e, o, *p, {FiredRule{0, {}, "", "", 0, 0}, FiredRule{1, {}, "", "", 0, 0}});
  ASSERT_TRUE(both.proposal.has_value());
  EXPECT_EQ(both.proposal->to_stage(), "b");
  Decision only_c = Decide(e, o, *p, {FiredRule{1, {}, "", "", 0, 0}});
  EXPECT_EQ(only_c.reason, "max_skip");
  EXPECT_FALSE(only_c.proposal.has_value());
}

TEST(ProposalIdTest, DeterministicAndDistinct) {
  const std::string id = ProposalId("ev-1", "opp-1", "contract");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id, ProposalId("ev-1", "opp-1", "contract"));
  // Pinned (= sha256("ev-1\0opp-1\0contract")[:32], checked with Python hashlib): the id must
  // not change across runs, builds or platforms.
  EXPECT_EQ(id, "51da7581ccd3aa502c3f02f1e0596087");
  EXPECT_NE(id, ProposalId("ev-1", "opp-1", "follow_up"));
  EXPECT_NE(ProposalId("ev-1", "opp-1x", "y"), ProposalId("ev-1", "opp-1", "xy"));
}

}  // namespace
}  // namespace autostage::rules
