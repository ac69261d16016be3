// The review gRPC server in-process on 127.0.0.1:0 against a real redis-server (label
// `redis`): every method's authorization table for rep / manager / admin / service / ingest /
// unknown / missing tokens, auditing of refusals, and the health service.
#include <grpcpp/generic/generic_stub.h>

#include <future>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/grpc_server.h"

namespace autostage::review {
namespace {

using ::autostage::testing::RedisServer;
using grpc::StatusCode;

constexpr StatusCode kOk = StatusCode::OK;
constexpr StatusCode kDenied = StatusCode::PERMISSION_DENIED;
constexpr StatusCode kUnauth = StatusCode::UNAUTHENTICATED;

// Token names double as the bearer tokens; "unknown" and "missing" have no table entry.
const char* const kCallers[] = {"alice",     "bob",    "mgr-east", "mgr-west", "admin",
                                "svc-admin", "ingest", "unknown",  "missing"};

std::string TokenYaml() {
  auto entry = [](const std::string& token, const std::string& kind, const std::string& role,
                  const std::string& team) {
    return absl::StrCat("- {sha256: ", Sha256Hex(token), ", id: ", token, ", kind: ", kind,
                        ", role: ", role, team.empty() ? "" : ", team: " + team, "}\n");
  };
  return absl::StrCat(
      entry("alice", "human", "rep", "east"), entry("bob", "human", "rep", "west"),
      entry("mgr-east", "human", "manager", "east"), entry("mgr-west", "human", "manager", "west"),
      entry("admin", "human", "admin", ""), entry("svc-admin", "service", "admin", ""),
      entry("ingest", "service", "ingest", ""));
}

class ReviewGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    redis_options_.host = redis_->host();
    redis_options_.port = redis_->port();
    pool_ = std::make_unique<redis::RedisPool>(redis_options_, 4);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    store_ = std::make_unique<ProposalStore>(*pool_, pipelines, clock_);
    absl::StatusOr<TokenTable> tokens = TokenTable::Parse(TokenYaml());
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    core_ = std::make_unique<ReviewCore>(*store_, tokens_);
    absl::StatusOr<std::unique_ptr<ReviewServer>> started =
        ReviewServer::Start({.listen = "127.0.0.1:0"}, *core_);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    ASSERT_GT(server_->port(), 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::ReviewService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_) server_->Shutdown(absl::Seconds(5));
  }

  // A fresh opportunity owned by alice (team east) with one pending proposal; returns its id.
  std::string NewPending() {
    const std::string n = std::to_string(next_++);
    const std::string opp = "opp-" + n;
    EXPECT_TRUE(store_
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = "b2b_standard",
                                      .stage = "prospecting",
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = Proposal("p-" + n, opp);
    absl::StatusOr<v1::SubmitProposalsResponse> r = store_->Submit(request);
    EXPECT_TRUE(r.ok() && r->results(0).outcome() == v1::SUBMIT_OUTCOME_STORED);
    return "p-" + n;
  }

  static v1::Proposal Proposal(const std::string& id, const std::string& opp) {
    v1::Proposal p;
    p.set_proposal_id(id);
    p.set_opportunity_id(opp);
    p.set_pipeline("b2b_standard");
    p.set_to_stage("proposal");
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + id);
    e->set_source("email");
    return p;
  }

  static void Authorize(grpc::ClientContext* context, const std::string& caller) {
    if (caller != "missing") context->AddMetadata("authorization", "Bearer " + caller);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  }

  int CountAudit(const std::string& action) {
    redis::RedisClient client(redis_options_);
    absl::StatusOr<redis::Reply> r = client.Command("XRANGE", ProposalStore::AuditKey(), "-", "+");
    EXPECT_TRUE(r.ok());
    int n = 0;
    for (const redis::Reply& e : r->elements()) {
      for (size_t i = 0; i + 1 < e[1].size(); i += 2) {
        n += e[1][i].str() == "action" && e[1][i + 1].str() == action;
      }
    }
    return n;
  }
  int64_t OutboxLength() {
    redis::RedisClient client(redis_options_);
    return client.Command("XLEN", ProposalStore::OutboxKey())->integer();
  }

  std::unique_ptr<RedisServer> redis_;
  redis::RedisOptions redis_options_;
  std::unique_ptr<redis::RedisPool> pool_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<ProposalStore> store_;
  TokenTable tokens_;
  std::unique_ptr<ReviewCore> core_;
  std::unique_ptr<ReviewServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReviewService::Stub> stub_;
  int next_ = 0;
};

