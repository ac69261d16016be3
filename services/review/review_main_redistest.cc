// The real autostage-review binary as a child process (label `redis`): config file handling
// and exit code 2, /healthz and /metrics, SIGHUP token reload, SIGTERM drain and exit 0, and
// failure scenario 17 (SIGTERM while confirms are in flight).
//
// The binary listens on port 0 and the test reads the bound ports from its "listening" log
// line, so no port is guessed.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_pool.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/topic_reader_testing.h"

namespace autostage::review {
namespace {

using ::autostage::testing::RedisServer;
using ::autostage::testing::Subprocess;
using ::autostage::testing::TempDir;
using ::autostage::testing::WaitFor;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  // Write-then-rename, so the binary never reads a half-written file on SIGHUP.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

std::string TokenEntry(const std::string& token, const std::string& role = "rep") {
  return absl::StrCat("- {sha256: ", Sha256Hex(token), ", id: ", token,
                      ", kind: human, role: ", role, ", team: east}\n");
}

// A minimal HTTP/1.0 GET on 127.0.0.1; returns the status code and body (or -1 on error).
std::pair<int, std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {-1, ""};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return {-1, ""};
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return {-1, ""};
  }
  std::string response;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  int code = -1;
  if (std::sscanf(response.c_str(), "HTTP/%*s %d", &code) != 1) return {-1, response};
  const size_t body = response.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : response.substr(body + 4)};
}

class ReviewMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("review-main");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    binary_ = testing::AutostageBinDir() + "/autostage-review";
    ASSERT_EQ(access(binary_.c_str(), X_OK), 0) << binary_ << " (build autostage-review)";
    WriteFile(dir_->File("pipelines.yaml"),
              "pipelines:\n  - id: b2b_standard\n    stages:\n      - {id: prospecting}\n"
              "      - {id: needs_analysis}\n      - {id: proposal}\n      - {id: negotiation}\n");
    WriteFile(dir_->File("tokens.yaml"), TokenEntry("alice"));
  }

  void StartRedis() {
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }

  // The config for a running instance: ports 0 (read back from the log), this test's Redis.
  std::string Config(const std::string& extra = "") const {
    return absl::StrCat(
        "listen: 127.0.0.1:0\nmetrics_listen: 127.0.0.1:0\n",
        "tokens_file: tokens.yaml\npipelines_file: pipelines.yaml\n", "shutdown_deadline: 5s\n",
        "redis:\n  address: 127.0.0.1:", redis_ ? redis_->port() : 1, "\n  pool_size: 4\n", extra);
  }

  // Spawns the binary with `config` as its file plus `flags`; output goes to log().
  std::unique_ptr<Subprocess> Spawn(const std::string& config,
                                    const std::vector<std::string>& flags = {}) {
    WriteFile(dir_->File("review.yaml"), config);
    std::vector<std::string> argv = {binary_, "--config", dir_->File("review.yaml")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> p =
        Subprocess::Spawn({.argv = argv, .output_file = dir_->File("review.log")});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *std::move(p) : nullptr;
  }

  std::string log() const { return ReadFile(dir_->File("review.log")); }

  // Waits for the "listening" line and reads the two ports from it.
  void WaitListening() {
    const std::regex line(R"re("msg":"listening".*"grpc_port":(\d+),"metrics_port":(\d+))re");
    std::smatch m;
    ASSERT_TRUE(WaitFor(
                    [&] {
                      const std::string text = log();
                      if (!std::regex_search(text, m, line)) return false;
                      grpc_port_ = std::stoi(m[1]);
                      metrics_port_ = std::stoi(m[2]);
                      return true;
                    },
                    absl::Seconds(20))
                    .ok())
        << log();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::ReviewService::NewStub(channel_);
  }

  grpc::StatusCode GetAs(const std::string& token, const std::string& proposal_id = "nope") {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetProposalRequest request;
    request.set_proposal_id(proposal_id);
    v1::ReviewedProposal response;
    return stub_->GetProposal(&context, request, &response).error_code();
  }

  // Scenario 17 (below), with or without the outbox publisher.
  void RunSigtermDuringConfirms(bool with_kafka);

  std::unique_ptr<TempDir> dir_;
  std::string binary_;
  std::unique_ptr<RedisServer> redis_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ReviewService::Stub> stub_;
};

