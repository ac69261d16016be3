// IngestService in-process against the devbroker, a real redis-server and the real review
// service (IngestTestEnv, ingest_test_env.h) — labels kafka;redis. Opportunity state arrives
// through the real OpportunityFeed, rules through the real RulesReloader over deploy/rules,
// proposals through the real ReviewClient/ProposalBatcher, dead letters through the real
// DlqWriter; expected proposals come from the rules library directly. Two tests run the
// autostage-ingest binary against the same environment instead.
#include <prometheus/registry.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/ingest_test_env.h"
#include "services/ingest/rules_reloader.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::WaitFor;

class IngestServiceTest : public IngestTestEnv {
 protected:
  explicit IngestServiceTest(bool redis_append_only = false)
      : IngestServiceTest({.name = "ingest-test", .redis_append_only = redis_append_only}) {}
  explicit IngestServiceTest(IngestTestEnvOptions options) : IngestTestEnv(std::move(options)) {}

  void SetUp() override {
    IngestTestEnv::SetUp();
    metrics_ = std::make_unique<IngestMetrics>(registry_);
  }

  void StartIngest(IngestServiceOptions options = {}) {
    RunIngest(ingest_, std::move(options), *metrics_, *log_);
  }

  IngestService* service() { return ingest_.service.get(); }

  bool AllHandled(int64_t n) {
    return service()->stats().handled >= n && batcher_->InFlight() == 0;
  }

  // Starts the autostage-ingest binary against this fixture's broker, Redis and review; its
  // log goes to `log_file`.
  std::unique_ptr<testing::Subprocess> SpawnIngest(const std::string& log_file) {
    if (!process_dir_) {
      absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("ingest-proc");
      EXPECT_TRUE(dir.ok()) << dir.status();
      if (!dir.ok()) return nullptr;
      process_dir_ = std::make_unique<testing::TempDir>(*std::move(dir));
      std::ofstream(process_dir_->File("token")) << token_ << "\n";
      std::ofstream(process_dir_->File("ingest.yaml"))
          << "kafka: {session_timeout: 6s, commit_interval: 200ms}\n"
          << "processing: {drain_timeout: 5s}\n";
    }
    absl::StatusOr<int> port = testing::FreeTcpPort();
    EXPECT_TRUE(port.ok());
    if (!port.ok()) return nullptr;
    const std::string binary = testing::AutostageBinDir() + "/autostage-ingest";
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> process = testing::Subprocess::Spawn(
        {.argv = {binary, "--config", process_dir_->File("ingest.yaml"), "--brokers",
                  kafka_->bootstrap(), "--group-id", "ingest-proc", "--redis",
                  absl::StrCat(redis_->host(), ":", redis_->port()), "--review",
                  absl::StrCat("127.0.0.1:", review_port_), "--review-token-file",
                  process_dir_->File("token"), "--rules", RulesDir(), "--metrics-address",
                  absl::StrCat("127.0.0.1:", *port), "--log-level", "info"},
         .output_file = log_file});
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? *std::move(process) : nullptr;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::unique_ptr<testing::TempDir> process_dir_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  // Declared last: destroyed first (TearDown already stopped it).
  RunningIngest ingest_;
};

TEST_F(IngestServiceTest, DevCorpusYieldsExactlyTheRulesProposalsOncePending) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  std::vector<v1::Event> events = CorpusEvents();
  ASSERT_FALSE(events.empty());
  const Expected expected = Judge(events);
  ASSERT_GT(expected.proposals, 0u);
  StartIngest();
  for (const v1::Event& e : events) Publish(e);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  const int64_t n = static_cast<int64_t>(events.size());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(n); }, absl::Seconds(60)).ok())
      << "handled " << service()->stats().handled << " of " << n;
  const IngestStats stats = service()->stats();
  EXPECT_EQ(stats.consumed, n);
  EXPECT_EQ(stats.handled, n);
  EXPECT_EQ(stats.proposals_acked, static_cast<int64_t>(expected.proposals));
  ExpectPendingExactly(expected);
  EXPECT_TRUE(service()->Health().ok());
}

