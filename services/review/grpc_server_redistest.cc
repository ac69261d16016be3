// The review gRPC server in-process on 127.0.0.1:0 against a real redis-server (label
// `redis`): every method's authorization table for rep / manager / admin / service / ingest /
// unknown / missing tokens, auditing of refusals, health (and its Redis probe), TLS and mutual
// TLS, metrics, and failure scenarios 10 (retried submit) and 11 (double-click confirm).
#include <grpcpp/generic/generic_stub.h>

#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_client.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/review/grpc_server.h"
#include "services/review/review_test_harness.h"

namespace autostage::review {
namespace {

using ::autostage::testing::WaitFor;
using grpc::StatusCode;
using harness::Harness;
using harness::HarnessOptions;
using harness::kCallers;

constexpr StatusCode kOk = StatusCode::OK;
constexpr StatusCode kDenied = StatusCode::PERMISSION_DENIED;
constexpr StatusCode kUnauth = StatusCode::UNAUTHENTICATED;

class ReviewGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override { Init({.with_hub = false}); }

  void Init(HarnessOptions options) {
    h_ = std::make_unique<Harness>(std::move(options));
    ASSERT_TRUE(h_->status().ok()) << h_->status();
    store_ = h_->store.get();
    stub_ = h_->stub.get();
    channel_ = h_->channel;
  }

  std::string NewPending() { return h_->NewPending(); }
  static v1::Proposal Proposal(const std::string& id, const std::string& opp) {
    return Harness::Proposal(id, opp);
  }
  static void Authorize(grpc::ClientContext* context, const std::string& caller) {
    Harness::Authorize(context, caller);
  }
  int CountAudit(const std::string& action) { return h_->CountAudit(action); }
  int64_t OutboxLength() { return h_->OutboxLength(); }

  std::unique_ptr<Harness> h_;
  ProposalStore* store_ = nullptr;
  v1::ReviewService::Stub* stub_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
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
  // Rejecting what is confirmed, at its current version: a different decision.
  absl::StatusOr<v1::ReviewedProposal> confirmed = store_->Get(id);
  ASSERT_TRUE(confirmed.ok());
  reject.set_version(confirmed->version());
  grpc::ClientContext context2;
  Authorize(&context2, "alice");
  reject.set_reason("changed my mind");
  EXPECT_EQ(stub_->RejectProposal(&context2, reject, &response).error_code(),
            StatusCode::FAILED_PRECONDITION);
}

// Without a WatchHub the method is authorized, then UNIMPLEMENTED.
TEST_F(ReviewGrpcTest, WatchWithoutHubIsUnimplemented) {
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

// Tests that build the harness themselves (Init with their options).
class ReviewServerTest : public ReviewGrpcTest {
 protected:
  void SetUp() override {}
};

// grpc.health.v1.Health/Check for service "": 1 SERVING, 2 NOT_SERVING, -1 call failed.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub generic(channel);
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                    &response, [&](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes.size() == 2 && bytes[0] == '\x08' ? bytes[1] : -1;
}

TEST_F(ReviewServerTest, HealthFollowsRedisThroughTheProbe) {
  HarnessOptions options;
  options.probe_redis = true;
  options.server.probe_period = absl::Milliseconds(50);
  Init(options);
  EXPECT_EQ(HealthStatus(channel_), 1);
  EXPECT_TRUE(h_->server->Health().ok());
  NewPending();
  NewPending();
  // The probe also refreshes the gauges.
  EXPECT_TRUE(WaitFor([&] { return h_->Metric("autostage_review_pending_proposals") == 2; },
                      absl::Seconds(10))
                  .ok());
  EXPECT_EQ(h_->Metric("autostage_review_redis_up"), 1);

  h_->redis->Kill();
  EXPECT_TRUE(WaitFor([&] { return HealthStatus(channel_) == 2; }, absl::Seconds(10)).ok());
  EXPECT_TRUE(absl::IsUnavailable(h_->server->Health()));
  EXPECT_EQ(h_->Metric("autostage_review_redis_up"), 0);

  ASSERT_TRUE(h_->redis->Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return HealthStatus(channel_) == 1; }, absl::Seconds(10)).ok());
  EXPECT_TRUE(h_->server->Health().ok());

