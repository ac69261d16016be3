// PartitionMonitor against the devbroker (label kafka): the lag gauge per partition follows what
// was produced and consumed, keeps growing for a paused partition, and disappears on
// revocation; a committed offset that retention deleted (the mock cluster drops a partition's
// oldest message sets beyond ~5 MB and advances its log start) is detected on a fresh
// assignment: reset to the earliest offset, logged and counted; a new group never counts.
#include <prometheus/registry.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/metric_series.h"
#include "common/testing/processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/partition_monitor.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::autostage::testing::WaitFor;

// Forwards assignment changes to the monitor (as IngestService does) and, when asked, pauses
// newly assigned partitions at once so nothing of them is consumed.
class MonitorListener : public kafka::RebalanceListener {
 public:
  explicit MonitorListener(bool pause_on_assign) : pause_on_assign_(pause_on_assign) {}
  void Bind(kafka::Consumer* consumer, PartitionMonitor* monitor) {
    consumer_ = consumer;
    monitor_ = monitor;
  }
  void OnAssigned(const std::vector<kafka::TopicPartition>& partitions) override {
    monitor_->Assigned(partitions);
    if (pause_on_assign_) {
      EXPECT_TRUE(consumer_->Pause(partitions).ok());
    }
    absl::MutexLock lock(&mu_);
    assigned_ += static_cast<int>(partitions.size());
  }
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions, bool /*lost*/) override {
    monitor_->Revoked(partitions);
  }
  int assigned() {
    absl::MutexLock lock(&mu_);
    return assigned_;
  }

 private:
  const bool pause_on_assign_;
  kafka::Consumer* consumer_ = nullptr;
  PartitionMonitor* monitor_ = nullptr;
  absl::Mutex mu_;
  int assigned_ ABSL_GUARDED_BY(mu_) = 0;
};

class PartitionMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::BrokerWithProducer> started = testing::StartBrokerWithProducer(
        {.brokers = 1, .topics = {{"lag.a", 1}, {"lag.b", 1}, {"trim", 1}}});
    ASSERT_TRUE(started.ok()) << started.status();
    broker_ = std::move(started->broker);
    producer_ = std::move(started->producer);
    log_sink_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
    metrics_ = std::make_unique<IngestMetrics>(registry_);
  }

  log::Logger Log() { return log::Logger("monitor-test", log_sink_, log::Level::info); }

  std::string LogText() {
    std::string out;
    for (const std::string& line : log_sink_->last_formatted()) out += line;
    return out;
  }

  void Produce(const std::string& topic, int n, size_t bytes = 64) {
    const std::string value(bytes, 'x');
    for (int i = 0; i < n; ++i) ASSERT_TRUE(producer_->Produce(topic, "", value).ok());
    ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  }

  std::unique_ptr<kafka::Consumer> MakeConsumer(const std::string& group,
                                                kafka::RebalanceListener* listener) {
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::Consumer::Create(
        testing::ConsumerConfigFor(
            broker_->bootstrap(), group,
            {{"enable.auto.commit", "false"}, {"heartbeat.interval.ms", "500"}}),
        listener);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    return consumer.ok() ? *std::move(consumer) : nullptr;
  }

  // The lag series of topic/partition, if it exists.
  std::optional<double> Lag(const std::string& topic, int partition) {
    const std::map<std::string, double> lag =
        testing::SeriesByLabels(registry_, "autostage_ingest_consumer_lag", {"topic", "partition"});
    const auto it = lag.find(absl::StrCat(topic, "/", partition));
    if (it != lag.end()) return it->second;
    return std::nullopt;
  }

  // Polls `consumer` until `n` messages of `topic` arrived; returns their offsets.
  std::vector<int64_t> ConsumeN(kafka::Consumer& consumer, const std::string& topic, int n) {
    std::vector<int64_t> offsets;
    EXPECT_TRUE(WaitFor(
                    [&] {
                      std::optional<kafka::Message> m = consumer.Poll(absl::Milliseconds(100));
                      if (m && m->ok() && m->topic() == topic) offsets.push_back(m->offset());
                      return static_cast<int>(offsets.size()) >= n;
                    },
                    absl::Seconds(30))
                    .ok())
        << "consumed " << offsets.size() << " of " << n << " from " << topic;
    return offsets;
  }

  std::unique_ptr<DevBrokerProcess> broker_;
  std::unique_ptr<kafka::Producer> producer_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_sink_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
};

