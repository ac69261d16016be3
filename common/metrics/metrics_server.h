// MetricsServer: serves a prometheus::Registry as text on GET /metrics and a health answer on
// GET /healthz, over HTTP (civetweb, the server prometheus-cpp's own Exposer uses).
//
//   prometheus::Registry registry;                 // owned by main, outlives the server
//   Metrics metrics(registry);                     // each component builds its families
//   ASSIGN_OR_RETURN(auto server, MetricsServer::Start(
//       {.address = "0.0.0.0:9464"}, registry, [&] { return ingest.Health(); }));
//   log.Info("metrics listening", {{"port", server->port()}});
//
// Why not prometheus::Exposer: Exposer offers no way to add a handler whose answer depends on
// our state (its callbacks are plain C function pointers with no user data), and /healthz must
// answer 503 when a service is NOT_SERVING. Serving /metrics ourselves is ten lines with
// prometheus::TextSerializer.
//
// /healthz answers 200 "ok" when the health check returns OK (or when there is none), and 503
// with the status text otherwise. Any other path is 404.
//
// Errors (Start): kInvalidArgument for an address civetweb cannot parse, kUnavailable when the
// port cannot be bound (in use, no permission) — the message is civetweb's.
//
// Thread safety: requests are served on civetweb's worker threads; the registry (thread-safe
// by prometheus-cpp's contract) and the health check are called from them concurrently, so the
// health check must be thread-safe. The destructor stops the server and waits for in-flight
// requests; after it returns neither is called again. Stopping takes up to 2 s: civetweb's
// accept loop polls in 2 s quanta and is not woken early.
#ifndef AUTOSTAGE_COMMON_METRICS_METRICS_SERVER_H_
#define AUTOSTAGE_COMMON_METRICS_METRICS_SERVER_H_

#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace autostage::metrics {

struct MetricsServerOptions {
  // host:port to listen on; port 0 picks a free port (see port()).
  std::string address = "127.0.0.1:9464";
  int threads = 2;
};

class MetricsServer {
 public:
  using HealthCheck = std::function<absl::Status()>;

  // `registry` is borrowed and must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const MetricsServerOptions& options,
                                                              const prometheus::Registry& registry,
                                                              HealthCheck health = nullptr);

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  // The bound port (the real one when the address asked for port 0).
  int port() const { return port_; }

 private:
  MetricsServer(const prometheus::Registry& registry, HealthCheck health)
      : registry_(registry), health_(std::move(health)) {}

  static int HandleMetrics(mg_connection* conn, void* self);
  static int HandleHealth(mg_connection* conn, void* self);

  const prometheus::Registry& registry_;
  const HealthCheck health_;
  mg_context* context_ = nullptr;  // owned; mg_stop in the destructor
  int port_ = 0;
};

}  // namespace autostage::metrics

#endif  // AUTOSTAGE_COMMON_METRICS_METRICS_SERVER_H_