// Failure scenario 7 at volume: 1,000 malformed events mixed into 10,000 good ones.
TEST_F(IngestServiceTest, MalformedEventsGoToTheDlqWithTheirReasonAndNeverStall) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> corpus = CorpusEvents();
  ASSERT_FALSE(corpus.empty());
  const std::vector<v1::Event> good = Variants(corpus, 10000, "v");
  const Expected expected = Judge(good);
  IngestServiceOptions options;
  options.decode_limits.max_message_bytes = 12 << 10;  // the devbroker keeps ~5 MB a partition
  StartIngest(options);

  // key → the reason the DLQ must carry.
  std::map<std::string, std::string> bad;
  size_t next_good = 0;
  for (int i = 0; i < 1000; ++i) {
    for (int k = 0; k < 10; ++k) Publish(good[next_good++]);
    const std::string key = absl::StrCat("bad-", i);
    const std::string topic = EventTopics()[i % 3];
    std::string payload;
    std::string reason;
    std::string content_type = "application/json";
    switch (i % 5) {
      case 0:
        payload = "{\"event_id\": \"x\", \"source\": ";
        reason = "malformed_json";
        break;
      case 1:
        payload = R"({"source":"email","occurred_at":"2025-01-01T00:00:00Z"})";
        reason = "missing_field";
        break;
      case 2:
        payload = std::string(13 << 10, ' ') + "{}";
        reason = "too_large";
        break;
      case 3:
        payload = "\x0a\x03\xff\xff";
        content_type = "application/x-protobuf";
        reason = "malformed_protobuf";
        break;
      default:
        payload = event::EventToJson(good[i]);
        content_type = "text/csv";
        reason = "invalid_value";
        break;
    }
    ASSERT_TRUE(producer_->Produce(topic, key, payload, {{"content-type", content_type}}).ok());
    bad[key] = reason;
  }
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(11000); }, absl::Seconds(120)).ok())
      << "handled " << service()->stats().handled << " of 11000";
  const IngestStats stats = service()->stats();
  EXPECT_EQ(stats.handled, 11000);
  EXPECT_EQ(stats.dead_lettered, 1000);
  EXPECT_EQ(stats.proposals_acked, static_cast<int64_t>(expected.proposals));

  // Every malformed event is in the DLQ once, with its reason and origin headers.
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> dlq = kafka::Consumer::Create(
      testing::ConsumerConfigFor(kafka_->bootstrap(), "dlq-check"), nullptr);
  ASSERT_TRUE(dlq.ok()) << dlq.status();
  ASSERT_TRUE((*dlq)->Subscribe({"crm.events.dlq"}).ok());
  std::map<std::string, std::string> seen;
  ASSERT_TRUE(WaitFor(
                  [&] {
                    std::optional<kafka::Message> m = (*dlq)->Poll(absl::Milliseconds(100));
                    if (m && m->ok()) {
                      const std::string key(m->key().data(), m->key().size());
                      EXPECT_EQ(seen.count(key), 0u) << key << " dead-lettered twice";
                      seen[key] = m->header("dlq-reason").value_or("");
                      EXPECT_TRUE(m->header("dlq-source-topic").has_value());
                      EXPECT_TRUE(m->header("dlq-offset").has_value());
                    }
                    return seen.size() >= bad.size();
                  },
                  absl::Seconds(60))
                  .ok())
      << "DLQ has " << seen.size() << " of " << bad.size();
  EXPECT_EQ(seen, bad);
  (void)(*dlq)->Close();
}

