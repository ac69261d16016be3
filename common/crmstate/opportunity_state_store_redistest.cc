// OpportunityStateStore against a real redis-server (label `redis`): newest snapshot wins,
// tombstones, the contact index, owner moves of pending proposals, ambiguity, Redis down, and
// the same answers as rules::SnapshotResolver over the dev corpus.
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/crmstate/opportunity_state_store.h"
#include "common/event/decode.h"
#include "common/redis/redis_client.h"
#include "common/rules/resolver.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace autostage::crmstate {
namespace {

using ::autostage::testing::RedisServer;
using ::testing::UnorderedElementsAre;

v1::Opportunity Opp(const std::string& id, int64_t updated_ms, const std::string& status = "open",
                    std::vector<std::string> emails = {}, std::vector<std::string> phones = {},
                    std::vector<std::string> chats = {}, const std::string& owner = "alice",
                    const std::string& team = "east") {
  v1::Opportunity o;
  o.set_opportunity_id(id);
  o.set_pipeline("b2b_standard");
  o.set_stage("proposal");
  o.set_status(status);
  o.set_owner_id(owner);
  o.set_team_id(team);
  for (auto& e : emails) o.mutable_contacts()->add_emails(e);
  for (auto& p : phones) o.mutable_contacts()->add_phones(p);
  for (auto& c : chats) o.mutable_contacts()->add_chat_ids(c);
  *o.mutable_updated_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(updated_ms);
  return o;
}

v1::Event FromEmail(const std::string& email) {
  v1::Event e;
  e.set_event_id("e1");
  e.set_source("email");
  e.mutable_from()->set_email(email);
  return e;
}

class OpportunityStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    redis::RedisOptions options;
    options.host = server_->host();
    options.port = server_->port();
    pool_ = std::make_unique<redis::RedisPool>(options, 2);
    store_ = std::make_unique<OpportunityStateStore>(*pool_);
    client_ = std::make_unique<redis::RedisClient>(options);
  }

  ApplyOutcome MustApply(const v1::Opportunity& o) {
    absl::StatusOr<ApplyOutcome> outcome = store_->Apply(o);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.value_or(ApplyOutcome::kIgnoredOlder);
  }

  // "" when unresolved/ambiguous (see reason).
  std::string ResolvedId(const v1::Event& e, std::string* reason = nullptr) {
    absl::StatusOr<rules::Resolution> r = store_->Resolve(e);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "<error>";
    if (reason != nullptr) *reason = r->reason;
    return r->opportunity ? r->opportunity->opportunity_id() : "";
  }

  std::vector<std::string> Members(const std::string& key) {
    absl::StatusOr<redis::Reply> r = client_->Command("SMEMBERS", key);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const redis::Reply& m : r->elements()) out.push_back(m.str());
    }
    return out;
  }

  std::vector<std::string> ZMembers(const std::string& key) {
    absl::StatusOr<redis::Reply> r = client_->Command("ZRANGE", key, "0", "-1");
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> out;
    if (r.ok()) {
      for (const redis::Reply& m : r->elements()) out.push_back(m.str());
    }
    return out;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<OpportunityStateStore> store_;
  std::unique_ptr<redis::RedisClient> client_;
};

