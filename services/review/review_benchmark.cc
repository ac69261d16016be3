// Review throughput against a local redis-server started here (common/testing RedisServer):
//
//   BM_GrpcConfirm/threads:T   ConfirmProposal RPCs from T client threads (own channel each),
//                              through ReviewServer → ReviewCore → ProposalStore → Lua.
//   BM_GrpcSubmit/threads:T    SubmitProposals RPCs of 100 new proposals each (ingest token).
//   BM_StoreDecide / BM_StoreSubmit   the same work on ProposalStore directly, no gRPC, no
//                              authorization: what the Redis side alone costs.
//   BM_GrpcTrivial/threads:T   the gRPC ceiling of this server on this machine: ConfirmProposal
//                              with an empty proposal id (token checked, INVALID_ARGUMENT, no
//                              Redis) through the same service.
//   BM_GrpcHealth/threads:T    the same for grpc.health.v1 Check (gRPC's own service).
//
// Each iteration is one RPC (confirm) or one batch of 100 (submit); the proposals and
// opportunities a run needs are written before its timer starts. Counters: confirms_per_s /
// proposals_per_s (wall clock, all threads), p50_ms / p99_ms (per-thread percentiles,
// averaged over threads), redis_calls_per_op (commands Redis executed, including those run
// inside scripts; INFO commandstats), scripts_per_op (EVALSHA calls), redis_us_per_op (CPU
// time of Redis's main thread; INFO cpu), proc_us_per_op (CPU time of this whole process:
// clients, gRPC server, core, store), all per confirm or per proposal. On a shared machine the
// CPU costs are steadier than the rates, and bound what an idle machine could do.
// --dump_commandstats prints Redis's INFO commandstats at the end.
//
//   ./bin/review_benchmark --benchmark_repetitions=3 [--redis_aof]
// --redis_aof runs redis-server with appendonly yes + appendfsync always (every write on disk
// before it is acknowledged), as the durability tests do.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/byte_buffer.h>
#include <prometheus/registry.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "autostage/v1/review.grpc.pb.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_pool.h"
#include "common/testing/redis_server.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/grpc_server.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/review_core.h"
#include "services/review/review_metrics.h"

namespace autostage::review {
namespace {

constexpr int kBatch = 100;
constexpr int kConfirmsPerThread = 3000;
constexpr int kSubmitBatchesPerThread = 60;
constexpr int kRedisConnections = 8;

// Everything a benchmark talks to. Built once in main and passed by reference to the
// registered lambdas.
class Env {
 public:
  static std::unique_ptr<Env> Create(bool aof) {
    auto env = std::unique_ptr<Env>(new Env());
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis =
        testing::RedisServer::Start({.append_only = aof});
    if (!redis.ok()) {
      std::fprintf(stderr, "redis-server: %s\n", redis.status().ToString().c_str());
      return nullptr;
    }
    env->redis_ = *std::move(redis);
    env->pool_ = std::make_unique<redis::RedisPool>(
        redis::RedisOptions{.host = env->redis_->host(), .port = env->redis_->port()},
        kRedisConnections);
    Pipelines pipelines;
    pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                   "contract", "follow_up"});
    env->store_ = std::make_unique<ProposalStore>(*env->pool_, pipelines, env->clock_);
    absl::StatusOr<TokenTable> tokens = TokenTable::Parse(absl::StrCat(
        "- {sha256: ", Sha256Hex("alice"), ", id: alice, kind: human, role: rep, team: east}\n",
        "- {sha256: ", Sha256Hex("ingest"), ", id: ingest, kind: service, role: ingest}\n"));
    if (!tokens.ok()) return nullptr;
    env->tokens_ = *std::move(tokens);
    // With metrics, as autostage-review runs (RPC latency, decisions, stage analytics).
    env->metrics_ = std::make_unique<ReviewMetrics>(env->registry_);
    env->core_ = std::make_unique<ReviewCore>(*env->store_, env->tokens_, env->metrics_.get());
    absl::StatusOr<std::unique_ptr<ReviewServer>> server =
        ReviewServer::Start({.listen = "127.0.0.1:0"}, *env->core_);
    if (!server.ok()) return nullptr;
    env->server_ = *std::move(server);
    return env;
  }