// Failure scenario 9: review down for 30 s (as the issue asks) then back: consumption pauses,
// memory stays bounded, nothing is lost.
TEST_F(IngestServiceTest, ReviewDownPausesThenResumesWithNothingLost) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> corpus = CorpusEvents();
  const std::vector<v1::Event> events = Variants(corpus, 3000, "r");
  const Expected expected = Judge(events);
  IngestServiceOptions options;
  options.max_queued_events = 200;
  options.max_pending_events = 400;
  StartIngest(options);
  for (int i = 0; i < 1000; ++i) Publish(events[i]);
  ASSERT_TRUE(WaitFor([&] { return service()->stats().handled >= 500; }, absl::Seconds(60)).ok());

  review_server_->Shutdown(absl::Seconds(1));
  review_server_.reset();
  for (int i = 1000; i < 3000; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return service()->stats().pauses > 0; }, absl::Seconds(30)).ok());
  // While review is down (30 s): bounded in-flight work, no progress past it.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  int64_t max_outstanding = 0;
  while (absl::Now() < until) {
    const IngestStats s = service()->stats();
    max_outstanding = std::max(max_outstanding, s.consumed - s.handled);
    absl::SleepFor(absl::Milliseconds(50));  // sampling, not settling
  }
  EXPECT_LT(service()->stats().handled, 3000);
  EXPECT_LE(max_outstanding, 400 + 200);  // max_pending + one poll burst
  StartReview(absl::StrCat("127.0.0.1:", review_port_));
  ASSERT_TRUE(WaitFor([&] { return AllHandled(3000); }, absl::Seconds(90)).ok())
      << "handled " << service()->stats().handled;
  ExpectPendingExactly(expected);
  EXPECT_GE(service()->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
}

// Failure scenarios 5 and 6 and a broker outage: OffsetCommit answers REBALANCE_IN_PROGRESS /
// NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS, fetches fail, heartbeats fail, and the
// broker goes down mid-stream: nothing lost, nothing doubled.
TEST_F(IngestServiceTest, BrokerDownAndInjectedCommitFetchErrorsLoseAndDoubleNothing) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> events = Variants(CorpusEvents(), 2000, "f");
  const Expected expected = Judge(events);
  StartIngest();
  for (int i = 0; i < 700; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return service()->stats().handled >= 300; }, absl::Seconds(60)).ok());
  ASSERT_TRUE(kafka_
                  ->SendCommand("errors OffsetCommit REBALANCE_IN_PROGRESS NOT_COORDINATOR "
                                "COORDINATOR_LOAD_IN_PROGRESS REBALANCE_IN_PROGRESS")
                  .ok());
  ASSERT_TRUE(kafka_
                  ->SendCommand("errors Fetch NOT_LEADER_FOR_PARTITION _TRANSPORT "
                                "UNKNOWN_TOPIC_OR_PART")
                  .ok());
  for (int i = 700; i < 1400; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(20)).ok());
  ASSERT_TRUE(WaitFor([&] { return service()->stats().handled >= 1000; }, absl::Seconds(60)).ok());
  ASSERT_TRUE(kafka_->SendCommand("errors Heartbeat NOT_COORDINATOR NOT_COORDINATOR").ok());
  ASSERT_TRUE(kafka_->SendCommand("down all").ok());
  // Outage: the consumer keeps polling; the producer queues (it retries until up again).
  for (int i = 1400; i < 2000; ++i) Publish(events[i]);
  // Hold the outage over a few poll rounds of the consumer (its commits and fetches fail).
  EXPECT_FALSE(WaitFor([&] { return service()->stats().handled >= 2000; }, absl::Seconds(3)).ok());
  ASSERT_TRUE(kafka_->SendCommand("up all").ok());
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(60)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(2000); }, absl::Seconds(120)).ok())
      << "handled " << service()->stats().handled << " of 2000";
  ExpectPendingExactly(expected);
  // Every event was judged: each event_id carries its dedupe mark.
  std::vector<std::string> ids;
  for (const v1::Event& e : events) ids.push_back(e.event_id());
  absl::StatusOr<std::vector<bool>> done = deduper_->IsDoneMany(ids);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(std::count(done->begin(), done->end(), true), 2000);
}