TEST_F(OpportunityStateStoreTest, NewestUpdatedAtWins) {
  v1::Opportunity v2 = Opp("o1", 2000);
  v2.set_stage("negotiation");
  EXPECT_EQ(MustApply(v2), ApplyOutcome::kApplied);
  v1::Opportunity v1 = Opp("o1", 1000);
  v1.set_stage("prospecting");
  EXPECT_EQ(MustApply(v1), ApplyOutcome::kIgnoredOlder);
  v1::Opportunity same = Opp("o1", 2000);
  same.set_stage("contract");
  EXPECT_EQ(MustApply(same), ApplyOutcome::kIgnoredOlder);

  absl::StatusOr<StoredOpportunity> got = store_->Get("o1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->opportunity.stage(), "negotiation");
  EXPECT_EQ(got->updated_at_ms, 2000);
  EXPECT_EQ(got->version, 1);

  v1::Opportunity v3 = Opp("o1", 3000);
  v3.set_stage("contract");
  EXPECT_EQ(MustApply(v3), ApplyOutcome::kApplied);
  got = store_->Get("o1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->opportunity.stage(), "contract");
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(got->opportunity.SerializeAsString(), v3.SerializeAsString());

  StoreStats stats = store_->stats();
  EXPECT_EQ(stats.applied, 2);
  EXPECT_EQ(stats.ignored_older, 2);
}

TEST_F(OpportunityStateStoreTest, WritesTheHashReviewReads) {
  MustApply(Opp("o1", 1000, "open", {}, {}, {}, "bob", "west"));
  absl::StatusOr<redis::Reply> r =
      client_->Command("HMGET", OpportunityStateStore::OpportunityKey("o1"), "pipeline", "stage",
                       "status", "owner_id", "team_id", "version", "updated_at_ms");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ((*r)[0].str(), "b2b_standard");
  EXPECT_EQ((*r)[1].str(), "proposal");
  EXPECT_EQ((*r)[2].str(), "open");
  EXPECT_EQ((*r)[3].str(), "bob");
  EXPECT_EQ((*r)[4].str(), "west");
  EXPECT_EQ((*r)[5].str(), "1");
  EXPECT_EQ((*r)[6].str(), "1000");
  EXPECT_EQ(OpportunityStateStore::OpportunityKey("o1"), "autostage:{o1}:opportunity");
  // Review's confirm moves the stage in the hash; Get reports the hash's live fields.
  ASSERT_TRUE(
      client_->Command("HSET", OpportunityStateStore::OpportunityKey("o1"), "stage", "negotiation")
          .ok());
  EXPECT_EQ(store_->Get("o1")->opportunity.stage(), "negotiation");
  EXPECT_TRUE(absl::IsNotFound(store_->Get("nope").status()));
}

TEST_F(OpportunityStateStoreTest, TombstoneDeletesAndOlderSnapshotsStayDeleted) {
  MustApply(Opp("o1", 1000, "open", {"a@x.com"}));
  EXPECT_EQ(ResolvedId(FromEmail("a@x.com")), "o1");

  // A tombstone older than the stored snapshot is ignored.
  absl::StatusOr<DeleteOutcome> d = store_->Delete("o1", absl::FromUnixMillis(500));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, DeleteOutcome::kIgnoredNewer);
  EXPECT_TRUE(store_->Get("o1").ok());

  d = store_->Delete("o1", absl::FromUnixMillis(1500));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, DeleteOutcome::kDeleted);
  EXPECT_TRUE(absl::IsNotFound(store_->Get("o1").status()));
  std::string reason;
  EXPECT_EQ(ResolvedId(FromEmail("a@x.com"), &reason), "");
  EXPECT_EQ(reason, "unresolved");
  EXPECT_TRUE(Members(OpportunityStateStore::ContactIndexKey("e:a@x.com")).empty());
  EXPECT_TRUE(Members(OpportunityStateStore::ContactsKey("o1")).empty());

  // Another instance replaying the topic: the old snapshot does not resurrect it...
  EXPECT_EQ(MustApply(Opp("o1", 1000, "open", {"a@x.com"})), ApplyOutcome::kIgnoredDeleted);
  EXPECT_TRUE(absl::IsNotFound(store_->Get("o1").status()));
  // ...and the repeated tombstone finds nothing.
  d = store_->Delete("o1", absl::FromUnixMillis(1500));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, DeleteOutcome::kAbsent);
  // A snapshot newer than the tombstone re-creates it.
  EXPECT_EQ(MustApply(Opp("o1", 2000, "open", {"a@x.com"})), ApplyOutcome::kApplied);
  EXPECT_EQ(ResolvedId(FromEmail("a@x.com")), "o1");
  // The tombstone marker expires.
  absl::StatusOr<redis::Reply> ttl =
      client_->Command("PTTL", OpportunityStateStore::TombstoneKey("o1"));
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->integer(), -2);  // cleared by the newer snapshot
  ASSERT_TRUE(store_->Delete("o1", absl::FromUnixMillis(2500)).ok());
  ttl = client_->Command("PTTL", OpportunityStateStore::TombstoneKey("o1"));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer(), 0);

  StoreStats stats = store_->stats();
  EXPECT_EQ(stats.deleted, 2);
  EXPECT_EQ(stats.tombstones_ignored, 1);
  EXPECT_EQ(stats.ignored_deleted, 1);
}