  h_->server->Shutdown(absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(h_->server->Health()));
}

// Scenario 10: the first SubmitProposals was stored but its answer lost (client timeout);
// the retry with the same ids gets the same acknowledgement and stores nothing twice.
TEST_F(ReviewServerTest, RetriedSubmitIsAcknowledgedOnce) {
  Init({.with_hub = false});
  ASSERT_TRUE(store_
                  ->PutOpportunity({.opportunity_id = "opp-r",
                                    .pipeline = "b2b_standard",
                                    .stage = "prospecting",
                                    .owner_id = "alice",
                                    .team_id = "east"})
                  .ok());
  v1::SubmitProposalsRequest request;
  *request.add_proposals() = Proposal("r-1", "opp-r");
  *request.add_proposals() = Proposal("r-2", "opp-r");  // same (opp, stage): merges into r-1
  auto submit = [&](v1::SubmitProposalsResponse* response) {
    grpc::ClientContext context;
    Authorize(&context, "ingest");
    return stub_->SubmitProposals(&context, request, response);
  };
  v1::SubmitProposalsResponse lost;
  ASSERT_TRUE(submit(&lost).ok());  // the client never sees this answer
  ASSERT_EQ(lost.results_size(), 2);
  EXPECT_EQ(lost.results(0).outcome(), v1::SUBMIT_OUTCOME_STORED);
  EXPECT_EQ(lost.results(1).outcome(), v1::SUBMIT_OUTCOME_MERGED);
  absl::StatusOr<v1::ReviewedProposal> before = store_->Get("r-1");
  ASSERT_TRUE(before.ok());

  for (int attempt = 0; attempt < 2; ++attempt) {
    v1::SubmitProposalsResponse retried;
    ASSERT_TRUE(submit(&retried).ok());
    ASSERT_EQ(retried.results_size(), 2);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(retried.results(i).outcome(), v1::SUBMIT_OUTCOME_DUPLICATE) << i;
      EXPECT_EQ(retried.results(i).stored_as(), "r-1") << i;
    }
  }
  absl::StatusOr<v1::ReviewedProposal> after = store_->Get("r-1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->version(), before->version());
  EXPECT_EQ(after->submissions(), before->submissions());
  EXPECT_EQ(after->proposal().evidence_size(), 2);
  grpc::ClientContext context;
  Authorize(&context, "admin");
  v1::ListPendingResponse pending;
  ASSERT_TRUE(stub_->ListPending(&context, v1::ListPendingRequest(), &pending).ok());
  EXPECT_EQ(pending.proposals_size(), 1);
  EXPECT_EQ(h_->Metric("autostage_review_proposals_total", {{"outcome", "duplicate"}}), 4);
  EXPECT_EQ(h_->Metric("autostage_review_proposals_total", {{"outcome", "stored"}}), 1);
  EXPECT_EQ(h_->Metric("autostage_review_proposals_received_total"), 6);
}

// Scenario 11: a double-clicked confirm (two concurrent calls, then a late third) gets the
// same answer every time and writes one outbox entry.
TEST_F(ReviewServerTest, DoubleClickConfirmAppliesOnce) {
  Init({.with_hub = false});
  const std::string id = NewPending();
  auto confirm = [&](v1::ReviewedProposal* out) {
    grpc::ClientContext context;
    Authorize(&context, "alice");
    v1::ConfirmProposalRequest request;
    request.set_proposal_id(id);
    request.set_version(1);
    return stub_->ConfirmProposal(&context, request, out);
  };
  v1::ReviewedProposal a, b, c;
  grpc::Status sa, sb;
  std::thread first([&] { sa = confirm(&a); });
  std::thread second([&] { sb = confirm(&b); });
  first.join();
  second.join();
  ASSERT_TRUE(sa.ok()) << sa.error_message();
  ASSERT_TRUE(sb.ok()) << sb.error_message();
  ASSERT_TRUE(confirm(&c).ok());
  for (const v1::ReviewedProposal* r : {&a, &b, &c}) {
    EXPECT_EQ(r->status(), v1::PROPOSAL_STATUS_CONFIRMED);
    EXPECT_EQ(r->change_id(), "sc-" + id);
    EXPECT_EQ(r->version(), a.version());
    EXPECT_EQ(r->decided_at().seconds(), a.decided_at().seconds());
  }
  EXPECT_EQ(OutboxLength(), 1);
}

