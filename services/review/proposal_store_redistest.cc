// ProposalStore against a real redis-server (label `redis`): submit/merge/duplicate/stale,
// confirm/reject, replay, conflicts, supersede and a confirm/reject race.
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autostage/v1/stage_change.pb.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/proposal_store.h"
#include "services/review/watch_hub.h"

namespace autostage::review {
namespace {

using ::autostage::testing::RedisServer;
using ::testing::HasSubstr;

v1::Proposal MakeProposal(const std::string& id, const std::string& opp, const std::string& to,
                          const std::string& event_id, int64_t occurred_ms,
                          const std::string& source = "email") {
  v1::Proposal p;
  p.set_proposal_id(id);
  p.set_opportunity_id(opp);
  p.set_pipeline("b2b_standard");
  p.set_from_stage("prospecting");
  p.set_to_stage(to);
  p.set_rule_id("rule-" + to);
  p.set_confidence(0.8);
  p.set_owner_id("alice");
  v1::Evidence* e = p.add_evidence();
  e->set_event_id(event_id);
  e->set_source(source);
  e->set_rule_id("rule-" + to);
  e->set_snippet("snippet of " + event_id);
  *e->mutable_occurred_at() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(occurred_ms);
  return p;
}

class ProposalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    redis_options_.host = server_->host();
    redis_options_.port = server_->port();
    pool_ = std::make_unique<redis::RedisPool>(redis_options_, 4);
    MakeStore({});
    ASSERT_TRUE(store_->PutOpportunity(Opp("opp-1", "prospecting")).ok());
  }

  void MakeStore(StoreOptions options) {
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    store_ = std::make_unique<ProposalStore>(*pool_, pipelines, clock_, options);
  }

  static OpportunityState Opp(const std::string& id, const std::string& stage,
                              const std::string& owner = "alice") {
    return {.opportunity_id = id,
            .pipeline = "b2b_standard",
            .stage = stage,
            .owner_id = owner,
            .team_id = "east"};
  }

  v1::SubmitResult SubmitOne(const v1::Proposal& p) {
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = p;
    absl::StatusOr<v1::SubmitProposalsResponse> response = store_->Submit(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->results_size() != 1) return {};
    return response->results(0);
  }

  DecisionRequest Confirm(const std::string& id, int64_t version) {
    return {.proposal_id = id,
            .version = version,
            .decision = Decision::kConfirm,
            .actor = "alice",
            .expected = {"alice", "east"}};
  }
  DecisionRequest Reject(const std::string& id, int64_t version) {
    DecisionRequest r = Confirm(id, version);
    r.decision = Decision::kReject;
    r.reason = "customer only asked about pricing";
    return r;
  }

  std::vector<redis::Reply> Stream(const std::string& key) {
    redis::RedisClient client(redis_options_);
    absl::StatusOr<redis::Reply> r = client.Command("XRANGE", key, "-", "+");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->elements() : std::vector<redis::Reply>{};
  }
  // The value of `field` in a stream entry.
  static std::string Field(const redis::Reply& entry, const std::string& field) {
    const redis::Reply& fields = entry[1];
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str() == field) return fields[i + 1].str();
    }
    return "";
  }
  int CountAudit(const std::string& action) {
    int n = 0;
    for (const redis::Reply& e : Stream(ProposalStore::AuditKey()))
      n += Field(e, "action") == action;
    return n;
  }
  std::vector<std::string> PendingIds(const ListScope& scope = {}) {
    absl::StatusOr<v1::ListPendingResponse> list = store_->ListPending({}, scope);
    EXPECT_TRUE(list.ok()) << list.status();
    std::vector<std::string> ids;
    if (list.ok()) {
      for (const auto& p : list->proposals()) ids.push_back(p.proposal().proposal_id());
    }
    return ids;
  }

  std::unique_ptr<RedisServer> server_;
  redis::RedisOptions redis_options_;
  std::unique_ptr<redis::RedisPool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<ProposalStore> store_;
};

