// Failure scenarios 4 and 9a with IngestService in-process against the devbroker, a real
// redis-server and the real review service (in-process ReviewServer) — labels kafka;redis.
//   4:  the poll loop of one instance stalls past max.poll.interval.ms (a log sink that blocks
//       the poll thread: what a blocked stderr pipe does), the member leaves the group, the
//       other instance takes its partitions; once the stall ends the late work is fenced:
//       every event handled, every proposal pending once, the log line and the metric.
//   9a: the group's committed offset fell behind the log start (the mock cluster keeps about
//       5 MB per partition and advances the log start past older message sets): the next
//       instance resumes at the earliest offset, logs and counts the skipped offsets.
#include <prometheus/registry.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_pool.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/metric_series.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingest/deduper.h"
#include "services/ingest/dlq_writer.h"
#include "services/ingest/ingest_metrics.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/opportunity_feed.h"
#include "services/ingest/review_client.h"
#include "services/ingest/rules_reloader.h"
#include "services/review/auth.h"
#include "services/review/clock.h"
#include "services/review/grpc_server.h"
#include "services/review/pipelines.h"
#include "services/review/proposal_store.h"
#include "services/review/review_core.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;

constexpr char kToken[] = "ingest-scenarios-token";
constexpr char kGroup[] = "ingest-scenarios";
const std::vector<std::string> kTopics = {"crm.events.email", "crm.events.call", "crm.events.chat"};

std::string SourceDir() {
  const char* dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
  return dir != nullptr ? dir : "";
}
std::string CorpusDir() { return SourceDir() + "/../shared/corpus/dev"; }
std::string RulesDir() { return SourceDir() + "/deploy/rules"; }

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

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
  std::unique_ptr<IngestService> service;
  std::thread runner;
  absl::Status status;

  void Stop() {
    if (!runner.joinable()) return;
    sink->Release();
    service->Stop();
    runner.join();
    EXPECT_TRUE(status.ok()) << status;
  }
  ~Instance() { Stop(); }
};

class IngestScenariosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    if (!std::ifstream(CorpusDir() + "/events.jsonl").good()) {
      GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
    }
    absl::StatusOr<std::unique_ptr<RedisServer>> redis = RedisServer::Start({});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    std::vector<testing::KafkaTopic> topics = {{"crm.opportunities", 1}, {"crm.events.dlq", 1}};
    for (const std::string& t : kTopics) topics.push_back({t, 3});
    absl::StatusOr<std::unique_ptr<DevBrokerProcess>> kafka =
        DevBrokerProcess::Start({.brokers = 1, .topics = topics});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = *std::move(kafka);
    absl::StatusOr<log::Logger> logger = log::MakeStderrLogger("scenarios", "warn");
    ASSERT_TRUE(logger.ok());
    log_ = std::make_unique<log::Logger>(*logger);

    redis::RedisOptions ro;
    ro.host = redis_->host();
    ro.port = redis_->port();
    redis_pool_ = std::make_unique<redis::RedisPool>(ro, 8);
    absl::StatusOr<review::Pipelines> pipelines =
        review::Pipelines::Load(RulesDir() + "/pipelines.yaml");
    ASSERT_TRUE(pipelines.ok()) << pipelines.status();
    review_store_ =
        std::make_unique<review::ProposalStore>(*redis_pool_, *std::move(pipelines), clock_);
    absl::StatusOr<review::TokenTable> tokens = review::TokenTable::Parse(
        absl::StrCat("- {sha256: ", review::Sha256Hex(kToken),
                     ", id: ingest-scenarios, kind: service, role: ingest}\n"));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    review_core_ = std::make_unique<review::ReviewCore>(*review_store_, tokens_);
    absl::StatusOr<std::unique_ptr<review::ReviewServer>> server =
        review::ReviewServer::Start({.listen = "127.0.0.1:0"}, *review_core_);
    ASSERT_TRUE(server.ok()) << server.status();
    review_server_ = *std::move(server);

    absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
        kafka::Producer::Create({{"bootstrap.servers", kafka_->bootstrap()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    dlq_ = std::make_unique<DlqWriter>(*producer_, DlqWriterOptions{});
    deduper_ = std::make_unique<Deduper>(*redis_pool_, DeduperOptions{});
    state_ = std::make_unique<crmstate::OpportunityStateStore>(*redis_pool_);
    absl::StatusOr<std::unique_ptr<ReviewClient>> client =
        ReviewClient::Create({.target = absl::StrCat("127.0.0.1:", review_server_->port()),
                              .token = kToken,
                              .call_deadline = absl::Seconds(2),
                              .retry = {.initial_backoff = absl::Milliseconds(20),
                                        .max_backoff = absl::Milliseconds(500),
                                        .max_total = absl::Seconds(5)},
                              .probe_interval = absl::Milliseconds(100)});
    ASSERT_TRUE(client.ok()) << client.status();
    review_client_ = *std::move(client);
    batcher_ = std::make_unique<ProposalBatcher>(*review_client_, ProposalBatcherOptions{});

    absl::StatusOr<std::unique_ptr<const text::Normalizer>> normalizer = text::Normalizer::Create();
    ASSERT_TRUE(normalizer.ok()) << normalizer.status();
    absl::StatusOr<std::unique_ptr<RulesReloader>> reloader = RulesReloader::Create(
        {.paths = {RulesDir()}}, std::shared_ptr<const text::Normalizer>(*std::move(normalizer)),
        *log_);
    ASSERT_TRUE(reloader.ok()) << reloader.status();
    reloader_ = *std::move(reloader);
    absl::StatusOr<std::unique_ptr<text::GuardAnalyzer>> guards = text::GuardAnalyzer::Create();
    ASSERT_TRUE(guards.ok()) << guards.status();
    guards_ = *std::move(guards);

    for (const std::string& line : ReadLines(CorpusDir() + "/opportunities.jsonl")) {
      absl::StatusOr<v1::Opportunity> o = event::DecodeOpportunity(line, event::Encoding::kJson);
      ASSERT_TRUE(o.ok()) << o.status();
      ASSERT_TRUE(producer_
                      ->Produce("crm.opportunities", o->opportunity_id(), line,
                                {{"content-type", "application/json"}})
                      .ok());
      opportunities_.push_back(*o);
    }
    ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
    absl::StatusOr<std::unique_ptr<OpportunityFeed>> feed = OpportunityFeed::Create(
        {.kafka = {{"bootstrap.servers", kafka_->bootstrap()}}}, *state_, *log_);
    ASSERT_TRUE(feed.ok()) << feed.status();
    feed_ = *std::move(feed);
    feed_->Start();
    for (const std::string& line : ReadLines(CorpusDir() + "/events.jsonl")) {
      absl::StatusOr<v1::Event> e = event::DecodeEvent(line, event::Encoding::kJson);
      ASSERT_TRUE(e.ok()) << e.status();
      corpus_.push_back(*std::move(e));
    }
  }

  void TearDown() override {
    a_.Stop();
    b_.Stop();
    if (feed_) feed_->Stop();
    if (batcher_) batcher_->Shutdown(absl::Now() + absl::Seconds(2));
    if (producer_) (void)producer_->Flush(absl::Now() + absl::Seconds(5));
    a_.service.reset();
    b_.service.reset();
    if (review_server_) review_server_->Shutdown(absl::Seconds(1));
  }

  void Start(Instance& instance, IngestServiceOptions options,
             const kafka::KafkaConfig& extra = {}) {
    options.kafka = {{"bootstrap.servers", kafka_->bootstrap()},
                     {"group.id", kGroup},
                     {"session.timeout.ms", "6000"},
                     {"heartbeat.interval.ms", "500"},
                     {"auto.commit.interval.ms", "200"}};
    for (const auto& [key, value] : extra) options.kafka[key] = value;
    options.topics = kTopics;
    options.drain_timeout = absl::Seconds(5);
    RulesReloader* reloader = reloader_.get();
    OpportunityFeed* feed = feed_.get();
    absl::StatusOr<std::unique_ptr<IngestService>> service = IngestService::Create(
        options, IngestDependencies{.proposals = *batcher_,
                                    .dlq = *dlq_,
                                    .deduper = *deduper_,
                                    .state = *state_,
                                    .rules =
                                        [reloader] {
                                          RulesReloader::Snapshot s = reloader->Current();
                                          return RuleSnapshot{s.rules, s.generation};
                                        },
                                    .guards = *guards_,
                                    .metrics = *instance.metrics,
                                    .log = instance.log,
                                    .state_ready = [feed] { return feed->CaughtUp(); }});
    ASSERT_TRUE(service.ok()) << service.status();
    instance.service = *std::move(service);
    instance.runner = std::thread([&instance] { instance.status = instance.service->Run(); });
  }

  std::vector<v1::Event> Variants(int n, absl::string_view tag) const {
    std::vector<v1::Event> out;
    for (int i = 0; i < n; ++i) {
      v1::Event e = corpus_[i % corpus_.size()];
      e.set_event_id(absl::StrCat(e.event_id(), "-", tag, i));
      out.push_back(std::move(e));
    }
    return out;
  }

  // (opportunity, stage) pairs the rules library yields for `events`.
  std::set<std::pair<std::string, std::string>> Judge(const std::vector<v1::Event>& events) {
    std::set<std::pair<std::string, std::string>> out;
    rules::SnapshotResolver resolver(opportunities_);
    absl::StatusOr<std::unique_ptr<rules::Engine>> engine =
        rules::Engine::Create(reloader_->Current().rules, *guards_);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return out;
    for (const v1::Event& e : events) {
      absl::StatusOr<rules::Decision> d = (*engine)->Process(e, resolver);
      EXPECT_TRUE(d.ok()) << d.status();
      if (d.ok() && d->proposal) {
        out.emplace(d->proposal->opportunity_id(), d->proposal->to_stage());
      }
    }
    return out;
  }

  void Publish(const v1::Event& e, const std::string& topic, const std::string& key) {
    ASSERT_TRUE(
        producer_
            ->Produce(topic, key, event::EventToJson(e), {{"content-type", "application/json"}})
            .ok());
  }
  void Publish(const v1::Event& e) {
    Publish(e, "crm.events." + e.source(),
            e.opportunity_id().empty() ? e.event_id() : e.opportunity_id());
  }

  // Every pending proposal in review, as (opportunity, to_stage) → count.
  std::map<std::pair<std::string, std::string>, int> PendingInReview() {
    std::map<std::pair<std::string, std::string>, int> out;
    v1::ListPendingRequest request;
    request.set_page_size(500);
    while (true) {
      absl::StatusOr<v1::ListPendingResponse> page =
          review_store_->ListPending(request, review::ListScope{});
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (const v1::ReviewedProposal& p : page->proposals()) {
        ++out[{p.proposal().opportunity_id(), p.proposal().to_stage()}];
      }
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return out;
  }

  // How many of `events` carry their dedupe mark (fully handled).
  int64_t Marked(const std::vector<v1::Event>& events) {
    std::vector<std::string> ids;
    for (const v1::Event& e : events) ids.push_back(e.event_id());
    absl::StatusOr<std::vector<bool>> done = deduper_->IsDoneMany(ids);
    if (!done.ok()) return -1;
    return std::count(done->begin(), done->end(), true);
  }

  review::SystemClock clock_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<DevBrokerProcess> kafka_;
  std::unique_ptr<log::Logger> log_;
  std::unique_ptr<redis::RedisPool> redis_pool_;
  std::unique_ptr<review::ProposalStore> review_store_;
  review::TokenTable tokens_;
  std::unique_ptr<review::ReviewCore> review_core_;
  std::unique_ptr<review::ReviewServer> review_server_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<DlqWriter> dlq_;
  std::unique_ptr<Deduper> deduper_;
  std::unique_ptr<crmstate::OpportunityStateStore> state_;
  std::unique_ptr<ReviewClient> review_client_;
  std::unique_ptr<ProposalBatcher> batcher_;
  std::unique_ptr<RulesReloader> reloader_;
  std::unique_ptr<text::GuardAnalyzer> guards_;
  std::unique_ptr<OpportunityFeed> feed_;
  std::vector<v1::Opportunity> opportunities_;
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
  const std::set<std::pair<std::string, std::string>> expected = Judge(events);
  ASSERT_FALSE(expected.empty());
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

  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& [key, count] : PendingInReview()) {
    keys.insert(key);
    EXPECT_EQ(count, 1) << key.first << " → " << key.second << " pending more than once";
  }
  EXPECT_EQ(keys, expected);
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
  ASSERT_TRUE(WaitFor([&] { return a_.service->stats().handled >= 10; }, absl::Seconds(60)).ok());
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
      WaitFor([&] { return b_.service->stats().handled >= readable; }, absl::Seconds(60)).ok())
      << "handled " << b_.service->stats().handled << " of " << readable;
  const IngestStats stats = b_.service->stats();
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
  ASSERT_TRUE(WaitFor([&] { return a_.service->stats().handled >= n && batcher_->InFlight() == 0; },
                      absl::Seconds(60))
                  .ok())
      << "handled " << a_.service->stats().handled << " of " << n;
  EXPECT_EQ(testing::SeriesByLabels(a_.registry, "autostage_ingest_stripped_parts_total",
                                    {"source", "format"}),
            expected);
}

}  // namespace
}  // namespace autostage::ingest
