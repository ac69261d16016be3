// Failure scenarios 4 and 9a with IngestService in-process against the devbroker, a real
// redis-server and the real review service (IngestTestEnv, ingest_test_env.h) — labels
// kafka;redis.
//   4:  the poll loop of one instance stalls past max.poll.interval.ms (a log sink that blocks
//       the poll thread: what a blocked stderr pipe does), the member leaves the group, the
//       other instance takes its partitions; once the stall ends the late work is fenced:
//       every event handled, every proposal pending once, the log line and the metric.
//   9a: the group's committed offset fell behind the log start (the mock cluster keeps about
//       5 MB per partition and advances the log start past older message sets): the next
//       instance resumes at the earliest offset, logs and counts the skipped offsets.
#include <prometheus/registry.h>
#include <spdlog/sinks/base_sink.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/consumer.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/testing/metric_series.h"
#include "common/testing/processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/ingest_test_env.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::WaitFor;

// Keeps every line; when armed, the first line containing the needle blocks the logging thread
// until Release() — the poll thread stalls on its log call, like on a blocked stderr pipe.
class StallingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void Arm(std::string needle) {
    absl::MutexLock lock(&mu_);
    needle_ = std::move(needle);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }
  bool stalled() {
    absl::MutexLock lock(&mu_);
    return stalled_;
  }
  std::string Text() {
    absl::MutexLock lock(&mu_);
    return text_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string line(msg.payload.data(), msg.payload.size());
    absl::MutexLock lock(&mu_);
    absl::StrAppend(&text_, line, "\n");
    if (needle_.empty() || stalled_ || !absl::StrContains(line, needle_)) return;
    stalled_ = true;
    mu_.Await(absl::Condition(&released_));
  }
  void flush_() override {}

 private:
  absl::Mutex mu_;
  std::string needle_ ABSL_GUARDED_BY(mu_);
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::string text_ ABSL_GUARDED_BY(mu_);
};

// One IngestService with its own metrics and log.
struct Instance {
  prometheus::Registry registry;
  std::unique_ptr<IngestMetrics> metrics = std::make_unique<IngestMetrics>(registry);
  std::shared_ptr<StallingSink> sink = std::make_shared<StallingSink>();
  log::Logger log{"ingest", sink, log::Level::info};
  RunningIngest ingest;

  // Releases a stalled log call first: the poll thread must get out of it to stop.
  void Stop() {
    sink->Release();
    ingest.Stop();
  }
  ~Instance() { Stop(); }
};

class IngestScenariosTest : public IngestTestEnv {
 protected:
  IngestScenariosTest() : IngestTestEnv({.name = "ingest-scenarios"}) {}

  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
    IngestTestEnv::SetUp();
    if (HasFatalFailure()) return;
    LoadOpportunities();
    if (HasFatalFailure()) return;
    corpus_ = CorpusEvents();
    ASSERT_FALSE(HasFailure()) << "the dev corpus does not decode";
  }

  void TearDown() override {
    a_.Stop();
    b_.Stop();
    IngestTestEnv::TearDown();
  }

  void Start(Instance& instance, IngestServiceOptions options,
             const kafka::KafkaConfig& extra = {}) {
    RunIngest(instance.ingest, std::move(options), *instance.metrics, instance.log, extra);
  }

  std::vector<v1::Event> Variants(int n, absl::string_view tag) const {
    return IngestTestEnv::Variants(corpus_, n, tag);
  }

  std::vector<v1::Event> corpus_;
  // Declared last: stopped first (TearDown), destroyed before what they borrow.
  Instance a_;
  Instance b_;
};

// Failure scenario 4: instance A's poll loop stalls past max.poll.interval.ms while it has
// work in flight; it leaves the group and B takes every partition; when A's stall ends, its
// late work is fenced. Every event is handled, every proposal pending once, and A says what
// happened in its log and its metric.
TEST_F(IngestScenariosTest, PollLoopStalledPastMaxPollIntervalIsFencedAndDoublesNothing) {
  const std::vector<v1::Event> events = Variants(1500, "s4");
  const Expected expected = Judge(events);
  ASSERT_FALSE(expected.pending.empty());
  IngestServiceOptions a_options;
  // A pauses (and logs "paused") on the first burst.
  a_options.max_queued_events = 5;
  a_options.max_pending_events = 5;
  Start(a_, a_options, {{"max.poll.interval.ms", "7000"}});
  Start(b_, IngestServiceOptions{});
  const auto assigned = [](Instance& i) { return i.metrics->assigned_partitions.Value(); };
  ASSERT_TRUE(
      WaitFor(
          [&] { return assigned(a_) > 0 && assigned(b_) > 0 && assigned(a_) + assigned(b_) == 9; },
          absl::Seconds(60))
          .ok())
      << "A " << assigned(a_) << ", B " << assigned(b_);

  a_.sink->Arm("\"msg\":\"paused\"");
  for (const v1::Event& e : events) Publish(e);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return a_.sink->stalled(); }, absl::Seconds(60)).ok())
      << "A never paused";
  // A's poll thread is blocked: after max.poll.interval.ms librdkafka leaves the group and B
  // gets A's partitions.
  ASSERT_TRUE(WaitFor([&] { return assigned(b_) == 9; }, absl::Seconds(60)).ok())
      << "B has " << assigned(b_);
  a_.sink->Release();

  ASSERT_TRUE(WaitFor([&] { return Marked(events) == 1500 && batcher_->InFlight() == 0; },
                      absl::Seconds(120))
                  .ok())
      << "marked " << Marked(events);
  ASSERT_TRUE(
      WaitFor([&] { return a_.metrics->poll_interval_exceeded.Value() >= 1; }, absl::Seconds(30))
          .ok())
      << a_.sink->Text();
  EXPECT_THAT(a_.sink->Text(), ::testing::HasSubstr("poll interval exceeded"));
  EXPECT_EQ(b_.metrics->poll_interval_exceeded.Value(), 0);

  ExpectPendingExactly(expected);
}

