#include "common/metrics/metrics_server.h"

#include <civetweb.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace autostage::metrics {
namespace {

void Respond(mg_connection* conn, int code, const char* reason, absl::string_view content_type,
             absl::string_view body) {
  const std::string head =
      absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", content_type,
                   "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, body.data(), body.size());
}

// civetweb's fallback for paths without a handler is a file server over document_root; we
// set none, so it answers 404 — but say so explicitly for any unmatched request.
int HandleNotFound(mg_connection* conn, void* /*unused*/) {
  Respond(conn, 404, "Not Found", "text/plain", "not found\n");
  return 404;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const MetricsServerOptions& options, const prometheus::Registry& registry, HealthCheck health) {
  // civetweb reports a malformed address and a failed bind with the same text ("Failed to
  // setup server ports"), so check the form here: the caller should fix config, not retry.
  const size_t colon = options.address.rfind(':');
  const absl::string_view port_text = colon == std::string::npos
                                          ? absl::string_view(options.address)
                                          : absl::string_view(options.address).substr(colon + 1);
  int port_number = -1;
  if (!absl::SimpleAtoi(port_text, &port_number) || port_number < 0 || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics server address \"", options.address,
                                                   "\": expected host:port, port 0..65535"));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError("metrics server: threads must be at least 1");
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry, std::move(health)));
  const std::string threads = absl::StrCat(options.threads);
  const char* config[] = {"listening_ports",
                          options.address.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "request_timeout_ms",
                          "10000",
                          nullptr};
  mg_callbacks callbacks{};
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = config;
  char error_text[256] = {0};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    const std::string message =
        absl::StrCat("metrics server on ", options.address, ": ", error_text);
    // The address was well-formed (checked above), so this is a failed bind.
    return absl::UnavailableError(message);
  }
  mg_set_request_handler(server->context_, "/metrics$", &MetricsServer::HandleMetrics,
                         server.get());
  mg_set_request_handler(server->context_, "/healthz$", &MetricsServer::HandleHealth, server.get());
  mg_set_request_handler(server->context_, "/", &HandleNotFound, nullptr);

  mg_server_port ports[4] = {};
  const int n = mg_get_server_ports(server->context_, 4, ports);
  if (n < 1 || ports[0].port <= 0) {
    return absl::InternalError(
        absl::StrCat("metrics server on ", options.address, ": cannot read the bound port"));
  }
  server->port_ = ports[0].port;
  return server;
}

MetricsServer::~MetricsServer() {
  if (context_ != nullptr) mg_stop(context_);  // joins worker threads
}

int MetricsServer::HandleMetrics(mg_connection* conn, void* self) {
  const auto* server = static_cast<const MetricsServer*>(self);
  const std::string body = prometheus::TextSerializer().Serialize(server->registry_.Collect());
  Respond(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
  return 200;
}

int MetricsServer::HandleHealth(mg_connection* conn, void* self) {
  const auto* server = static_cast<const MetricsServer*>(self);
  const absl::Status health = server->health_ ? server->health_() : absl::OkStatus();
  if (health.ok()) {
    Respond(conn, 200, "OK", "text/plain", "ok\n");
    return 200;
  }
  Respond(conn, 503, "Service Unavailable", "text/plain", absl::StrCat(health.ToString(), "\n"));
  return 503;
}

}  // namespace autostage::metrics
