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
// --dump_commandstats prints Redis's INFO commandstats at the end; --command_costs adds a
// counter us_<command> per benchmark: Redis's microseconds per op in that command (commands a
// script runs are counted in their own line and again in evalsha's).
//
//   BM_GrpcConfirmAsync/inflight:N   ConfirmProposal RPCs from one client thread with the
//                              callback API, N calls in flight over up to 4 channels (like N
//                              reps each waiting for their own answer, without a client thread
//                              per rep). p50/p99 over all calls.
//
// --server_process runs the ReviewServer (core, store, metrics) in a child process forked
// before gRPC starts, so each process's CPU is measured apart: proc_us_per_op is then the
// client alone, server_us_per_op the server process (sum of its threads' run time,
// /proc/PID/task/*/schedstat), redis_us_per_op Redis's main thread; *_switches_per_op count
// how often the process's threads were switched onto a CPU (on this VM a switch costs more
// than most of the work).
//
//   ./bin/review_benchmark --benchmark_repetitions=3 [--redis_aof] [--server_process]
// --redis_aof runs redis-server with appendonly yes + appendfsync always (every write on disk
// before it is acknowledged), as the durability tests do.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/byte_buffer.h>
#include <prometheus/registry.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
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
// The pipelines and principals of every benchmark.
Pipelines BenchPipelines() {
  Pipelines pipelines;
  pipelines.Set("b2b_standard", {"prospecting", "needs_analysis", "proposal", "negotiation",
                                 "contract", "follow_up"});
  return pipelines;
}

absl::StatusOr<TokenTable> BenchTokens() {
  return TokenTable::Parse(absl::StrCat(
      "- {sha256: ", Sha256Hex("alice"), ", id: alice, kind: human, role: rep, team: east}\n",
      "- {sha256: ", Sha256Hex("ingest"), ", id: ingest, kind: service, role: ingest}\n"));
}

// CPU time and switches onto a CPU of every (live) thread of a process so far.
struct TaskCpu {
  int64_t ns = 0;
  int64_t switches = 0;
};
TaskCpu ReadTaskCpu(pid_t pid) {
  TaskCpu total;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::ifstream in(task.path() / "schedstat");
    int64_t run_ns = 0, wait_ns = 0, slices = 0;
    if (in >> run_ns >> wait_ns >> slices) {
      total.ns += run_ns;
      total.switches += slices;
    }
  }
  return total;
}

// The review server as autostage-review runs it (with metrics: RPC latency, decisions, stage
// analytics), on its own Redis pool.
struct ServerSide {
  std::unique_ptr<redis::RedisPool> pool;
  SystemClock clock;
  std::unique_ptr<ProposalStore> store;
  TokenTable tokens;
  prometheus::Registry registry;
  std::unique_ptr<ReviewMetrics> metrics;
  std::unique_ptr<ReviewCore> core;
  std::unique_ptr<ReviewServer> server;

  static std::unique_ptr<ServerSide> Start(const std::string& host, int port) {
    auto side = std::make_unique<ServerSide>();
    side->pool = std::make_unique<redis::RedisPool>(redis::RedisOptions{.host = host, .port = port},
                                                    kRedisConnections);
    side->store = std::make_unique<ProposalStore>(*side->pool, BenchPipelines(), side->clock);
    absl::StatusOr<TokenTable> tokens = BenchTokens();
    if (!tokens.ok()) return nullptr;
    side->tokens = *std::move(tokens);
    side->metrics = std::make_unique<ReviewMetrics>(side->registry);
    side->core = std::make_unique<ReviewCore>(*side->store, side->tokens, side->metrics.get());
    absl::StatusOr<std::unique_ptr<ReviewServer>> server =
        ReviewServer::Start({.listen = "127.0.0.1:0"}, *side->core);
    if (!server.ok()) return nullptr;
    side->server = *std::move(server);
    return side;
  }
  ~ServerSide() {
    if (server) server->Shutdown(absl::Seconds(2));
  }
};