TEST_F(ProposalStoreTest, SubmitStoresOnceAndAnswersDuplicateOnRetry) {
  const v1::SubmitResult first = SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1000));
  EXPECT_EQ(first.outcome(), v1::SUBMIT_OUTCOME_STORED);
  EXPECT_EQ(first.stored_as(), "p1");
  EXPECT_EQ(first.version(), 1);
  const v1::SubmitResult again = SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1000));
  EXPECT_EQ(again.outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(again.stored_as(), "p1");
  EXPECT_EQ(again.version(), 1);

  absl::StatusOr<v1::ReviewedProposal> got = store_->Get("p1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status(), v1::PROPOSAL_STATUS_PENDING);
  EXPECT_EQ(got->proposal().to_stage(), "proposal");
  EXPECT_EQ(got->proposal().from_stage(), "prospecting");
  EXPECT_EQ(got->proposal().evidence_size(), 1);
  EXPECT_EQ(got->submissions(), 1);
  EXPECT_EQ(PendingIds(), std::vector<std::string>{"p1"});
  EXPECT_TRUE(absl::IsNotFound(store_->Get("nope").status()));
}

TEST_F(ProposalStoreTest, NewEvidenceMergesIntoThePendingProposalOfThatStage) {
  ASSERT_EQ(SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1000)).outcome(),
            v1::SUBMIT_OUTCOME_STORED);
  v1::Proposal second = MakeProposal("p2", "opp-1", "proposal", "e2", 2000, "chat");
  second.set_confidence(0.95);
  const v1::SubmitResult merged = SubmitOne(second);
  EXPECT_EQ(merged.outcome(), v1::SUBMIT_OUTCOME_MERGED);
  EXPECT_EQ(merged.stored_as(), "p1");
  EXPECT_EQ(merged.version(), 2);
  // Retrying the merged one is a duplicate, pointing at where it went.
  const v1::SubmitResult retry = SubmitOne(second);
  EXPECT_EQ(retry.outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(retry.stored_as(), "p1");

  absl::StatusOr<v1::ReviewedProposal> got = store_->Get("p1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version(), 2);
  EXPECT_EQ(got->submissions(), 2);
  EXPECT_DOUBLE_EQ(got->proposal().confidence(), 0.95);
  ASSERT_EQ(got->proposal().evidence_size(), 2);
  EXPECT_EQ(got->proposal().evidence(0).event_id(), "e2");  // newest first
  EXPECT_EQ(got->proposal().evidence(1).event_id(), "e1");
  EXPECT_TRUE(absl::IsNotFound(store_->Get("p2").status()));
  // A different stage is a separate pending proposal.
  EXPECT_EQ(SubmitOne(MakeProposal("p3", "opp-1", "contract", "e3", 3000)).outcome(),
            v1::SUBMIT_OUTCOME_STORED);
  EXPECT_EQ(PendingIds().size(), 2u);

  v1::ListPendingRequest by_source;
  by_source.set_source("chat");
  absl::StatusOr<v1::ListPendingResponse> chats = store_->ListPending(by_source, {});
  ASSERT_TRUE(chats.ok());
  ASSERT_EQ(chats->proposals_size(), 1);
  EXPECT_EQ(chats->proposals(0).proposal().proposal_id(), "p1");
}

TEST_F(ProposalStoreTest, EvidenceIsCappedKeepingTheNewest) {
  MakeStore({.evidence_cap = 3});
  for (int i = 0; i < 6; ++i) {
    // Submitted out of time order: the cap keeps the newest by occurred_at.
    const int64_t t = (i % 2 == 0) ? 1000 + i : 9000 - i;
    SubmitOne(MakeProposal(absl::StrCat("p", i), "opp-1", "proposal", absl::StrCat("e", i), t));
  }
  absl::StatusOr<v1::ReviewedProposal> got = store_->Get("p0");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->submissions(), 6);
  ASSERT_EQ(got->proposal().evidence_size(), 3);
  EXPECT_EQ(got->proposal().evidence(0).event_id(), "e1");  // 8999
  EXPECT_EQ(got->proposal().evidence(1).event_id(), "e3");  // 8997
  EXPECT_EQ(got->proposal().evidence(2).event_id(), "e5");  // 8995
}

