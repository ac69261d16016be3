// The gRPC face of the review service: a thin adapter from autostage.v1.ReviewService onto
// ReviewCore, plus the server around it (grpc.health.v1 and server reflection included).
//
//   ASSIGN_OR_RETURN(auto server, ReviewServer::Start({.listen = "127.0.0.1:0"}, core));
//   int port = server->port();   // the bound port, also when 0 was asked for
//   server->Shutdown(absl::Seconds(5));
//
// Transport security: plaintext unless ServerOptions names a certificate and key (TLS); with a
// client CA as well, client certificates are verified, and required when require_client_cert
// (mutual TLS). Bearer tokens are checked in the handlers either way.
//
// Health (grpc.health.v1, service "" and autostage.v1.ReviewService): with a readiness probe
// (MakeRedisProbe: PING through the pool) the server runs it every probe_period and answers
// NOT_SERVING while it fails, SERVING again once it passes; Health() gives the same answer
// for /healthz. Shutdown turns NOT_SERVING first, ends open WatchProposals streams
// (UNAVAILABLE), then lets in-flight calls finish.
//
// Thread safety: Start/Shutdown from one thread; handlers run on gRPC's threads; Health() is
// thread-safe.
#ifndef AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_
#define AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_pool.h"
#include "services/review/review_core.h"

namespace autostage::review {

// absl and gRPC share their status codes (abseil's design), so the mapping is 1:1.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The unary methods use gRPC's callback API: a handler runs on the gRPC thread that read the
// request and answers from there, without the sync server's hand-off between its polling and
// handler threads (measured in BENCHMARKS.md "Review"). Handlers block on Redis for one round
// trip (a decision) or a few (listings); WatchProposals, which blocks for its whole lifetime,
// stays a sync-API method on its own threads.
using ReviewServiceBase = v1::ReviewService::WithCallbackMethod_SubmitProposals<
    v1::ReviewService::WithCallbackMethod_ListPending<
        v1::ReviewService::WithCallbackMethod_GetProposal<
            v1::ReviewService::WithCallbackMethod_ConfirmProposal<
                v1::ReviewService::WithCallbackMethod_RejectProposal<
                    v1::ReviewService::Service>>>>>;

class GrpcReviewService final : public ReviewServiceBase {
 public:
  // `watch_poll` bounds how long a watch handler waits before checking for cancellation.
  explicit GrpcReviewService(ReviewCore& core, absl::Duration watch_poll = absl::Milliseconds(200))
      : core_(core), watch_poll_(watch_poll) {}

  grpc::ServerUnaryReactor* SubmitProposals(grpc::CallbackServerContext* context,
                                            const v1::SubmitProposalsRequest* request,
                                            v1::SubmitProposalsResponse* response) override;
  grpc::ServerUnaryReactor* ListPending(grpc::CallbackServerContext* context,
                                        const v1::ListPendingRequest* request,
                                        v1::ListPendingResponse* response) override;
  grpc::ServerUnaryReactor* GetProposal(grpc::CallbackServerContext* context,
                                        const v1::GetProposalRequest* request,
                                        v1::ReviewedProposal* response) override;
  grpc::ServerUnaryReactor* ConfirmProposal(grpc::CallbackServerContext* context,
                                            const v1::ConfirmProposalRequest* request,
                                            v1::ReviewedProposal* response) override;
  grpc::ServerUnaryReactor* RejectProposal(grpc::CallbackServerContext* context,
                                           const v1::RejectProposalRequest* request,
                                           v1::ReviewedProposal* response) override;
  grpc::Status WatchProposals(grpc::ServerContext* context,
                              const v1::WatchProposalsRequest* request,
                              grpc::ServerWriter<v1::ProposalUpdate>* writer) override;

 private:
  // A unary method: runs `call` on the core and finishes the reactor with its answer.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, const char* method,
                                  absl::StatusOr<Response> (ReviewCore::*call)(const CallInfo&,
                                                                               const Request&),
                                  const Request& request, Response* response);
  // Records the call's latency and code (when the core has metrics) and converts the status.
  grpc::Status Finish(const char* method, absl::Time start, const absl::Status& status);
  // The same for a callback-API call, which it then finishes.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const char* method,
                                   absl::Time start, const absl::Status& status);

  ReviewCore& core_;
  const absl::Duration watch_poll_;
};

struct ServerOptions {
  // host:port; port 0 picks a free one (read it back with port()).
  std::string listen = "127.0.0.1:0";

  // TLS: PEM file paths. Both cert and key, or neither (plaintext).
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA bundle to verify client certificates with; clients without a certificate are
  // still accepted unless require_client_cert.
  std::string tls_client_ca_file;
  bool require_client_cert = false;  // needs tls_client_ca_file

  // Readiness probe (e.g. MakeRedisProbe); none: always SERVING until shutdown.
  std::function<absl::Status()> readiness_probe;
  absl::Duration probe_period = absl::Seconds(2);
};

// The server credentials `options` describe. InvalidArgument for an incomplete TLS setup
// (cert without key, require_client_cert without CA), NotFound for an unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerOptions& options);

// A readiness probe: PING on a pooled connection. When `metrics` is given it also records
// redis_up and refreshes the pending gauge and outbox stats (ReviewMetrics::Refresh). A pool
// whose connections are all busy for `wait` counts as healthy (they are in use, not down).
std::function<absl::Status()> MakeRedisProbe(redis::RedisPool& pool,
                                             ReviewMetrics* metrics = nullptr,
                                             absl::Duration wait = absl::Milliseconds(500));

class ReviewServer {
 public:
  // `core` is borrowed and must outlive the server. Unavailable if the address cannot be bound;
  // the codes of MakeServerCredentials for a bad TLS setup.
  static absl::StatusOr<std::unique_ptr<ReviewServer>> Start(const ServerOptions& options,
                                                             ReviewCore& core);
  ~ReviewServer();

  int port() const { return port_; }
  // Health goes NOT_SERVING first, watches end, then in-flight calls get up to `deadline`.
  void Shutdown(absl::Duration deadline);
  // Blocks until Shutdown.
  void Wait() { server_->Wait(); }

  // OK while SERVING; Unavailable (with the probe's error) otherwise. For /healthz.
  absl::Status Health() const;

 private:
  explicit ReviewServer(ReviewCore& core) : core_(core), service_(core) {}
  void SetHealth(absl::Status status);
  void ProbeLoop(std::function<absl::Status()> probe, absl::Duration period);

  ReviewCore& core_;
  GrpcReviewService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
  std::thread prober_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status health_ ABSL_GUARDED_BY(mu_);
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_
