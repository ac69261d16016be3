#include "services/ingest/review_client.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::ingest {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  // absl and gRPC share their status codes, so the cast is exact.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("review: ", s.error_message()));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ReviewClient

bool ReviewClient::IsRetryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kResourceExhausted;
}

absl::Duration ReviewClient::Backoff(const RetryPolicy& policy, int retry, double u) {
  double cap = absl::ToDoubleSeconds(policy.initial_backoff) *
               std::pow(std::max(1.0, policy.multiplier), std::max(0, retry - 1));
  cap = std::min(cap, absl::ToDoubleSeconds(policy.max_backoff));
  return absl::Seconds(cap * std::clamp(u, 0.0, 1.0));
}

ReviewClient::ReviewClient(ReviewClientOptions options) : options_(std::move(options)) {
  uint64_t seed = options_.jitter_seed;
  if (seed == 0) seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  absl::MutexLock lock(&mu_);
  rng_state_ = seed;
}

absl::StatusOr<std::unique_ptr<ReviewClient>> ReviewClient::Create(ReviewClientOptions options) {
  if (options.target.empty()) return absl::InvalidArgumentError("review client: empty target");
  if (options.token.empty()) return absl::InvalidArgumentError("review client: empty token");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("review client: TLS cert and key go together");
  }
  if (!options.tls_cert_file.empty() && options.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("review client: a client certificate needs tls_ca_file");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options.tls_ca_file));
    if (!options.tls_cert_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options.tls_cert_file));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options.tls_key_file));
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // gRPC 1.51 servers allow one ping per 5 min, none without calls (GRPC_ARG_HTTP2_MIN_RECV_PING_
  // INTERVAL_WITHOUT_DATA_MS = 300000); stay well above it so the server never GOAWAYs us.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 6 * 60 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // Reconnect quickly once review is back (the default backoff grows to 120 s).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Each client instance gets its own connection (tests run several against one server).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);

  std::unique_ptr<ReviewClient> client(new ReviewClient(std::move(options)));
  client->channel_ = grpc::CreateCustomChannel(client->options_.target, credentials, args);
  client->stub_ = v1::ReviewService::NewStub(client->channel_);
  client->prober_ = std::thread([c = client.get()] { c->ProbeLoop(); });
  return client;
}

ReviewClient::~ReviewClient() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (prober_.joinable()) prober_.join();
}

double ReviewClient::NextUniform() {
  absl::MutexLock lock(&mu_);
  // splitmix64: tiny, good enough for jitter, deterministic per seed.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
}

void ReviewClient::NoteResult(absl::StatusCode code) {
  absl::MutexLock lock(&mu_);
  ++stats_.calls;
  if (code != absl::StatusCode::kOk) ++stats_.call_errors;
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    // Stored under mu_ so the prober's Await sees the change.
    if (available_.exchange(false, std::memory_order_acq_rel)) ++stats_.unavailable_flips;
  } else if (code != absl::StatusCode::kResourceExhausted) {
    // Any other answer (even a refusal) came from a live server.
    available_.store(true, std::memory_order_release);
  }
}

absl::StatusOr<v1::SubmitProposalsResponse> ReviewClient::SubmitOnce(
    const v1::SubmitProposalsRequest& request) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  context.set_deadline(DeadlineIn(options_.call_deadline));
  v1::SubmitProposalsResponse response;
  const grpc::Status s = stub_->SubmitProposals(&context, request, &response);
  NoteResult(static_cast<absl::StatusCode>(s.error_code()));
  RETURN_IF_ERROR(FromGrpc(s));
  if (response.results_size() != request.proposals_size()) {
    return absl::InternalError(absl::StrCat("review answered ", response.results_size(),
                                            " results for ", request.proposals_size(),
                                            " proposals"));
  }
  return response;
}

absl::StatusOr<v1::SubmitProposalsResponse> ReviewClient::Submit(
    const v1::SubmitProposalsRequest& request, const std::atomic<bool>* cancelled) {
  const absl::Time start = absl::Now();
  const RetryPolicy& policy = options_.retry;
  auto is_cancelled = [&] {
    if (cancelled != nullptr && cancelled->load(std::memory_order_acquire)) return true;
    absl::MutexLock lock(&mu_);
    return stopping_;
  };
  for (int attempt = 1;; ++attempt) {
    if (is_cancelled()) return absl::CancelledError("review client: submit cancelled");
    if (attempt > 1) {
      absl::MutexLock lock(&mu_);
      ++stats_.retries;
    }
    absl::StatusOr<v1::SubmitProposalsResponse> result = SubmitOnce(request);
    if (result.ok() || !IsRetryable(result.status().code())) return result;
    const absl::Duration backoff = Backoff(policy, attempt, NextUniform());
    const bool out_of_attempts = policy.max_attempts > 0 && attempt >= policy.max_attempts;
    const bool out_of_time = absl::Now() + backoff - start > policy.max_total;
    if (out_of_attempts || out_of_time) {
      absl::MutexLock lock(&mu_);
      ++stats_.exhausted;
      return absl::Status(
          result.status().code(),
          absl::StrCat(result.status().message(), " (gave up after ", attempt, " attempts)"));
    }
    // Sleep the backoff in short slices so a cancellation (shutdown) is noticed promptly.
    const absl::Time wake = absl::Now() + backoff;
    while (absl::Now() < wake && !is_cancelled()) {
      absl::SleepFor(std::min(absl::Milliseconds(10), wake - absl::Now()));
    }
  }
}

