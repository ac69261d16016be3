// WatchHub and WatchProposals against a real redis-server (label `redis`). Entries are appended
// to the updates stream by the test itself with the field names of contract C1, so these
// tests do not depend on which store scripts emit them; updates the store emits on its own
// (for the proposals the tests create) are skipped by id.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"
#include "services/review/review_test_harness.h"
#include "services/review/watch_hub.h"

namespace autostage::review {
namespace {

using ::autostage::testing::WaitFor;
using harness::Harness;
using harness::HarnessOptions;

constexpr char kUpdatesKey[] = "autostage:{review}:updates";

struct Change {
  std::string kind = "new";
  std::string proposal_id;
  std::string opportunity_id;
  std::string owner_id;
  std::string team_id;
  std::string to_stage = "proposal";
  std::string status = "pending";
  int64_t version = 1;
};

// XADDs one C1 entry; returns its id.
std::string Append(Harness& h, const Change& c) {
  redis::RedisClient client(h.redis_options);
  absl::StatusOr<redis::Reply> id = client.Command(
      "XADD", kUpdatesKey, "*", "kind", c.kind, "proposal_id", c.proposal_id, "opportunity_id",
      c.opportunity_id, "owner_id", c.owner_id, "team_id", c.team_id, "status", c.status, "version",
      c.version, "to_stage", c.to_stage, "source", "email");
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? id->str() : "";
}

// XADDs one batch entry (as SubmitProposals' script writes it: `updates` = MessagePack of the
// C1 values of each change, packed by Redis's own cmsgpack); returns its id. `raw` replaces
// the packed value when not empty (a malformed entry).
std::string AppendBatch(Harness& h, const std::vector<Change>& changes, std::string raw = "") {
  std::vector<std::string> cmd = {
      "EVAL",
      "local u = ARGV[1] ~= '' and ARGV[1] or cmsgpack.pack({unpack(ARGV, 2)}) "
      "return redis.call('XADD', KEYS[1], '*', 'kind', 'batch', 'updates', u)",
      "1", kUpdatesKey, raw};
  for (const Change& c : changes) {
    for (const std::string& v :
         {c.kind, c.proposal_id, c.opportunity_id, c.owner_id, c.team_id, c.status,
          absl::StrCat(c.version), c.to_stage, std::string("email")}) {
      cmd.push_back(v);
    }
  }
  redis::RedisClient client(h.redis_options);
  absl::StatusOr<redis::Reply> id = client.Command(cmd);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? id->str() : "";
}

// A stream id "ms-seq" as a comparable pair.
std::pair<uint64_t, uint64_t> ParseId(const std::string& id) {
  std::pair<uint64_t, uint64_t> out{0, 0};
  const size_t dash = id.find('-');
  if (dash == std::string::npos) return out;
  if (!absl::SimpleAtoi(id.substr(0, dash), &out.first) ||
      !absl::SimpleAtoi(id.substr(dash + 1), &out.second)) {
    return {0, 0};
  }
  return out;
}

// Waits until the hub has read (and so dispatched) entry `id`.
void WaitRead(Harness& h, const std::string& id) {
  ASSERT_TRUE(
      WaitFor([&] { return ParseId(h.hub->last_id()) >= ParseId(id); }, absl::Seconds(10)).ok())
      << "hub did not read " << id << ", at " << h.hub->last_id();
}

// The proposal ids of every update queued for `sub` right now (test entries only: "w-").
std::vector<std::string> Drain(Subscription& sub) {
  std::vector<std::string> ids;
  while (true) {
    absl::StatusOr<v1::ProposalUpdate> u = sub.Next(absl::ZeroDuration());
    if (!u.ok()) break;
    const std::string& id = u->proposal().proposal().proposal_id();
    if (id.rfind("w-", 0) == 0) ids.push_back(id);
  }
  return ids;
}

class WatchHubTest : public ::testing::Test {
 protected:
  void Init(HarnessOptions options = {}) {
    h_ = std::make_unique<Harness>(std::move(options));
    ASSERT_TRUE(h_->status().ok()) << h_->status();
    ASSERT_TRUE(WaitFor([&] { return h_->hub->tailing(); }, absl::Seconds(10)).ok());
  }
  std::shared_ptr<Subscription> Subscribe(WatchFilter f) {
    absl::StatusOr<std::shared_ptr<Subscription>> s = h_->hub->Subscribe(std::move(f));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }
  // The watchers the fan-out tests use: alice's, team east's, everything, opportunity
  // w-opp-b, stage negotiation.
  struct Watchers {
    std::shared_ptr<Subscription> alice, east, all, opp_b, to_neg;
  };
  Watchers SubscribeScopes() {
    using Scope = WatchFilter::Scope;
    return {Subscribe({Scope::kOwner, "alice", "", ""}), Subscribe({Scope::kTeam, "east", "", ""}),
            Subscribe({Scope::kAll, "", "", ""}), Subscribe({Scope::kAll, "", "w-opp-b", ""}),
            Subscribe({Scope::kAll, "", "", "negotiation"})};
  }
  std::unique_ptr<Harness> h_;
};

TEST_F(WatchHubTest, FansOutByScopeAndFilters) {
  Init();
  using Scope = WatchFilter::Scope;
  const auto [alice, east, all, opp_b, to_neg] = SubscribeScopes();
  auto bob_east = Subscribe({Scope::kOwner, "bob", "w-opp-a", ""});  // bob's, but not opp a
  ASSERT_EQ(h_->hub->subscribers(), 6);
  Append(
      *h_,
      {.proposal_id = "w-a", .opportunity_id = "w-opp-a", .owner_id = "alice", .team_id = "east"});
  Append(*h_, {.kind = "merged",
               .proposal_id = "w-b",
               .opportunity_id = "w-opp-b",
               .owner_id = "bob",
               .team_id = "west",
               .to_stage = "negotiation"});
  const std::string last = Append(*h_, {.kind = "decided",
                                        .proposal_id = "w-c",
                                        .opportunity_id = "w-opp-c",
                                        .owner_id = "carol",
                                        .team_id = "east",
                                        .status = "confirmed"});
  WaitRead(*h_, last);
  EXPECT_EQ(Drain(*alice), (std::vector<std::string>{"w-a"}));
  EXPECT_EQ(Drain(*east), (std::vector<std::string>{"w-a", "w-c"}));
  EXPECT_EQ(Drain(*all), (std::vector<std::string>{"w-a", "w-b", "w-c"}));
  EXPECT_EQ(Drain(*opp_b), (std::vector<std::string>{"w-b"}));
  EXPECT_EQ(Drain(*to_neg), (std::vector<std::string>{"w-b"}));
  EXPECT_TRUE(Drain(*bob_east).empty());
}

// A batch entry (one per SubmitProposals call) reaches each watcher as the same updates, in
// the same order, as one entry per change would; a malformed one is skipped.
TEST_F(WatchHubTest, BatchEntryFansOutEachUpdateInOrder) {
  Init();
  const auto [alice, east, all, opp_b, to_neg] = SubscribeScopes();
  AppendBatch(*h_, {{.proposal_id = "w-bad"}}, "\x93\xa1x");  // 3 elements, 1 present
  AppendBatch(
      *h_,
      {{.proposal_id = "w-a", .opportunity_id = "w-opp-a", .owner_id = "alice", .team_id = "east"},
       {.kind = "merged",
        .proposal_id = "w-b",
        .opportunity_id = "w-opp-b",
        .owner_id = "bob",
        .team_id = "west",
        .to_stage = "negotiation",
        .version = 300},
       {.proposal_id = "w-c", .opportunity_id = "w-opp-c", .owner_id = "carol", .team_id = "east"},
       {.proposal_id = "w-d",
        .opportunity_id = "w-opp-a",
        .owner_id = "alice",
        .team_id = "east"}});
  const std::string last = Append(*h_, {.kind = "decided",
                                        .proposal_id = "w-e",
                                        .opportunity_id = "w-opp-b",
                                        .owner_id = "alice",
                                        .team_id = "west",
                                        .status = "confirmed"});
  WaitRead(*h_, last);
  EXPECT_EQ(Drain(*alice), (std::vector<std::string>{"w-a", "w-d", "w-e"}));
  EXPECT_EQ(Drain(*east), (std::vector<std::string>{"w-a", "w-c", "w-d"}));
  EXPECT_EQ(Drain(*all), (std::vector<std::string>{"w-a", "w-b", "w-c", "w-d", "w-e"}));
  EXPECT_EQ(Drain(*opp_b), (std::vector<std::string>{"w-b", "w-e"}));
  EXPECT_EQ(Drain(*to_neg), (std::vector<std::string>{"w-b"}));

  // The entry's own fields when the proposal cannot be loaded, version included.
  redis::RedisClient client(h_->redis_options);
  absl::StatusOr<redis::Reply> entries = client.Command("XRANGE", kUpdatesKey, "-", "+");
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<UpdateEntry> updates;
  for (const redis::Reply& e : entries->elements()) {
    for (UpdateEntry& u : ParseUpdates(e)) {
      if (u.proposal_id.rfind("w-", 0) == 0) updates.push_back(std::move(u));
    }
  }
  ASSERT_EQ(updates.size(), 5u);
  EXPECT_EQ(updates[1].kind, "merged");
  EXPECT_EQ(updates[1].owner_id, "bob");
  EXPECT_EQ(updates[1].team_id, "west");
  EXPECT_EQ(updates[1].status, "pending");
  EXPECT_EQ(updates[1].version, 300);
  EXPECT_EQ(updates[1].to_stage, "negotiation");
  EXPECT_EQ(updates[1].source, "email");
  EXPECT_EQ(updates[0].id, updates[3].id);  // one entry
  EXPECT_NE(updates[3].id, updates[4].id);
}

TEST_F(WatchHubTest, UpdateCarriesTheStoredProposalOrTheEntry) {
  Init();
  const std::string id = h_->NewPending();  // p-0 on opp-0, alice/east
  auto sub = Subscribe({WatchFilter::Scope::kAll, "", "opp-0", ""});
  const std::string e1 = Append(*h_, {.kind = "merged",
                                      .proposal_id = id,
                                      .opportunity_id = "opp-0",
                                      .owner_id = "alice",
                                      .team_id = "east",
                                      .version = 1});
  Append(*h_, {.kind = "expired",
               .proposal_id = "gone",
               .opportunity_id = "opp-0",
               .owner_id = "alice",
               .team_id = "east",
               .status = "expired",
               .version = 7});
  // Skip updates the store emitted for p-0 itself before the test's first entry.
  v1::ProposalUpdate merged;
  do {
    absl::StatusOr<v1::ProposalUpdate> u = sub->Next(absl::Seconds(10));
    ASSERT_TRUE(u.ok()) << u.status();
    merged = *u;
  } while (merged.kind() != v1::ProposalUpdate::KIND_MERGED);
  EXPECT_EQ(merged.proposal().proposal().proposal_id(), id);
  EXPECT_EQ(merged.proposal().status(), v1::PROPOSAL_STATUS_PENDING);
  EXPECT_EQ(merged.proposal().proposal().evidence_size(), 1);  // loaded from the store
  absl::StatusOr<v1::ProposalUpdate> expired = sub->Next(absl::Seconds(10));
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(expired->kind(), v1::ProposalUpdate::KIND_EXPIRED);
  EXPECT_EQ(expired->proposal().proposal().proposal_id(), "gone");
  EXPECT_EQ(expired->proposal().status(), v1::PROPOSAL_STATUS_EXPIRED);
  EXPECT_EQ(expired->proposal().version(), 7);
  (void)e1;
}

TEST_F(WatchHubTest, SlowWatcherIsDroppedOthersContinue) {
  HarnessOptions options;
  options.hub.queue_capacity = 3;
  Init(options);
  auto slow = Subscribe({WatchFilter::Scope::kAll, "", "w-opp", ""});
  auto fast = Subscribe({WatchFilter::Scope::kAll, "", "w-opp", ""});
  std::vector<std::string> got;
  std::string last;
  for (int i = 0; i < 5; ++i) {
    last = Append(*h_, {.proposal_id = absl::StrCat("w-", i), .opportunity_id = "w-opp"});
    WaitRead(*h_, last);
    for (const std::string& id : Drain(*fast)) got.push_back(id);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"w-0", "w-1", "w-2", "w-3", "w-4"}));
  absl::StatusOr<v1::ProposalUpdate> u = slow->Next(absl::ZeroDuration());
  EXPECT_TRUE(absl::IsResourceExhausted(u.status())) << u.status();
  EXPECT_TRUE(absl::IsResourceExhausted(slow->Next(absl::ZeroDuration()).status()));
  EXPECT_EQ(h_->hub->subscribers(), 1);
}