TEST_F(ReviewServerTest, ConfirmMovesTheRightSeries) {
  Init({.with_hub = false});
  const std::string id = NewPending();
  auto confirm = [&](const std::string& caller) {
    grpc::ClientContext context;
    Authorize(&context, caller);
    v1::ConfirmProposalRequest request;
    request.set_proposal_id(id);
    request.set_version(1);
    v1::ReviewedProposal response;
    return stub_->ConfirmProposal(&context, request, &response).error_code();
  };
  EXPECT_EQ(confirm("bob"), kDenied);
  EXPECT_EQ(confirm("unknown"), kUnauth);
  EXPECT_EQ(confirm("alice"), kOk);
  EXPECT_EQ(confirm("alice"), kOk);  // replay: not a second decision
  const std::string confirm_series = "autostage_review_decisions_total";
  EXPECT_EQ(h_->Metric(confirm_series, {{"decision", "confirm"}, {"to_stage", "proposal"}}), 1);
  EXPECT_EQ(h_->Metric(confirm_series, {{"decision", "reject"}}), 0);
  EXPECT_EQ(h_->Metric("autostage_review_rule_decisions_total",
                       {{"rule_id", "rule-quote"}, {"decision", "confirm"}}),
            1);
  EXPECT_EQ(h_->Metric("autostage_review_denied_total", {{"method", "ConfirmProposal"}}), 1);
  EXPECT_EQ(h_->Metric("autostage_review_unauthenticated_total", {{"method", "ConfirmProposal"}}),
            1);
  const std::string rpc = "autostage_review_grpc_request_duration_seconds";
  EXPECT_EQ(h_->Metric(rpc, {{"method", "ConfirmProposal"}, {"code", "OK"}}), 2);
  EXPECT_EQ(h_->Metric(rpc, {{"method", "ConfirmProposal"}, {"code", "PERMISSION_DENIED"}}), 1);
  EXPECT_EQ(h_->Metric(rpc, {{"method", "ConfirmProposal"}, {"code", "UNAUTHENTICATED"}}), 1);
}

// --- TLS ------------------------------------------------------------------------------------

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with the
// openssl CLI into a temporary directory (no certificates are committed).
class Pki {
 public:
  static absl::StatusOr<std::unique_ptr<Pki>> Make() {
    absl::StatusOr<std::string> openssl =
        autostage::testing::FindExecutable("openssl", {"/usr/bin"});
    if (!openssl.ok()) return openssl.status();
    absl::StatusOr<autostage::testing::TempDir> dir =
        autostage::testing::TempDir::Create("review-pki");
    if (!dir.ok()) return dir.status();
    auto pki = std::unique_ptr<Pki>(new Pki(*openssl, *std::move(dir)));
    const std::string d = pki->dir_.path() + "/";
    {
      std::ofstream ext(d + "server.ext");
      ext << "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
      std::ofstream cext(d + "client.ext");
      cext << "extendedKeyUsage=clientAuth\n";
    }
    const std::vector<std::vector<std::string>> steps = {
        {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", d + "ca.key", "-out", d + "ca.pem", "-days", "2", "-subj", "/CN=test-ca"},
        {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "server.key", "-out", d + "server.csr", "-subj", "/CN=localhost"},
        {"x509", "-req", "-in", d + "server.csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
         "-CAcreateserial", "-out", d + "server.pem", "-days", "2", "-extfile", d + "server.ext"},
        {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         d + "client.key", "-out", d + "client.csr", "-subj", "/CN=review-client"},
        {"x509", "-req", "-in", d + "client.csr", "-CA", d + "ca.pem", "-CAkey", d + "ca.key",
         "-CAcreateserial", "-out", d + "client.pem", "-days", "2", "-extfile", d + "client.ext"},
    };
    for (const std::vector<std::string>& step : steps) {
      std::vector<std::string> argv = {*openssl};
      argv.insert(argv.end(), step.begin(), step.end());
      absl::StatusOr<std::unique_ptr<autostage::testing::Subprocess>> p =
          autostage::testing::Subprocess::Spawn({.argv = argv, .output_file = d + "openssl.log"});
      if (!p.ok()) return p.status();
      absl::StatusOr<autostage::testing::ExitInfo> exit = (*p)->Wait(absl::Seconds(30));
      if (!exit.ok()) return exit.status();
      if (!exit->success()) {
        return absl::InternalError(absl::StrCat("openssl ", step[0], ": ", exit->ToString()));
      }
    }
    return pki;
  }

  std::string File(const std::string& name) const { return dir_.File(name); }
  std::string Read(const std::string& name) const {
    std::ifstream in(File(name));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // TLS channel credentials trusting the test CA, with the client certificate if asked.
  std::shared_ptr<grpc::ChannelCredentials> Credentials(bool client_cert) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Read("ca.pem");
    if (client_cert) {
      ssl.pem_private_key = Read("client.key");
      ssl.pem_cert_chain = Read("client.pem");
    }
    return grpc::SslCredentials(ssl);
  }

 private:
  Pki(std::string openssl, autostage::testing::TempDir dir)
      : openssl_(std::move(openssl)), dir_(std::move(dir)) {}
  std::string openssl_;
  autostage::testing::TempDir dir_;
};

// ListPending as alice over `credentials`; the call's code.
StatusCode ListAs(const std::string& target,
                  const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
  auto stub = v1::ReviewService::NewStub(grpc::CreateChannel(target, credentials));
  grpc::ClientContext context;
  Harness::Authorize(&context, "alice", 5);
  v1::ListPendingResponse response;
  return stub->ListPending(&context, v1::ListPendingRequest(), &response).error_code();
}

class ReviewTlsTest : public ReviewGrpcTest {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Pki>> pki = Pki::Make();
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
  }
  std::unique_ptr<Pki> pki_;
};