absl::Status ReviewClient::Probe() {
  {
    absl::MutexLock lock(&mu_);
    ++stats_.probes;
  }
  grpc::GenericStub generic(channel_);
  // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message; SERVING is 08 01.
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(options_.call_deadline));
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const grpc::Status s = done.get_future().get();
  absl::Status status = FromGrpc(s);
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (response.Dump(&slices).ok()) {
      for (const grpc::Slice& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    if (bytes != std::string("\x08\x01", 2)) {
      status = absl::UnavailableError("review: health check not SERVING");
    }
  }
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    available_.store(true, std::memory_order_release);
  } else if (available_.exchange(false, std::memory_order_acq_rel)) {
    ++stats_.unavailable_flips;
  }
  return status;
}

void ReviewClient::ProbeLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ReviewClient* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
            return c->stopping_ || !c->available_.load(std::memory_order_acquire);
          },
          this));
      if (stopping_) return;
      // Unavailable: wait one interval (or until it came back by itself / we stop).
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](ReviewClient* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
                                 return c->stopping_ ||
                                        c->available_.load(std::memory_order_acquire);
                               },
                               this),
                           options_.probe_interval);
      if (stopping_) return;
      if (available_.load(std::memory_order_acquire)) continue;
    }
    (void)Probe();
  }
}

ReviewClientStats ReviewClient::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

// ---------------------------------------------------------------------------------------------
// ProposalBatcher

ProposalBatcher::ProposalBatcher(ReviewClient& client, ProposalBatcherOptions options)
    : client_(client), options_([&] {
        options.batch_size = std::clamp<size_t>(options.batch_size, 1, 1000);
        options.max_in_flight_batches = std::max(1, options.max_in_flight_batches);
        options.max_queued = std::max<size_t>(1, options.max_queued);
        return options;
      }()) {
  senders_.reserve(options_.max_in_flight_batches);
  for (int i = 0; i < options_.max_in_flight_batches; ++i) {
    senders_.emplace_back([this] { SenderLoop(); });
  }
}

ProposalBatcher::~ProposalBatcher() { Shutdown(absl::Now()); }

void ProposalBatcher::Submit(v1::Proposal proposal, SubmitCallback done) {
  absl::ReleasableMutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](ProposalBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
        return b->closing_ || b->queue_.size() < b->options_.max_queued;
      },
      this));
  if (closing_) {
    lock.Release();
    v1::SubmitResult result;
    result.set_proposal_id(proposal.proposal_id());
    done(absl::CancelledError("review batcher: shut down"), std::move(result));
    return;
  }
  queue_.push_back(Item{std::move(proposal), std::move(done), absl::Now()});
}

size_t ProposalBatcher::InFlight() const {
  absl::MutexLock lock(&mu_);
  return queue_.size() + in_batches_;
}

size_t ProposalBatcher::Queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

int ProposalBatcher::BatchesInFlight() const {
  absl::MutexLock lock(&mu_);
  return batches_in_flight_;
}

void ProposalBatcher::SenderLoop() {
  while (true) {
    std::vector<Item> batch;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (queue_.empty()) {
          if (closing_) return;
          mu_.Await(absl::Condition(
              +[](ProposalBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
                return b->closing_ || !b->queue_.empty();
              },
              this));
          continue;
        }
        if (queue_.size() >= options_.batch_size || closing_) break;
        const absl::Time due = queue_.front().enqueued + options_.linger;
        if (absl::Now() >= due) break;
        mu_.AwaitWithDeadline(absl::Condition(
                                  +[](ProposalBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
                                    return b->closing_ ||
                                           b->queue_.size() >= b->options_.batch_size;
                                  },
                                  this),
                              due);
      }
      const size_t n = std::min(options_.batch_size, queue_.size());
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_batches_ += n;
      ++batches_in_flight_;
    }
    SendBatch(std::move(batch));
  }
}

void ProposalBatcher::SendBatch(std::vector<Item> batch) {
  const size_t n = batch.size();
  v1::SubmitProposalsRequest request;
  request.mutable_proposals()->Reserve(static_cast<int>(n));
  for (Item& item : batch) *request.add_proposals() = std::move(item.proposal);
  absl::StatusOr<v1::SubmitProposalsResponse> response = client_.Submit(request, &cancel_retries_);
  for (size_t i = 0; i < n; ++i) {
    const int index = static_cast<int>(i);
    if (response.ok()) {
      batch[i].done(absl::OkStatus(), std::move(*response->mutable_results(index)));
    } else {
      v1::SubmitResult result;
      result.set_proposal_id(request.proposals(index).proposal_id());
      batch[i].done(response.status(), std::move(result));
    }
  }
  absl::MutexLock lock(&mu_);
  in_batches_ -= n;
  --batches_in_flight_;
}

void ProposalBatcher::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    if (joined_) return;
    closing_ = true;  // senders now send partial batches at once and exit when empty
    mu_.AwaitWithDeadline(absl::Condition(
                              +[](ProposalBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
                                return b->queue_.empty() && b->batches_in_flight_ == 0;
                              },
                              this),
                          deadline);
  }
  cancel_retries_.store(true, std::memory_order_release);
  std::deque<Item> rest;
  {
    absl::MutexLock lock(&mu_);
    rest.swap(queue_);
  }
  for (Item& item : rest) {
    v1::SubmitResult result;
    result.set_proposal_id(item.proposal.proposal_id());
    item.done(absl::CancelledError("review batcher: shut down before sending"), std::move(result));
  }
  for (std::thread& t : senders_) {
    if (t.joinable()) t.join();
  }
  absl::MutexLock lock(&mu_);
  joined_ = true;
}

}  // namespace autostage::ingest
