// ProposalStore::Submit's batch script against a real redis-server (label `redis`): one batch
// must leave Redis exactly as the same proposals submitted one call each (same answers, same
// stored proposals, indexes, locator and updates entries), whatever the batch mixes: repeated
// ids, merges into a proposal stored earlier in the batch, stale, invalid, two pipelines,
// evidence beyond the cap. And a decided id stays a duplicate (contract C4).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/proposal_store.h"
#include "services/review/watch_hub.h"

namespace autostage::review {
namespace {

using ::autostage::testing::RedisServer;

v1::Proposal MakeProposal(const std::string& id, const std::string& opp, const std::string& to,
                          const std::vector<std::pair<std::string, int64_t>>& evidence,
                          double confidence = 0.8, const std::string& pipeline = "b2b_standard") {
  v1::Proposal p;
  p.set_proposal_id(id);
  p.set_opportunity_id(opp);
  p.set_pipeline(pipeline);
  p.set_to_stage(to);
  p.set_rule_id("rule-" + to);
  p.set_confidence(confidence);
  for (const auto& [event_id, occurred_ms] : evidence) {
    v1::Evidence* e = p.add_evidence();
    e->set_event_id(event_id);
    e->set_source(event_id[0] == 'c' ? "chat" : "email");
    e->set_rule_id("rule-" + to);
    e->set_snippet("snippet of " + event_id);
    *e->mutable_occurred_at() =
        google::protobuf::util::TimeUtil::MillisecondsToTimestamp(occurred_ms);
  }
  return p;
}

// One redis-server and a store on it, with the opportunities the batch refers to.
class Side {
 public:
  void Start(const FakeClock& clock) {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    options_ = {.host = server_->host(), .port = server_->port()};
    pool_ = std::make_unique<redis::RedisPool>(options_, 2);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    pipelines.Set("renewal", {"upcoming", "quoted", "renewed"});
    store_ =
        std::make_unique<ProposalStore>(*pool_, pipelines, clock, StoreOptions{.evidence_cap = 3});
    auto put = [&](const std::string& id, const std::string& pipeline, const std::string& stage,
                   const std::string& owner, const std::string& team) {
      ASSERT_TRUE(store_
                      ->PutOpportunity({.opportunity_id = id,
                                        .pipeline = pipeline,
                                        .stage = stage,
                                        .owner_id = owner,
                                        .team_id = team})
                      .ok());
    };
    put("o1", "b2b_standard", "prospecting", "alice", "east");
    put("o2", "b2b_standard", "negotiation", "bob", "west");
    put("o3", "renewal", "upcoming", "carol", "");
    put("o4", "b2b_standard", "needs_analysis", "", "east");
  }

  ProposalStore& store() { return *store_; }

  redis::Reply Command(const std::vector<std::string>& args) {
    redis::RedisClient client(options_);
    absl::StatusOr<redis::Reply> r = client.Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply();
  }

  // The updates (contract C1) as the watch hub reads them, without stream ids (those are
  // times): a batch writes one entry for all its updates, single calls one entry each.
  std::vector<std::string> Updates() {
    std::vector<std::string> out;
    const redis::Reply entries = Command({"XRANGE", ProposalStore::UpdatesKey(), "-", "+"});
    for (const redis::Reply& e : entries.elements()) {
      for (const UpdateEntry& u : ParseUpdates(e)) {
        out.push_back(absl::StrJoin({u.kind, u.proposal_id, u.opportunity_id, u.owner_id, u.team_id,
                                     u.status, absl::StrCat(u.version), u.to_stage, u.source},
                                    " "));
      }
    }
    return out;
  }

  int64_t UpdateEntries() { return Command({"XLEN", ProposalStore::UpdatesKey()}).integer(); }

