#include "services/review/auth.h"

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::review {
namespace {

using ::testing::HasSubstr;

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(Sha256Hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(TokenTableTest, AuthenticatesBearerTokensByDigest) {
  const std::string yaml = absl::StrCat(
      "- {sha256: ", Sha256Hex("tok-alice"), ", id: alice, kind: human, role: rep, team: east}\n",
      "- sha256: ", Sha256Hex("tok-ingest"), "\n  id: ingest-1\n  kind: service\n  role: ingest\n");
  absl::StatusOr<TokenTable> table = TokenTable::Parse(yaml);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  absl::StatusOr<Principal> alice = table->Authenticate("Bearer tok-alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->id, "alice");
  EXPECT_EQ(alice->role, Role::kRep);
  EXPECT_EQ(alice->kind, PrincipalKind::kHuman);
  EXPECT_EQ(alice->team, "east");
  absl::StatusOr<Principal> ingest = table->Authenticate("Bearer tok-ingest");
  ASSERT_TRUE(ingest.ok());
  EXPECT_EQ(ingest->role, Role::kIngest);
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("tok-alice").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("Bearer ").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("Bearer tok-bob").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("Basic tok-alice").status()));
}

TEST(TokenTableTest, RejectsMalformedEntries) {
  const std::string d = Sha256Hex("x");
  struct Case {
    std::string yaml;
    std::string error;
  };
  const Case cases[] = {
      {"- {sha256: abc, id: a, kind: human, role: rep}", "64 hex"},
      {absl::StrCat("- {sha256: ", d, ", kind: human, role: rep}"), "id is required"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: robot, role: rep}"), "kind"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: human, role: boss}"), "role"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: human, role: manager}"), "team"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: human, role: ingest}"), "service"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: human, role: rep, colour: red}"),
       "unknown key 'colour'"},
      {absl::StrCat("- {sha256: ", d, ", id: a, kind: human, role: rep}\n- {sha256: ", d,
                    ", id: b, kind: human, role: rep}"),
       "entry 1: duplicate"},
      {"tokens: {}", "expected a list"},
      {"- [unclosed", "token file"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenTable> t = TokenTable::Parse(c.yaml);
    EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << c.yaml;
    EXPECT_THAT(t.status().message(), HasSubstr(c.error)) << c.yaml;
  }
  EXPECT_TRUE(TokenTable::Parse("").ok());
  EXPECT_TRUE(absl::IsNotFound(TokenTable::Load("/nonexistent/tokens.yaml").status()));
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string Entry(const std::string& token, const std::string& id) {
  return absl::StrCat("- {sha256: ", Sha256Hex(token), ", id: ", id,
                      ", kind: human, role: rep, team: east}\n");
}

// Scenario 15: a revoked token is refused right after the reload; a broken file keeps the old
// table in force.
TEST(TokenTableTest, ReloadRevokesAndKeepsOldTableOnError) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/tokens-reload-", getpid(), ".yaml");
  WriteFile(path, Entry("tok-alice", "alice") + Entry("tok-bob", "bob"));
  absl::StatusOr<TokenTable> table = TokenTable::Load(path);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->path(), path);
  ASSERT_TRUE(table->Authenticate("Bearer tok-bob").ok());

  WriteFile(path, Entry("tok-alice", "alice") + Entry("tok-carol", "carol"));
  ASSERT_TRUE(table->Reload().ok());
  EXPECT_TRUE(absl::IsUnauthenticated(table->Authenticate("Bearer tok-bob").status()));
  EXPECT_EQ(table->Authenticate("Bearer tok-carol")->id, "carol");

  WriteFile(path, Entry("tok-alice", "alice") + "- {sha256: nothex, id: x}\n");
  const absl::Status bad = table->Reload();
  EXPECT_TRUE(absl::IsInvalidArgument(bad)) << bad;
  EXPECT_THAT(bad.message(), HasSubstr("entry 1"));
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->Authenticate("Bearer tok-carol")->id, "carol");

  std::remove(path.c_str());
  EXPECT_TRUE(absl::IsNotFound(table->Reload()));
  EXPECT_TRUE(table->Authenticate("Bearer tok-alice").ok());

  absl::StatusOr<TokenTable> parsed = TokenTable::Parse(Entry("t", "t"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(parsed->Reload()));
}

// Authenticate stays consistent while another thread swaps tables (run under TSan/ASan).
TEST(TokenTableTest, ReplaceIsSafeWhileAuthenticating) {
  absl::StatusOr<TokenTable> a = TokenTable::Parse(Entry("tok-a", "a"));
  absl::StatusOr<TokenTable> b = TokenTable::Parse(Entry("tok-b", "b"));
  ASSERT_TRUE(a.ok() && b.ok());
  TokenTable live;
  live.Replace(*a);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const bool ok_a = live.Authenticate("Bearer tok-a").ok();
        const bool ok_b = live.Authenticate("Bearer tok-b").ok();
        // Each lookup sees one whole table; never a principal from neither.
        if (live.size() != 1) bad.fetch_add(1);
        (void)ok_a;
        (void)ok_b;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) live.Replace(i % 2 == 0 ? *b : *a);
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(live.Authenticate("Bearer tok-a")->id, "a");
}

TEST(PolicyTest, AuthorizationTable) {
  const Principal rep{"alice", PrincipalKind::kHuman, Role::kRep, "east"};
  const Principal manager{"mia", PrincipalKind::kHuman, Role::kManager, "east"};
  const Principal admin{"root", PrincipalKind::kHuman, Role::kAdmin, ""};
  const Principal service_admin{"ops", PrincipalKind::kService, Role::kAdmin, ""};
  const Principal ingest{"ingest", PrincipalKind::kService, Role::kIngest, ""};
  const Ownership own{"alice", "east"};
  const Ownership team_other_rep{"bob", "east"};
  const Ownership other_team{"carol", "west"};

  EXPECT_TRUE(MaySubmit(ingest));
  for (const Principal* p : {&rep, &manager, &admin, &service_admin}) EXPECT_FALSE(MaySubmit(*p));

  EXPECT_TRUE(MayDecide(rep, own));
  EXPECT_FALSE(MayDecide(rep, team_other_rep));
  EXPECT_TRUE(MayDecide(manager, team_other_rep));
  EXPECT_FALSE(MayDecide(manager, other_team));
  EXPECT_TRUE(MayDecide(admin, other_team));
  EXPECT_FALSE(MayDecide(service_admin, own));
  EXPECT_TRUE(MayView(service_admin, own));
  EXPECT_FALSE(MayDecide(ingest, own));
  EXPECT_FALSE(MayView(ingest, own));
  EXPECT_FALSE(MayList(ingest));
  // An opportunity without an owner is no rep's.
  EXPECT_FALSE(MayView(Principal{"", PrincipalKind::kHuman, Role::kRep, ""}, Ownership{}));
}

}  // namespace
}  // namespace autostage::review
