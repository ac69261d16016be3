// autostagectl's rep commands, through the whole command line (RunCli) in-process, against the
// real review gRPC server and redis-server (label `redis`): the pending table, filters and
// paging, show, confirm, reject, watch, --json output, and every error's message and exit code.
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/autostagectl/cli.h"
#include "tools/autostagectl/exit_codes.h"
#include "tools/autostagectl/review_test_fixture.h"

namespace autostage::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

class CtlReviewTest : public ReviewFixture {
 protected:
  // Runs `autostagectl --review <server> --pipelines <file> [--token T] args...`; the clock
  // reads five minutes after the fixture's start.
  Result Run(std::vector<std::string> args, const std::string& token = "tok-alice",
             bool tty = false) {
    std::vector<std::string> full = {"--review",      address_,   "--pipelines",
                                     pipelines_file_, "--config", dir_->File("none.yaml")};
    std::ofstream(dir_->File("none.yaml")) << "{}\n";
    if (!token.empty()) {
      full.push_back("--token");
      full.push_back(token);
    }
    full.insert(full.end(), args.begin(), args.end());
    CliEnvironment env{.home = dir_->path(), .stdout_is_tty = tty, .now = Now() + absl::Minutes(5)};
    std::ostringstream out, err;
    Result r;
    r.code = RunCli(full, env, out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  v1::ReviewedProposal Stored(const std::string& id) {
    absl::StatusOr<v1::ReviewedProposal> p = store_->Get(id);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : v1::ReviewedProposal();
  }

  // A failed command: the code, nothing on stdout, exactly one "autostagectl: " line on stderr
  // containing `words`.
  static void ExpectFailure(const Result& r, int code, const std::string& words) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_THAT(r.err, StartsWith("autostagectl: "));
    EXPECT_THAT(r.err, HasSubstr(words));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
};

TEST_F(CtlReviewTest, PendingTableShowsStagesSourceEvidenceAndAge) {
  const std::string id = NewPending();
  const Result r = Run({"pending"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("ID"));
  EXPECT_THAT(lines[0], HasSubstr("OPPORTUNITY"));
  EXPECT_THAT(lines[0], HasSubstr("EVIDENCE"));
  EXPECT_THAT(lines[1], StartsWith(id + " "));
  EXPECT_THAT(lines[1], HasSubstr("opp-0"));
  EXPECT_THAT(lines[1], HasSubstr("Prospecting 初步接触 → Proposal 方案制定"));
  EXPECT_THAT(lines[1], HasSubstr(" email "));
  EXPECT_THAT(lines[1], HasSubstr("5m ago"));
  EXPECT_THAT(lines[1], HasSubstr("Please send us the [[purchase order]] today."));

  // A terminal gets ANSI bold instead of brackets.
  const Result tty = Run({"pending"}, "tok-alice", /*tty=*/true);
  EXPECT_THAT(tty.out, HasSubstr("the \x1b[1mpurchase order\x1b[0m today"));

  // Bob (another team) sees nothing.
  const Result bob = Run({"pending"}, "tok-bob");
  ASSERT_EQ(bob.code, kExitOk) << bob.err;
  EXPECT_EQ(bob.out, "no pending proposals\n");
}

TEST_F(CtlReviewTest, PendingFiltersOrdersAndPages) {
  const std::string first = NewPending();  // email, older
  clock_.Advance(absl::Minutes(1));
  PutOpportunity("opp-chat");
  ASSERT_EQ(Submit(MakeProposal("p-chat", "opp-chat", "negotiation", "chat", "价格可以再谈谈",
                                "价格", Now())),
            v1::SUBMIT_OUTCOME_STORED);

  auto ids = [](const Result& r) {
    std::vector<std::string> out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "p-")) out.emplace_back(line.substr(0, line.find(' ')));
    }
    return out;
  };
  EXPECT_THAT(ids(Run({"pending"})), ::testing::ElementsAre("p-chat", first));
  EXPECT_THAT(ids(Run({"pending", "--order", "oldest"})), ::testing::ElementsAre(first, "p-chat"));
  EXPECT_THAT(ids(Run({"pending", "--source", "chat"})), ::testing::ElementsAre("p-chat"));
  EXPECT_THAT(ids(Run({"pending", "--stage", "proposal"})), ::testing::ElementsAre(first));
  EXPECT_THAT(ids(Run({"pending", "--opportunity", "opp-chat"})), ::testing::ElementsAre("p-chat"));
  const Result chat = Run({"pending", "--source", "chat"});
  EXPECT_THAT(chat.out, HasSubstr("Prospecting 初步接触 → Negotiation 商务谈判"));
  EXPECT_THAT(chat.out, HasSubstr("[[价格]]可以再谈谈"));