TEST_F(ProposalStoreTest, StageAlreadyReachedOrPassedIsStaleAndNotStored) {
  ASSERT_TRUE(store_->PutOpportunity(Opp("opp-2", "negotiation")).ok());
  const v1::SubmitResult passed = SubmitOne(MakeProposal("s1", "opp-2", "proposal", "e1", 1));
  EXPECT_EQ(passed.outcome(), v1::SUBMIT_OUTCOME_STALE);
  EXPECT_THAT(passed.message(), HasSubstr("already at negotiation"));
  EXPECT_EQ(SubmitOne(MakeProposal("s2", "opp-2", "negotiation", "e2", 1)).outcome(),
            v1::SUBMIT_OUTCOME_STALE);
  OpportunityState won = Opp("opp-3", "proposal");
  won.status = "won";
  ASSERT_TRUE(store_->PutOpportunity(won).ok());
  EXPECT_EQ(SubmitOne(MakeProposal("s3", "opp-3", "contract", "e3", 1)).outcome(),
            v1::SUBMIT_OUTCOME_STALE);
  EXPECT_TRUE(absl::IsNotFound(store_->Get("s1").status()));
  EXPECT_TRUE(PendingIds().empty());
  // Stale is not remembered: once the stage is ahead again... it still is stale, not duplicate.
  EXPECT_EQ(SubmitOne(MakeProposal("s1", "opp-2", "proposal", "e1", 1)).outcome(),
            v1::SUBMIT_OUTCOME_STALE);
}

TEST_F(ProposalStoreTest, UnstorableProposalsAreInvalidWithAReason) {
  v1::Proposal unknown_opp = MakeProposal("i1", "opp-x", "proposal", "e1", 1);
  EXPECT_EQ(SubmitOne(unknown_opp).outcome(), v1::SUBMIT_OUTCOME_INVALID);
  v1::Proposal unknown_stage = MakeProposal("i2", "opp-1", "shipping", "e1", 1);
  EXPECT_EQ(SubmitOne(unknown_stage).outcome(), v1::SUBMIT_OUTCOME_INVALID);
  v1::Proposal unknown_pipeline = MakeProposal("i3", "opp-1", "proposal", "e1", 1);
  unknown_pipeline.set_pipeline("nope");
  EXPECT_EQ(SubmitOne(unknown_pipeline).outcome(), v1::SUBMIT_OUTCOME_INVALID);
  v1::Proposal no_evidence = MakeProposal("i4", "opp-1", "proposal", "e1", 1);
  no_evidence.clear_evidence();
  const v1::SubmitResult r = SubmitOne(no_evidence);
  EXPECT_EQ(r.outcome(), v1::SUBMIT_OUTCOME_INVALID);
  EXPECT_THAT(r.message(), HasSubstr("evidence"));
  EXPECT_TRUE(PendingIds().empty());
}

TEST_F(ProposalStoreTest, ConfirmMovesTheStageAndWritesOneOutboxEntry) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1000));
  absl::StatusOr<v1::ReviewedProposal> done = store_->Decide(Confirm("p1", 1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::PROPOSAL_STATUS_CONFIRMED);
  EXPECT_EQ(done->version(), 2);
  EXPECT_EQ(done->decided_by(), "alice");
  EXPECT_EQ(done->change_id(), "sc-p1");
  EXPECT_EQ(google::protobuf::util::TimeUtil::TimestampToMilliseconds(done->decided_at()),
            absl::ToUnixMillis(clock_.Now()));
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "proposal");
  EXPECT_TRUE(PendingIds().empty());

  const std::vector<redis::Reply> outbox = Stream(ProposalStore::OutboxKey());
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(Field(outbox[0], "change_id"), "sc-p1");
  EXPECT_EQ(Field(outbox[0], "opportunity_id"), "opp-1");
  v1::StageChange change;
  ASSERT_TRUE(change.ParseFromString(Field(outbox[0], "change")));
  EXPECT_EQ(change.from_stage(), "prospecting");
  EXPECT_EQ(change.to_stage(), "proposal");
  EXPECT_EQ(change.confirmed_by(), "alice");
  ASSERT_EQ(change.evidence_size(), 1);
  EXPECT_EQ(change.evidence(0).event_id(), "e1");
  EXPECT_EQ(CountAudit("confirm"), 1);
  // After the move, a proposal to the stage just reached is stale.
  EXPECT_EQ(SubmitOne(MakeProposal("p9", "opp-1", "proposal", "e9", 1)).outcome(),
            v1::SUBMIT_OUTCOME_STALE);
}

