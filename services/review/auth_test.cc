#include "services/review/auth.h"

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
