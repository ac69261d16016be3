// Test-only: the review service in-process (redis-server, store, tokens, metrics, watch hub,
// core, gRPC server on 127.0.0.1:0) with the callers every authorization test uses. Shared by
// the *_redistest files of services/review.
//
// Callers: token names double as bearer tokens; "unknown" and "missing" have no table entry.
//   alice (rep, east), bob (rep, west), mgr-east / mgr-west (managers), admin (human admin),
//   svc-admin (service admin), ingest (ingest service).
//
// Thread safety: none; drive a harness from the test's thread (the server has its own).
#ifndef AUTOSTAGE_SERVICES_REVIEW_REVIEW_TEST_HARNESS_H_
#define AUTOSTAGE_SERVICES_REVIEW_REVIEW_TEST_HARNESS_H_

#include <prometheus/registry.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"
#include "services/review/grpc_server.h"
#include "services/review/review_metrics.h"
#include "services/review/watch_hub.h"

namespace autostage::review::harness {

inline constexpr const char* kCallers[] = {"alice",     "bob",    "mgr-east", "mgr-west", "admin",
                                           "svc-admin", "ingest", "unknown",  "missing"};

inline std::string TokenYaml() {
  auto entry = [](const std::string& token, const std::string& kind, const std::string& role,
                  const std::string& team) {
    return absl::StrCat("- {sha256: ", Sha256Hex(token), ", id: ", token, ", kind: ", kind,
                        ", role: ", role, team.empty() ? "" : ", team: " + team, "}\n");
  };
  return absl::StrCat(
      entry("alice", "human", "rep", "east"), entry("bob", "human", "rep", "west"),
      entry("mgr-east", "human", "manager", "east"), entry("mgr-west", "human", "manager", "west"),
      entry("admin", "human", "admin", ""), entry("svc-admin", "service", "admin", ""),
      entry("ingest", "service", "ingest", ""));
}

struct HarnessOptions {
  bool with_hub = true;
  bool with_metrics = true;
  ServerOptions server;  // listen is forced to 127.0.0.1:0
  WatchHubOptions hub;
  bool append_only = false;
  // Give the server MakeRedisProbe(pool, metrics) as its readiness probe.
  bool probe_redis = false;
};

class Harness {
 public:
  // Check ok() (and the failure message) right after construction.
  explicit Harness(HarnessOptions options = {}) : options_(std::move(options)) {
    absl::StatusOr<std::unique_ptr<autostage::testing::RedisServer>> server =
        autostage::testing::RedisServer::Start({.append_only = options_.append_only});
    if (!server.ok()) {
      error_ = server.status();
      return;
    }
    redis = *std::move(server);
    redis_options.host = redis->host();
    redis_options.port = redis->port();
    pool = std::make_unique<redis::RedisPool>(redis_options, 4);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    store = std::make_unique<ProposalStore>(*pool, pipelines, clock);
    absl::StatusOr<TokenTable> parsed = TokenTable::Parse(TokenYaml());
    if (!parsed.ok()) {
      error_ = parsed.status();
      return;
    }
    tokens = *std::move(parsed);
    if (options_.with_metrics) metrics = std::make_unique<ReviewMetrics>(registry);
    if (options_.with_hub) {
      hub = std::make_unique<WatchHub>(
          redis_options, [this](absl::string_view id) { return store->Get(id); }, options_.hub);
      hub->Start();
    }
    core = std::make_unique<ReviewCore>(*store, tokens, metrics.get(), hub.get());
    error_ = StartServer();
  }

  ~Harness() {
    if (server) server->Shutdown(absl::Seconds(5));
    if (hub) hub->Stop();
  }

  absl::Status status() const { return error_; }

  absl::Status StartServer() {
    ServerOptions so = options_.server;
    so.listen = "127.0.0.1:0";
    if (options_.probe_redis) so.readiness_probe = MakeRedisProbe(*pool, metrics.get());
    absl::StatusOr<std::unique_ptr<ReviewServer>> started = ReviewServer::Start(so, *core);
    if (!started.ok()) return started.status();
    server = *std::move(started);
    target = absl::StrCat("127.0.0.1:", server->port());
    channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    stub = v1::ReviewService::NewStub(channel);
    return absl::OkStatus();
  }