TEST_F(ProposalStoreTest, ConfirmSupersedesProposalsBehindAndRebasesThoseAhead) {
  SubmitOne(MakeProposal("behind", "opp-1", "needs_analysis", "e1", 1));
  SubmitOne(MakeProposal("same", "opp-1", "proposal", "e2", 2));
  SubmitOne(MakeProposal("ahead", "opp-1", "contract", "e3", 3));
  ASSERT_TRUE(store_->Decide(Confirm("same", 1)).ok());
  absl::StatusOr<v1::ReviewedProposal> behind = store_->Get("behind");
  ASSERT_TRUE(behind.ok());
  EXPECT_EQ(behind->status(), v1::PROPOSAL_STATUS_SUPERSEDED);
  EXPECT_THAT(behind->reason(), HasSubstr("moved to proposal"));
  absl::StatusOr<v1::ReviewedProposal> ahead = store_->Get("ahead");
  ASSERT_TRUE(ahead.ok());
  EXPECT_EQ(ahead->status(), v1::PROPOSAL_STATUS_PENDING);
  EXPECT_EQ(ahead->proposal().from_stage(), "proposal");
  EXPECT_EQ(ahead->version(), 2);
  EXPECT_EQ(PendingIds(), std::vector<std::string>{"ahead"});
  // The rebased proposal confirms from the new stage.
  absl::StatusOr<v1::ReviewedProposal> next = store_->Decide(Confirm("ahead", 2));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "contract");
  EXPECT_EQ(Stream(ProposalStore::OutboxKey()).size(), 2u);
  EXPECT_EQ(CountAudit("superseded"), 1);
}

TEST_F(ProposalStoreTest, RejectRecordsTheReasonAndChangesNoStage) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  absl::StatusOr<v1::ReviewedProposal> done = store_->Decide(Reject("p1", 1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), v1::PROPOSAL_STATUS_REJECTED);
  EXPECT_EQ(done->reason(), "customer only asked about pricing");
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "prospecting");
  EXPECT_TRUE(Stream(ProposalStore::OutboxKey()).empty());
  EXPECT_EQ(CountAudit("reject"), 1);
  EXPECT_TRUE(PendingIds().empty());
  // Once decided, new evidence for the stage opens a new pending proposal.
  EXPECT_EQ(SubmitOne(MakeProposal("p2", "opp-1", "proposal", "e2", 2)).outcome(),
            v1::SUBMIT_OUTCOME_STORED);
}