  // Paging: one per page, the token leads to the second.
  const Result page1 = Run({"pending", "--limit", "1"});
  ASSERT_EQ(page1.code, kExitOk) << page1.err;
  EXPECT_THAT(ids(page1), ::testing::ElementsAre("p-chat"));
  const size_t at = page1.out.find("more: --page-token ");
  ASSERT_NE(at, std::string::npos) << page1.out;
  std::string token = page1.out.substr(at + 19);
  token = token.substr(0, token.find('\n'));
  EXPECT_THAT(ids(Run({"pending", "--limit", "1", "--page-token", token})),
              ::testing::ElementsAre(first));
  EXPECT_THAT(ids(Run({"pending", "--limit", "1", "--all"})),
              ::testing::ElementsAre("p-chat", first));

  ExpectFailure(Run({"pending", "--source", "fax"}), kExitUsage, "--source");
  ExpectFailure(Run({"pending", "--limit", "0"}), kExitUsage, "--limit");
}

TEST_F(CtlReviewTest, JsonOutputParses) {
  const std::string id = NewPending();
  const Result pending = Run({"--json", "pending"});
  ASSERT_EQ(pending.code, kExitOk) << pending.err;
  v1::ListPendingResponse list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(pending.out, &list).ok()) << pending.out;
  ASSERT_EQ(list.proposals_size(), 1);
  EXPECT_EQ(list.proposals(0).proposal().proposal_id(), id);
  EXPECT_EQ(list.proposals(0).proposal().evidence(0).matched_terms(0), "purchase order");
  EXPECT_THAT(pending.out, HasSubstr("\"proposal_id\""));  // snake_case names for scripts

  const Result show = Run({"show", id, "--json"});
  ASSERT_EQ(show.code, kExitOk) << show.err;
  v1::ReviewedProposal shown;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(show.out, &shown).ok()) << show.out;
  EXPECT_EQ(shown.status(), v1::PROPOSAL_STATUS_PENDING);

  const Result confirm = Run({"--json", "confirm", id});
  ASSERT_EQ(confirm.code, kExitOk) << confirm.err;
  v1::ReviewedProposal decided;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(confirm.out, &decided).ok());
  EXPECT_EQ(decided.status(), v1::PROPOSAL_STATUS_CONFIRMED);
  EXPECT_EQ(decided.decided_by(), "alice");
}

TEST_F(CtlReviewTest, ShowListsEveryFieldAndAllEvidence) {
  const std::string id = NewPending();
  clock_.Advance(absl::Minutes(1));
  ASSERT_EQ(Submit(MakeProposal("p-more", "opp-0", "proposal", "call", "send the quotation",
                                "quotation", Now())),
            v1::SUBMIT_OUTCOME_MERGED);
  const Result r = Run({"show", id});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("proposal     " + id));
  EXPECT_THAT(r.out, HasSubstr("pending (version 2, 2 submissions)"));
  EXPECT_THAT(r.out, HasSubstr("opp-0 (pipeline b2b_standard"));
  EXPECT_THAT(r.out,
              HasSubstr("Prospecting 初步接触 → Proposal 方案制定  (prospecting → proposal)"));
  EXPECT_THAT(r.out, HasSubstr("rule-proposal (confidence 0.80)"));
  EXPECT_THAT(r.out, HasSubstr("evidence (2):"));
  EXPECT_THAT(r.out, HasSubstr("send the [[quotation]]"));
  EXPECT_THAT(r.out, HasSubstr("Please send us the [[purchase order]] today."));
  EXPECT_THAT(r.out, HasSubstr("call ev-p-more"));
}

TEST_F(CtlReviewTest, ConfirmFetchesTheCurrentVersion) {
  const std::string id = NewPending();
  ASSERT_EQ(
      Submit(MakeProposal("p-merge", "opp-0", "proposal", "chat", "PO attached", "PO", Now())),
      v1::SUBMIT_OUTCOME_MERGED);
  ASSERT_EQ(Stored(id).version(), 2);
  const Result r = Run({"confirm", id});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "confirmed " + id +
                       ": opp-0 Prospecting 初步接触 → Proposal 方案制定 (stage change sc-" + id +
                       ")\n");
  EXPECT_EQ(Stored(id).status(), v1::PROPOSAL_STATUS_CONFIRMED);
  // A replay (double click) is answered the same way.
  EXPECT_EQ(Run({"confirm", id}).code, kExitOk);
}

