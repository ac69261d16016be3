// autostage-review: parses flags, loads the token and pipelines files, wires the store, core and
// gRPC server, and runs until SIGTERM/SIGINT (then drains in-flight calls).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/redis/redis_pool.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/grpc_server.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/review_core.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "autostage-review: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace review = autostage::review;
  CLI::App app{"autostage-review: holds proposals until a person confirms or rejects them"};
  std::string listen = "127.0.0.1:7070";
  std::string redis_address = "127.0.0.1:6379";
  std::string tokens_path;
  std::string pipelines_path;
  int redis_connections = 8;
  app.add_option("--listen", listen, "gRPC listen address host:port");
  app.add_option("--redis", redis_address, "Redis host:port");
  app.add_option("--redis-connections", redis_connections, "Redis connection pool size")
      ->check(CLI::Range(1, 256));
  app.add_option("--tokens", tokens_path, "token file (YAML, SHA-256 digests)")->required();
  app.add_option("--pipelines", pipelines_path, "pipelines.yaml (stage order)")->required();
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<review::TokenTable> tokens = review::TokenTable::Load(tokens_path);
  if (!tokens.ok()) return Fail(tokens.status().ToString());
  absl::StatusOr<review::Pipelines> pipelines = review::Pipelines::Load(pipelines_path);
  if (!pipelines.ok()) return Fail(pipelines.status().ToString());

  autostage::redis::RedisOptions redis_options;
  const std::vector<std::string> host_port = absl::StrSplit(redis_address, ':');
  if (host_port.size() != 2 || !absl::SimpleAtoi(host_port[1], &redis_options.port)) {
    return Fail("--redis must be host:port");
  }
  redis_options.host = host_port[0];

  // Block the stop signals before any thread starts, so only the waiter below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  autostage::redis::RedisPool pool(redis_options, redis_connections);
  review::SystemClock clock;
  review::ProposalStore store(pool, *std::move(pipelines), clock);
  review::ReviewCore core(store, *tokens);
  absl::StatusOr<std::unique_ptr<review::ReviewServer>> server =
      review::ReviewServer::Start({.listen = listen}, core);
  if (!server.ok()) return Fail(server.status().ToString());
  std::fprintf(stderr, "autostage-review: listening on port %d, redis %s, %zu tokens\n",
               (*server)->port(), redis_address.c_str(), tokens->size());

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    std::fprintf(stderr, "autostage-review: signal %d, draining\n", signal);
    (*server)->Shutdown(absl::Seconds(10));
  });
  (*server)->Wait();
  waiter.join();
  return 0;
}
