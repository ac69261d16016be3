// The authorization table of docs/api.md, cell by cell, over gRPC against a real redis-server
// (label `redis`): every principal kind × every method → the exact status code, and every
// refusal in the audit stream (scenario 14).
//
// The target is always an opportunity of alice (rep, team east), so the rows read:
// rep own (alice), rep other's (bob), manager own team (mgr-east), other team (mgr-west),
// admin (human), other service (svc-admin: a service admin), ingest, unknown token, no token.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"
#include "services/review/review_test_harness.h"

namespace autostage::review {
namespace {

using grpc::StatusCode;
using harness::Harness;

constexpr StatusCode kOk = StatusCode::OK;
constexpr StatusCode kDen = StatusCode::PERMISSION_DENIED;
constexpr StatusCode kUna = StatusCode::UNAUTHENTICATED;

enum Method { kSubmit, kList, kListOpp, kGet, kConfirm, kReject, kWatch, kWatchOpp, kMethods };
const char* const kMethodNames[] = {"SubmitProposals", "ListPending",     "ListPending",
                                    "GetProposal",     "ConfirmProposal", "RejectProposal",
                                    "WatchProposals",  "WatchProposals"};

struct Row {
  const char* caller;
  StatusCode codes[kMethods];
};

// Columns: Submit, List (no filter), List (alice's opp), Get, Confirm, Reject, Watch (no
// filter), Watch (alice's opp).
const Row kTable[] = {
    {"alice", {kDen, kOk, kOk, kOk, kOk, kOk, kOk, kOk}},
    {"bob", {kDen, kOk, kDen, kDen, kDen, kDen, kOk, kDen}},
    {"mgr-east", {kDen, kOk, kOk, kOk, kOk, kOk, kOk, kOk}},
    {"mgr-west", {kDen, kOk, kDen, kDen, kDen, kDen, kOk, kDen}},
    {"admin", {kDen, kOk, kOk, kOk, kOk, kOk, kOk, kOk}},
    {"svc-admin", {kDen, kOk, kOk, kOk, kDen, kDen, kOk, kOk}},
    {"ingest", {kOk, kDen, kDen, kDen, kDen, kDen, kDen, kDen}},
    {"unknown", {kUna, kUna, kUna, kUna, kUna, kUna, kUna, kUna}},
    {"missing", {kUna, kUna, kUna, kUna, kUna, kUna, kUna, kUna}},
};

class AuthzTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<Harness>();
    ASSERT_TRUE(h_->status().ok()) << h_->status();
  }

  // One call of `method` by `caller` against a fresh pending proposal of alice's.
  StatusCode Call(const std::string& caller, Method method) {
    const std::string id = h_->NewPending("alice", "east");
    absl::StatusOr<std::string> opp = h_->store->OpportunityOf(id);
    EXPECT_TRUE(opp.ok());
    grpc::ClientContext context;
    Harness::Authorize(&context, caller);
    v1::ReviewService::Stub& stub = *h_->stub;
    switch (method) {
      case kSubmit: {
        v1::SubmitProposalsRequest request;
        *request.add_proposals() = Harness::Proposal(id + "-again", *opp, "negotiation");
        v1::SubmitProposalsResponse response;
        return stub.SubmitProposals(&context, request, &response).error_code();
      }
      case kList:
      case kListOpp: {
        v1::ListPendingRequest request;
        if (method == kListOpp) request.set_opportunity_id(*opp);
        v1::ListPendingResponse response;
        const grpc::Status s = stub.ListPending(&context, request, &response);
        if (s.ok()) {
          // Scope: only what the caller may see comes back.
          for (const v1::ReviewedProposal& p : response.proposals()) {
            EXPECT_TRUE(caller == "alice" || caller == "mgr-east" || caller == "admin" ||
                        caller == "svc-admin")
                << caller << " saw " << p.proposal().proposal_id();
          }
        }
        return s.error_code();
      }
      case kGet: {
        v1::GetProposalRequest request;
        request.set_proposal_id(id);
        v1::ReviewedProposal response;
        return stub.GetProposal(&context, request, &response).error_code();
      }
      case kConfirm: {
        v1::ConfirmProposalRequest request;
        request.set_proposal_id(id);
        request.set_version(1);
        v1::ReviewedProposal response;
        return stub.ConfirmProposal(&context, request, &response).error_code();
      }
      case kReject: {
        v1::RejectProposalRequest request;
        request.set_proposal_id(id);
        request.set_version(1);
        request.set_reason("not a buying signal");
        v1::ReviewedProposal response;
        return stub.RejectProposal(&context, request, &response).error_code();
      }
      case kWatch:
      case kWatchOpp: {
        v1::WatchProposalsRequest request;
        if (method == kWatchOpp) request.set_opportunity_id(*opp);
        auto reader = stub.WatchProposals(&context, request);
        reader->WaitForInitialMetadata();
        // An open stream means OK; a refused one ends with its code. Tell them apart by
        // whether the hub holds a subscription for it.
        const bool open = h_->hub->subscribers() > 0;
        if (open) {
          context.TryCancel();
          reader->Finish();
          // Wait for the server to let go, so the next cell starts from zero watchers.
          EXPECT_TRUE(autostage::testing::WaitFor([&] { return h_->hub->subscribers() == 0; },
                                                  absl::Seconds(10))
                          .ok());
          return kOk;
        }
        v1::ProposalUpdate update;
        while (reader->Read(&update)) {
        }
        return reader->Finish().error_code();
      }
      case kMethods:
        break;
    }
    return StatusCode::INTERNAL;
  }

