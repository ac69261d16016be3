// Drives the review server with an independent client: review_client_test.py (Debian
// python3-grpcio, stubs generated from proto/ at test time into a temporary directory).
// Skips, saying why, only when the Debian grpc modules cannot be imported.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"
#include "services/review/review_test_harness.h"

namespace autostage::review {
namespace {

using harness::Harness;

// The Debian interpreter: the python3 on PATH may be another one without Debian's modules.
constexpr char kDebianPython[] = "/usr/bin/python3";
constexpr int kSkipExit = 77;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PythonClientTest, IndependentGrpcioClientAgreesWithTheApi) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "AUTOSTAGE_SOURCE_DIR is set by autostage_test";
  absl::StatusOr<std::string> python = autostage::testing::FindExecutable(kDebianPython);
  if (!python.ok()) GTEST_SKIP() << "no Debian python3 at " << kDebianPython;

  Harness h;
  ASSERT_TRUE(h.status().ok()) << h.status();
  ASSERT_EQ(h.NewPending("alice", "east"), "p-0");

  absl::StatusOr<autostage::testing::TempDir> dir =
      autostage::testing::TempDir::Create("review-py");
  ASSERT_TRUE(dir.ok()) << dir.status();
  const std::string log = dir->File("client.log");
  absl::StatusOr<std::unique_ptr<autostage::testing::Subprocess>> client =
      autostage::testing::Subprocess::Spawn(
          {.argv = {*python, absl::StrCat(source, "/services/review/review_client_test.py"),
                    "--target", h.target, "--proto-root", absl::StrCat(source, "/proto"), "--out",
                    dir->path()},
           .output_file = log});
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<autostage::testing::ExitInfo> exit = (*client)->Wait(absl::Seconds(90));
  ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << ReadAll(log);
  if (exit->exited && exit->code == kSkipExit) GTEST_SKIP() << ReadAll(log);
  ASSERT_TRUE(exit->success()) << exit->ToString() << "\n" << ReadAll(log);

  // What the client did is in Redis.
  absl::StatusOr<v1::ReviewedProposal> p0 = h.store->Get("p-0");
  ASSERT_TRUE(p0.ok()) << p0.status();
  EXPECT_EQ(p0->status(), v1::PROPOSAL_STATUS_CONFIRMED);
  EXPECT_EQ(h.OutboxLength(), 1);
  absl::StatusOr<v1::ReviewedProposal> py1 = h.store->Get("py-1");
  ASSERT_TRUE(py1.ok()) << py1.status();
  EXPECT_EQ(py1->submissions(), 1);
}

}  // namespace
}  // namespace autostage::review