 private:
  std::unique_ptr<RedisServer> server_;
  redis::RedisOptions options_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<ProposalStore> store_;
};

std::vector<v1::Proposal> MixedBatch() {
  v1::Proposal malformed = MakeProposal("m1", "o1", "proposal", {{"e0", 1}});
  malformed.clear_evidence();
  v1::Proposal unknown_pipeline = MakeProposal("u1", "o1", "proposal", {{"e0", 1}});
  unknown_pipeline.set_pipeline("nope");
  return {
      MakeProposal("p1", "o1", "proposal", {{"e1", 1000}}),
      MakeProposal("p1", "o1", "proposal", {{"e1", 1000}}),                    // same id: duplicate
      MakeProposal("p2", "o1", "proposal", {{"c2", 3000}, {"e3", 500}}, 0.9),  // merges into p1
      MakeProposal("p2", "o1", "proposal", {{"c2", 3000}}),  // duplicate of a merge
      MakeProposal("p3", "o1", "contract", {{"e4", 1}, {"e5", 5}, {"e6", 6}, {"e7", 2}}),  // cap 3
      MakeProposal("p4", "o2", "proposal", {{"e8", 1}}),  // stale: o2 passed it
      MakeProposal("p5", "o2", "contract", {{"e9", 1}}),
      MakeProposal("p6", "ox", "proposal", {{"e10", 1}}),  // unknown opportunity
      malformed,
      unknown_pipeline,
      MakeProposal("r1", "o3", "quoted", {{"e11", 7}}, 0.7, "renewal"),    // second pipeline
      MakeProposal("r2", "o3", "proposal", {{"e12", 7}}, 0.7, "renewal"),  // not in renewal
      MakeProposal("p7", "o4", "proposal", {{"e13", 9}}),                  // no owner, a team
      MakeProposal("p8", "o1", "proposal", {{"e1", 4000}}, 0.5),           // same evidence, newer
      MakeProposal("p4", "o2", "proposal", {{"e8", 1}}),                   // stale again
  };
}

class SubmitBatchTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(SubmitBatchTest, OneBatchLeavesRedisAsTheSameProposalsSentOneByOne) {
  Side batched;
  Side single;
  ASSERT_NO_FATAL_FAILURE(batched.Start(clock_));
  ASSERT_NO_FATAL_FAILURE(single.Start(clock_));
  const std::vector<v1::Proposal> proposals = MixedBatch();

  v1::SubmitProposalsRequest request;
  for (const v1::Proposal& p : proposals) *request.add_proposals() = p;
  absl::StatusOr<v1::SubmitProposalsResponse> together = batched.store().Submit(request);
  ASSERT_TRUE(together.ok()) << together.status();
  ASSERT_EQ(together->results_size(), static_cast<int>(proposals.size()));
  for (size_t i = 0; i < proposals.size(); ++i) {
    v1::SubmitProposalsRequest one;
    *one.add_proposals() = proposals[i];
    absl::StatusOr<v1::SubmitProposalsResponse> alone = single.store().Submit(one);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_EQ(alone->results_size(), 1);
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(alone->results(0), together->results(i)))
        << i << ": alone " << alone->results(0).ShortDebugString() << " batched "
        << together->results(i).ShortDebugString();
  }
  using v1::SubmitOutcome;
  const std::vector<SubmitOutcome> want = {
      v1::SUBMIT_OUTCOME_STORED,    v1::SUBMIT_OUTCOME_DUPLICATE, v1::SUBMIT_OUTCOME_MERGED,
      v1::SUBMIT_OUTCOME_DUPLICATE, v1::SUBMIT_OUTCOME_STORED,    v1::SUBMIT_OUTCOME_STALE,
      v1::SUBMIT_OUTCOME_STORED,    v1::SUBMIT_OUTCOME_INVALID,   v1::SUBMIT_OUTCOME_INVALID,
      v1::SUBMIT_OUTCOME_INVALID,   v1::SUBMIT_OUTCOME_STORED,    v1::SUBMIT_OUTCOME_INVALID,
      v1::SUBMIT_OUTCOME_STORED,    v1::SUBMIT_OUTCOME_MERGED,    v1::SUBMIT_OUTCOME_STALE};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(together->results(i).outcome(), want[i]) << i;
  }
  EXPECT_EQ(together->results(3).stored_as(), "p1");
  EXPECT_EQ(together->results(13).version(), 3);

