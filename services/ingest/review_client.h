// The ingest side of the review API (proto/autostage/v1/review.proto, docs/api.md):
//
//   ReviewClient     — one gRPC channel to autostage.v1.ReviewService with a bearer token of an
//                      `ingest` service principal (contract C3), per-call deadlines, retries with
//                      exponential backoff and full jitter, and an availability signal.
//   ProposalBatcher  — collects proposals from many worker threads into SubmitProposals batches
//                      (by size or linger time), sends at most `max_in_flight_batches` at once
//                      and calls each proposal's callback exactly once.
//
//   ASSIGN_OR_RETURN(auto client, ReviewClient::Create({.target = "127.0.0.1:7070",
//                                                       .token = token}));
//   ProposalBatcher batcher(*client, {.batch_size = 200, .linger = absl::Milliseconds(5)});
//   batcher.Submit(proposal, [](absl::Status s, v1::SubmitResult r) {
//     // s.ok(): review answered for this proposal (r.outcome() is stored, merged, duplicate,
//     //         stale or invalid — all of them "handled"; store the offset).
//     // !s.ok(): retries exhausted (kUnavailable / kDeadlineExceeded), batcher shut down
//     //         (kCancelled), or a permanent refusal (kUnauthenticated, kPermissionDenied,
//     //         kInvalidArgument): do NOT store the offset.
//   });
//   if (!batcher.Available()) PausePartitions();   // review down: stop feeding it
//   batcher.Shutdown(absl::Now() + absl::Seconds(10));
//
// Idempotency: proposal ids are deterministic (the engine's), and review answers a re-sent id
// `duplicate` with the same `stored_as`, so a batch whose call timed out after the server stored
// it is simply sent again (failure scenario 10).
//
// Availability: Available() turns false when a call fails with UNAVAILABLE or DEADLINE_EXCEEDED
// (RESOURCE_EXHAUSTED is retried but does not flip it), and true again after any successful
// call or a successful health probe (grpc.health.v1 Check answering SERVING). While it is false
// a background prober checks every `probe_interval`, so a caller that stopped submitting
// (paused partitions) still sees review come back.
//
// Keepalive: gRPC 1.51 servers accept at most one ping per 5 minutes and none without calls by
// default (else GOAWAY too_many_pings), so the client pings only every 6 minutes and only with
// calls in flight; dead connections are found by the per-call deadline instead.
//
// Thread safety: ReviewClient and ProposalBatcher are thread-safe. The client must outlive the
// batcher. Callbacks run on the batcher's sender threads (or on the thread calling Submit or
// Shutdown for cancellations): keep them short, never call Shutdown() from one.
#ifndef AUTOSTAGE_SERVICES_INGEST_REVIEW_CLIENT_H_
#define AUTOSTAGE_SERVICES_INGEST_REVIEW_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autostage/v1/review.grpc.pb.h"
#include "autostage/v1/review.pb.h"

namespace autostage::ingest {

// Exponential backoff with full jitter: before retry n (n = 1, 2, ...) wait a uniformly random
// time in [0, min(max_backoff, initial_backoff * multiplier^(n-1))].
struct RetryPolicy {
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
  // Attempts in all (first call included); 0 = no limit (max_total alone bounds it).
  int max_attempts = 0;
  // Stop retrying once this much time passed since the first attempt.
  // absl::InfiniteDuration() = retry until Shutdown.
  absl::Duration max_total = absl::Minutes(5);
};

struct ReviewClientOptions {
  // gRPC target, e.g. "127.0.0.1:7070" or "dns:///review:7070".
  std::string target;
  // Bearer token of a `service` principal with role `ingest` (sent as
  // `authorization: Bearer <token>`). Load it from a file; never a literal in config.
  std::string token;
  // TLS: when tls_ca_file is set the channel uses TLS with that root CA; cert+key (both or
  // neither) add a client certificate. Empty: plaintext.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Deadline of each attempt.
  absl::Duration call_deadline = absl::Seconds(5);
  RetryPolicy retry;
  // How often the background prober checks health while Available() is false.
  absl::Duration probe_interval = absl::Milliseconds(500);
  // Seed of the jitter generator (0: from the clock). Tests pin it.
  uint64_t jitter_seed = 0;
};

// Counters for metrics (autostage_ingest_review_*); monotonic, read with stats().
struct ReviewClientStats {
  int64_t calls = 0;              // attempts made
  int64_t call_errors = 0;        // attempts that failed (any code)
  int64_t retries = 0;            // attempts that were retries
  int64_t exhausted = 0;          // batches given up after retries
  int64_t probes = 0;             // health probes sent
  int64_t unavailable_flips = 0;  // times Available() went true -> false
};

class ReviewClient {
 public:
  // kInvalidArgument for an empty target/token, a cert without key; kNotFound for unreadable
  // TLS files. Does not connect (the channel connects lazily).
  static absl::StatusOr<std::unique_ptr<ReviewClient>> Create(ReviewClientOptions options);
  // Stops the prober.
  ~ReviewClient();
  ReviewClient(const ReviewClient&) = delete;
  ReviewClient& operator=(const ReviewClient&) = delete;