TEST_F(CtlReviewTest, RejectNeedsAReason) {
  const std::string id = NewPending();
  ExpectFailure(Run({"reject", id}), kExitUsage, "reject needs --reason");
  ExpectFailure(Run({"reject", id, "--reason", "  "}), kExitUsage, "reject needs --reason");
  EXPECT_EQ(Stored(id).status(), v1::PROPOSAL_STATUS_PENDING);
  const Result r = Run({"reject", id, "--reason", "they asked for a demo, not a PO"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rejected " + id));
  EXPECT_EQ(Stored(id).status(), v1::PROPOSAL_STATUS_REJECTED);
  EXPECT_EQ(Stored(id).reason(), "they asked for a demo, not a PO");
}

TEST_F(CtlReviewTest, EveryErrorHasItsMessageAndExitCode) {
  const std::string id = NewPending();
  ExpectFailure(Run({"pending"}, /*token=*/""), kExitNoToken, "no token");
  ExpectFailure(Run({"pending"}, "tok-wrong"), kExitUnauthenticated, "UNAUTHENTICATED");
  ExpectFailure(Run({"confirm", id}, "tok-bob"), kExitPermissionDenied, "not allowed");
  ExpectFailure(Run({"confirm", id, "--version", "1"}, "tok-bob"), kExitPermissionDenied,
                "not allowed");
  ExpectFailure(Run({"show", "p-nope"}), kExitNotFound, "proposal p-nope not found");
  ExpectFailure(Run({"confirm", "p-nope"}), kExitNotFound, "proposal p-nope not found");
  ExpectFailure(Run({"confirm", id, "--version", "5"}), kExitVersionMoved, "changed");
  EXPECT_EQ(Stored(id).status(), v1::PROPOSAL_STATUS_PENDING);

  // Already decided: rejected, then confirmed (or rejected again with another reason).
  ASSERT_EQ(Run({"reject", id, "--reason", "no"}).code, kExitOk);
  ExpectFailure(Run({"confirm", id}), kExitAlreadyDecided, "already rejected by alice");

  // Superseded: a further stage was confirmed first.
  const std::string behind = NewPending();  // opp-1 → proposal
  ASSERT_EQ(Submit(MakeProposal("p-ahead", "opp-1", "contract", "email", "signed contract",
                                "signed contract", Now())),
            v1::SUBMIT_OUTCOME_STORED);
  ASSERT_EQ(Run({"confirm", "p-ahead"}).code, kExitOk);
  ExpectFailure(Run({"confirm", behind}), kExitStale, "no longer applies");

  // Stale: the CRM moved the opportunity meanwhile.
  const std::string moved = NewPending();  // opp-2
  PutOpportunity("opp-2", "negotiation");
  ExpectFailure(Run({"confirm", moved}), kExitStale, "no longer applies");

  // Unreachable review.
  absl::StatusOr<int> port = testing::FreeTcpPort();
  ASSERT_TRUE(port.ok());
  const Result down =
      Run({"--review", absl::StrCat("127.0.0.1:", *port), "--timeout", "3", "pending"});
  ExpectFailure(down, kExitUnavailable, "is unreachable");

  // Bad usage.
  ExpectFailure(Run({"frobnicate"}), kExitUsage, "autostagectl --help");
  ExpectFailure(Run({"confirm"}), kExitUsage, "id");
}

TEST_F(CtlReviewTest, WatchStreamsUpdatesAsTheyHappen) {
  auto watch = std::async(std::launch::async, [&] { return Run({"watch", "--max", "2"}); });
  // The watch sees changes made after it subscribed: make some until it has seen two.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (watch.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    NewPending();
  }
  ASSERT_EQ(watch.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Result r = watch.get();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, StartsWith("new "));
    EXPECT_THAT(line, HasSubstr("Prospecting 初步接触 → Proposal 方案制定  pending v1"));
  }

  // --json: one ProposalUpdate per line.
  auto json = std::async(std::launch::async, [&] {
    return Run({"--json", "watch", "--max", "1"});
  });
  while (json.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(20)) {
    NewPending();
  }
  ASSERT_EQ(json.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Result j = json.get();
  ASSERT_EQ(j.code, kExitOk) << j.err;
  v1::ProposalUpdate update;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(j.out, &update).ok()) << j.out;
  EXPECT_EQ(update.kind(), v1::ProposalUpdate::KIND_NEW);
  EXPECT_EQ(update.proposal().status(), v1::PROPOSAL_STATUS_PENDING);

  ExpectFailure(Run({"watch"}, "tok-ingest"), kExitPermissionDenied, "not allowed");
}

// A review server without WatchProposals (older, or no hub configured).
class CtlReviewNoWatchTest : public CtlReviewTest {
 protected:
  bool WithWatchHub() const override { return false; }
};

TEST_F(CtlReviewNoWatchTest, WatchSaysItIsNotAvailable) {
  ExpectFailure(Run({"watch"}), kExitUnimplemented, "does not support watch yet");
}

}  // namespace
}  // namespace autostage::ctl