// The child of --server_process: serves until the parent closes `hold` (or exits), after
// writing the port to `ready` (0: failed). Never returns to the parent's code.
[[noreturn]] void ServeChild(const std::string& host, int port, int ready, int hold) {
  std::unique_ptr<ServerSide> side = ServerSide::Start(host, port);
  const int bound = side ? side->server->port() : 0;
  if (write(ready, &bound, sizeof bound) != sizeof bound || side == nullptr) _exit(1);
  close(ready);
  char byte;
  while (read(hold, &byte, 1) > 0) {
  }
  side.reset();
  _exit(0);  // no destructors of the parent's objects (its redis-server) in the child
}

// Everything a benchmark talks to. Built once in main and passed by reference to the
// registered lambdas.
class Env {
 public:
  static std::unique_ptr<Env> Create(bool aof, bool server_process) {
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
    env->store_ = std::make_unique<ProposalStore>(*env->pool_, BenchPipelines(), env->clock_);
    {
      redis::RedisClient client({.host = env->redis_->host(), .port = env->redis_->port()});
      absl::StatusOr<redis::Reply> info = client.Command("INFO", "server");
      if (info.ok()) {
        for (absl::string_view line : absl::StrSplit(info->str(), "\r\n")) {
          if (absl::ConsumePrefix(&line, "process_id:"))
            (void)absl::SimpleAtoi(line, &env->redis_pid_);
        }
      }
    }
    if (!server_process) {
      env->server_ = ServerSide::Start(env->redis_->host(), env->redis_->port());
      if (env->server_ == nullptr) return nullptr;
      env->port_ = env->server_->server->port();
      return env;
    }
    // Forked before this process starts gRPC (the stubs are made later), so the child starts
    // its own gRPC from scratch.
    int ready[2], hold[2];
    if (pipe(ready) != 0 || pipe(hold) != 0) return nullptr;
    const pid_t pid = fork();
    if (pid < 0) return nullptr;
    if (pid == 0) {
      close(ready[0]);
      close(hold[1]);
      ServeChild(env->redis_->host(), env->redis_->port(), ready[1], hold[0]);
    }
    close(ready[1]);
    close(hold[0]);
    env->server_pid_ = pid;
    env->hold_fd_ = hold[1];
    int port = 0;
    const bool got = read(ready[0], &port, sizeof port) == sizeof port;
    close(ready[0]);
    if (!got || port == 0) return nullptr;
    env->port_ = port;
    return env;
  }

  ~Env() {
    server_.reset();
    if (server_pid_ > 0) {
      close(hold_fd_);  // EOF: the child shuts its server down and exits
      int status = 0;
      waitpid(server_pid_, &status, 0);
    }
  }

  bool command_costs() const { return command_costs_; }
  void set_command_costs(bool on) { command_costs_ = on; }

  // The server's process when it runs apart (--server_process), else 0.
  pid_t server_pid() const { return server_pid_; }
  pid_t redis_pid() const { return static_cast<pid_t>(redis_pid_); }

  ProposalStore& store() { return *store_; }

  // Commands Redis has executed and the CPU time it spent in them (INFO commandstats), to
  // tell round trips and script cost apart from gRPC and scheduling on a loaded machine.
  struct RedisStats {
    int64_t calls = 0;    // every command, including those a script runs (redis.call)
    int64_t scripts = 0;  // EVALSHA / EVAL calls
    int64_t usec = 0;     // CPU time of Redis's main thread
    std::string text;     // the raw INFO commandstats answer
    // Per command (lower case): microseconds Redis spent in it, counted for each call a script
    // made as well (so evalsha includes them).
    std::map<std::string, int64_t> usec_by_command;
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
      const std::string command(line.substr(0, line.find(':')));
      for (absl::string_view field : absl::StrSplit(line.substr(line.find(':') + 1), ',')) {
        int64_t v = 0;
        if (absl::ConsumePrefix(&field, "calls=") && absl::SimpleAtoi(field, &v)) {
          stats.calls += v;
          if (script) stats.scripts += v;
        } else if (absl::ConsumePrefix(&field, "usec=") && absl::SimpleAtoi(field, &v)) {
          stats.usec_by_command[command] = v;
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
        absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials(), args));
  }