// A bad rules file on reload keeps the old rules: the stream is judged by the old rule set
// (same proposals as before the bad file), and the generation does not move.
TEST_F(IngestServiceTest, BadRulesReloadKeepsTheOldRules) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("ingest-rules");
  ASSERT_TRUE(dir.ok()) << dir.status();
  for (const auto& entry : std::filesystem::directory_iterator(RulesDir())) {
    std::filesystem::copy(entry.path(), dir->File(entry.path().filename().string()));
  }
  absl::StatusOr<std::unique_ptr<RulesReloader>> reloader =
      RulesReloader::Create({.paths = {dir->path()}}, normalizer_, *log_);
  ASSERT_TRUE(reloader.ok()) << reloader.status();
  reloader_ = *std::move(reloader);
  const uint64_t generation = reloader_->Current().generation;
  LoadOpportunities();
  const std::vector<v1::Event> events = Variants(CorpusEvents(), 660, "h");
  const Expected expected = Judge(events);
  StartIngest();
  for (int i = 0; i < 330; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(330); }, absl::Seconds(60)).ok());

  {
    std::ofstream bad(dir->File("zz_broken.yaml"));
    bad << "pipelines:\n  - id: b2b_standard\n    rules:\n      - id: [not, a, string\n";
  }
  absl::Status reloaded = reloader_->Reload();
  EXPECT_FALSE(reloaded.ok());
  EXPECT_THAT(reloaded.message(), ::testing::HasSubstr("zz_broken.yaml"));
  EXPECT_EQ(reloader_->Current().generation, generation);

  for (int i = 330; i < 660; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(660); }, absl::Seconds(60)).ok());
  EXPECT_EQ(service()->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
  ExpectPendingExactly(expected);
}

// Events produced by an independent client (Debian python3-kafka, pure Python) are consumed
// like any other.
TEST_F(IngestServiceTest, EventsFromPythonKafkaAreConsumedLikeAnyOther) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  constexpr char kPython[] = "/usr/bin/python3";
  {
    absl::StatusOr<std::unique_ptr<testing::Subprocess>> probe =
        testing::Subprocess::Spawn({.argv = {kPython, "-c", "import kafka"}});
    if (!probe.ok()) GTEST_SKIP() << "no " << kPython;
    absl::StatusOr<testing::ExitInfo> exit = (*probe)->Wait(absl::Seconds(30));
    if (!exit.ok() || !exit->success()) GTEST_SKIP() << "python3-kafka cannot be imported";
  }
  LoadOpportunities();
  const std::vector<v1::Event> events = CorpusEvents();
  const Expected expected = Judge(events);
  absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("ingest-py");
  ASSERT_TRUE(dir.ok());
  {
    std::ofstream out(dir->File("events.tsv"));
    for (const v1::Event& e : events) {
      out << TopicOf(e) << "\t" << KeyOf(e) << "\t" << event::EventToJson(e) << "\n";
    }
    std::ofstream script(dir->File("produce.py"));
    script << R"(import sys
from kafka import KafkaProducer
p = KafkaProducer(bootstrap_servers=sys.argv[1].split(','), api_version=(2, 5, 0), acks='all')
n = 0
for line in open(sys.argv[2], encoding='utf-8'):
    topic, key, value = line.rstrip('\n').split('\t', 2)
    p.send(topic, key=key.encode(), value=value.encode(),
           headers=[('content-type', b'application/json')])
    n += 1
p.flush(30)
p.close()
print(n)
)";
  }
  StartIngest();
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> python = testing::Subprocess::Spawn(
      {.argv = {kPython, dir->File("produce.py"), kafka_->bootstrap(), dir->File("events.tsv")},
       .pipe_stdout = true});
  ASSERT_TRUE(python.ok()) << python.status();
  absl::StatusOr<std::string> count = (*python)->ReadLine(absl::Seconds(60));
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, std::to_string(events.size()));
  const int64_t n = static_cast<int64_t>(events.size());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(n); }, absl::Seconds(60)).ok())
      << "handled " << service()->stats().handled << " of " << n;
  EXPECT_EQ(service()->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
  ExpectPendingExactly(expected);
}