  // A fresh opportunity owned by `owner` (team `team`) with one pending proposal; its id.
  std::string NewPending(const std::string& owner = "alice", const std::string& team = "east",
                         const std::string& to_stage = "proposal") {
    const std::string n = std::to_string(next_++);
    const std::string opp = "opp-" + n;
    EXPECT_TRUE(store
                    ->PutOpportunity({.opportunity_id = opp,
                                      .pipeline = "b2b_standard",
                                      .stage = "prospecting",
                                      .owner_id = owner,
                                      .team_id = team})
                    .ok());
    v1::SubmitProposalsRequest request;
    *request.add_proposals() = Proposal("p-" + n, opp, to_stage);
    absl::StatusOr<v1::SubmitProposalsResponse> r = store->Submit(request);
    EXPECT_TRUE(r.ok() && r->results(0).outcome() == v1::SUBMIT_OUTCOME_STORED);
    return "p-" + n;
  }

  static v1::Proposal Proposal(const std::string& id, const std::string& opp,
                               const std::string& to_stage = "proposal") {
    v1::Proposal p;
    p.set_proposal_id(id);
    p.set_opportunity_id(opp);
    p.set_pipeline("b2b_standard");
    p.set_to_stage(to_stage);
    p.set_rule_id("rule-quote");
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + id);
    e->set_source("email");
    e->set_rule_id("rule-quote");
    return p;
  }

  static void Authorize(grpc::ClientContext* context, const std::string& caller,
                        int deadline_seconds = 10) {
    if (caller != "missing") context->AddMetadata("authorization", "Bearer " + caller);
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(deadline_seconds));
  }

  // Entries of the audit stream whose `action` is `action` (and `method`, when given).
  int CountAudit(const std::string& action, const std::string& method = "") {
    redis::RedisClient client(redis_options);
    absl::StatusOr<redis::Reply> r = client.Command("XRANGE", ProposalStore::AuditKey(), "-", "+");
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return -1;
    int n = 0;
    for (const redis::Reply& e : r->elements()) {
      bool action_matches = false;
      bool method_matches = method.empty();
      for (size_t i = 0; i + 1 < e[1].size(); i += 2) {
        action_matches |= e[1][i].str() == "action" && e[1][i + 1].str() == action;
        method_matches |= e[1][i].str() == "method" && e[1][i + 1].str() == method;
      }
      n += action_matches && method_matches;
    }
    return n;
  }

  int64_t OutboxLength() {
    redis::RedisClient client(redis_options);
    absl::StatusOr<redis::Reply> r = client.Command("XLEN", ProposalStore::OutboxKey());
    return r.ok() ? r->integer() : -1;
  }

  // The value of one series in the registry (0 when absent).
  double Metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    for (const prometheus::MetricFamily& family : registry.Collect()) {
      for (const prometheus::ClientMetric& m : family.metric) {
        std::string series = family.name;
        if (family.type == prometheus::MetricType::Histogram) series += "_count";
        if (series != name && family.name != name) continue;
        bool match = true;
        for (const auto& [k, v] : labels) {
          bool found = false;
          for (const prometheus::ClientMetric::Label& l : m.label) {
            found |= l.name == k && l.value == v;
          }
          match &= found;
        }
        if (!match) continue;
        switch (family.type) {
          case prometheus::MetricType::Counter:
            return m.counter.value;
          case prometheus::MetricType::Gauge:
            return m.gauge.value;
          case prometheus::MetricType::Histogram:
            return static_cast<double>(m.histogram.sample_count);
          default:
            return 0;
        }
      }
    }
    return 0;
  }

  HarnessOptions options_;
  std::unique_ptr<autostage::testing::RedisServer> redis;
  redis::RedisOptions redis_options;
  std::unique_ptr<redis::RedisPool> pool;
  FakeClock clock{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<ProposalStore> store;
  TokenTable tokens;
  prometheus::Registry registry;
  std::unique_ptr<ReviewMetrics> metrics;
  std::unique_ptr<WatchHub> hub;
  std::unique_ptr<ReviewCore> core;
  std::unique_ptr<ReviewServer> server;
  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ReviewService::Stub> stub;

 private:
  absl::Status error_;
  int next_ = 0;
};

}  // namespace autostage::review::harness

#endif  // AUTOSTAGE_SERVICES_REVIEW_REVIEW_TEST_HARNESS_H_