  ~Env() {
    if (server_) server_->Shutdown(absl::Seconds(2));
  }

  ProposalStore& store() { return *store_; }

  // Commands Redis has executed and the CPU time it spent in them (INFO commandstats), to
  // tell round trips and script cost apart from gRPC and scheduling on a loaded machine.
  struct RedisStats {
    int64_t calls = 0;    // every command, including those a script runs (redis.call)
    int64_t scripts = 0;  // EVALSHA / EVAL calls
    int64_t usec = 0;     // CPU time of Redis's main thread
    std::string text;     // the raw INFO commandstats answer
  };
  RedisStats ReadRedisStats() {
    RedisStats stats;
    redis::RedisClient client({.host = redis_->host(), .port = redis_->port()});
    absl::StatusOr<redis::Reply> info = client.Command("INFO", "commandstats");
    if (!info.ok()) return stats;
    stats.text = info->str();
    for (absl::string_view line : absl::StrSplit(info->str(), "\r\n")) {
      if (!absl::ConsumePrefix(&line, "cmdstat_") || absl::StartsWith(line, "info:")) continue;
      const bool script = absl::StartsWith(line, "evalsha:") || absl::StartsWith(line, "eval:");
      for (absl::string_view field : absl::StrSplit(line.substr(line.find(':') + 1), ',')) {
        int64_t v = 0;
        if (absl::ConsumePrefix(&field, "calls=") && absl::SimpleAtoi(field, &v)) {
          stats.calls += v;
          if (script) stats.scripts += v;
        }
      }
    }
    // CPU of Redis's main thread (commands, scripts, network I/O): the resource a single
    // Redis runs out of first. (commandstats usec would count a script's calls twice.)
    absl::StatusOr<redis::Reply> cpu = client.Command("INFO", "cpu");
    if (!cpu.ok()) return stats;
    double seconds = 0;
    for (absl::string_view line : absl::StrSplit(cpu->str(), "\r\n")) {
      double v = 0;
      if ((absl::ConsumePrefix(&line, "used_cpu_sys_main_thread:") ||
           absl::ConsumePrefix(&line, "used_cpu_user_main_thread:")) &&
          absl::SimpleAtod(line, &v)) {
        seconds += v;
      }
    }
    stats.usec = static_cast<int64_t>(seconds * 1e6);
    return stats;
  }

  // A client of its own connection (a local subchannel pool), like separate processes.
  std::unique_ptr<v1::ReviewService::Stub> NewStub() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::ReviewService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials(), args));
  }

  // A channel of its own (as NewStub) for calls without a generated stub.
  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  // `n` fresh opportunities owned by alice at "prospecting"; returns their ids.
  std::vector<std::string> NewOpportunities(int n) {
    std::vector<std::string> ids;
    ids.reserve(n);
    for (int i = 0; i < n; ++i) {
      std::string id = absl::StrCat("opp-", next_.fetch_add(1));
      absl::Status s = store_->PutOpportunity({.opportunity_id = id,
                                               .pipeline = "b2b_standard",
                                               .stage = "prospecting",
                                               .owner_id = "alice",
                                               .team_id = "east"});
      if (!s.ok()) return {};
      ids.push_back(std::move(id));
    }
    return ids;
  }

  // One pending proposal (to "proposal") per opportunity, submitted in batches; returns the
  // proposal ids (version 1 each).
  std::vector<std::string> NewPending(int n) {
    std::vector<std::string> opps = NewOpportunities(n);
    std::vector<std::string> ids;
    for (size_t start = 0; start < opps.size(); start += kBatch) {
      v1::SubmitProposalsRequest request;
      for (size_t i = start; i < std::min(opps.size(), start + kBatch); ++i) {
        *request.add_proposals() = Proposal("p-" + opps[i], opps[i]);
      }
      absl::StatusOr<v1::SubmitProposalsResponse> r = store_->Submit(request);
      if (!r.ok()) return {};
      for (const v1::SubmitResult& result : r->results()) {
        if (result.outcome() != v1::SUBMIT_OUTCOME_STORED) return {};
        ids.push_back(result.stored_as());
      }
    }
    return ids;
  }

  static v1::Proposal Proposal(const std::string& id, const std::string& opp) {
    v1::Proposal p;
    p.set_proposal_id(id);
    p.set_opportunity_id(opp);
    p.set_pipeline("b2b_standard");
    p.set_to_stage("proposal");
    p.set_rule_id("quote-sent");
    p.set_confidence(0.9);
    v1::Evidence* e = p.add_evidence();
    e->set_event_id("ev-" + id);
    e->set_source("email");
    e->set_rule_id("quote-sent");
    e->set_snippet("Please find our quotation attached, valid for 30 days.");
    return p;
  }

 private:
  Env() = default;

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<redis::RedisPool> pool_;
  SystemClock clock_;
  std::unique_ptr<ProposalStore> store_;
  TokenTable tokens_;
  prometheus::Registry registry_;
  std::unique_ptr<ReviewMetrics> metrics_;
  std::unique_ptr<ReviewCore> core_;
  std::unique_ptr<ReviewServer> server_;
  std::atomic<int64_t> next_{0};
};