// Failure scenarios 1 and 2 with the real binary: kill -9 in the middle of a stream, then a
// restart: every event handled (its dedupe mark), no proposal doubled.
TEST_F(IngestServiceTest, ProcessKilledMidStreamAndRestartedLosesAndDoublesNothing) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> events = Variants(CorpusEvents(), 3000, "k");
  const Expected expected = Judge(events);
  for (const v1::Event& e : events) Publish(e);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  absl::StatusOr<testing::TempDir> logs = testing::TempDir::Create("ingest-logs");
  ASSERT_TRUE(logs.ok());
  std::unique_ptr<testing::Subprocess> first = SpawnIngest(logs->File("first.log"));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Marked(events) >= 800; }, absl::Seconds(90)).ok())
      << ReadFile(logs->File("first.log"));
  first->Kill();
  const int64_t at_kill = Marked(events);
  EXPECT_LT(at_kill, 3000) << "the kill came too late to test anything";
  std::unique_ptr<testing::Subprocess> second = SpawnIngest(logs->File("second.log"));
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Marked(events) == 3000; }, absl::Seconds(120)).ok())
      << "marked " << Marked(events) << "\n"
      << ReadFile(logs->File("second.log"));
  ASSERT_TRUE(WaitFor([&] { return PendingInReview().size() >= expected.pending.size(); },
                      absl::Seconds(30))
                  .ok());
  ExpectPendingExactly(expected);
  const testing::ExitInfo exit = second->Stop(absl::Seconds(20));
  EXPECT_TRUE(exit.success()) << exit.ToString() << "\n" << ReadFile(logs->File("second.log"));
}

// Failure scenario 3 with the real binary: a second instance joins the group mid-stream
// (cooperative-sticky rebalance): every event handled, nothing doubled, both took part.
TEST_F(IngestServiceTest, SecondInstanceJoiningMidStreamLosesAndDoublesNothing) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> events = Variants(CorpusEvents(), 3000, "j");
  const Expected expected = Judge(events);
  absl::StatusOr<testing::TempDir> logs = testing::TempDir::Create("ingest-logs");
  ASSERT_TRUE(logs.ok());
  std::unique_ptr<testing::Subprocess> first = SpawnIngest(logs->File("first.log"));
  ASSERT_NE(first, nullptr);
  for (int i = 0; i < 1000; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return Marked(events) >= 500; }, absl::Seconds(90)).ok())
      << ReadFile(logs->File("first.log"));
  std::unique_ptr<testing::Subprocess> second = SpawnIngest(logs->File("second.log"));
  ASSERT_NE(second, nullptr);
  // Mid-stream: the rest is produced once the second instance took over partitions.
  ASSERT_TRUE(WaitFor(
                  [&] {
                    return ReadFile(logs->File("second.log")).find("partition assigned") !=
                           std::string::npos;
                  },
                  absl::Seconds(90))
                  .ok())
      << ReadFile(logs->File("second.log"));
  for (int i = 1000; i < 3000; ++i) {
    Publish(events[i]);
    if (i % 200 == 0) {
      ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
    }
  }
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return Marked(events) == 3000; }, absl::Seconds(120)).ok())
      << "marked " << Marked(events);
  ASSERT_TRUE(WaitFor([&] { return PendingInReview().size() >= expected.pending.size(); },
                      absl::Seconds(30))
                  .ok());
  ExpectPendingExactly(expected);
  EXPECT_THAT(ReadFile(logs->File("first.log")), ::testing::HasSubstr("partition revoked"));
  EXPECT_TRUE(second->Stop(absl::Seconds(20)).success());
  EXPECT_TRUE(first->Stop(absl::Seconds(20)).success());
}

class IngestRedisOutageTest : public IngestServiceTest {
 protected:
  IngestRedisOutageTest() : IngestServiceTest(/*redis_append_only=*/true) {}
};