  // The same proposals, evidence (newest first, capped, deduplicated), indexes and updates.
  for (const std::string id : {"p1", "p3", "p5", "r1", "p7"}) {
    absl::StatusOr<v1::ReviewedProposal> a = batched.store().Get(id);
    absl::StatusOr<v1::ReviewedProposal> b = single.store().Get(id);
    ASSERT_TRUE(a.ok()) << id << " " << a.status();
    ASSERT_TRUE(b.ok()) << id << " " << b.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*a, *b))
        << id << "\nbatched " << a->ShortDebugString() << "\nsingle " << b->ShortDebugString();
  }
  absl::StatusOr<v1::ReviewedProposal> p1 = batched.store().Get("p1");
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->submissions(), 3);
  EXPECT_DOUBLE_EQ(p1->proposal().confidence(), 0.9);
  std::vector<std::string> events;
  for (const v1::Evidence& e : p1->proposal().evidence()) events.push_back(e.event_id());
  // p8's e1 is dated 4000, so it is new evidence (bytes differ); e3 (500) fell off the cap.
  EXPECT_EQ(events, (std::vector<std::string>{"e1", "c2", "e1"}));
  absl::StatusOr<v1::ReviewedProposal> p3 = batched.store().Get("p3");
  ASSERT_TRUE(p3.ok());
  events.clear();
  for (const v1::Evidence& e : p3->proposal().evidence()) events.push_back(e.event_id());
  EXPECT_EQ(events, (std::vector<std::string>{"e6", "e5", "e7"}));
  for (const std::string id : {"p2", "p4", "p6", "p8", "r2", "m1", "u1"}) {
    EXPECT_TRUE(absl::IsNotFound(batched.store().Get(id).status())) << id;
  }

  for (const std::string index :
       {"all", "owner:alice", "owner:bob", "owner:carol", "team:east", "team:west"}) {
    const std::vector<std::string> cmd = {"ZRANGE", "autostage:{review}:pending:" + index, "0",
                                          "-1", "WITHSCORES"};
    EXPECT_EQ(batched.Command(cmd).DebugString(), single.Command(cmd).DebugString()) << index;
  }
  EXPECT_EQ(batched.Command({"ZCARD", "autostage:{review}:pending:all"}).integer(), 5);
  const std::vector<std::string> locator = {"HGETALL", "autostage:{review}:locator"};
  EXPECT_EQ(batched.Command(locator).size(), 10u);
  std::vector<std::string> updates = batched.Updates();
  EXPECT_EQ(updates, single.Updates());
  // new p1, merged p1 (p2), new p3, new p5, new r1, new p7, merged p1 (p8).
  EXPECT_EQ(updates, (std::vector<std::string>{
                         "new p1 o1 alice east pending 1 proposal email",
                         "merged p1 o1 alice east pending 2 proposal email,chat",
                         "new p3 o1 alice east pending 1 contract email",
                         "new p5 o2 bob west pending 1 contract email",
                         "new r1 o3 carol  pending 1 quoted email",
                         "new p7 o4  east pending 1 proposal email",
                         "merged p1 o1 alice east pending 3 proposal email,chat",
                     }));
  EXPECT_EQ(batched.UpdateEntries(), 1);

  // Submitting the whole batch again changes nothing: every valid id is a duplicate.
  absl::StatusOr<v1::SubmitProposalsResponse> again = batched.store().Submit(request);
  ASSERT_TRUE(again.ok()) << again.status();
  for (int i = 0; i < again->results_size(); ++i) {
    const v1::SubmitOutcome o = again->results(i).outcome();
    EXPECT_TRUE(o == v1::SUBMIT_OUTCOME_DUPLICATE || o == v1::SUBMIT_OUTCOME_STALE ||
                o == v1::SUBMIT_OUTCOME_INVALID)
        << i << " " << again->results(i).ShortDebugString();
  }
  EXPECT_EQ(batched.Updates().size(), 7u);
  EXPECT_EQ(batched.UpdateEntries(), 1);
}

TEST_F(SubmitBatchTest, ADecidedIdIsADuplicateNeverReopened) {
  Side side;
  ASSERT_NO_FATAL_FAILURE(side.Start(clock_));
  v1::SubmitProposalsRequest request;
  *request.add_proposals() = MakeProposal("d1", "o1", "needs_analysis", {{"e1", 1}});
  *request.add_proposals() = MakeProposal("d2", "o1", "contract", {{"e2", 1}});
  ASSERT_TRUE(side.store().Submit(request).ok());
  DecisionRequest reject;
  reject.proposal_id = "d1";
  reject.version = 1;
  reject.decision = Decision::kReject;
  reject.actor = "alice";
  reject.reason = "not yet";
  reject.expected = Ownership{"alice", "east"};
  ASSERT_TRUE(side.store().Decide(reject).ok());

  // d1 again (decided) and a fresh id for the same stage in one batch: the decided id is a
  // duplicate at its decided version, the fresh one is a new pending proposal.
  v1::SubmitProposalsRequest replay;
  *replay.add_proposals() = MakeProposal("d1", "o1", "needs_analysis", {{"e1", 1}});
  *replay.add_proposals() = MakeProposal("d3", "o1", "needs_analysis", {{"e3", 2}});
  absl::StatusOr<v1::SubmitProposalsResponse> r = side.store().Submit(replay);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->results(0).outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(r->results(0).stored_as(), "d1");
  EXPECT_EQ(r->results(0).version(), 2);
  EXPECT_EQ(r->results(1).outcome(), v1::SUBMIT_OUTCOME_STORED);
  absl::StatusOr<v1::ReviewedProposal> d1 = side.store().Get("d1");
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->status(), v1::PROPOSAL_STATUS_REJECTED);
}

}  // namespace
}  // namespace autostage::review
