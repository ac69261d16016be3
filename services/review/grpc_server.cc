#include "services/review/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"

namespace autostage::review {
namespace {

constexpr char kServiceName[] = "autostage.v1.ReviewService";

CallInfo MakeCall(const grpc::ServerContext& context, const char* method) {
  CallInfo call;
  call.method = method;
  call.peer = context.peer();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) call.authorization.assign(it->second.data(), it->second.size());
  return call;
}

template <typename Response, typename Result>
grpc::Status Reply(Result result, Response* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status GrpcReviewService::SubmitProposals(grpc::ServerContext* context,
                                                const v1::SubmitProposalsRequest* request,
                                                v1::SubmitProposalsResponse* response) {
  return Reply(core_.SubmitProposals(MakeCall(*context, "SubmitProposals"), *request), response);
}

grpc::Status GrpcReviewService::ListPending(grpc::ServerContext* context,
                                            const v1::ListPendingRequest* request,
                                            v1::ListPendingResponse* response) {
  return Reply(core_.ListPending(MakeCall(*context, "ListPending"), *request), response);
}

grpc::Status GrpcReviewService::GetProposal(grpc::ServerContext* context,
                                            const v1::GetProposalRequest* request,
                                            v1::ReviewedProposal* response) {
  return Reply(core_.GetProposal(MakeCall(*context, "GetProposal"), *request), response);
}

grpc::Status GrpcReviewService::ConfirmProposal(grpc::ServerContext* context,
                                                const v1::ConfirmProposalRequest* request,
                                                v1::ReviewedProposal* response) {
  return Reply(core_.ConfirmProposal(MakeCall(*context, "ConfirmProposal"), *request), response);
}

grpc::Status GrpcReviewService::RejectProposal(grpc::ServerContext* context,
                                               const v1::RejectProposalRequest* request,
                                               v1::ReviewedProposal* response) {
  return Reply(core_.RejectProposal(MakeCall(*context, "RejectProposal"), *request), response);
}

grpc::Status GrpcReviewService::WatchProposals(grpc::ServerContext* context,
                                               const v1::WatchProposalsRequest* request,
                                               grpc::ServerWriter<v1::ProposalUpdate>* /*w*/) {
  return ToGrpcStatus(core_.WatchProposals(MakeCall(*context, "WatchProposals"), *request));
}

absl::StatusOr<std::unique_ptr<ReviewServer>> ReviewServer::Start(const ServerOptions& options,
                                                                  ReviewCore& core) {
  // Both are process-wide switches read when a ServerBuilder is built; setting them again is
  // harmless.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<ReviewServer> server(new ReviewServer(core));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService()) {
    health->SetServingStatus(kServiceName, true);
    health->SetServingStatus(true);
  }
  return server;
}

void ReviewServer::Shutdown(absl::Duration deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
}

ReviewServer::~ReviewServer() {
  if (server_ != nullptr) Shutdown(absl::Seconds(1));
}

}  // namespace autostage::review