TEST_F(WatchHubTest, ResumesAfterRedisRestartFromLastIdSeen) {
  HarnessOptions options;
  options.append_only = true;
  options.hub.block = absl::Milliseconds(100);
  options.hub.retry_max = absl::Milliseconds(200);
  Init(options);
  auto sub = Subscribe({WatchFilter::Scope::kAll, "", "w-opp", ""});
  WaitRead(*h_, Append(*h_, {.proposal_id = "w-before", .opportunity_id = "w-opp"}));
  EXPECT_EQ(Drain(*sub), (std::vector<std::string>{"w-before"}));
  const int64_t errors = h_->hub->errors();
  h_->redis->Kill();
  ASSERT_TRUE(WaitFor([&] { return h_->hub->errors() > errors; }, absl::Seconds(10)).ok());
  ASSERT_TRUE(h_->redis->Restart().ok());
  // Appended before the hub is back: still delivered, in order, once.
  Append(*h_, {.proposal_id = "w-after-1", .opportunity_id = "w-opp"});
  const std::string last = Append(*h_, {.proposal_id = "w-after-2", .opportunity_id = "w-opp"});
  WaitRead(*h_, last);
  EXPECT_EQ(Drain(*sub), (std::vector<std::string>{"w-after-1", "w-after-2"}));
}