// Failure scenario 9a: the group committed offset 10 of one partition, then retention deleted
// past it. The next instance resets to the earliest available offset (never the end), logs
// how many offsets were skipped and counts them in autostage_ingest_offsets_skipped_total.
TEST_F(IngestScenariosTest, CommittedOffsetBehindTheLogStartResetsToEarliestLogsAndCounts) {
  const std::string topic = "crm.events.email";
  const std::string key = "one-partition";  // every event below lands in one partition
  const std::vector<v1::Event> events = Variants(10, "t");
  IngestServiceOptions options;
  options.unresolved = UnresolvedPolicy::kSkip;
  Start(a_, options);
  for (const v1::Event& e : events) Publish(e, topic, key);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(
      WaitFor([&] { return a_.ingest.service->stats().handled >= 10; }, absl::Seconds(60)).ok());
  a_.Stop();  // stores and commits offset 10

  // ~8 MB more in 100 KB events: the mock keeps ~5 MB a partition, the log start passes 10.
  std::vector<v1::Event> filler = Variants(80, "pad");
  for (v1::Event& e : filler) {
    (*e.mutable_attributes())["pad"] = std::string(100 << 10, 'p');
    Publish(e, topic, key);
  }
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> probe = kafka::Consumer::Create(
      {{"bootstrap.servers", kafka_->bootstrap()}, {"group.id", "probe"}}, nullptr);
  ASSERT_TRUE(probe.ok()) << probe.status();
  kafka::PartitionOffsets marks;
  for (int32_t p = 0; p < 3; ++p) {
    absl::StatusOr<kafka::PartitionOffsets> m =
        (*probe)->QueryWatermarks(topic, p, absl::Seconds(10));
    ASSERT_TRUE(m.ok()) << m.status();
    if (m->high > 0) marks = *m;
  }
  ASSERT_EQ(marks.high, 90);
  ASSERT_GT(marks.low, 10) << "the mock did not trim the log; nothing to test";

  Start(b_, options);
  const int64_t readable = marks.high - marks.low;
  ASSERT_TRUE(
      WaitFor([&] { return b_.ingest.service->stats().handled >= readable; }, absl::Seconds(60))
          .ok())
      << "handled " << b_.ingest.service->stats().handled << " of " << readable;
  const IngestStats stats = b_.ingest.service->stats();
  EXPECT_EQ(stats.consumed, readable) << "resumed at the earliest offset, not the end";
  EXPECT_EQ(stats.offsets_skipped, marks.low - 10);
  EXPECT_EQ(b_.metrics->offsets_skipped.Value(), static_cast<double>(marks.low - 10));
  const std::string log = b_.sink->Text();
  EXPECT_THAT(log, ::testing::HasSubstr("offsets skipped"));
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("\"skipped\":", marks.low - 10)));
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("\"resumed_at\":", marks.low)));
  (void)(*probe)->Close();
}

// "Stripper hits by format": the parts extraction dropped from each judged event are counted in
// autostage_ingest_stripped_parts_total{source,format}, exactly as the engine reports them.
TEST_F(IngestScenariosTest, StrippedPartsAreCountedBySourceAndFormat) {
  const std::vector<v1::Event> events = Variants(static_cast<int>(corpus_.size()), "sp");
  std::map<std::string, double> expected;  // "source/format" → dropped parts
  {
    rules::SnapshotResolver resolver(opportunities_);
    absl::StatusOr<std::unique_ptr<rules::Engine>> engine =
        rules::Engine::Create(reloader_->Current().rules, *guards_);
    ASSERT_TRUE(engine.ok()) << engine.status();
    for (const v1::Event& e : events) {
      absl::StatusOr<rules::Decision> d = (*engine)->Process(e, resolver);
      ASSERT_TRUE(d.ok()) << d.status();
      for (std::string_view format : d->dropped_formats) {
        expected[e.source() + "/" + std::string(format)] += 1;
      }
    }
  }
  ASSERT_FALSE(expected.empty()) << "the corpus has no quoted history or signatures to strip";
  Start(a_, IngestServiceOptions{});
  for (const v1::Event& e : events) Publish(e);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  const int64_t n = static_cast<int64_t>(events.size());
  ASSERT_TRUE(
      WaitFor([&] { return a_.ingest.service->stats().handled >= n && batcher_->InFlight() == 0; },
              absl::Seconds(60))
          .ok())
      << "handled " << a_.ingest.service->stats().handled << " of " << n;
  EXPECT_EQ(testing::SeriesByLabels(a_.registry, "autostage_ingest_stripped_parts_total",
                                    {"source", "format"}),
            expected);
}

}  // namespace
}  // namespace autostage::ingest