  // One SubmitProposals call, no retry, with options.call_deadline. Updates Available().
  absl::StatusOr<v1::SubmitProposalsResponse> SubmitOnce(const v1::SubmitProposalsRequest& request);

  // SubmitOnce with the retry policy: retries UNAVAILABLE, DEADLINE_EXCEEDED and
  // RESOURCE_EXHAUSTED; returns the last error when retries are exhausted, other errors at once.
  // `cancelled` (may be null) is checked between attempts and stops the backoff early: the
  // call then returns kCancelled.
  absl::StatusOr<v1::SubmitProposalsResponse> Submit(const v1::SubmitProposalsRequest& request,
                                                     const std::atomic<bool>* cancelled = nullptr);

  // grpc.health.v1.Health/Check (service ""): OK when SERVING. Updates Available().
  absl::Status Probe();

  // False after an UNAVAILABLE/DEADLINE_EXCEEDED answer until the next success (see top).
  bool Available() const { return available_.load(std::memory_order_acquire); }

  ReviewClientStats stats() const;
  const ReviewClientOptions& options() const { return options_; }

  // True for the codes Submit retries.
  static bool IsRetryable(absl::StatusCode code);
  // The backoff before retry `retry` (1-based) for a uniform `u` in [0, 1): full jitter.
  static absl::Duration Backoff(const RetryPolicy& policy, int retry, double u);

 private:
  explicit ReviewClient(ReviewClientOptions options);
  void NoteResult(absl::StatusCode code);
  double NextUniform();
  void ProbeLoop();

  ReviewClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReviewService::Stub> stub_;
  std::atomic<bool> available_{true};

  mutable absl::Mutex mu_;
  ReviewClientStats stats_ ABSL_GUARDED_BY(mu_);
  uint64_t rng_state_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread prober_;
};

struct ProposalBatcherOptions {
  // Proposals per SubmitProposals call (review accepts at most 1000).
  size_t batch_size = 200;
  // How long a partial batch waits for more proposals before it is sent.
  absl::Duration linger = absl::Milliseconds(5);
  // Batches in flight at once (one sender thread each).
  int max_in_flight_batches = 4;
  // Proposals waiting to be sent, beyond those in flight. Submit blocks while the queue is full
  // (back-pressure on the workers), so memory stays bounded by
  // (max_queued + max_in_flight_batches * batch_size) proposals.
  size_t max_queued = 10000;
};

using SubmitCallback = std::function<void(absl::Status, v1::SubmitResult)>;

class ProposalBatcher {
 public:
  // `client` is borrowed and must outlive the batcher. Starts the sender threads.
  ProposalBatcher(ReviewClient& client, ProposalBatcherOptions options);
  // Shutdown(absl::Now()) if not shut down yet.
  ~ProposalBatcher();
  ProposalBatcher(const ProposalBatcher&) = delete;
  ProposalBatcher& operator=(const ProposalBatcher&) = delete;

  // Queues `proposal`; `done` runs exactly once (see the file comment). Blocks while the queue
  // is full. After Shutdown began, `done` runs at once with kCancelled.
  void Submit(v1::Proposal proposal, SubmitCallback done);

  // The client's availability (see ReviewClient::Available).
  bool Available() const { return client_.Available(); }
  // Proposals accepted by Submit whose callback has not returned yet (queued + in flight).
  size_t InFlight() const;
  // Proposals queued, not yet in a batch being sent.
  size_t Queued() const;
  // Batches being sent right now (<= max_in_flight_batches).
  int BatchesInFlight() const;

  // Stops accepting proposals, sends what is queued and waits for in-flight batches until
  // `deadline`; then cancels retries (their callbacks get kCancelled), fails what is still
  // queued with kCancelled, and joins the sender threads. Every callback has run on return.
  void Shutdown(absl::Time deadline);

 private:
  struct Item {
    v1::Proposal proposal;
    SubmitCallback done;
    absl::Time enqueued;
  };
  void SenderLoop();
  void SendBatch(std::vector<Item> batch);

  ReviewClient& client_;
  const ProposalBatcherOptions options_;
  std::atomic<bool> cancel_retries_{false};

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  size_t in_batches_ ABSL_GUARDED_BY(mu_) = 0;  // proposals in batches being sent
  int batches_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // no more Submit; flush the queue
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> senders_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_REVIEW_CLIENT_H_