TEST_F(ProposalStoreTest, ReplayedDecisionReturnsTheSameResultAndPublishesOnce) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  absl::StatusOr<v1::ReviewedProposal> first = store_->Decide(Confirm("p1", 1));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Seconds(5));
  absl::StatusOr<v1::ReviewedProposal> second = store_->Decide(Confirm("p1", 1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->SerializeAsString(), second->SerializeAsString());
  EXPECT_EQ(Stream(ProposalStore::OutboxKey()).size(), 1u);
  EXPECT_EQ(CountAudit("confirm"), 1);

  SubmitOne(MakeProposal("r1", "opp-1", "negotiation", "e2", 2));
  ASSERT_TRUE(store_->Decide(Reject("r1", 1)).ok());
  absl::StatusOr<v1::ReviewedProposal> again = store_->Decide(Reject("r1", 1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status(), v1::PROPOSAL_STATUS_REJECTED);
  EXPECT_EQ(CountAudit("reject"), 1);
}

TEST_F(ProposalStoreTest, ADifferentDecisionOnADecidedProposalFails) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  ASSERT_TRUE(store_->Decide(Confirm("p1", 1)).ok());
  // At the current version (2 after the confirmation): the caller saw the decision.
  absl::Status reject = store_->Decide(Reject("p1", 2)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(reject)) << reject;
  EXPECT_THAT(reject.message(), HasSubstr("already confirmed by alice"));
  // At the version the confirmation used: the caller lost a race, reload.
  absl::Status late = store_->Decide(Reject("p1", 1)).status();
  EXPECT_TRUE(absl::IsAborted(late)) << late;
  EXPECT_THAT(late.message(), HasSubstr("just confirmed by alice"));

  SubmitOne(MakeProposal("p2", "opp-1", "contract", "e2", 2));
  ASSERT_TRUE(store_->Decide(Reject("p2", 1)).ok());
  absl::Status confirm = store_->Decide(Confirm("p2", 2)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(confirm)) << confirm;
  EXPECT_EQ(Stream(ProposalStore::OutboxKey()).size(), 1u);
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "proposal");
}

TEST_F(ProposalStoreTest, VersionMismatchIsAborted) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  SubmitOne(MakeProposal("p2", "opp-1", "proposal", "e2", 2));  // merged: version 2
  absl::Status stale = store_->Decide(Confirm("p1", 1)).status();
  EXPECT_TRUE(absl::IsAborted(stale)) << stale;
  EXPECT_THAT(stale.message(), HasSubstr("reload"));
  EXPECT_TRUE(absl::IsAborted(store_->Decide(Reject("p1", 7)).status()));
  EXPECT_TRUE(Stream(ProposalStore::OutboxKey()).empty());
  EXPECT_TRUE(store_->Decide(Confirm("p1", 2)).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Decide(Confirm("zzz", 1)).status()));
}

TEST_F(ProposalStoreTest, ConfirmAfterTheOpportunityMovedSupersedesAndPublishesNothing) {
  SubmitOne(MakeProposal("p1", "opp-1", "contract", "e1", 1));
  // The CRM moved the opportunity meanwhile (ingest writes the new state).
  ASSERT_TRUE(store_->PutOpportunity(Opp("opp-1", "negotiation")).ok());
  absl::Status moved = store_->Decide(Confirm("p1", 1)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(moved)) << moved;
  EXPECT_THAT(moved.message(), HasSubstr("no longer applies"));
  EXPECT_THAT(moved.message(), HasSubstr("now at stage negotiation"));
  absl::StatusOr<v1::ReviewedProposal> got = store_->Get("p1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status(), v1::PROPOSAL_STATUS_SUPERSEDED);
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "negotiation");
  EXPECT_TRUE(Stream(ProposalStore::OutboxKey()).empty());
  EXPECT_TRUE(PendingIds().empty());
  // Retrying gives the same refusal.
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->Decide(Confirm("p1", 2)).status()));
}

TEST_F(ProposalStoreTest, OwnerChangeMovesPendingProposalsAndAbortsStaleAuthorizations) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  EXPECT_EQ(PendingIds({ListScope::Kind::kOwner, "alice"}), std::vector<std::string>{"p1"});
  ASSERT_TRUE(store_->PutOpportunity(Opp("opp-1", "prospecting", "bob")).ok());
  EXPECT_TRUE(PendingIds({ListScope::Kind::kOwner, "alice"}).empty());
  EXPECT_EQ(PendingIds({ListScope::Kind::kOwner, "bob"}), std::vector<std::string>{"p1"});
  EXPECT_EQ(PendingIds({ListScope::Kind::kTeam, "east"}), std::vector<std::string>{"p1"});
  // Authorized against alice's ownership: refused, nothing published.
  EXPECT_TRUE(absl::IsAborted(store_->Decide(Confirm("p1", 1)).status()));
  EXPECT_TRUE(Stream(ProposalStore::OutboxKey()).empty());
}

