#include "common/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::metrics {
namespace {

using ::testing::HasSubstr;

struct HttpResponse {
  int status = 0;
  std::string body;
};

// A minimal HTTP/1.0 GET over loopback: enough to scrape, and independent of the server code.
absl::StatusOr<HttpResponse> Get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("connect");
  }
  const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: localhost\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("write");
  }
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  const size_t space = raw.find(' ');
  const size_t body_start = raw.find("\r\n\r\n");
  if (space == std::string::npos || body_start == std::string::npos) {
    return absl::DataLossError(absl::StrCat("bad response: ", raw));
  }
  HttpResponse response;
  response.status = std::stoi(raw.substr(space + 1, 3));
  response.body = raw.substr(body_start + 4);
  return response;
}

TEST(MetricsServerTest, ServesRegistryOnAnEphemeralPort) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildCounter()
                     .Name("autostage_events_consumed_total")
                     .Help("Events consumed.")
                     .Register(registry);
  family.Add({{"source", "email"}}).Increment(3);

  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start({.address = "127.0.0.1:0"}, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);

  absl::StatusOr<HttpResponse> scrape = Get((*server)->port(), "/metrics");
  ASSERT_TRUE(scrape.ok()) << scrape.status();
  EXPECT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->body, HasSubstr("# TYPE autostage_events_consumed_total counter"));
  EXPECT_THAT(scrape->body, HasSubstr("autostage_events_consumed_total{source=\"email\"} 3"));

  family.Add({{"source", "email"}}).Increment();
  scrape = Get((*server)->port(), "/metrics");
  ASSERT_TRUE(scrape.ok());
  EXPECT_THAT(scrape->body, HasSubstr("autostage_events_consumed_total{source=\"email\"} 4"));

  absl::StatusOr<HttpResponse> missing = Get((*server)->port(), "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST(MetricsServerTest, HealthzFollowsTheHealthCheck) {
  prometheus::Registry registry;
  std::atomic<bool> serving{true};
  absl::StatusOr<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(
      {.address = "127.0.0.1:0"}, registry,
      [&serving] { return serving ? absl::OkStatus() : absl::UnavailableError("redis down"); });
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<HttpResponse> health = Get((*server)->port(), "/healthz");
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  serving = false;
  health = Get((*server)->port(), "/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 503);
  EXPECT_THAT(health->body, HasSubstr("UNAVAILABLE: redis down"));
}

TEST(MetricsServerTest, PortInUseAndBadAddressAreErrors) {
  prometheus::Registry registry;
  absl::StatusOr<std::unique_ptr<MetricsServer>> first =
      MetricsServer::Start({.address = "127.0.0.1:0"}, registry);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start({.address = absl::StrCat("127.0.0.1:", (*first)->port())}, registry);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  absl::StatusOr<std::unique_ptr<MetricsServer>> bad =
      MetricsServer::Start({.address = "127.0.0.1:notaport"}, registry);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_TRUE(absl::IsInvalidArgument(
      MetricsServer::Start({.address = "127.0.0.1:70000"}, registry).status()));
}

}  // namespace
}  // namespace autostage::metrics