  // A channel of its own (as NewStub) for calls without a generated stub.
  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port_),
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
  int64_t redis_pid_ = 0;
  std::unique_ptr<ServerSide> server_;  // in this process (no --server_process)
  pid_t server_pid_ = 0;                // the child (--server_process)
  bool command_costs_ = false;          // --command_costs
  int hold_fd_ = -1;
  int port_ = 0;
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
// commands and the CPU microseconds of each process per operation.
class RedisCost {
 public:
  RedisCost(benchmark::State& state, Env& env) : state_(state), env_(env) {}
  void OnFirstIteration() {
    if (state_.thread_index() == 0 && !started_) {
      start_ = env_.ReadRedisStats();
      start_cpu_ = ProcessCpu();
      if (env_.server_pid() > 0) start_server_ = ReadTaskCpu(env_.server_pid());
      if (env_.redis_pid() > 0) start_redis_ = ReadTaskCpu(env_.redis_pid());
    }
    started_ = true;
  }
  // `ops`: operations in the whole run when not iterations x threads x ops_per_iteration.
  void Report(int64_t ops_per_iteration, int64_t ops = 0) {
    if (state_.thread_index() != 0) return;
    const ProcCpu end_cpu = ProcessCpu();
    const TaskCpu end_server = env_.server_pid() > 0 ? ReadTaskCpu(env_.server_pid()) : TaskCpu();
    const TaskCpu end_redis = env_.redis_pid() > 0 ? ReadTaskCpu(env_.redis_pid()) : TaskCpu();
    const Env::RedisStats end = env_.ReadRedisStats();
    const double n = ops > 0 ? static_cast<double>(ops)
                             : static_cast<double>(state_.iterations()) * state_.threads() *
                                   static_cast<double>(ops_per_iteration);
    // Thread 0's counters are the only non-zero ones; summing over threads keeps them as is.
    // Minus the INFO commands of the first snapshot.
    state_.counters["redis_calls_per_op"] = static_cast<double>(end.calls - start_.calls - 2) / n;
    // This process: gRPC clients (and the server unless --server_process), ReviewCore, the
    // store's Redis client code.
    state_.counters["proc_us_per_op"] = static_cast<double>(end_cpu.us - start_cpu_.us) / n;
    state_.counters["proc_switches_per_op"] =
        static_cast<double>(end_cpu.switches - start_cpu_.switches) / n;
    if (env_.server_pid() > 0) {
      state_.counters["server_us_per_op"] =
          static_cast<double>(end_server.ns - start_server_.ns) / 1e3 / n;
      state_.counters["server_switches_per_op"] =
          static_cast<double>(end_server.switches - start_server_.switches) / n;
    }
    if (env_.redis_pid() > 0) {
      state_.counters["redis_switches_per_op"] =
          static_cast<double>(end_redis.switches - start_redis_.switches) / n;
    }
    state_.counters["scripts_per_op"] = static_cast<double>(end.scripts - start_.scripts) / n;
    state_.counters["redis_us_per_op"] = static_cast<double>(end.usec - start_.usec) / n;
    if (env_.command_costs()) {
      // --command_costs: where Redis's time goes, per command, in the timed loop only.
      for (const auto& [command, usec] : end.usec_by_command) {
        auto before = start_.usec_by_command.find(command);
        const int64_t spent = usec - (before == start_.usec_by_command.end() ? 0 : before->second);
        if (spent > 0 && command != "info") {
          state_.counters["us_" + command] = static_cast<double>(spent) / n;
        }
      }
    }
  }

 private:
  struct ProcCpu {
    int64_t us = 0;
    int64_t switches = 0;
  };
  static ProcCpu ProcessCpu() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto micros = [](const timeval& t) { return int64_t{t.tv_sec} * 1000000 + t.tv_usec; };
    return {micros(usage.ru_utime) + micros(usage.ru_stime), usage.ru_nvcsw + usage.ru_nivcsw};
  }

  benchmark::State& state_;
  Env& env_;
  bool started_ = false;
  Env::RedisStats start_;
  ProcCpu start_cpu_;
  TaskCpu start_server_;
  TaskCpu start_redis_;
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