// Per-thread latency recorder; reports percentiles as counters averaged over threads.
class Latencies {
 public:
  explicit Latencies(size_t reserve) { nanos_.reserve(reserve); }
  void Add(std::chrono::steady_clock::duration d) {
    nanos_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  }
  void Report(benchmark::State& state) {
    if (nanos_.empty()) return;
    std::sort(nanos_.begin(), nanos_.end());
    auto at = [&](double q) {
      return static_cast<double>(nanos_[static_cast<size_t>(q * (nanos_.size() - 1))]) / 1e6;
    };
    state.counters["p50_ms"] = benchmark::Counter(at(0.50), benchmark::Counter::kAvgThreads);
    state.counters["p99_ms"] = benchmark::Counter(at(0.99), benchmark::Counter::kAvgThreads);
  }

 private:
  std::vector<int64_t> nanos_;
};

// Thread 0 reads Redis's counters when the timed loop starts (all threads have written their
// data: the loop start is a barrier) and after it ends (also a barrier), and reports Redis
// commands and Redis CPU microseconds per operation.
class RedisCost {
 public:
  RedisCost(benchmark::State& state, Env& env) : state_(state), env_(env) {}
  void OnFirstIteration() {
    if (state_.thread_index() == 0 && !started_) {
      start_ = env_.ReadRedisStats();
      start_cpu_ = ProcessCpuMicros();
    }
    started_ = true;
  }
  void Report(int64_t ops_per_iteration) {
    if (state_.thread_index() != 0) return;
    const int64_t end_cpu = ProcessCpuMicros();
    const Env::RedisStats end = env_.ReadRedisStats();
    const double ops = static_cast<double>(state_.iterations()) * state_.threads() *
                       static_cast<double>(ops_per_iteration);
    // Thread 0's counters are the only non-zero ones; summing over threads keeps them as is.
    // Minus the INFO commands of the first snapshot.
    state_.counters["redis_calls_per_op"] = static_cast<double>(end.calls - start_.calls - 2) / ops;
    // This process: gRPC clients and server, ReviewCore, the store's Redis client code.
    state_.counters["proc_us_per_op"] = static_cast<double>(end_cpu - start_cpu_) / ops;
    state_.counters["scripts_per_op"] = static_cast<double>(end.scripts - start_.scripts) / ops;
    state_.counters["redis_us_per_op"] = static_cast<double>(end.usec - start_.usec) / ops;
  }

 private:
  benchmark::State& state_;
  Env& env_;
  static int64_t ProcessCpuMicros() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto micros = [](const timeval& t) { return int64_t{t.tv_sec} * 1000000 + t.tv_usec; };
    return micros(usage.ru_utime) + micros(usage.ru_stime);
  }

  bool started_ = false;
  Env::RedisStats start_;
  int64_t start_cpu_ = 0;
};