TEST_F(ReviewMainTest, UnknownKeyExits2NamingKeyAndLine) {
  std::unique_ptr<Subprocess> p = Spawn(
      "listen: 127.0.0.1:0\ntokens_file: tokens.yaml\npipelines_file: pipelines.yaml\n"
      "redis:\n  adress: 127.0.0.1:1\n");
  ASSERT_NE(p, nullptr);
  absl::StatusOr<testing::ExitInfo> exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString();
  const std::string text = log();
  EXPECT_THAT(text, HasSubstr("review.yaml:5: redis.adress: unknown key"));
  // One line, so process supervisors show the whole reason.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

TEST_F(ReviewMainTest, BadValuesAndMissingFilesExit2) {
  std::unique_ptr<Subprocess> p =
      Spawn("tokens_file: tokens.yaml\npipelines_file: pipelines.yaml\nexpiry:\n  max_age: 0\n");
  ASSERT_NE(p, nullptr);
  absl::StatusOr<testing::ExitInfo> exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2);
  EXPECT_THAT(log(), HasSubstr("review.yaml:4: expiry.max_age: must be positive"));

  // A flag overriding a key is validated too, and named as the key it overrides.
  p = Spawn("tokens_file: tokens.yaml\npipelines_file: pipelines.yaml\n", {"--redis", "no-port"});
  ASSERT_NE(p, nullptr);
  exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2);
  EXPECT_THAT(log(), HasSubstr("redis.address: must be host:port"));

  p = Spawn("tokens_file: missing.yaml\npipelines_file: pipelines.yaml\n");
  ASSERT_NE(p, nullptr);
  exit = p->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2);
  EXPECT_THAT(log(), HasSubstr("tokens_file:"));
}