// Failure scenario 8: Redis down → health NOT_SERVING, offsets stop advancing, nothing
// dropped; Redis back → resumes by itself, every event handled once.
TEST_F(IngestRedisOutageTest, RedisDownStopsProgressAndResumesByItself) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> events = Variants(CorpusEvents(), 1200, "d");
  const Expected expected = Judge(events);
  StartIngest();
  for (int i = 0; i < 400; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(400); }, absl::Seconds(60)).ok());
  ASSERT_TRUE(WaitFor([&] { return service()->Health().ok(); }, absl::Seconds(10)).ok());

  ASSERT_TRUE(redis_->Stop().ok());
  for (int i = 400; i < 1200; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return !service()->Health().ok(); }, absl::Seconds(30)).ok());
  const int64_t handled_down = service()->stats().handled;
  EXPECT_FALSE(WaitFor([&] { return service()->stats().handled >= 1200; }, absl::Seconds(3)).ok());
  EXPECT_LT(handled_down, 1200);

  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(1200); }, absl::Seconds(120)).ok())
      << "handled " << service()->stats().handled;
  EXPECT_TRUE(WaitFor([&] { return service()->Health().ok(); }, absl::Seconds(10)).ok());
  EXPECT_EQ(Marked(events), 1200);
  ExpectPendingExactly(expected);
}

class IngestMarkerTest : public IngestServiceTest {
 protected:
  // Redis commands wait as long as a pause lasts (no timeout lets a blocked mark give up).
  IngestMarkerTest()
      : IngestServiceTest({.name = "ingest-marker", .redis_command_timeout = absl::Seconds(120)}) {}

  // Events the rules make no proposal for and whose opportunity resolves: while Redis
  // refuses writes, their handling needs no write but the dedupe mark.
  std::vector<v1::Event> QuietEvents(const std::vector<v1::Event>& events) {
    std::vector<v1::Event> out;
    rules::SnapshotResolver resolver(opportunities_);
    absl::StatusOr<std::unique_ptr<rules::Engine>> engine =
        rules::Engine::Create(reloader_->Current().rules, *guards_);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return out;
    for (const v1::Event& e : events) {
      if (!resolver.Resolve(e).opportunity) continue;
      absl::StatusOr<rules::Decision> d = (*engine)->Process(e, resolver);
      if (d.ok() && !d->proposal) out.push_back(e);
    }
    return out;
  }

  void Redis(const std::vector<std::string>& command) {
    absl::StatusOr<redis::RedisPool::Lease> lease = redis_pool_->Acquire(absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    ASSERT_TRUE((*lease)->Command(command).ok());
  }
};

// The dedupe marks are written by the marker thread, not by the run that judged the events:
// while Redis refuses writes (CLIENT PAUSE WRITE), the single worker keeps judging new runs,
// and nothing is handled (no offset stored) before its mark is written; once writes resume,
// every event is marked and handled.
TEST_F(IngestMarkerTest, RunsDoNotWaitForTheirDedupeMarksAndNothingIsHandledUnmarked) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> events = QuietEvents(Variants(CorpusEvents(), 400, "m"));
  ASSERT_GE(events.size(), 100u);
  const size_t half = events.size() / 2;
  StartIngest({.workers = 1});
  ASSERT_TRUE(WaitFor([&] { return service()->Health().ok(); }, absl::Seconds(60)).ok());

  Redis({"CLIENT", "PAUSE", "600000", "WRITE"});
  for (size_t i = 0; i < half; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return metrics_->decoded.Value() >= half; }, absl::Seconds(60)).ok());
  // The first runs' marks are blocked; a worker waiting for them would judge nothing more.
  for (size_t i = half; i < events.size(); ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  EXPECT_TRUE(
      WaitFor([&] { return metrics_->decoded.Value() >= events.size(); }, absl::Seconds(60)).ok())
      << "judged " << metrics_->decoded.Value() << " of " << events.size();
  EXPECT_EQ(service()->stats().handled, 0);

  Redis({"CLIENT", "UNPAUSE"});
  ASSERT_TRUE(
      WaitFor([&] { return AllHandled(static_cast<int64_t>(events.size())); }, absl::Seconds(60))
          .ok())
      << "handled " << service()->stats().handled;
  EXPECT_EQ(Marked(events), static_cast<int64_t>(events.size()));
}

}  // namespace
}  // namespace autostage::ingest