TEST_F(ReviewGrpcTest, SubmitProposalsOnlyFromIngest) {
  ASSERT_TRUE(store_
                  ->PutOpportunity({.opportunity_id = "opp-s",
                                    .pipeline = "b2b_standard",
                                    .stage = "prospecting",
                                    .owner_id = "alice",
                                    .team_id = "east"})
                  .ok());
  const std::map<std::string, StatusCode> want = {
      {"alice", kDenied},    {"bob", kDenied},     {"mgr-east", kDenied},
      {"mgr-west", kDenied}, {"admin", kDenied},   {"svc-admin", kDenied},
      {"ingest", kOk},       {"unknown", kUnauth}, {"missing", kUnauth}};
  for (const char* caller : kCallers) {
    grpc::ClientContext context;
    Authorize(&context, caller);
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = Proposal(absl::StrCat("sub-", caller), "opp-s");
    v1::SubmitProposalsResponse response;
    const grpc::Status s = stub_->SubmitProposals(&context, request, &response);
    EXPECT_EQ(s.error_code(), want.at(caller)) << caller << ": " << s.error_message();
    if (s.ok()) {
      ASSERT_EQ(response.results_size(), 1);
      EXPECT_EQ(response.results(0).outcome(), v1::SUBMIT_OUTCOME_STORED);
    }
  }
  EXPECT_EQ(CountAudit("denied"), 6);
  EXPECT_EQ(CountAudit("unauthenticated"), 2);
}

TEST_F(ReviewGrpcTest, ListPendingIsScopedToTheCaller) {
  const std::string id = NewPending();
  // What each caller sees without a filter (-1: refused), and whether the opp filter is allowed.
  const std::map<std::string, std::pair<int, StatusCode>> want = {
      {"alice", {1, kOk}},        {"bob", {0, kDenied}},      {"mgr-east", {1, kOk}},
      {"mgr-west", {0, kDenied}}, {"admin", {1, kOk}},        {"svc-admin", {1, kOk}},
      {"ingest", {-1, kDenied}},  {"unknown", {-1, kUnauth}}, {"missing", {-1, kUnauth}}};
  for (const char* caller : kCallers) {
    const auto& [count, filtered_code] = want.at(caller);
    {
      grpc::ClientContext context;
      Authorize(&context, caller);
      v1::ListPendingResponse response;
      const grpc::Status s = stub_->ListPending(&context, v1::ListPendingRequest(), &response);
      if (count < 0) {
        EXPECT_EQ(s.error_code(), filtered_code) << caller;
      } else {
        ASSERT_TRUE(s.ok()) << caller << ": " << s.error_message();
        ASSERT_EQ(response.proposals_size(), count) << caller;
        if (count == 1) {
          EXPECT_EQ(response.proposals(0).proposal().proposal_id(), id);
        }
      }
    }
    grpc::ClientContext context;
    Authorize(&context, caller);
    v1::ListPendingRequest request;
    request.set_opportunity_id("opp-0");
    v1::ListPendingResponse response;
    const grpc::Status s = stub_->ListPending(&context, request, &response);
    EXPECT_EQ(s.error_code(), filtered_code) << caller << ": " << s.error_message();
    if (s.ok()) {
      EXPECT_EQ(response.proposals_size(), 1) << caller;
    }
  }
}

TEST_F(ReviewGrpcTest, GetProposalFollowsOwnership) {
  const std::string id = NewPending();
  const std::map<std::string, StatusCode> want = {
      {"alice", kOk},        {"bob", kDenied},     {"mgr-east", kOk},
      {"mgr-west", kDenied}, {"admin", kOk},       {"svc-admin", kOk},
      {"ingest", kDenied},   {"unknown", kUnauth}, {"missing", kUnauth}};
  for (const char* caller : kCallers) {
    grpc::ClientContext context;
    Authorize(&context, caller);
    v1::GetProposalRequest request;
    request.set_proposal_id(id);
    v1::ReviewedProposal response;
    const grpc::Status s = stub_->GetProposal(&context, request, &response);
    EXPECT_EQ(s.error_code(), want.at(caller)) << caller << ": " << s.error_message();
    if (s.ok()) {
      EXPECT_EQ(response.proposal().proposal_id(), id);
    }
  }
  grpc::ClientContext context;
  Authorize(&context, "admin");
  v1::GetProposalRequest missing;
  missing.set_proposal_id("nope");
  v1::ReviewedProposal response;
  EXPECT_EQ(stub_->GetProposal(&context, missing, &response).error_code(), StatusCode::NOT_FOUND);
}

