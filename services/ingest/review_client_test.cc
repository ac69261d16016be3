// ReviewClient / ProposalBatcher without a server: backoff arithmetic, option validation, and
// the batcher's error paths against a port nobody listens on.
#include "services/ingest/review_client.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

TEST(ReviewClientTest, BackoffIsFullJitterUnderAnExponentialCap) {
  RetryPolicy policy{.initial_backoff = absl::Milliseconds(100),
                     .max_backoff = absl::Seconds(1),
                     .multiplier = 2.0};
  EXPECT_EQ(ReviewClient::Backoff(policy, 1, 1.0), absl::Milliseconds(100));
  EXPECT_EQ(ReviewClient::Backoff(policy, 2, 1.0), absl::Milliseconds(200));
  EXPECT_EQ(ReviewClient::Backoff(policy, 3, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(ReviewClient::Backoff(policy, 10, 1.0), absl::Seconds(1));  // capped
  EXPECT_EQ(ReviewClient::Backoff(policy, 4, 0.0), absl::ZeroDuration());
}

TEST(ReviewClientTest, RetriesOnlyTransientCodes) {
  EXPECT_TRUE(ReviewClient::IsRetryable(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(ReviewClient::IsRetryable(absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(ReviewClient::IsRetryable(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(ReviewClient::IsRetryable(absl::StatusCode::kUnauthenticated));
  EXPECT_FALSE(ReviewClient::IsRetryable(absl::StatusCode::kPermissionDenied));
  EXPECT_FALSE(ReviewClient::IsRetryable(absl::StatusCode::kInvalidArgument));
}

TEST(ReviewClientTest, CreateValidatesOptions) {
  EXPECT_EQ(ReviewClient::Create({.token = "t"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReviewClient::Create({.target = "127.0.0.1:1"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReviewClient::Create({.target = "127.0.0.1:1",
                                  .token = "t",
                                  .tls_ca_file = "/nonexistent/ca.pem",
                                  .tls_cert_file = "/nonexistent/cert.pem"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReviewClient::Create(
                {.target = "127.0.0.1:1", .token = "t", .tls_ca_file = "/nonexistent/ca.pem"})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

// Every callback runs exactly once with the exhausted-retry error, and Available() turns false.
TEST(ReviewClientTest, BatcherReportsExhaustedRetriesWhenNobodyListens) {
  absl::StatusOr<int> port = testing::FreeTcpPort();
  ASSERT_TRUE(port.ok());
  absl::StatusOr<std::unique_ptr<ReviewClient>> client =
      ReviewClient::Create({.target = "127.0.0.1:" + std::to_string(*port),
                            .token = "ingest",
                            .call_deadline = absl::Milliseconds(500),
                            .retry = {.initial_backoff = absl::Milliseconds(1),
                                      .max_backoff = absl::Milliseconds(5),
                                      .max_attempts = 3},
                            .jitter_seed = 7});
  ASSERT_TRUE(client.ok()) << client.status();
  // A long linger: batches leave only when full (two of five), however slow the machine.
  ProposalBatcher batcher(
      **client, {.batch_size = 5, .linger = absl::Seconds(60), .max_in_flight_batches = 2});
  absl::Mutex mu;
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 10; ++i) {
    v1::Proposal p;
    p.set_proposal_id("p" + std::to_string(i));
    batcher.Submit(p, [&, i](absl::Status s, v1::SubmitResult r) {
      EXPECT_EQ(r.proposal_id(), "p" + std::to_string(i));
      absl::MutexLock lock(&mu);
      codes.push_back(s.code());
    });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::vector<absl::StatusCode>* c) { return c->size() == 10; }, &codes),
        absl::Seconds(30)));
    for (absl::StatusCode c : codes) EXPECT_EQ(c, absl::StatusCode::kUnavailable);
  }
  EXPECT_FALSE(batcher.Available());
  // InFlight drops once the callbacks have returned.
  EXPECT_TRUE(testing::WaitFor([&] { return batcher.InFlight() == 0; }, absl::Seconds(10)).ok());
  const ReviewClientStats stats = (*client)->stats();
  EXPECT_EQ(stats.exhausted, 2);
  EXPECT_EQ(stats.calls, 6);
  EXPECT_GE(stats.unavailable_flips, 1);
}

TEST(ReviewClientTest, SubmitAfterShutdownIsCancelled) {
  absl::StatusOr<std::unique_ptr<ReviewClient>> client =
      ReviewClient::Create({.target = "127.0.0.1:1", .token = "ingest"});
  ASSERT_TRUE(client.ok());
  ProposalBatcher batcher(**client, {});
  batcher.Shutdown(absl::Now());
  bool called = false;
  batcher.Submit(v1::Proposal(), [&](absl::Status s, v1::SubmitResult) {
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
    called = true;
  });
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace autostage::ingest
