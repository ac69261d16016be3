// The autostagectl binary as a subprocess against the in-process review server (label
// `redis`): what a script sees — exit codes, one-line errors on stderr, AUTOSTAGE_TOKEN.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/autostagectl/exit_codes.h"
#include "tools/autostagectl/review_test_fixture.h"

namespace autostage::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr together
};

class CtlBinaryTest : public ReviewFixture {
 protected:
  void SetUp() override {
    ReviewFixture::SetUp();
    if (HasFatalFailure()) return;
    binary_ = testing::AutostageBinDir() + "/autostagectl";
    // The binary is a build dependency of this test: its absence is a failure, not a skip.
    ASSERT_TRUE(std::ifstream(binary_).good()) << binary_ << " not built";
    std::ofstream(dir_->File("ctl.yaml")) << "review: " << address_ << "\n";
    unsetenv("AUTOSTAGE_TOKEN");
  }

  Outcome Exec(std::vector<std::string> args) {
    std::vector<std::string> argv = {binary_, "--config", dir_->File("ctl.yaml")};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_->File(absl::StrCat("out-", runs_++));
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> child =
        testing::Subprocess::Spawn({.argv = argv, .output_file = log});
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return {};
    absl::StatusOr<testing::ExitInfo> exit = (*child)->Wait(absl::Seconds(30));
    EXPECT_TRUE(exit.ok()) << exit.status();
    Outcome o;
    if (exit.ok() && exit->exited) o.code = exit->code;
    std::ostringstream text;
    text << std::ifstream(log).rdbuf();
    o.output = text.str();
    return o;
  }

  static void ExpectError(const Outcome& o, int code, const std::string& words) {
    EXPECT_EQ(o.code, code) << o.output;
    EXPECT_THAT(o.output, StartsWith("autostagectl: "));
    EXPECT_THAT(o.output, HasSubstr(words));
    EXPECT_EQ(std::count(o.output.begin(), o.output.end(), '\n'), 1) << o.output;
  }

  std::string binary_;
  int runs_ = 0;
};

TEST_F(CtlBinaryTest, ExitCodesAsScriptsSeeThem) {
  const std::string id = NewPending();
  ExpectError(Exec({"pending"}), kExitNoToken, "no token");
  ExpectError(Exec({"--token", "nope", "pending"}), kExitUnauthenticated, "UNAUTHENTICATED");
  ExpectError(Exec({"--token", "tok-bob", "confirm", id}), kExitPermissionDenied, "not allowed");
  ExpectError(Exec({"--token", "tok-alice", "show", "p-nope"}), kExitNotFound, "not found");
  ExpectError(Exec({"--token", "tok-alice", "confirm", id, "--version", "9"}), kExitVersionMoved,
              "changed");
  ExpectError(Exec({"--token", "tok-alice", "reject", id}), kExitUsage, "--reason");

  // The token from the environment.
  setenv("AUTOSTAGE_TOKEN", "tok-alice", 1);
  const Outcome pending = Exec({"pending"});
  EXPECT_EQ(pending.code, kExitOk) << pending.output;
  EXPECT_THAT(pending.output, HasSubstr(id));
  EXPECT_THAT(pending.output, HasSubstr("[[purchase order]]"));  // not a TTY: brackets
  const Outcome json = Exec({"--json", "confirm", id});
  EXPECT_EQ(json.code, kExitOk) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"PROPOSAL_STATUS_CONFIRMED\""));
  ExpectError(Exec({"reject", id, "--reason", "late"}), kExitAlreadyDecided,
              "already confirmed by alice");
  const std::string moved = NewPending();
  PutOpportunity("opp-1", "contract");
  ExpectError(Exec({"confirm", moved}), kExitStale, "no longer applies");

  absl::StatusOr<int> port = testing::FreeTcpPort();
  ASSERT_TRUE(port.ok());
  ExpectError(Exec({"--review", absl::StrCat("127.0.0.1:", *port), "--timeout", "3", "pending"}),
              kExitUnavailable, "unreachable");
  ExpectError(Exec({"--config", dir_->File("missing.yaml"), "pending"}), kExitUsage,
              "missing.yaml");
  ExpectError(Exec({"nonsense"}), kExitUsage, "--help");
  const Outcome help = Exec({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_THAT(help.output, HasSubstr("pending"));
  unsetenv("AUTOSTAGE_TOKEN");
}

}  // namespace
}  // namespace autostage::ctl
