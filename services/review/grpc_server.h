// The gRPC face of the review service: a thin adapter from autostage.v1.ReviewService onto
// ReviewCore, plus the server around it (grpc.health.v1 and server reflection included).
//
//   ASSIGN_OR_RETURN(auto server, ReviewServer::Start({.listen = "127.0.0.1:0"}, core));
//   int port = server->port();   // the bound port, also when 0 was asked for
//   server->Shutdown(absl::Seconds(5));
//
// Plaintext only for now (TLS by file paths is a later milestone). Bearer tokens are checked in
// the handlers, since grpc::AuthMetadataProcessor runs only with secure credentials.
//
// Thread safety: Start/Shutdown from one thread; handlers run on gRPC's threads.
#ifndef AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_
#define AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "autostage/v1/review.grpc.pb.h"
#include "services/review/review_core.h"

namespace autostage::review {

// absl and gRPC share their status codes (abseil's design), so the mapping is 1:1.
grpc::Status ToGrpcStatus(const absl::Status& status);

class GrpcReviewService final : public v1::ReviewService::Service {
 public:
  explicit GrpcReviewService(ReviewCore& core) : core_(core) {}

  grpc::Status SubmitProposals(grpc::ServerContext* context,
                               const v1::SubmitProposalsRequest* request,
                               v1::SubmitProposalsResponse* response) override;
  grpc::Status ListPending(grpc::ServerContext* context, const v1::ListPendingRequest* request,
                           v1::ListPendingResponse* response) override;
  grpc::Status GetProposal(grpc::ServerContext* context, const v1::GetProposalRequest* request,
                           v1::ReviewedProposal* response) override;
  grpc::Status ConfirmProposal(grpc::ServerContext* context,
                               const v1::ConfirmProposalRequest* request,
                               v1::ReviewedProposal* response) override;
  grpc::Status RejectProposal(grpc::ServerContext* context,
                              const v1::RejectProposalRequest* request,
                              v1::ReviewedProposal* response) override;
  grpc::Status WatchProposals(grpc::ServerContext* context,
                              const v1::WatchProposalsRequest* request,
                              grpc::ServerWriter<v1::ProposalUpdate>* writer) override;

 private:
  ReviewCore& core_;
};

struct ServerOptions {
  // host:port; port 0 picks a free one (read it back with port()).
  std::string listen = "127.0.0.1:0";
};

class ReviewServer {
 public:
  // `core` is borrowed and must outlive the server. Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<ReviewServer>> Start(const ServerOptions& options,
                                                             ReviewCore& core);
  ~ReviewServer();

  int port() const { return port_; }
  // Health goes NOT_SERVING first, then in-flight calls get up to `deadline` to finish.
  void Shutdown(absl::Duration deadline);
  // Blocks until Shutdown.
  void Wait() { server_->Wait(); }

 private:
  explicit ReviewServer(ReviewCore& core) : service_(core) {}

  GrpcReviewService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_GRPC_SERVER_H_
