#include "services/review/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace autostage::review {
namespace {

constexpr char kServiceName[] = "autostage.v1.ReviewService";

CallInfo MakeCall(const grpc::ServerContextBase& context, const char* method) {
  CallInfo call;
  call.method = method;
  call.peer = context.peer();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) call.authorization.assign(it->second.data(), it->second.size());
  return call;
}

template <typename Response, typename Result>
absl::Status Reply(Result result, Response* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerOptions& options) {
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (!tls) {
    if (!options.tls_client_ca_file.empty() || options.require_client_cert) {
      return absl::InvalidArgumentError(
          "a client CA or require_client_cert needs a server certificate and key (TLS)");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (options.require_client_cert && options.tls_client_ca_file.empty()) {
    return absl::InvalidArgumentError("require_client_cert needs a client CA file");
  }
  absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "TLS key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (!options.tls_client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(options.tls_client_ca_file, "client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
    ssl.client_certificate_request =
        options.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                    : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

std::function<absl::Status()> MakeRedisProbe(redis::RedisPool& pool, ReviewMetrics* metrics,
                                             absl::Duration wait) {
  return [&pool, metrics, wait]() -> absl::Status {
    absl::StatusOr<redis::RedisPool::Lease> lease = pool.Acquire(wait);
    if (!lease.ok()) return absl::OkStatus();  // every connection busy: in use, not down
    absl::StatusOr<redis::Reply> pong = (*lease)->Command("PING");
    absl::Status status = pong.status();
    if (status.ok() && pong->str() != "PONG") {
      status = absl::UnavailableError(absl::StrCat("redis answered PING with ", pong->str()));
    }
    if (metrics != nullptr) {
      metrics->SetRedisUp(status.ok());
      // Gauges are best effort: a failed refresh keeps the last values.
      if (status.ok()) (void)metrics->Refresh(**lease);
    }
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat("redis unreachable: ", status.message()));
    }
    return absl::OkStatus();
  };
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* GrpcReviewService::Unary(
    grpc::CallbackServerContext* context, const char* method,
    absl::StatusOr<Response> (ReviewCore::*call)(const CallInfo&, const Request&),
    const Request& request, Response* response) {
  const absl::Time start = absl::Now();
  return Finish(context, method, start,
                Reply((core_.*call)(MakeCall(*context, method), request), response));
}

grpc::ServerUnaryReactor* GrpcReviewService::SubmitProposals(
    grpc::CallbackServerContext* context, const v1::SubmitProposalsRequest* request,
    v1::SubmitProposalsResponse* response) {
  return Unary(context, "SubmitProposals", &ReviewCore::SubmitProposals, *request, response);
}

grpc::ServerUnaryReactor* GrpcReviewService::ListPending(grpc::CallbackServerContext* context,
                                                         const v1::ListPendingRequest* request,
                                                         v1::ListPendingResponse* response) {
  return Unary(context, "ListPending", &ReviewCore::ListPending, *request, response);
}

grpc::ServerUnaryReactor* GrpcReviewService::GetProposal(grpc::CallbackServerContext* context,
                                                         const v1::GetProposalRequest* request,
                                                         v1::ReviewedProposal* response) {
  return Unary(context, "GetProposal", &ReviewCore::GetProposal, *request, response);
}

grpc::ServerUnaryReactor* GrpcReviewService::ConfirmProposal(
    grpc::CallbackServerContext* context, const v1::ConfirmProposalRequest* request,
    v1::ReviewedProposal* response) {
  return Unary(context, "ConfirmProposal", &ReviewCore::ConfirmProposal, *request, response);
}

grpc::ServerUnaryReactor* GrpcReviewService::RejectProposal(
    grpc::CallbackServerContext* context, const v1::RejectProposalRequest* request,
    v1::ReviewedProposal* response) {
  return Unary(context, "RejectProposal", &ReviewCore::RejectProposal, *request, response);
}

grpc::Status GrpcReviewService::Finish(const char* method, absl::Time start,
                                       const absl::Status& status) {
  if (ReviewMetrics* metrics = core_.metrics()) {
    metrics->ObserveRpc(method, status.code(), absl::Now() - start);
  }
  return ToGrpcStatus(status);
}

grpc::ServerUnaryReactor* GrpcReviewService::Finish(grpc::CallbackServerContext* context,
                                                    const char* method, absl::Time start,
                                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Finish(method, start, status));
  return reactor;
}

grpc::Status GrpcReviewService::WatchProposals(grpc::ServerContext* context,
                                               const v1::WatchProposalsRequest* request,
                                               grpc::ServerWriter<v1::ProposalUpdate>* writer) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<Subscription>> sub =
      core_.WatchProposals(MakeCall(*context, "WatchProposals"), *request);
  if (!sub.ok()) return Finish("WatchProposals", start, sub.status());
  // The subscription is registered: tell the client, so it knows updates from now on reach it.
  writer->SendInitialMetadata();
  absl::Status end;
  while (true) {
    if (context->IsCancelled()) {
      end = absl::CancelledError("the client cancelled the watch");
      break;
    }
    absl::StatusOr<v1::ProposalUpdate> update = (*sub)->Next(watch_poll_);
    if (absl::IsDeadlineExceeded(update.status())) continue;
    if (!update.ok()) {
      end = update.status();
      break;
    }
    if (!writer->Write(*update)) {
      end = absl::CancelledError("the client went away");
      break;
    }
  }
  if (absl::IsResourceExhausted(end) && core_.metrics() != nullptr) {
    core_.metrics()->ObserveWatcherDropped();
  }
  return Finish("WatchProposals", start, end);
}

absl::StatusOr<std::unique_ptr<ReviewServer>> ReviewServer::Start(const ServerOptions& options,
                                                                  ReviewCore& core) {
  // Both are process-wide switches read when a ServerBuilder is built; setting them again is
  // harmless.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<ReviewServer> server(new ReviewServer(core));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  // No channelz service is registered, so its per-call bookkeeping (call counters and
  // timestamps on every server call) would only cost CPU.
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 0);
  builder.RegisterService(&server->service_);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  server->SetHealth(options.readiness_probe ? options.readiness_probe() : absl::OkStatus());
  if (options.readiness_probe) {
    ReviewServer* s = server.get();
    server->prober_ = std::thread([s, probe = options.readiness_probe,
                                   period = options.probe_period] { s->ProbeLoop(probe, period); });
  }
  return server;
}

void ReviewServer::SetHealth(absl::Status status) {
  const bool serving = status.ok();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;  // shutdown owns the answer now
    health_ = std::move(status);
  }
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(kServiceName, serving);
    health->SetServingStatus(serving);
  }
}

absl::Status ReviewServer::Health() const {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("shutting down");
  return health_;
}

void ReviewServer::ProbeLoop(std::function<absl::Status()> probe, absl::Duration period) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), period)) return;
    }
    SetHealth(probe());
  }
}

void ReviewServer::Shutdown(absl::Duration deadline) {
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (prober_.joinable()) prober_.join();
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(kServiceName, false);
    health->SetServingStatus(false);
  }
  // Watch streams never finish on their own: end them so the drain below is not spent waiting.
  core_.StopWatches();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
}

ReviewServer::~ReviewServer() {
  if (server_ != nullptr) Shutdown(absl::Seconds(1));
}

}  // namespace autostage::review