TEST_F(PartitionMonitorTest, LagFollowsProducedAndConsumedAndRevokedSeriesDisappear) {
  Produce("lag.a", 50);
  Produce("lag.b", 20);
  MonitorListener listener(/*pause_on_assign=*/true);
  std::unique_ptr<kafka::Consumer> consumer = MakeConsumer("lag", &listener);
  ASSERT_NE(consumer, nullptr);
  PartitionMonitor monitor(*consumer, *metrics_, Log(), {.lag_interval = absl::Milliseconds(100)});
  listener.Bind(consumer.get(), &monitor);
  ASSERT_TRUE(consumer->Subscribe({"lag.a", "lag.b"}).ok());
  ASSERT_TRUE(WaitFor(
                  [&] {
                    (void)consumer->Poll(absl::Milliseconds(50));
                    return listener.assigned() == 2;
                  },
                  absl::Seconds(30))
                  .ok());

  // Nothing consumed yet (paused since the assignment): everything produced is owed.
  monitor.RefreshNow();
  EXPECT_EQ(Lag("lag.a", 0), 50);
  EXPECT_EQ(Lag("lag.b", 0), 20);

  // 20 of lag.a consumed.
  ASSERT_TRUE(consumer->Resume({{"lag.a", 0}}).ok());
  const std::vector<int64_t> offsets = ConsumeN(*consumer, "lag.a", 20);
  ASSERT_EQ(offsets.size(), 20u);
  EXPECT_EQ(offsets.front(), 0);
  ASSERT_TRUE(consumer->Pause({{"lag.a", 0}}).ok());
  monitor.RefreshNow();
  EXPECT_EQ(Lag("lag.a", 0), 30);

  // A paused partition's lag keeps growing (its cached watermark does not; the monitor asks
  // the broker), refreshed by the monitor's own thread.
  monitor.Start();
  Produce("lag.b", 5);
  ASSERT_TRUE(WaitFor(
                  [&] {
                    (void)consumer->Poll(absl::Milliseconds(20));
                    return Lag("lag.b", 0) == 25;
                  },
                  absl::Seconds(20))
                  .ok())
      << "lag.b at " << Lag("lag.b", 0).value_or(-1);
  EXPECT_EQ(Lag("lag.a", 0), 30);

  // Revocation (leaving the group) removes the series.
  ASSERT_TRUE(consumer->Close().ok());
  EXPECT_EQ(Lag("lag.a", 0), std::nullopt);
  EXPECT_EQ(Lag("lag.b", 0), std::nullopt);
  monitor.RefreshNow();  // nothing assigned: nothing comes back
  EXPECT_EQ(Lag("lag.a", 0), std::nullopt);
  monitor.Stop();
}

// Failure scenario 9a on a fresh assignment: the group committed offset 10, then retention
// (the mock's per-partition size limit) deleted past it. The next member of the group resumes
// at the earliest available offset (not the end), and the skipped offsets are logged and
// counted; a brand-new group reading the same log counts nothing.
TEST_F(PartitionMonitorTest, CommittedOffsetBehindTheLogStartIsResetToEarliestAndCounted) {
  Produce("trim", 10);
  {
    std::unique_ptr<kafka::Consumer> first = MakeConsumer("g9a", nullptr);
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->Subscribe({"trim"}).ok());
    const std::vector<int64_t> offsets = ConsumeN(*first, "trim", 10);
    ASSERT_EQ(offsets.size(), 10u);
    ASSERT_TRUE(first->StoreOffsets({{"trim", 0, 10}}).ok());
    ASSERT_TRUE(first->CommitSync().ok());
    ASSERT_TRUE(first->Close().ok());
  }
  // ~8 MB in 100 KB messages: the mock keeps ~5 MB a partition, so the log start passes 10.
  Produce("trim", 80, 100 << 10);

  MonitorListener listener(/*pause_on_assign=*/false);
  std::unique_ptr<kafka::Consumer> consumer = MakeConsumer("g9a", &listener);
  ASSERT_NE(consumer, nullptr);
  PartitionMonitor monitor(*consumer, *metrics_, Log());
  listener.Bind(consumer.get(), &monitor);
  absl::StatusOr<kafka::PartitionOffsets> marks =
      consumer->QueryWatermarks("trim", 0, absl::Seconds(10));
  ASSERT_TRUE(marks.ok()) << marks.status();
  ASSERT_GT(marks->low, 10) << "the mock did not trim the log; nothing to test";
  ASSERT_EQ(marks->high, 90);

  ASSERT_TRUE(consumer->Subscribe({"trim"}).ok());
  const std::vector<int64_t> offsets = ConsumeN(*consumer, "trim", 1);
  ASSERT_EQ(offsets.size(), 1u);
  EXPECT_EQ(offsets[0], marks->low) << "reset to the earliest offset, never the end";
  EXPECT_EQ(monitor.Consumed({"trim", 0}, offsets[0]), marks->low - 10);
  EXPECT_EQ(monitor.Consumed({"trim", 0}, offsets[0] + 1), 0) << "counted once";
  EXPECT_EQ(monitor.skipped(), marks->low - 10);
  EXPECT_EQ(metrics_->offsets_skipped.Value(), static_cast<double>(marks->low - 10));
  EXPECT_THAT(LogText(), ::testing::HasSubstr("offsets skipped"));
  EXPECT_THAT(LogText(), ::testing::HasSubstr(absl::StrCat("\"skipped\":", marks->low - 10)));
  EXPECT_THAT(LogText(), ::testing::HasSubstr("\"committed\":10"));
  ASSERT_TRUE(consumer->Close().ok());

  // A new group has nothing committed: starting at the log start is not a loss.
  MonitorListener fresh_listener(/*pause_on_assign=*/false);
  std::unique_ptr<kafka::Consumer> fresh = MakeConsumer("g9a-new", &fresh_listener);
  ASSERT_NE(fresh, nullptr);
  PartitionMonitor fresh_monitor(*fresh, *metrics_, Log());
  fresh_listener.Bind(fresh.get(), &fresh_monitor);
  ASSERT_TRUE(fresh->Subscribe({"trim"}).ok());
  const std::vector<int64_t> fresh_offsets = ConsumeN(*fresh, "trim", 1);
  ASSERT_EQ(fresh_offsets.size(), 1u);
  EXPECT_EQ(fresh_offsets[0], marks->low);
  EXPECT_EQ(fresh_monitor.Consumed({"trim", 0}, fresh_offsets[0]), 0);
  EXPECT_EQ(fresh_monitor.skipped(), 0);
  ASSERT_TRUE(fresh->Close().ok());
}

}  // namespace
}  // namespace autostage::ingest