TEST_F(OpportunityStateStoreTest, ContactIndexFollowsContactsAndStatus) {
  MustApply(Opp("o1", 1000, "open", {"Wang.Li@Acme.com"}, {"+86 139-1234 5678"}, {"wxid_Wang"}));
  EXPECT_EQ(ResolvedId(FromEmail("WANG.LI@acme.COM")), "o1");
  v1::Event call;
  call.mutable_from()->set_phone("0086 (139) 1234.5678");
  EXPECT_EQ(ResolvedId(call), "o1");
  v1::Event chat;
  chat.mutable_to()->Add()->set_chat_id("wxid_Wang");
  EXPECT_EQ(ResolvedId(chat), "o1");
  chat.mutable_to(0)->set_chat_id("wxid_wang");  // chat ids are exact
  EXPECT_EQ(ResolvedId(chat), "");
  EXPECT_THAT(Members(OpportunityStateStore::ContactsKey("o1")),
              UnorderedElementsAre(OpportunityStateStore::ContactIndexKey("e:wang.li@acme.com"),
                                   OpportunityStateStore::ContactIndexKey("p:+8613912345678"),
                                   OpportunityStateStore::ContactIndexKey("c:wxid_Wang")));

  // A contact dropped from the snapshot leaves the index.
  MustApply(Opp("o1", 2000, "open", {"new@acme.com"}, {"+8613912345678"}));
  EXPECT_EQ(ResolvedId(FromEmail("wang.li@acme.com")), "");
  EXPECT_EQ(ResolvedId(FromEmail("new@acme.com")), "o1");
  EXPECT_TRUE(Members(OpportunityStateStore::ContactIndexKey("e:wang.li@acme.com")).empty());

  // Closed: out of the index, still found by id.
  MustApply(Opp("o1", 3000, "won", {"new@acme.com"}));
  std::string reason;
  EXPECT_EQ(ResolvedId(FromEmail("new@acme.com"), &reason), "");
  EXPECT_EQ(reason, "unresolved");
  EXPECT_TRUE(Members(OpportunityStateStore::ContactsKey("o1")).empty());
  v1::Event by_id;
  by_id.set_opportunity_id("o1");
  EXPECT_EQ(ResolvedId(by_id), "o1");
  by_id.set_opportunity_id("o2");
  EXPECT_EQ(ResolvedId(by_id, &reason), "");
  EXPECT_EQ(reason, "unresolved");

  // Reopened: back in.
  MustApply(Opp("o1", 4000, "open", {"new@acme.com"}));
  EXPECT_EQ(ResolvedId(FromEmail("new@acme.com")), "o1");
}

TEST_F(OpportunityStateStoreTest, SeveralOpenOpportunitiesAreAmbiguous) {
  MustApply(Opp("o1", 1000, "open", {"shared@gamma.com"}));
  MustApply(Opp("o2", 1000, "open", {"shared@gamma.com", "only2@beta.cn"}));
  MustApply(Opp("o3", 1000, "lost", {"only2@beta.cn"}));
  std::string reason;
  EXPECT_EQ(ResolvedId(FromEmail("shared@gamma.com"), &reason), "");
  EXPECT_EQ(reason, "ambiguous_opportunity");
  EXPECT_EQ(ResolvedId(FromEmail("only2@beta.cn"), &reason), "o2");
  EXPECT_EQ(reason, "");
  // Participants from different fields that point at different opportunities.
  v1::Event e = FromEmail("only2@beta.cn");
  MustApply(Opp("o4", 1000, "open", {"four@delta.com"}));
  e.mutable_cc()->Add()->set_email("four@delta.com");
  EXPECT_EQ(ResolvedId(e, &reason), "");
  EXPECT_EQ(reason, "ambiguous_opportunity");
  // No participant at all.
  EXPECT_EQ(ResolvedId(v1::Event(), &reason), "");
  EXPECT_EQ(reason, "unresolved");
}