void GrpcConfirm(benchmark::State& state, Env& env) {
  std::vector<std::string> ids = env.NewPending(kConfirmsPerThread);
  if (ids.size() != static_cast<size_t>(kConfirmsPerThread)) {
    state.SkipWithError("prefill failed");
    return;
  }
  std::unique_ptr<v1::ReviewService::Stub> stub = env.NewStub();
  Latencies latencies(ids.size());
  size_t next = 0;
  RedisCost cost(state, env);
  for (auto _ : state) {
    cost.OnFirstIteration();
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer alice");
    v1::ConfirmProposalRequest request;
    request.set_proposal_id(ids[next++]);
    request.set_version(1);
    v1::ReviewedProposal response;
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = stub->ConfirmProposal(&context, request, &response);
    latencies.Add(std::chrono::steady_clock::now() - start);
    if (!s.ok() || response.status() != v1::PROPOSAL_STATUS_CONFIRMED) {
      state.SkipWithError(absl::StrCat("confirm: ", s.error_message()).c_str());
      break;
    }
  }
  cost.Report(1);
  state.counters["confirms_per_s"] =
      benchmark::Counter(static_cast<double>(next), benchmark::Counter::kIsRate);
  latencies.Report(state);
}

// The framework's share: the cheapest call through the review service (token checked, then
// INVALID_ARGUMENT for the empty id, no Redis), and grpc.health.v1 Check.
void GrpcTrivial(benchmark::State& state, Env& env, bool health) {
  std::shared_ptr<grpc::Channel> channel = env.NewChannel();
  std::unique_ptr<v1::ReviewService::Stub> stub = v1::ReviewService::NewStub(channel);
  const grpc::internal::RpcMethod check("/grpc.health.v1.Health/Check",
                                        grpc::internal::RpcMethod::NORMAL_RPC);
  Latencies latencies(static_cast<size_t>(state.max_iterations));
  size_t calls = 0;
  RedisCost cost(state, env);
  for (auto _ : state) {
    cost.OnFirstIteration();
    grpc::ClientContext context;
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s;
    if (health) {
      // HealthCheckRequest{service: ""} serializes to no bytes: one empty slice (a
      // ByteBuffer without slices is not a message).
      grpc::Slice empty;
      grpc::ByteBuffer request(&empty, 1);
      grpc::ByteBuffer response;
      s = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
          channel.get(), check, &context, request, &response);
    } else {
      context.AddMetadata("authorization", "Bearer alice");
      v1::ConfirmProposalRequest request;
      v1::ReviewedProposal response;
      s = stub->ConfirmProposal(&context, request, &response);
      if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) s = grpc::Status::OK;
    }
    latencies.Add(std::chrono::steady_clock::now() - start);
    ++calls;
    if (!s.ok()) {
      state.SkipWithError(absl::StrCat("call: ", s.error_message()).c_str());
      break;
    }
  }
  cost.Report(1);
  state.counters["calls_per_s"] =
      benchmark::Counter(static_cast<double>(calls), benchmark::Counter::kIsRate);
  latencies.Report(state);
}

void GrpcSubmit(benchmark::State& state, Env& env) {
  std::vector<std::string> opps = env.NewOpportunities(kSubmitBatchesPerThread * kBatch);
  if (opps.size() != static_cast<size_t>(kSubmitBatchesPerThread * kBatch)) {
    state.SkipWithError("prefill failed");
    return;
  }
  std::vector<v1::SubmitProposalsRequest> requests(kSubmitBatchesPerThread);
  for (size_t i = 0; i < opps.size(); ++i) {
    *requests[i / kBatch].add_proposals() = Env::Proposal("p-" + opps[i], opps[i]);
  }
  std::unique_ptr<v1::ReviewService::Stub> stub = env.NewStub();
  Latencies latencies(requests.size());
  size_t next = 0;
  RedisCost cost(state, env);
  for (auto _ : state) {
    cost.OnFirstIteration();
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer ingest");
    v1::SubmitProposalsResponse response;
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = stub->SubmitProposals(&context, requests[next++], &response);
    latencies.Add(std::chrono::steady_clock::now() - start);
    if (!s.ok() || response.results_size() != kBatch ||
        response.results(kBatch - 1).outcome() != v1::SUBMIT_OUTCOME_STORED) {
      state.SkipWithError(absl::StrCat("submit: ", s.error_message()).c_str());
      break;
    }
  }
  cost.Report(kBatch);
  state.counters["proposals_per_s"] =
      benchmark::Counter(static_cast<double>(next * kBatch), benchmark::Counter::kIsRate);
  latencies.Report(state);
}