TEST_F(WatchHubTest, StopEndsSubscriptionsAndRefusesNewOnes) {
  Init();
  auto sub = Subscribe({WatchFilter::Scope::kAll, "", "", ""});
  h_->hub->Stop();
  EXPECT_TRUE(absl::IsUnavailable(sub->Next(absl::Seconds(5)).status()));
  EXPECT_TRUE(absl::IsUnavailable(h_->hub->Subscribe({}).status()));
}

// --- through gRPC ---------------------------------------------------------------------------

class WatchGrpcTest : public WatchHubTest {
 protected:
  std::unique_ptr<grpc::ClientReader<v1::ProposalUpdate>> Watch(
      grpc::ClientContext* context, const std::string& caller,
      const v1::WatchProposalsRequest& request = {}) {
    Harness::Authorize(context, caller, 30);
    auto reader = h_->stub->WatchProposals(context, request);
    reader->WaitForInitialMetadata();  // the server subscribed (or failed)
    return reader;
  }
};

TEST_F(WatchGrpcTest, StreamsScopedUpdatesWithTheLoadedProposal) {
  Init();
  const std::string id = h_->NewPending("alice", "east");  // opp-0
  grpc::ClientContext alice_ctx;
  auto alice = Watch(&alice_ctx, "alice");
  grpc::ClientContext bob_ctx;
  auto bob = Watch(&bob_ctx, "bob");
  ASSERT_TRUE(WaitFor([&] { return h_->hub->subscribers() == 2; }, absl::Seconds(10)).ok());
  Append(*h_, {.kind = "decided",
               .proposal_id = id,
               .opportunity_id = "opp-0",
               .owner_id = "alice",
               .team_id = "east",
               .status = "pending"});
  v1::ProposalUpdate update;
  do {
    ASSERT_TRUE(alice->Read(&update));
  } while (update.kind() != v1::ProposalUpdate::KIND_DECIDED);
  EXPECT_EQ(update.proposal().proposal().proposal_id(), id);
  EXPECT_EQ(update.proposal().proposal().evidence(0).source(), "email");
  // Client cancel ends the server's handler and frees the subscription.
  alice_ctx.TryCancel();
  EXPECT_EQ(alice->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(WaitFor([&] { return h_->hub->subscribers() == 1; }, absl::Seconds(10)).ok());
  // Shutdown ends bob's stream (he saw nothing of alice's) with UNAVAILABLE.
  h_->server->Shutdown(absl::Seconds(5));
  while (bob->Read(&update)) {
    EXPECT_NE(update.proposal().proposal().owner_id(), "alice");
    EXPECT_NE(update.proposal().proposal().proposal_id(), id);
  }
  EXPECT_EQ(bob->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(WatchGrpcTest, WatchAuthorization) {
  Init();
  h_->NewPending("alice", "east");  // opp-0
  const std::map<std::string, grpc::StatusCode> want = {
      {"alice", grpc::StatusCode::CANCELLED},
      {"bob", grpc::StatusCode::PERMISSION_DENIED},
      {"mgr-east", grpc::StatusCode::CANCELLED},
      {"mgr-west", grpc::StatusCode::PERMISSION_DENIED},
      {"admin", grpc::StatusCode::CANCELLED},
      {"svc-admin", grpc::StatusCode::CANCELLED},
      {"ingest", grpc::StatusCode::PERMISSION_DENIED},
      {"unknown", grpc::StatusCode::UNAUTHENTICATED},
      {"missing", grpc::StatusCode::UNAUTHENTICATED}};
  v1::WatchProposalsRequest request;
  request.set_opportunity_id("opp-0");
  for (const char* caller : harness::kCallers) {
    grpc::ClientContext context;
    auto reader = Watch(&context, caller, request);
    if (want.at(caller) == grpc::StatusCode::CANCELLED) {
      // An authorized watch stays open until cancelled.
      context.TryCancel();
    } else {
      // A refused one ends by itself (bounded by the 30 s deadline if it wrongly does not).
      v1::ProposalUpdate update;
      EXPECT_FALSE(reader->Read(&update)) << caller;
    }
    EXPECT_EQ(reader->Finish().error_code(), want.at(caller)) << caller;
  }
  EXPECT_EQ(h_->CountAudit("denied", "WatchProposals"), 3);
  EXPECT_EQ(h_->CountAudit("unauthenticated", "WatchProposals"), 2);
}

// End to end with the store's own updates (contract C1 entries written by its scripts): a new
// proposal, then its confirmation, reach the owner's watch as NEW then DECIDED; the other
// rep sees neither.
TEST_F(WatchGrpcTest, StoreChangesReachTheOwnersWatch) {
  Init();
  grpc::ClientContext alice_ctx;
  auto alice = Watch(&alice_ctx, "alice");
  grpc::ClientContext bob_ctx;
  auto bob = Watch(&bob_ctx, "bob");
  ASSERT_TRUE(WaitFor([&] { return h_->hub->subscribers() == 2; }, absl::Seconds(10)).ok());
  const std::string id = h_->NewPending("alice", "east");
  v1::ProposalUpdate update;
  ASSERT_TRUE(alice->Read(&update));
  EXPECT_EQ(update.kind(), v1::ProposalUpdate::KIND_NEW);
  EXPECT_EQ(update.proposal().proposal().proposal_id(), id);
  EXPECT_EQ(update.proposal().status(), v1::PROPOSAL_STATUS_PENDING);
  grpc::ClientContext confirm_ctx;
  Harness::Authorize(&confirm_ctx, "alice");
  v1::ConfirmProposalRequest confirm;
  confirm.set_proposal_id(id);
  confirm.set_version(1);
  v1::ReviewedProposal confirmed;
  ASSERT_TRUE(h_->stub->ConfirmProposal(&confirm_ctx, confirm, &confirmed).ok());
  ASSERT_TRUE(alice->Read(&update));
  EXPECT_EQ(update.kind(), v1::ProposalUpdate::KIND_DECIDED);
  EXPECT_EQ(update.proposal().status(), v1::PROPOSAL_STATUS_CONFIRMED);
  EXPECT_EQ(update.proposal().decided_by(), "alice");
  h_->server->Shutdown(absl::Seconds(5));
  EXPECT_FALSE(bob->Read(&update)) << "bob saw " << update.ShortDebugString();
  EXPECT_EQ(bob->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  while (alice->Read(&update)) {
  }
  EXPECT_EQ(alice->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace autostage::review