TEST_F(ProposalStoreTest, ListPendingPagesInBothOrders) {
  for (int i = 0; i < 7; ++i) {
    const std::string opp = "opp-l" + std::to_string(i);
    ASSERT_TRUE(store_->PutOpportunity(Opp(opp, "prospecting")).ok());
    if (i % 3 != 0) clock_.Advance(absl::Milliseconds(10));  // some share a timestamp
    SubmitOne(MakeProposal(absl::StrCat("l", i), opp, "proposal", "e", 1));
  }
  for (v1::ListOrder order : {v1::LIST_ORDER_NEWEST_FIRST, v1::LIST_ORDER_OLDEST_FIRST}) {
    std::vector<std::string> seen;
    v1::ListPendingRequest request;
    request.set_order(order);
    request.set_page_size(3);
    for (int page = 0; page < 5; ++page) {
      absl::StatusOr<v1::ListPendingResponse> r = store_->ListPending(request, {});
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_LE(r->proposals_size(), 3);
      for (const auto& p : r->proposals()) seen.push_back(p.proposal().proposal_id());
      if (r->next_page_token().empty()) break;
      request.set_page_token(r->next_page_token());
    }
    std::vector<std::string> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<std::string>{"l0", "l1", "l2", "l3", "l4", "l5", "l6"}));
    if (order == v1::LIST_ORDER_NEWEST_FIRST) {
      EXPECT_EQ(seen.front(), "l6");
    } else {
      EXPECT_EQ(seen.front(), "l0");
    }
  }
  v1::ListPendingRequest bad;
  bad.set_page_token("garbage");
  EXPECT_TRUE(absl::IsInvalidArgument(store_->ListPending(bad, {}).status()));
}

TEST_F(ProposalStoreTest, ConcurrentConfirmAndRejectExactlyOneWins) {
  constexpr int kRounds = 25;
  int confirms_won = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string opp = "race-" + std::to_string(round);
    const std::string id = "rp-" + std::to_string(round);
    ASSERT_TRUE(store_->PutOpportunity(Opp(opp, "prospecting")).ok());
    SubmitOne(MakeProposal(id, opp, "proposal", "e", 1));
    std::latch start(2);
    absl::Status confirm, reject;
    std::thread a([&] {
      start.arrive_and_wait();
      confirm = store_->Decide(Confirm(id, 1)).status();
    });
    std::thread b([&] {
      start.arrive_and_wait();
      reject = store_->Decide(Reject(id, 1)).status();
    });
    a.join();
    b.join();
    ASSERT_NE(confirm.ok(), reject.ok()) << confirm << " / " << reject;
    // Scenario 12: the loser is always ABORTED, whichever step it lost at.
    const absl::Status& loser = confirm.ok() ? reject : confirm;
    EXPECT_TRUE(absl::IsAborted(loser)) << loser;
    absl::StatusOr<v1::ReviewedProposal> got = store_->Get(id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->status(),
              confirm.ok() ? v1::PROPOSAL_STATUS_CONFIRMED : v1::PROPOSAL_STATUS_REJECTED);
    EXPECT_EQ(store_->GetOpportunity(opp)->stage, confirm.ok() ? "proposal" : "prospecting");
    confirms_won += confirm.ok();
  }
  const std::vector<redis::Reply> outbox = Stream(ProposalStore::OutboxKey());
  EXPECT_EQ(static_cast<int>(outbox.size()), confirms_won);
  for (const redis::Reply& e : outbox) {
    absl::StatusOr<v1::ReviewedProposal> p = store_->Get(Field(e, "proposal_id"));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->status(), v1::PROPOSAL_STATUS_CONFIRMED);
  }
  EXPECT_EQ(CountAudit("confirm"), confirms_won);
  EXPECT_EQ(CountAudit("reject"), kRounds - confirms_won);
}