TEST_F(OpportunityStateStoreTest, OwnerChangeMovesPendingProposals) {
  MustApply(Opp("o1", 1000));
  // A pending proposal as review stores it (services/review/proposal_store.h).
  ASSERT_TRUE(client_->Command("HSET", "autostage:{o1}:pending", "negotiation", "p1").ok());
  ASSERT_TRUE(client_
                  ->Command("HSET", "autostage:{o1}:proposal:p1", "status", "pending", "idx_owner",
                            "alice", "idx_team", "east", "created_ms", "77")
                  .ok());
  ASSERT_TRUE(client_->Command("ZADD", "autostage:{review}:pending:owner:alice", "77", "p1").ok());
  ASSERT_TRUE(client_->Command("ZADD", "autostage:{review}:pending:team:east", "77", "p1").ok());

  // Same owner and team: nothing moves.
  MustApply(Opp("o1", 2000));
  EXPECT_EQ(ZMembers("autostage:{review}:pending:owner:alice"), std::vector<std::string>{"p1"});

  MustApply(Opp("o1", 3000, "open", {}, {}, {}, "bob", "west"));
  EXPECT_TRUE(ZMembers("autostage:{review}:pending:owner:alice").empty());
  EXPECT_TRUE(ZMembers("autostage:{review}:pending:team:east").empty());
  EXPECT_EQ(ZMembers("autostage:{review}:pending:owner:bob"), std::vector<std::string>{"p1"});
  EXPECT_EQ(ZMembers("autostage:{review}:pending:team:west"), std::vector<std::string>{"p1"});
  absl::StatusOr<redis::Reply> score =
      client_->Command("ZSCORE", "autostage:{review}:pending:owner:bob", "p1");
  ASSERT_TRUE(score.ok());
  EXPECT_EQ(score->str(), "77");  // creation time kept
  absl::StatusOr<redis::Reply> idx =
      client_->Command("HMGET", "autostage:{o1}:proposal:p1", "idx_owner", "idx_team");
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ((*idx)[0].str(), "bob");
  EXPECT_EQ((*idx)[1].str(), "west");

  // An older snapshot (alice again) is ignored and moves nothing back.
  MustApply(Opp("o1", 2500));
  EXPECT_EQ(ZMembers("autostage:{review}:pending:owner:bob"), std::vector<std::string>{"p1"});
}

TEST_F(OpportunityStateStoreTest, PutIgnoresOrderingButApplyStillCompares) {
  MustApply(Opp("o1", 5000));
  v1::Opportunity older = Opp("o1", 0);
  older.set_stage("prospecting");
  ASSERT_TRUE(store_->Put(older).ok());
  EXPECT_EQ(store_->Get("o1")->opportunity.stage(), "prospecting");
  EXPECT_EQ(MustApply(Opp("o1", 10)), ApplyOutcome::kApplied);
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Apply(v1::Opportunity()).status()));
}

TEST_F(OpportunityStateStoreTest, RedisDownIsUnavailableNeverUnresolved) {
  MustApply(Opp("o1", 1000, "open", {"a@x.com"}));
  server_->Kill();
  absl::StatusOr<rules::Resolution> r = store_->Resolve(FromEmail("a@x.com"));
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  v1::Event by_id;
  by_id.set_opportunity_id("o1");
  EXPECT_TRUE(absl::IsUnavailable(store_->Resolve(by_id).status()));
  const v1::Event by_email = FromEmail("a@x.com");
  EXPECT_TRUE(absl::IsUnavailable(store_->ResolveMany({&by_id, &by_email}).status()));
  EXPECT_TRUE(absl::IsUnavailable(store_->Apply(Opp("o1", 2000)).status()));
  EXPECT_TRUE(absl::IsUnavailable(store_->Delete("o1", absl::FromUnixMillis(3000)).status()));
  ASSERT_TRUE(server_->Restart().ok());
  // The data did not survive (no AOF), but the store works again without being rebuilt.
  EXPECT_EQ(MustApply(Opp("o1", 2000, "open", {"a@x.com"})), ApplyOutcome::kApplied);
  EXPECT_EQ(ResolvedId(FromEmail("a@x.com")), "o1");
}