TEST_F(ReviewMainTest, ServesHealthAndMetricsReloadsTokensAndDrainsOnSigterm) {
  StartRedis();
  std::unique_ptr<Subprocess> p = Spawn(Config());
  ASSERT_NE(p, nullptr);
  WaitListening();

  std::pair<int, std::string> health = HttpGet(metrics_port_, "/healthz");
  EXPECT_EQ(health.first, 200) << health.second;
  std::pair<int, std::string> metrics = HttpGet(metrics_port_, "/metrics");
  EXPECT_EQ(metrics.first, 200);
  // The Redis probe feeds ReviewMetrics (wired in main).
  EXPECT_THAT(metrics.second, HasSubstr("autostage_review_redis_up 1"));

  // Logs are JSON lines: every line the binary wrote so far is an object.
  for (absl::string_view line : absl::StrSplit(log(), '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":") && absl::EndsWith(line, "}")) << line;
  }

  EXPECT_EQ(GetAs("alice"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetAs("bob"), grpc::StatusCode::UNAUTHENTICATED);

  // SIGHUP with bob added and alice revoked: takes effect for the next calls.
  WriteFile(dir_->File("tokens.yaml"), TokenEntry("bob"));
  ASSERT_EQ(kill(p->pid(), SIGHUP), 0);
  EXPECT_TRUE(
      WaitFor([&] { return GetAs("bob") == grpc::StatusCode::NOT_FOUND; }, absl::Seconds(10)).ok())
      << log();
  EXPECT_EQ(GetAs("alice"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(log(), HasSubstr("token file reloaded"));

  // A bad file keeps the previous tokens, and says so.
  WriteFile(dir_->File("tokens.yaml"), "- {sha256: not-hex, id: x, kind: human, role: rep}\n");
  ASSERT_EQ(kill(p->pid(), SIGHUP), 0);
  EXPECT_TRUE(
      WaitFor([&] { return log().find("reload failed") != std::string::npos; }, absl::Seconds(10))
          .ok())
      << log();
  EXPECT_EQ(GetAs("bob"), grpc::StatusCode::NOT_FOUND);

  // Redis gone → /healthz 503 (liveness stays with the process; readiness follows Redis).
  redis_->Kill();
  EXPECT_TRUE(
      WaitFor([&] { return HttpGet(metrics_port_, "/healthz").first == 503; }, absl::Seconds(10))
          .ok());

  // SIGTERM → exit 0 well within the 5 s drain deadline (+ civetweb's 2 s stop).
  const absl::Time start = absl::Now();
  testing::ExitInfo exit = p->Stop(absl::Seconds(15));
  EXPECT_TRUE(exit.success() && !exit.force_killed) << exit.ToString() << "\n" << log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(9));
  EXPECT_THAT(log(), HasSubstr("\"msg\":\"draining\""));
  EXPECT_THAT(log(), HasSubstr("\"msg\":\"stopped\""));
}

// Scenario 17: SIGTERM while confirms are in flight. Every confirm either completed (and its
// StageChange is in the outbox) or failed UNAVAILABLE; every outbox entry has exactly one
// human confirmation in the audit stream, and vice versa.
void ReviewMainTest::RunSigtermDuringConfirms(bool with_kafka) {
  StartRedis();
  std::unique_ptr<testing::DevBrokerProcess> kafka;
  if (with_kafka) {
    absl::StatusOr<std::unique_ptr<testing::DevBrokerProcess>> started =
        testing::DevBrokerProcess::Start({.topics = {{"crm.stage-changes", 2}}});
    ASSERT_TRUE(started.ok()) << started.status();
    kafka = *std::move(started);
  }
  constexpr int kProposals = 2000;
  constexpr int kClients = 4;
  redis::RedisPool pool({.host = redis_->host(), .port = redis_->port()}, 2);
  Pipelines pipelines;
  pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation"});
  SystemClock clock;
  ProposalStore store(pool, pipelines, clock);
  std::vector<std::string> ids;
  for (int i = 0; i < kProposals; ++i) {
    const std::string opp = absl::StrCat("opp-", i);
    ASSERT_TRUE(store
                    .PutOpportunity({.opportunity_id = opp,
                                     .pipeline = "b2b_standard",
                                     .stage = "prospecting",
                                     .owner_id = "alice",
                                     .team_id = "east"})
                    .ok());
    v1::SubmitProposalsRequest request;
    v1::Proposal* proposal = request.add_proposals();
    proposal->set_proposal_id(absl::StrCat("p-", i));
    proposal->set_opportunity_id(opp);
    proposal->set_pipeline("b2b_standard");
    proposal->set_to_stage("proposal");
    proposal->add_evidence()->set_event_id(absl::StrCat("ev-", i));
    absl::StatusOr<v1::SubmitProposalsResponse> r = store.Submit(request);
    ASSERT_TRUE(r.ok() && r->results(0).outcome() == v1::SUBMIT_OUTCOME_STORED);
    ids.push_back(absl::StrCat("p-", i));
  }

  std::unique_ptr<Subprocess> p =
      Spawn(Config(with_kafka ? absl::StrCat("outbox:\n  kafka_bootstrap: ", kafka->bootstrap(),
                                             "\n  consumer: test-instance\n  flush_deadline: 5s\n")
                              : ""));
  ASSERT_NE(p, nullptr);
  WaitListening();

  std::mutex mu;
  std::map<std::string, grpc::StatusCode> outcome;  // proposal → code of its confirm
  std::atomic<int> next{0};
  std::atomic<int> completed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      // Each client its own connection, like separate reps.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto stub = v1::ReviewService::NewStub(grpc::CreateCustomChannel(
          absl::StrCat("127.0.0.1:", grpc_port_), grpc::InsecureChannelCredentials(), args));
      for (int i = next++; i < kProposals; i = next++) {
        grpc::ClientContext context;
        context.AddMetadata("authorization", "Bearer alice");
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::ConfirmProposalRequest request;
        request.set_proposal_id(ids[i]);
        request.set_version(1);
        v1::ReviewedProposal response;
        const grpc::StatusCode code =
            stub->ConfirmProposal(&context, request, &response).error_code();
        if (code == grpc::StatusCode::OK) ++completed;
        std::lock_guard<std::mutex> lock(mu);
        outcome[ids[i]] = code;
      }
    });
  }
  // Signal once confirms are flowing, so some are surely in flight.
  ASSERT_TRUE(WaitFor([&] { return completed.load() >= 50; }, absl::Seconds(30)).ok());
  ASSERT_EQ(kill(p->pid(), SIGTERM), 0);
  for (std::thread& t : clients) t.join();
  absl::StatusOr<testing::ExitInfo> exit = p->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->ToString() << "\n" << log();

  // What Redis holds: outbox proposal ids, and confirmations in the audit stream.
  redis::RedisClient client({.host = redis_->host(), .port = redis_->port()});
  auto field_values = [&](const std::string& key, const std::string& field,
                          const std::string& action) {
    std::multiset<std::string> values;
    absl::StatusOr<redis::Reply> r = client.Command("XRANGE", key, "-", "+");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return values;
    for (const redis::Reply& entry : r->elements()) {
      std::map<std::string, std::string> fields;
      for (size_t i = 0; i + 1 < entry[1].size(); i += 2) {
        fields[entry[1][i].str()] = entry[1][i + 1].str();
      }
      if (action.empty() || fields["action"] == action) values.insert(fields[field]);
    }
    return values;
  };
  // Without a publisher every StageChange is still in the outbox stream; with one, those it
  // published are on the topic (and gone from the stream), the rest still in the stream.
  std::multiset<std::string> published =
      field_values(ProposalStore::OutboxKey(), "proposal_id", "");
  if (with_kafka) {
    absl::StatusOr<std::vector<TopicRecord>> records =
        ReadTopic(kafka->bootstrap(), "crm.stage-changes", 2, absl::Seconds(30));
    ASSERT_TRUE(records.ok()) << records.status();
    std::set<std::string> on_topic;
    for (const TopicRecord& r : *records) {
      ASSERT_TRUE(absl::StartsWith(r.change_id, "sc-")) << r.change_id;
      // At least once: a duplicate would carry the same change_id (dropped downstream).
      on_topic.insert(r.change_id.substr(3));
    }
    EXPECT_GT(on_topic.size(), 0u) << log();
    for (const std::string& id : on_topic) {
      EXPECT_EQ(published.count(id), 0u) << id << " published but still in the outbox";
      published.insert(id);
    }
  }
  const std::multiset<std::string> confirmed =
      field_values(ProposalStore::AuditKey(), "proposal_id", "confirm");
  EXPECT_EQ(published, confirmed) << "every StageChange has exactly one confirmation";

  int ok = 0, unavailable = 0, cancelled = 0;
  for (const auto& [id, code] : outcome) {
    if (code == grpc::StatusCode::OK) {
      ++ok;
      EXPECT_EQ(published.count(id), 1u) << id << " confirmed without its outbox entry";
    } else if (code == grpc::StatusCode::UNAVAILABLE) {
      ++unavailable;
    } else {
      // gRPC's sync server cancels calls that had arrived but not reached a handler when
      // Shutdown begins (core's pending-call list is "zombified"): CANCELLED, never applied.
      ++cancelled;
      EXPECT_EQ(code, grpc::StatusCode::CANCELLED) << id;
      absl::StatusOr<redis::Reply> status = client.Command(
          "HGET", absl::StrCat("autostage:{opp-", id.substr(2), "}:proposal:", id), "status");
      ASSERT_TRUE(status.ok()) << status.status();
      EXPECT_EQ(status->str(), "pending") << id << " was applied but its caller saw CANCELLED";
      EXPECT_EQ(published.count(id), 0u) << id;
    }
  }
  EXPECT_GE(ok, 50);
  if (with_kafka) {
    EXPECT_THAT(log(), HasSubstr("outbox publisher stopped"));
  }
  EXPECT_GT(unavailable + cancelled, 0) << "the signal came after every confirm";
  std::printf("confirms: %d ok, %d unavailable, %d cancelled before a handler ran\n", ok,
              unavailable, cancelled);
  EXPECT_EQ(static_cast<int>(outcome.size()), kProposals);
  // A confirm that failed UNAVAILABLE may still have applied (the answer was lost): the retry
  // on a restarted instance answers it as a replay. Either way it is in both streams or none.
  EXPECT_LE(published.size(), static_cast<size_t>(kProposals));
}

TEST_F(ReviewMainTest, SigtermDuringConfirms) { RunSigtermDuringConfirms(/*with_kafka=*/false); }

// The same with the outbox publisher running against the devbroker: what reached the topic
// plus what is left in the outbox is exactly the set of confirmations.
TEST_F(ReviewMainTest, SigtermDuringConfirmsWithPublisher) {
  RunSigtermDuringConfirms(/*with_kafka=*/true);
}

}  // namespace
}  // namespace autostage::review