void StoreDecide(benchmark::State& state, Env& env) {
  std::vector<std::string> ids = env.NewPending(kConfirmsPerThread);
  if (ids.size() != static_cast<size_t>(kConfirmsPerThread)) {
    state.SkipWithError("prefill failed");
    return;
  }
  Latencies latencies(ids.size());
  size_t next = 0;
  RedisCost cost(state, env);
  for (auto _ : state) {
    cost.OnFirstIteration();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<v1::ReviewedProposal> r =
        env.store().Decide({.proposal_id = ids[next++],
                            .version = 1,
                            .decision = Decision::kConfirm,
                            .actor = "alice",
                            .scope = {ListScope::Kind::kOwner, "alice"}});
    latencies.Add(std::chrono::steady_clock::now() - start);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  cost.Report(1);
  state.counters["confirms_per_s"] =
      benchmark::Counter(static_cast<double>(next), benchmark::Counter::kIsRate);
  latencies.Report(state);
}

void StoreSubmit(benchmark::State& state, Env& env) {
  std::vector<std::string> opps = env.NewOpportunities(kSubmitBatchesPerThread * kBatch);
  if (opps.size() != static_cast<size_t>(kSubmitBatchesPerThread * kBatch)) {
    state.SkipWithError("prefill failed");
    return;
  }
  std::vector<v1::SubmitProposalsRequest> requests(kSubmitBatchesPerThread);
  for (size_t i = 0; i < opps.size(); ++i) {
    *requests[i / kBatch].add_proposals() = Env::Proposal("p-" + opps[i], opps[i]);
  }
  Latencies latencies(requests.size());
  size_t next = 0;
  RedisCost cost(state, env);
  for (auto _ : state) {
    cost.OnFirstIteration();
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<v1::SubmitProposalsResponse> r = env.store().Submit(requests[next++]);
    latencies.Add(std::chrono::steady_clock::now() - start);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  cost.Report(kBatch);
  state.counters["proposals_per_s"] =
      benchmark::Counter(static_cast<double>(next * kBatch), benchmark::Counter::kIsRate);
  latencies.Report(state);
}

}  // namespace
}  // namespace autostage::review

int main(int argc, char** argv) {
  using autostage::review::Env;
  bool aof = false;
  bool dump_commandstats = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--redis_aof") == 0) {
      aof = true;
    } else if (std::strcmp(argv[i], "--dump_commandstats") == 0) {
      dump_commandstats = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int benchmark_argc = static_cast<int>(args.size());
  benchmark::Initialize(&benchmark_argc, args.data());
  std::unique_ptr<Env> env = Env::Create(aof);
  if (env == nullptr) return 1;

  // Iterations are fixed: each thread's proposals are written before its timer starts.
  for (int threads : {1, 4, 8}) {
    benchmark::RegisterBenchmark(
        "BM_GrpcTrivial",
        [&](benchmark::State& s) { autostage::review::GrpcTrivial(s, *env, /*health=*/false); })
        ->Threads(threads)
        ->Iterations(autostage::review::kConfirmsPerThread)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        "BM_GrpcHealth",
        [&](benchmark::State& s) { autostage::review::GrpcTrivial(s, *env, /*health=*/true); })
        ->Threads(threads)
        ->Iterations(autostage::review::kConfirmsPerThread)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        "BM_GrpcConfirm", [&](benchmark::State& s) { autostage::review::GrpcConfirm(s, *env); })
        ->Threads(threads)
        ->Iterations(autostage::review::kConfirmsPerThread)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        "BM_GrpcSubmit", [&](benchmark::State& s) { autostage::review::GrpcSubmit(s, *env); })
        ->Threads(threads)
        ->Iterations(autostage::review::kSubmitBatchesPerThread)
        ->UseRealTime();
  }
  for (int threads : {1, 4}) {
    benchmark::RegisterBenchmark(
        "BM_StoreDecide", [&](benchmark::State& s) { autostage::review::StoreDecide(s, *env); })
        ->Threads(threads)
        ->Iterations(autostage::review::kConfirmsPerThread)
        ->UseRealTime();
    benchmark::RegisterBenchmark(
        "BM_StoreSubmit", [&](benchmark::State& s) { autostage::review::StoreSubmit(s, *env); })
        ->Threads(threads)
        ->Iterations(autostage::review::kSubmitBatchesPerThread)
        ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  if (dump_commandstats) std::printf("%s\n", env->ReadRedisStats().text.c_str());
  benchmark::Shutdown();
  return 0;
}