// The key test: over the dev corpus, the store answers exactly as SnapshotResolver does, for
// the corpus events and for synthetic events naming each contact (in every field and in other
// spellings) and each opportunity id.
TEST_F(OpportunityStateStoreTest, SameAnswersAsSnapshotResolverOverDevCorpus) {
  const char* source_dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source_dir == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR is not set";
  const std::string corpus = std::string(source_dir) + "/../shared/corpus/dev";
  const std::string opportunities = corpus + "/opportunities.jsonl";
  if (!std::ifstream(opportunities)) {
    GTEST_SKIP() << "dev corpus not found at " << corpus << " (expected opportunities.jsonl)";
  }
  absl::StatusOr<rules::SnapshotResolver> reference =
      rules::SnapshotResolver::FromFile(opportunities);
  ASSERT_TRUE(reference.ok()) << reference.status();

  std::vector<v1::Opportunity> snapshots;
  std::ifstream in(opportunities);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    absl::StatusOr<v1::Opportunity> o = event::DecodeOpportunity(line, event::Encoding::kJson);
    ASSERT_TRUE(o.ok()) << o.status();
    snapshots.push_back(*o);
  }
  ASSERT_FALSE(snapshots.empty());
  for (const v1::Opportunity& o : snapshots) {
    // Apply (not Put): the corpus holds one snapshot per id, so every one must be applied.
    ASSERT_EQ(MustApply(o), ApplyOutcome::kApplied) << o.opportunity_id();
  }

  std::vector<v1::Event> events;
  std::ifstream events_in(corpus + "/events.jsonl");
  while (std::getline(events_in, line)) {
    absl::StatusOr<v1::Event> e = event::DecodeEvent(line, event::Encoding::kJson);
    if (e.ok()) events.push_back(*std::move(e));
  }
  const size_t corpus_events = events.size();
  for (const v1::Opportunity& o : snapshots) {
    v1::Event by_id;
    by_id.set_opportunity_id(o.opportunity_id());
    events.push_back(by_id);
    for (const std::string& email : o.contacts().emails()) {
      v1::Event e;
      e.mutable_from()->set_email(email);
      events.push_back(e);
      v1::Event upper;
      std::string shouted = email;
      for (char& c : shouted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      upper.mutable_cc()->Add()->set_email(shouted);
      events.push_back(upper);
    }
    for (const std::string& phone : o.contacts().phones()) {
      v1::Event e;
      std::string spaced = phone.size() > 3 ? phone.substr(0, 3) + " " + phone.substr(3) : phone;
      e.mutable_to()->Add()->set_phone(spaced);
      events.push_back(e);
    }
    for (const std::string& chat : o.contacts().chat_ids()) {
      v1::Event e;
      e.mutable_from()->set_chat_id(chat);
      events.push_back(e);
    }
  }
  // Pairs of opportunities' first emails in one event: ambiguous unless one is closed.
  for (size_t i = 0; i + 1 < snapshots.size(); i += 2) {
    if (snapshots[i].contacts().emails().empty() || snapshots[i + 1].contacts().emails().empty()) {
      continue;
    }
    v1::Event e;
    e.mutable_from()->set_email(snapshots[i].contacts().emails(0));
    e.mutable_to()->Add()->set_email(snapshots[i + 1].contacts().emails(0));
    events.push_back(e);
  }

  // ResolveMany answers the same, in order, for all of them at once (ingest's batched path).
  std::vector<const v1::Event*> all;
  for (const v1::Event& e : events) all.push_back(&e);
  absl::StatusOr<std::vector<absl::StatusOr<rules::Resolution>>> many = store_->ResolveMany(all);
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), events.size());

  int resolved = 0, ambiguous = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const rules::Resolution want = reference->Resolve(events[i]);
    absl::StatusOr<rules::Resolution> got = store_->Resolve(events[i]);
    ASSERT_TRUE(got.ok()) << got.status();
    SCOPED_TRACE(i < corpus_events ? "corpus event " + events[i].event_id()
                                   : "synthetic event " + events[i].ShortDebugString());
    EXPECT_EQ(got->reason, want.reason);
    ASSERT_EQ(got->opportunity.has_value(), want.opportunity.has_value());
    if (want.opportunity) {
      ++resolved;
      EXPECT_EQ(got->opportunity->SerializeAsString(), want.opportunity->SerializeAsString());
    }
    if (want.reason == "ambiguous_opportunity") ++ambiguous;
    const absl::StatusOr<rules::Resolution>& batched = (*many)[i];
    ASSERT_TRUE(batched.ok()) << batched.status();
    EXPECT_EQ(batched->reason, want.reason);
    ASSERT_EQ(batched->opportunity.has_value(), want.opportunity.has_value());
    if (want.opportunity) {
      EXPECT_EQ(batched->opportunity->SerializeAsString(), want.opportunity->SerializeAsString());
    }
  }
  // The comparison covered both outcomes, not just "unresolved" everywhere.
  EXPECT_GT(resolved, static_cast<int>(snapshots.size()));
  EXPECT_GT(ambiguous, 0);
}

}  // namespace
}  // namespace autostage::crmstate
