// ReviewClient and ProposalBatcher against the real review service in-process (ReviewCore +
// ReviewServer + ProposalStore over a real redis-server; label `redis`): batching and per-
// proposal outcomes, an idempotent retry after a deadline (failure scenario 10 from the client
// side), review down then back, the health prober, and memory bounded by the queue limits.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"
#include "services/ingest/review_client.h"
#include "services/review/grpc_server.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;

constexpr char kToken[] = "ingest-secret";

// Collects callback results by proposal id.
class Results {
 public:
  SubmitCallback Callback() {
    return [this](absl::Status s, v1::SubmitResult r) {
      absl::MutexLock lock(&mu_);
      statuses_.push_back(s);
      results_.push_back(std::move(r));
    };
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return results_.size();
  }
  bool WaitForCount(size_t n, absl::Duration timeout = absl::Seconds(60)) const {
    return WaitFor([&] { return size() >= n; }, timeout).ok();
  }
  // The result for `id` (the last one), and its status.
  std::pair<absl::Status, v1::SubmitResult> Get(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    for (size_t i = results_.size(); i-- > 0;) {
      if (results_[i].proposal_id() == id) return {statuses_[i], results_[i]};
    }
    return {absl::NotFoundError(id), v1::SubmitResult()};
  }
  std::vector<absl::Status> statuses() const {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::SubmitResult> results_ ABSL_GUARDED_BY(mu_);
};

class ReviewClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    redis_options_.host = redis_->host();
    redis_options_.port = redis_->port();
    pool_ = std::make_unique<redis::RedisPool>(redis_options_, 4);
    review::Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    store_ = std::make_unique<review::ProposalStore>(*pool_, pipelines, clock_);
    absl::StatusOr<review::TokenTable> tokens =
        review::TokenTable::Parse(absl::StrCat("- {sha256: ", review::Sha256Hex(kToken),
                                               ", id: ingest-1, kind: service, role: ingest}\n"));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    core_ = std::make_unique<review::ReviewCore>(*store_, tokens_);
    StartServer("127.0.0.1:0");
    port_ = server_->port();
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(5));
  }

  void StartServer(const std::string& listen) {
    absl::StatusOr<std::unique_ptr<review::ReviewServer>> started =
        review::ReviewServer::Start({.listen = listen}, *core_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
  }
  void StopServer() {
    server_->Shutdown(absl::Seconds(5));
    server_.reset();
  }
  void RestartServer() { StartServer(absl::StrCat("127.0.0.1:", port_)); }

  void PutOpportunity(const std::string& id, const std::string& stage) {
    ASSERT_TRUE(store_
                    ->PutOpportunity({.opportunity_id = id,
                                      .pipeline = "b2b_standard",
                                      .stage = stage,
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
  }

  static v1::Proposal Proposal(const std::string& id, const std::string& opp,
                               const std::string& to_stage = "proposal") {
    v1::Proposal p;
    p.set_proposal_id(id);
    p.set_opportunity_id(opp);
    p.set_pipeline("b2b_standard");
    p.set_to_stage(to_stage);
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + id);
    e->set_source("email");
    return p;
  }

  std::unique_ptr<ReviewClient> MakeClient(ReviewClientOptions options) {
    options.target = absl::StrCat("127.0.0.1:", port_);
    options.token = kToken;
    options.jitter_seed = 42;
    absl::StatusOr<std::unique_ptr<ReviewClient>> client = ReviewClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  int64_t PendingCount() {
    redis::RedisClient client(redis_options_);
    absl::StatusOr<redis::Reply> r = client.Command("ZCARD", "autostage:{review}:pending:all");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->integer() : -1;
  }

  std::unique_ptr<RedisServer> redis_;
  redis::RedisOptions redis_options_;
  std::unique_ptr<redis::RedisPool> pool_;
  review::FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<review::ProposalStore> store_;
  review::TokenTable tokens_;
  std::unique_ptr<review::ReviewCore> core_;
  std::unique_ptr<review::ReviewServer> server_;
  int port_ = 0;
};

TEST_F(ReviewClientTest, BatchesFromManyThreadsAndReportsEveryOutcome) {
  for (int i = 0; i < 30; ++i) PutOpportunity(absl::StrCat("opp-", i), "prospecting");
  PutOpportunity("opp-late", "negotiation");
  std::unique_ptr<ReviewClient> client = MakeClient({});
  ASSERT_NE(client, nullptr);
  {
    // A long linger: batches leave only when full, so 30 proposals make exactly 3 calls.
    ProposalBatcher batcher(*client, {.batch_size = 10, .linger = absl::Seconds(30)});
    Results results;
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t) {
      workers.emplace_back([&, t] {
        for (int i = t; i < 30; i += 3) {
          batcher.Submit(Proposal(absl::StrCat("p-", i), absl::StrCat("opp-", i)),
                         results.Callback());
        }
      });
    }
    for (std::thread& w : workers) w.join();
    ASSERT_TRUE(results.WaitForCount(30));
    for (int i = 0; i < 30; ++i) {
      auto [status, r] = results.Get(absl::StrCat("p-", i));
      ASSERT_TRUE(status.ok()) << status;
      EXPECT_EQ(r.outcome(), v1::SUBMIT_OUTCOME_STORED) << i;
      EXPECT_EQ(r.stored_as(), absl::StrCat("p-", i));
    }
    EXPECT_EQ(client->stats().calls, 3);
    EXPECT_EQ(batcher.InFlight(), 0u);
    batcher.Shutdown(absl::Now() + absl::Seconds(5));
  }
  // One batch of four; each kind of answer is "handled" (OK status).
  ProposalBatcher batcher(*client, {.batch_size = 4, .linger = absl::Seconds(30)});
  Results results;
  batcher.Submit(Proposal("m-0", "opp-0"), results.Callback());
  batcher.Submit(Proposal("p-1", "opp-1"), results.Callback());
  batcher.Submit(Proposal("s-0", "opp-late"), results.Callback());
  batcher.Submit(Proposal("i-0", "opp-unknown"), results.Callback());
  ASSERT_TRUE(results.WaitForCount(4));
  EXPECT_EQ(client->stats().calls, 4);
  for (const absl::Status& s : results.statuses()) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(results.Get("m-0").second.outcome(), v1::SUBMIT_OUTCOME_MERGED);
  EXPECT_EQ(results.Get("m-0").second.stored_as(), "p-0");
  EXPECT_EQ(results.Get("p-1").second.outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(results.Get("p-1").second.stored_as(), "p-1");
  EXPECT_EQ(results.Get("s-0").second.outcome(), v1::SUBMIT_OUTCOME_STALE);
  EXPECT_EQ(results.Get("i-0").second.outcome(), v1::SUBMIT_OUTCOME_INVALID);
  EXPECT_EQ(PendingCount(), 30);
  EXPECT_TRUE(batcher.Available());
}

// Scenario 10: the first attempt times out while the server still stores the proposal (Redis
// is paused, so the store's script runs after the client gave up); the retry with the same id
// is answered as already accepted, and there is exactly one pending proposal.
TEST_F(ReviewClientTest, RetryAfterDeadlineDoesNotDouble) {
  PutOpportunity("opp-d", "prospecting");
  std::unique_ptr<ReviewClient> client =
      MakeClient({.call_deadline = absl::Milliseconds(250),
                  .retry = {.initial_backoff = absl::Milliseconds(100),
                            .max_backoff = absl::Milliseconds(400)}});
  ASSERT_NE(client, nullptr);
  ProposalBatcher batcher(*client, {.linger = absl::Milliseconds(1)});
  redis::RedisClient admin(redis_options_);
  ASSERT_TRUE(admin.Command("CLIENT", "PAUSE", 800, "ALL").ok());
  Results results;
  batcher.Submit(Proposal("p-d", "opp-d"), results.Callback());
  ASSERT_TRUE(results.WaitForCount(1));
  auto [status, r] = results.Get("p-d");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(r.outcome() == v1::SUBMIT_OUTCOME_STORED ||
              r.outcome() == v1::SUBMIT_OUTCOME_DUPLICATE)
      << r.DebugString();
  EXPECT_EQ(r.stored_as(), "p-d");
  const ReviewClientStats stats = client->stats();
  EXPECT_GE(stats.retries, 1);
  EXPECT_GE(stats.unavailable_flips, 1);  // the deadline made it unavailable for a while
  EXPECT_TRUE(client->Available());       // and the success made it available again
  EXPECT_EQ(PendingCount(), 1);
  // Once more, plainly: the same id is a duplicate of the same pending proposal.
  v1::SubmitProposalsRequest again;
  *again.add_proposals() = Proposal("p-d", "opp-d");
  absl::StatusOr<v1::SubmitProposalsResponse> response = client->SubmitOnce(again);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->results(0).outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(PendingCount(), 1);
}

TEST_F(ReviewClientTest, ReviewDownThenBackSucceedsAfterBackoff) {
  PutOpportunity("opp-a", "prospecting");
  PutOpportunity("opp-b", "prospecting");
  std::unique_ptr<ReviewClient> client =
      MakeClient({.call_deadline = absl::Seconds(1),
                  .retry = {.initial_backoff = absl::Milliseconds(20),
                            .max_backoff = absl::Milliseconds(200),
                            .max_total = absl::InfiniteDuration()}});
  ASSERT_NE(client, nullptr);
  ProposalBatcher batcher(*client, {.linger = absl::Milliseconds(1)});
  Results results;
  batcher.Submit(Proposal("p-a", "opp-a"), results.Callback());
  ASSERT_TRUE(results.WaitForCount(1));
  ASSERT_TRUE(results.Get("p-a").first.ok());

  StopServer();
  batcher.Submit(Proposal("p-b", "opp-b"), results.Callback());
  ASSERT_TRUE(WaitFor([&] { return !batcher.Available(); }, absl::Seconds(20)).ok());
  EXPECT_EQ(batcher.InFlight(), 1u);
  EXPECT_EQ(results.size(), 1u);  // still retrying, not failed

  RestartServer();
  ASSERT_TRUE(results.WaitForCount(2));
  auto [status, r] = results.Get("p-b");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(r.outcome(), v1::SUBMIT_OUTCOME_STORED);
  EXPECT_TRUE(batcher.Available());
  EXPECT_GE(client->stats().retries, 1);
  EXPECT_EQ(PendingCount(), 2);
}

// With nothing to send (the consumer paused its partitions), the prober alone notices that
// review is back.
TEST_F(ReviewClientTest, ProberNoticesReviewBackWithoutTraffic) {
  std::unique_ptr<ReviewClient> client = MakeClient({.call_deadline = absl::Milliseconds(500),
                                                     .retry = {.max_attempts = 1},
                                                     .probe_interval = absl::Milliseconds(50)});
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Probe().ok());
  StopServer();
  ProposalBatcher batcher(*client, {.linger = absl::Milliseconds(1)});
  Results results;
  batcher.Submit(Proposal("p-x", "opp-x"), results.Callback());
  ASSERT_TRUE(results.WaitForCount(1));
  EXPECT_EQ(results.Get("p-x").first.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(batcher.Available());
  const int64_t probes_before = client->stats().probes;
  RestartServer();
  ASSERT_TRUE(WaitFor([&] { return batcher.Available(); }, absl::Seconds(20)).ok());
  EXPECT_GT(client->stats().probes, probes_before);
}

// While review is down, at most max_queued + max_in_flight_batches * batch_size proposals are
// held; further Submit calls block until review is back. Nothing is lost.
TEST_F(ReviewClientTest, MemoryIsBoundedWhileReviewIsDown) {
  for (int i = 0; i < 40; ++i) PutOpportunity(absl::StrCat("opp-", i), "prospecting");
  std::unique_ptr<ReviewClient> client =
      MakeClient({.call_deadline = absl::Milliseconds(500),
                  .retry = {.initial_backoff = absl::Milliseconds(20),
                            .max_backoff = absl::Milliseconds(100),
                            .max_total = absl::InfiniteDuration()}});
  ASSERT_NE(client, nullptr);
  StopServer();
  // A long linger: batches leave only when full, so the counts below are exact.
  ProposalBatcher batcher(
      *client,
      {.batch_size = 5, .linger = absl::Seconds(60), .max_in_flight_batches = 2, .max_queued = 10});
  Results results;
  std::atomic<int> submitted{0};
  std::thread producer([&] {
    for (int i = 0; i < 40; ++i) {
      batcher.Submit(Proposal(absl::StrCat("p-", i), absl::StrCat("opp-", i)), results.Callback());
      submitted.fetch_add(1);
    }
  });
  ASSERT_TRUE(
      WaitFor([&] { return batcher.InFlight() == 20 && submitted.load() == 20; }, absl::Seconds(20))
          .ok())
      << batcher.InFlight() << " " << submitted.load();
  EXPECT_EQ(batcher.BatchesInFlight(), 2);
  EXPECT_EQ(batcher.Queued(), 10u);
  // Retries keep failing for a while; the bound holds throughout.
  ASSERT_TRUE(WaitFor([&] { return client->stats().call_errors >= 6; }, absl::Seconds(20)).ok());
  EXPECT_EQ(submitted.load(), 20);
  EXPECT_EQ(batcher.InFlight(), 20u);
  EXPECT_EQ(results.size(), 0u);

  RestartServer();
  producer.join();
  ASSERT_TRUE(results.WaitForCount(40));
  for (const absl::Status& s : results.statuses()) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(PendingCount(), 40);
}

TEST_F(ReviewClientTest, ShutdownCancelsRetriesAndRunsEveryCallback) {
  std::unique_ptr<ReviewClient> client =
      MakeClient({.call_deadline = absl::Milliseconds(300),
                  .retry = {.initial_backoff = absl::Milliseconds(20),
                            .max_backoff = absl::Milliseconds(50),
                            .max_total = absl::InfiniteDuration()}});
  ASSERT_NE(client, nullptr);
  StopServer();
  ProposalBatcher batcher(*client, {.batch_size = 2, .max_in_flight_batches = 1});
  Results results;
  for (int i = 0; i < 6; ++i) {
    batcher.Submit(Proposal(absl::StrCat("p-", i), "opp"), results.Callback());
  }
  batcher.Shutdown(absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(results.size(), 6u);
  for (const absl::Status& s : results.statuses()) {
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  }
  EXPECT_EQ(batcher.InFlight(), 0u);
}

TEST_F(ReviewClientTest, WrongTokenIsAPermanentError) {
  absl::StatusOr<std::unique_ptr<ReviewClient>> client =
      ReviewClient::Create({.target = absl::StrCat("127.0.0.1:", port_), .token = "not-a-token"});
  ASSERT_TRUE(client.ok());
  ProposalBatcher batcher(**client, {.linger = absl::Milliseconds(1)});
  Results results;
  batcher.Submit(Proposal("p", "opp"), results.Callback());
  ASSERT_TRUE(results.WaitForCount(1));
  EXPECT_EQ(results.statuses()[0].code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ((*client)->stats().calls, 1);  // not retried
  EXPECT_TRUE(batcher.Available());        // the server answered
}

}  // namespace
}  // namespace autostage::ingest