TEST_F(ReviewTlsTest, TlsRefusesPlaintextAndServesTheRightCa) {
  HarnessOptions options{.with_hub = false};
  options.server.tls_cert_file = pki_->File("server.pem");
  options.server.tls_key_file = pki_->File("server.key");
  Init(options);
  const std::string target = h_->target;
  EXPECT_EQ(ListAs(target, grpc::InsecureChannelCredentials()), StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListAs(target, pki_->Credentials(false)), kOk);
  EXPECT_EQ(ListAs(target, pki_->Credentials(true)), kOk);
  // A client that trusts another CA refuses the server.
  grpc::SslCredentialsOptions other;
  other.pem_root_certs = pki_->Read("client.pem");  // not a CA
  EXPECT_EQ(ListAs(target, grpc::SslCredentials(other)), StatusCode::UNAVAILABLE);
}

TEST_F(ReviewTlsTest, MutualTlsRequiresAClientCertificate) {
  HarnessOptions options{.with_hub = false};
  options.server.tls_cert_file = pki_->File("server.pem");
  options.server.tls_key_file = pki_->File("server.key");
  options.server.tls_client_ca_file = pki_->File("ca.pem");
  options.server.require_client_cert = true;
  Init(options);
  const std::string target = h_->target;
  EXPECT_EQ(ListAs(target, grpc::InsecureChannelCredentials()), StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListAs(target, pki_->Credentials(false)), StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListAs(target, pki_->Credentials(true)), kOk);
}

TEST_F(ReviewTlsTest, IncompleteTlsSetupsAreRefused) {
  ServerOptions o;
  o.tls_cert_file = pki_->File("server.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(MakeServerCredentials(o).status()));
  o.tls_key_file = pki_->File("server.key");
  o.require_client_cert = true;
  EXPECT_TRUE(absl::IsInvalidArgument(MakeServerCredentials(o).status()));
  o.tls_client_ca_file = pki_->File("nope.pem");
  EXPECT_TRUE(absl::IsNotFound(MakeServerCredentials(o).status()));
  o.tls_client_ca_file = pki_->File("ca.pem");
  EXPECT_TRUE(MakeServerCredentials(o).ok());
  ServerOptions plain;
  plain.tls_client_ca_file = pki_->File("ca.pem");
  EXPECT_TRUE(absl::IsInvalidArgument(MakeServerCredentials(plain).status()));
}

}  // namespace
}  // namespace autostage::review