// Confirms from one thread with the callback API: `inflight` calls outstanding at all times
// (a new one starts from the callback of each finished one), spread over up to 4 channels.
// One benchmark iteration runs every confirm; the counters are per confirm.
void GrpcConfirmAsync(benchmark::State& state, Env& env) {
  const int inflight = static_cast<int>(state.range(0));
  constexpr int kConfirms = 4 * kConfirmsPerThread;
  std::vector<std::string> ids = env.NewPending(kConfirms);
  if (ids.size() != static_cast<size_t>(kConfirms)) {
    state.SkipWithError("prefill failed");
    return;
  }
  std::vector<std::unique_ptr<v1::ReviewService::Stub>> stubs;
  for (int i = 0; i < std::min(inflight, 4); ++i) stubs.push_back(env.NewStub());

  struct Call {
    grpc::ClientContext context;
    v1::ConfirmProposalRequest request;
    v1::ReviewedProposal response;
    std::chrono::steady_clock::time_point start;
  };
  absl::Mutex mu;
  size_t next = 0;  // guarded by mu
  int done = 0;     // guarded by mu
  std::string error;
  std::vector<int64_t> nanos;
  nanos.reserve(ids.size());
  // Starts the next confirm, if any remain. Callbacks run on gRPC's threads.
  std::function<void()> start_next = [&]() {
    size_t i;
    {
      absl::MutexLock lock(&mu);
      if (next == ids.size() || !error.empty()) return;
      i = next++;
    }
    auto call = std::make_unique<Call>();
    call->context.AddMetadata("authorization", "Bearer alice");
    call->request.set_proposal_id(ids[i]);
    call->request.set_version(1);
    Call* raw = call.release();
    raw->start = std::chrono::steady_clock::now();
    stubs[i % stubs.size()]->async()->ConfirmProposal(
        &raw->context, &raw->request, &raw->response, [&, raw](grpc::Status s) {
          std::unique_ptr<Call> owned(raw);
          const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now() - owned->start)
                                 .count();
          {
            absl::MutexLock lock(&mu);
            nanos.push_back(ns);
            ++done;
            if ((!s.ok() || owned->response.status() != v1::PROPOSAL_STATUS_CONFIRMED) &&
                error.empty()) {
              error = absl::StrCat("confirm: ", s.error_message());
            }
          }
          start_next();
        });
  };
  RedisCost cost(state, env);
  size_t confirmed = 0;
  for (auto _ : state) {
    cost.OnFirstIteration();
    for (int k = 0; k < inflight; ++k) start_next();
    absl::MutexLock lock(&mu);
    // Every started call finishes (success or not) and counts in `done`.
    auto finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return done == static_cast<int>(next) && (next == ids.size() || !error.empty());
    };
    mu.Await(absl::Condition(&finished));
    confirmed = next;
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  cost.Report(1, static_cast<int64_t>(confirmed));
  state.counters["confirms_per_s"] =
      benchmark::Counter(static_cast<double>(confirmed), benchmark::Counter::kIsRate);
  std::sort(nanos.begin(), nanos.end());
  auto at = [&](double q) {
    return static_cast<double>(nanos[static_cast<size_t>(q * (nanos.size() - 1))]) / 1e6;
  };
  state.counters["p50_ms"] = at(0.50);
  state.counters["p99_ms"] = at(0.99);
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
  bool server_process = false;
  bool command_costs = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--redis_aof") == 0) {
      aof = true;
    } else if (std::strcmp(argv[i], "--dump_commandstats") == 0) {
      dump_commandstats = true;
    } else if (std::strcmp(argv[i], "--server_process") == 0) {
      server_process = true;
    } else if (std::strcmp(argv[i], "--command_costs") == 0) {
      command_costs = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  // As autostage-review's main does (services/review/main.cc): Debian's abseil checks lock
  // order on every Lock otherwise, which the served process does not pay.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int benchmark_argc = static_cast<int>(args.size());
  benchmark::Initialize(&benchmark_argc, args.data());
  std::unique_ptr<Env> env = Env::Create(aof, server_process);
  if (env == nullptr) return 1;
  env->set_command_costs(command_costs);

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
  for (int inflight : {4, 16, 64}) {
    benchmark::RegisterBenchmark(
        "BM_GrpcConfirmAsync",
        [&](benchmark::State& s) { autostage::review::GrpcConfirmAsync(s, *env); })
        ->ArgName("inflight")
        ->Arg(inflight)
        ->Iterations(1)
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
