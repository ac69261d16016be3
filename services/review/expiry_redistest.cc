// Expirer against a real redis-server (label `redis`), with a FakeClock for proposal ages.
#include <atomic>
#include <memory>
#include <string>

#include "common/redis/redis_pool.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/expiry.h"
#include "services/review/proposal_store.h"

namespace autostage::review {
namespace {

using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;

class ExpirerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = true});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    redis::RedisOptions options;
    options.host = server_->host();
    options.port = server_->port();
    pool_ = std::make_unique<redis::RedisPool>(options, 2);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation"});
    store_ = std::make_unique<ProposalStore>(*pool_, pipelines, clock_);
  }

  // A pending proposal on its own opportunity, created now (per the fake clock).
  void Submit(const std::string& id) {
    const std::string opp = "opp-" + id;
    ASSERT_TRUE(store_
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = "b2b_standard",
                                      .stage = "prospecting",
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
    v1::SubmitProposalsRequest request;
    v1::Proposal* p = request.add_proposals();
    p->set_proposal_id(id);
    p->set_opportunity_id(opp);
    p->set_pipeline("b2b_standard");
    p->set_to_stage("proposal");
    v1::Evidence* e = p->add_evidence();
    e->set_event_id("e-" + id);
    e->set_source("email");
    absl::StatusOr<v1::SubmitProposalsResponse> r = store_->Submit(request);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->results(0).outcome(), v1::SUBMIT_OUTCOME_STORED);
  }

  v1::ProposalStatus StatusOf(const std::string& id) {
    absl::StatusOr<v1::ReviewedProposal> p = store_->Get(id);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->status() : v1::PROPOSAL_STATUS_UNSPECIFIED;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<redis::RedisPool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<ProposalStore> store_;
};

TEST_F(ExpirerTest, DefaultIsFourteenDays) {
  EXPECT_EQ(ExpirerOptions{}.max_age, absl::Hours(24 * 14));
}

TEST_F(ExpirerTest, RunOnceExpiresOnlyWhatIsOlderThanMaxAgeAndCounts) {
  int64_t heard = 0;
  Expirer expirer(*store_, {}, [&](int64_t n) { heard += n; });
  Submit("a");
  clock_.Advance(absl::Hours(24 * 7));
  Submit("b");
  clock_.Advance(absl::Hours(24 * 7));
  // "a" is exactly 14 days old now: expired; "b" is 7 days old.
  absl::StatusOr<int64_t> n = expirer.RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(StatusOf("a"), v1::PROPOSAL_STATUS_EXPIRED);
  EXPECT_EQ(StatusOf("b"), v1::PROPOSAL_STATUS_PENDING);
  clock_.Advance(absl::Hours(24 * 7));
  EXPECT_EQ(*expirer.RunOnce(), 1);
  EXPECT_EQ(*expirer.RunOnce(), 0);
  EXPECT_EQ(StatusOf("b"), v1::PROPOSAL_STATUS_EXPIRED);
  EXPECT_EQ(expirer.expired_total(), 2);
  EXPECT_EQ(expirer.runs_total(), 3);
  EXPECT_EQ(heard, 2);
}

TEST_F(ExpirerTest, BackgroundThreadExpiresAsTheClockMovesAndStopsPromptly) {
  std::atomic<int64_t> heard{0};
  Expirer expirer(*store_, {.max_age = absl::Hours(1), .interval = absl::Milliseconds(5)},
                  [&](int64_t n) { heard += n; });
  Submit("a");
  Submit("b");
  expirer.Start();
  ASSERT_TRUE(WaitFor([&] { return expirer.runs_total() >= 3; }, absl::Seconds(10)).ok());
  EXPECT_EQ(expirer.expired_total(), 0);
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(WaitFor([&] { return expirer.expired_total() == 2; }, absl::Seconds(10)).ok());
  EXPECT_EQ(StatusOf("a"), v1::PROPOSAL_STATUS_EXPIRED);
  expirer.Stop();
  EXPECT_EQ(heard.load(), 2);
  expirer.Stop();  // idempotent

  // A long interval does not delay Stop: it wakes the waiting thread.
  Expirer slow(*store_, {.interval = absl::Hours(1)});
  slow.Start();
  ASSERT_TRUE(WaitFor([&] { return slow.runs_total() == 1; }, absl::Seconds(10)).ok());
  const absl::Time before = absl::Now();
  slow.Stop();
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
}

TEST_F(ExpirerTest, RedisOutageIsCountedAndExpiryResumesAfterRestart) {
  Expirer expirer(*store_, {.max_age = absl::Hours(1), .interval = absl::Milliseconds(5)});
  Submit("a");
  clock_.Advance(absl::Hours(2));
  server_->Kill();
  expirer.Start();
  ASSERT_TRUE(WaitFor([&] { return expirer.errors_total() >= 2; }, absl::Seconds(20)).ok());
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return expirer.expired_total() == 1; }, absl::Seconds(20)).ok());
  expirer.Stop();
  EXPECT_EQ(StatusOf("a"), v1::PROPOSAL_STATUS_EXPIRED);
}

}  // namespace
}  // namespace autostage::review