TEST_F(ProposalStoreTest, RepeatedDecisionsAfterARaceKeepTheirAnswers) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1));
  ASSERT_TRUE(store_->Decide(Reject("p1", 1)).ok());
  // The loser retries with its old version: still ABORTED, never applied.
  EXPECT_TRUE(absl::IsAborted(store_->Decide(Confirm("p1", 1)).status()));
  EXPECT_TRUE(absl::IsAborted(store_->Decide(Confirm("p1", 1)).status()));
  // The winner's replay at the old version is still the same answer.
  absl::StatusOr<v1::ReviewedProposal> replay = store_->Decide(Reject("p1", 1));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->status(), v1::PROPOSAL_STATUS_REJECTED);
  EXPECT_EQ(replay->version(), 2);
  EXPECT_TRUE(Stream(ProposalStore::OutboxKey()).empty());
  EXPECT_EQ(store_->GetOpportunity("opp-1")->stage, "prospecting");
}

// Contract C1: one update per change, written by the same script as the change (a submit call
// writes its updates as one batch entry; WatchHub's ParseUpdates reads both kinds of entry).
TEST_F(ProposalStoreTest, EveryChangeAppendsOneUpdatesEntry) {
  SubmitOne(MakeProposal("p1", "opp-1", "proposal", "e1", 1, "email"));
  SubmitOne(MakeProposal("p2", "opp-1", "proposal", "e2", 2, "call"));  // merged into p1
  SubmitOne(MakeProposal("p2", "opp-1", "proposal", "e2", 2, "call"));  // duplicate: no entry
  SubmitOne(MakeProposal("n1", "opp-1", "needs_analysis", "e3", 3));    // superseded below
  SubmitOne(MakeProposal("s1", "opp-1", "prospecting", "e4", 4));       // stale: no entry
  ASSERT_TRUE(store_->Decide(Confirm("p1", 2)).ok());
  ASSERT_TRUE(store_->Decide(Confirm("p1", 2)).ok());  // replay: no entry
  SubmitOne(MakeProposal("r1", "opp-1", "contract", "e5", 5));
  ASSERT_TRUE(store_->Decide(Reject("r1", 1)).ok());
  EXPECT_TRUE(absl::IsAborted(store_->Decide(Confirm("r1", 1)).status()));  // refused: no entry

  struct Want {
    std::string kind, id, status, version, to_stage, source;
  };
  const std::vector<Want> want = {
      {"new", "p1", "pending", "1", "proposal", "email"},
      {"merged", "p1", "pending", "2", "proposal", "email,call"},
      {"new", "n1", "pending", "1", "needs_analysis", "email"},
      {"superseded", "n1", "superseded", "2", "needs_analysis", "email"},
      {"decided", "p1", "confirmed", "3", "proposal", "email,call"},
      {"new", "r1", "pending", "1", "contract", "email"},
      {"decided", "r1", "rejected", "2", "contract", "email"},
  };
  std::vector<UpdateEntry> updates;
  for (const redis::Reply& entry : Stream(ProposalStore::UpdatesKey())) {
    for (UpdateEntry& u : ParseUpdates(entry)) updates.push_back(std::move(u));
  }
  ASSERT_EQ(updates.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(updates[i].kind, want[i].kind);
    EXPECT_EQ(updates[i].proposal_id, want[i].id);
    EXPECT_EQ(updates[i].opportunity_id, "opp-1");
    EXPECT_EQ(updates[i].owner_id, "alice");
    EXPECT_EQ(updates[i].team_id, "east");
    EXPECT_EQ(updates[i].status, want[i].status);
    EXPECT_EQ(absl::StrCat(updates[i].version), want[i].version);
    EXPECT_EQ(updates[i].to_stage, want[i].to_stage);
    EXPECT_EQ(updates[i].source, want[i].source);
  }
  EXPECT_EQ(ProposalStore::UpdatesKey(), "autostage:{review}:updates");
}

