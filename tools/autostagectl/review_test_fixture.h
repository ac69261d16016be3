// Test fixture shared by the autostagectl review tests: a real redis-server and the review
// gRPC server in-process on 127.0.0.1:0, with tokens for two reps and an ingest service, and
// helpers to make opportunities and pending proposals. Needs redis-server (label `redis`).
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_TEST_FIXTURE_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_TEST_FIXTURE_H_

#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_pool.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/grpc_server.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/review_core.h"
#include "services/review/watch_hub.h"

namespace autostage::ctl {

inline constexpr char kPipelinesYaml[] = R"(pipelines:
  - id: b2b_standard
    stages:
      - {id: prospecting,    zh: 初步接触, en: Prospecting}
      - {id: needs_analysis, zh: 需求分析, en: Needs analysis}
      - {id: proposal,       zh: 方案制定, en: Proposal}
      - {id: negotiation,    zh: 商务谈判, en: Negotiation}
      - {id: contract,       zh: 合同签约, en: Contract}
      - {id: follow_up,      zh: 后续跟进, en: Follow-up}
)";

class ReviewFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kStartSeconds = 1'800'000'000;

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    redis::RedisOptions options;  // also the hub's
    options.host = redis_->host();
    options.port = redis_->port();
    pool_ = std::make_unique<redis::RedisPool>(options, 4);
    review::Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    store_ = std::make_unique<review::ProposalStore>(*pool_, pipelines, clock_);
    auto entry = [](const std::string& token, const std::string& id, const std::string& kind,
                    const std::string& role, const std::string& team) {
      return absl::StrCat("- {sha256: ", review::Sha256Hex(token), ", id: ", id, ", kind: ", kind,
                          ", role: ", role, team.empty() ? "" : ", team: " + team, "}\n");
    };
    absl::StatusOr<review::TokenTable> tokens = review::TokenTable::Parse(
        absl::StrCat(entry("tok-alice", "alice", "human", "rep", "east"),
                     entry("tok-bob", "bob", "human", "rep", "west"),
                     entry("tok-ingest", "ingest-1", "service", "ingest", "")));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    if (WithWatchHub()) {
      hub_ = std::make_unique<review::WatchHub>(
          options, [this](absl::string_view id) { return store_->Get(id); });
      hub_->Start();
    }
    core_ = std::make_unique<review::ReviewCore>(*store_, tokens_, nullptr, hub_.get());
    absl::StatusOr<std::unique_ptr<review::ReviewServer>> server =
        review::ReviewServer::Start({.listen = "127.0.0.1:0"}, *core_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = absl::StrCat("127.0.0.1:", server_->port());

    absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("autostagectl");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(*std::move(dir));
    pipelines_file_ = dir_->File("pipelines.yaml");
    std::ofstream(pipelines_file_) << kPipelinesYaml;
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(5));
    if (hub_) hub_->Stop();
  }

  // Whether review serves WatchProposals (without a hub it answers UNIMPLEMENTED).
  virtual bool WithWatchHub() const { return true; }

  absl::Time Now() const { return clock_.Now(); }

  void PutOpportunity(const std::string& opp, const std::string& stage = "prospecting",
                      const std::string& owner = "alice", const std::string& team = "east") {
    ASSERT_TRUE(store_
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = "b2b_standard",
                                      .stage = stage,
                                      .owner_id = owner,
                                      .team_id = team})
                    .ok());
  }

  static v1::Proposal MakeProposal(const std::string& id, const std::string& opp,
                                   const std::string& to_stage, const std::string& source,
                                   const std::string& snippet, const std::string& term,
                                   absl::Time created) {
    v1::Proposal p;
    p.set_proposal_id(id);
    p.set_opportunity_id(opp);
    p.set_pipeline("b2b_standard");
    p.set_to_stage(to_stage);
    p.set_rule_id("rule-" + to_stage);
    p.set_confidence(0.8);
    p.mutable_created_at()->set_seconds(absl::ToUnixSeconds(created));
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + id);
    e->set_source(source);
    e->set_rule_id("rule-" + to_stage);
    e->set_snippet(snippet);
    e->add_matched_terms(term);
    e->set_field(source == "email" ? "email.text" : "chat.messages[0].text");
    e->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(created));
    return p;
  }

  // Submits as ingest would; returns the outcome.
  v1::SubmitOutcome Submit(const v1::Proposal& p) {
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = p;
    absl::StatusOr<v1::SubmitProposalsResponse> r = store_->Submit(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->results(0).outcome() : v1::SUBMIT_OUTCOME_UNSPECIFIED;
  }

  // A fresh opportunity of alice's with one pending email proposal to `proposal`.
  std::string NewPending() {
    const std::string n = std::to_string(next_++);
    PutOpportunity("opp-" + n);
    const std::string id = "p-" + n;
    EXPECT_EQ(
        Submit(MakeProposal(id, "opp-" + n, "proposal", "email",
                            "Please send us the purchase order today.", "purchase order", Now())),
        v1::SUBMIT_OUTCOME_STORED);
    return id;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<redis::RedisPool> pool_;
  review::FakeClock clock_{absl::FromUnixSeconds(kStartSeconds)};
  std::unique_ptr<review::ProposalStore> store_;
  review::TokenTable tokens_;
  std::unique_ptr<review::WatchHub> hub_;
  std::unique_ptr<review::ReviewCore> core_;
  std::unique_ptr<review::ReviewServer> server_;
  std::string address_;
  std::optional<testing::TempDir> dir_;
  std::string pipelines_file_;
  int next_ = 0;
};

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_TEST_FIXTURE_H_