  std::unique_ptr<Harness> h_;
};

TEST_F(AuthzTableTest, EveryPrincipalKindTimesEveryMethod) {
  std::map<std::string, int> denied;           // by method name
  std::map<std::string, int> unauthenticated;  // by method name
  for (const Row& row : kTable) {
    for (int m = 0; m < kMethods; ++m) {
      const StatusCode got = Call(row.caller, static_cast<Method>(m));
      EXPECT_EQ(got, row.codes[m])
          << row.caller << " × " << kMethodNames[m] << " (column " << m << ")";
      denied[kMethodNames[m]] += row.codes[m] == kDen;
      unauthenticated[kMethodNames[m]] += row.codes[m] == kUna;
    }
  }
  // Scenario 14: each refusal is one audit entry naming the method.
  for (const auto& [method, n] : denied) {
    EXPECT_EQ(h_->CountAudit("denied", method), n) << method;
  }
  for (const auto& [method, n] : unauthenticated) {
    EXPECT_EQ(h_->CountAudit("unauthenticated", method), n) << method;
  }
  EXPECT_EQ(h_->Metric("autostage_review_denied_total", {{"method", "ConfirmProposal"}}),
            denied["ConfirmProposal"]);
  EXPECT_EQ(h_->Metric("autostage_review_unauthenticated_total", {{"method", "WatchProposals"}}),
            unauthenticated["WatchProposals"]);
}

// Scenario 15: a token removed from the token file is refused by the very next call after the
// reload (SIGHUP in the binary), and the refusal is audited; other tokens keep working.
TEST_F(AuthzTableTest, RevokedTokenIsRefusedRightAfterReload) {
  const std::string id = h_->NewPending("bob", "west");
  auto get_as = [&](const std::string& caller) {
    grpc::ClientContext context;
    Harness::Authorize(&context, caller);
    v1::GetProposalRequest request;
    request.set_proposal_id(id);
    v1::ReviewedProposal response;
    return h_->stub->GetProposal(&context, request, &response).error_code();
  };
  ASSERT_EQ(get_as("bob"), kOk);
  std::string without_bob;
  for (absl::string_view line : absl::StrSplit(harness::TokenYaml(), '\n')) {
    if (!line.empty() && line.find("id: bob,") == absl::string_view::npos) {
      absl::StrAppend(&without_bob, line, "\n");
    }
  }
  absl::StatusOr<TokenTable> revoked = TokenTable::Parse(without_bob);
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  h_->tokens.Replace(*revoked);
  EXPECT_EQ(get_as("bob"), kUna);
  EXPECT_EQ(get_as("admin"), kOk);
  EXPECT_EQ(h_->CountAudit("unauthenticated", "GetProposal"), 1);
}

}  // namespace
}  // namespace autostage::review