TEST_F(ProposalStoreTest, ExpiryRemovesOldPendingProposalsEverywhere) {
  ASSERT_TRUE(store_->PutOpportunity(Opp("opp-2", "prospecting", "bob")).ok());
  SubmitOne(MakeProposal("old1", "opp-1", "proposal", "e1", 1));
  SubmitOne(MakeProposal("old2", "opp-2", "negotiation", "e2", 2));
  SubmitOne(MakeProposal("done", "opp-1", "contract", "e3", 3));
  ASSERT_TRUE(store_->Decide(Reject("done", 1)).ok());
  clock_.Advance(absl::Hours(24 * 10));
  SubmitOne(MakeProposal("young", "opp-2", "contract", "e4", 4));
  // Merging new evidence does not make a proposal younger: age counts from creation.
  SubmitOne(MakeProposal("old1b", "opp-1", "proposal", "e5", 5));

  clock_.Advance(absl::Hours(24 * 4) - absl::Milliseconds(1));
  absl::StatusOr<int64_t> none = store_->ExpirePending(absl::Hours(24 * 14));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0);
  clock_.Advance(absl::Milliseconds(1));
  absl::StatusOr<int64_t> expired = store_->ExpirePending(absl::Hours(24 * 14));
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 2);

  EXPECT_EQ(PendingIds(), std::vector<std::string>{"young"});
  EXPECT_TRUE(PendingIds({ListScope::Kind::kOwner, "alice"}).empty());
  EXPECT_EQ(PendingIds({ListScope::Kind::kOwner, "bob"}), std::vector<std::string>{"young"});
  EXPECT_EQ(PendingIds({ListScope::Kind::kTeam, "east"}), std::vector<std::string>{"young"});
  v1::ListPendingRequest by_opp;
  by_opp.set_opportunity_id("opp-1");
  EXPECT_EQ(store_->ListPending(by_opp, {})->proposals_size(), 0);
  for (const std::string id : {"old1", "old2"}) {
    absl::StatusOr<v1::ReviewedProposal> p = store_->Get(id);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->status(), v1::PROPOSAL_STATUS_EXPIRED);
    EXPECT_EQ(p->reason(), "no decision within 14 days");
    absl::Status late = store_->Decide(Confirm(id, p->version())).status();
    EXPECT_TRUE(absl::IsFailedPrecondition(late)) << late;
  }
  EXPECT_EQ(store_->Get("done")->status(), v1::PROPOSAL_STATUS_REJECTED);
  EXPECT_EQ(CountAudit("expired"), 2);
  int expired_updates = 0;
  for (const redis::Reply& e : Stream(ProposalStore::UpdatesKey())) {
    if (Field(e, "kind") != "expired") continue;
    ++expired_updates;
    EXPECT_EQ(Field(e, "status"), "expired");
  }
  EXPECT_EQ(expired_updates, 2);
  // The stage is free again: new evidence opens a new pending proposal.
  EXPECT_EQ(SubmitOne(MakeProposal("fresh", "opp-1", "proposal", "e6", 6)).outcome(),
            v1::SUBMIT_OUTCOME_STORED);
  // Nothing left to expire; a second run changes nothing.
  EXPECT_EQ(*store_->ExpirePending(absl::Hours(24 * 14)), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(store_->ExpirePending(absl::ZeroDuration()).status()));
}

TEST_F(ProposalStoreTest, ExpiryWorksInBatches) {
  constexpr int kCount = 23;
  for (int i = 0; i < kCount; ++i) {
    const std::string opp = "opp-b" + std::to_string(i);
    ASSERT_TRUE(store_->PutOpportunity(Opp(opp, "prospecting")).ok());
    SubmitOne(MakeProposal(absl::StrCat("b", i), opp, "proposal", "e", 1));
  }
  clock_.Advance(absl::Hours(2));
  absl::StatusOr<int64_t> expired = store_->ExpirePending(absl::Hours(1), /*batch_size=*/5);
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, kCount);
  EXPECT_TRUE(PendingIds().empty());
  EXPECT_EQ(store_->Get("b0")->reason(), "no decision within 1h");
}

}  // namespace
}  // namespace autostage::review