TEST_F(ReviewGrpcTest, ConfirmAndRejectOnlyByHumansInScope) {
  const std::map<std::string, StatusCode> want = {
      {"alice", kOk},        {"bob", kDenied},     {"mgr-east", kOk},
      {"mgr-west", kDenied}, {"admin", kOk},       {"svc-admin", kDenied},
      {"ingest", kDenied},   {"unknown", kUnauth}, {"missing", kUnauth}};
  int confirmed = 0;
  int denied = 0;
  for (const bool confirm : {true, false}) {
    for (const char* caller : kCallers) {
      const std::string id = NewPending();
      grpc::ClientContext context;
      Authorize(&context, caller);
      v1::ReviewedProposal response;
      grpc::Status s;
      if (confirm) {
        v1::ConfirmProposalRequest request;
        request.set_proposal_id(id);
        request.set_version(1);
        s = stub_->ConfirmProposal(&context, request, &response);
      } else {
        v1::RejectProposalRequest request;
        request.set_proposal_id(id);
        request.set_version(1);
        request.set_reason("not a real order");
        s = stub_->RejectProposal(&context, request, &response);
      }
      EXPECT_EQ(s.error_code(), want.at(caller))
          << (confirm ? "confirm " : "reject ") << caller << ": " << s.error_message();
      denied += s.error_code() == kDenied;
      if (s.ok()) {
        EXPECT_EQ(response.decided_by(), caller);
        EXPECT_EQ(response.status(),
                  confirm ? v1::PROPOSAL_STATUS_CONFIRMED : v1::PROPOSAL_STATUS_REJECTED);
        confirmed += confirm;
      } else {
        absl::StatusOr<v1::ReviewedProposal> untouched = store_->Get(id);
        ASSERT_TRUE(untouched.ok());
        EXPECT_EQ(untouched->status(), v1::PROPOSAL_STATUS_PENDING) << caller;
      }
    }
  }
  EXPECT_EQ(OutboxLength(), confirmed);
  EXPECT_EQ(confirmed, 3);
  EXPECT_EQ(CountAudit("denied"), denied);
  EXPECT_EQ(CountAudit("unauthenticated"), 4);
}

TEST_F(ReviewGrpcTest, DecisionErrorCodesCrossTheWire) {
  const std::string id = NewPending();
  auto confirm = [&](int64_t version) {
    grpc::ClientContext context;
    Authorize(&context, "alice");
    v1::ConfirmProposalRequest request;
    request.set_proposal_id(id);
    request.set_version(version);
    v1::ReviewedProposal response;
    return stub_->ConfirmProposal(&context, request, &response);
  };
  EXPECT_EQ(confirm(5).error_code(), StatusCode::ABORTED);
  EXPECT_TRUE(confirm(1).ok());
  EXPECT_TRUE(confirm(1).ok());  // replay
  EXPECT_EQ(OutboxLength(), 1);
  grpc::ClientContext context;
  Authorize(&context, "alice");
  v1::RejectProposalRequest reject;
  reject.set_proposal_id(id);
  reject.set_version(1);
  v1::ReviewedProposal response;
  EXPECT_EQ(stub_->RejectProposal(&context, reject, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);  // no reason
  grpc::ClientContext context2;
  Authorize(&context2, "alice");
  reject.set_reason("changed my mind");
  EXPECT_EQ(stub_->RejectProposal(&context2, reject, &response).error_code(),
            StatusCode::FAILED_PRECONDITION);
}

TEST_F(ReviewGrpcTest, WatchIsAuthorizedButNotImplementedYet) {
  const std::map<std::string, StatusCode> want = {
      {"alice", StatusCode::UNIMPLEMENTED}, {"ingest", kDenied}, {"unknown", kUnauth}};
  for (const auto& [caller, code] : want) {
    grpc::ClientContext context;
    Authorize(&context, caller);
    std::unique_ptr<grpc::ClientReader<v1::ProposalUpdate>> reader =
        stub_->WatchProposals(&context, v1::WatchProposalsRequest());
    v1::ProposalUpdate update;
    EXPECT_FALSE(reader->Read(&update));
    EXPECT_EQ(reader->Finish().error_code(), code) << caller;
  }
}

TEST_F(ReviewGrpcTest, HealthServiceAnswersServing) {
  grpc::GenericStub generic(channel_);
  // grpc.health.v1.HealthCheckRequest{service: ""} is the empty message; the response
  // HealthCheckResponse{status: SERVING (1)} is the two bytes 08 01.
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) { done.set_value(s); });
  const grpc::Status s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace autostage::review
