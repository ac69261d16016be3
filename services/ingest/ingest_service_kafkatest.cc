// IngestService in-process against the devbroker, a real redis-server and the real review
// service (in-process ReviewServer on 127.0.0.1:0) — labels kafka;redis. Opportunity state
// arrives through the real OpportunityFeed, rules through the real RulesReloader over
// deploy/rules, proposals through the real ReviewClient/ProposalBatcher, dead letters through
// the real DlqWriter. Expected proposals are computed with the rules library directly (what
// `rulectl run` does: Engine + SnapshotResolver over the corpus opportunities).
#include <prometheus/registry.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_pool.h"
#include "common/rules/config.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/testing/devbroker_process.h"
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

constexpr char kIngestToken[] = "ingest-test-token";
const std::vector<std::string> kEventTopics = {"crm.events.email", "crm.events.call",
                                               "crm.events.chat"};

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

std::string TopicOf(const v1::Event& e) { return "crm.events." + e.source(); }
std::string KeyOf(const v1::Event& e) {
  return e.opportunity_id().empty() ? e.event_id() : e.opportunity_id();
}

// (opportunity, to_stage) pairs, and the proposals per event, that the rules library yields.
struct Expected {
  std::set<std::pair<std::string, std::string>> pending;
  size_t proposals = 0;
};

class IngestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    absl::StatusOr<std::unique_ptr<RedisServer>> redis =
        RedisServer::Start({.append_only = RedisAppendOnly()});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    std::vector<testing::KafkaTopic> topics = {{"crm.opportunities", 1}, {"crm.events.dlq", 1}};
    for (const std::string& t : kEventTopics) topics.push_back({t, 3});
    absl::StatusOr<std::unique_ptr<DevBrokerProcess>> kafka =
        DevBrokerProcess::Start({.brokers = 1, .topics = topics});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = *std::move(kafka);

    absl::StatusOr<log::Logger> logger = log::MakeStderrLogger("ingest-test", "warn");
    ASSERT_TRUE(logger.ok());
    log_ = std::make_unique<log::Logger>(*logger);

    redis::RedisOptions ro;
    ro.host = redis_->host();
    ro.port = redis_->port();
    redis_pool_ = std::make_unique<redis::RedisPool>(ro, 8);

    // Review, in-process.
    absl::StatusOr<review::Pipelines> pipelines =
        review::Pipelines::Load(RulesDir() + "/pipelines.yaml");
    ASSERT_TRUE(pipelines.ok()) << pipelines.status();
    review_store_ =
        std::make_unique<review::ProposalStore>(*redis_pool_, *std::move(pipelines), clock_);
    absl::StatusOr<review::TokenTable> tokens = review::TokenTable::Parse(
        absl::StrCat("- {sha256: ", review::Sha256Hex(kIngestToken),
                     ", id: ingest-test, kind: service, role: ingest}\n"));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    review_core_ = std::make_unique<review::ReviewCore>(*review_store_, tokens_);
    StartReview("127.0.0.1:0");

    // Ingest's parts.
    absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
        kafka::Producer::Create({{"bootstrap.servers", kafka_->bootstrap()}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);
    dlq_ = std::make_unique<DlqWriter>(*producer_, DlqWriterOptions{});
    deduper_ = std::make_unique<Deduper>(*redis_pool_, DeduperOptions{});
    state_ = std::make_unique<crmstate::OpportunityStateStore>(*redis_pool_);
    absl::StatusOr<std::unique_ptr<ReviewClient>> client =
        ReviewClient::Create({.target = absl::StrCat("127.0.0.1:", review_port_),
                              .token = kIngestToken,
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
    normalizer_ = std::shared_ptr<const text::Normalizer>(*std::move(normalizer));
    absl::StatusOr<std::unique_ptr<RulesReloader>> reloader =
        RulesReloader::Create({.paths = {RulesDir()}}, normalizer_, *log_);
    ASSERT_TRUE(reloader.ok()) << reloader.status();
    reloader_ = *std::move(reloader);
    absl::StatusOr<std::unique_ptr<text::GuardAnalyzer>> guards = text::GuardAnalyzer::Create();
    ASSERT_TRUE(guards.ok()) << guards.status();
    guards_ = *std::move(guards);
    metrics_ = std::make_unique<IngestMetrics>(registry_);
  }

  // Redis with an append-only file, so a restart keeps the data (the Redis outage test).
  virtual bool RedisAppendOnly() const { return false; }

  void TearDown() override {
    StopIngest();
    if (feed_) feed_->Stop();
    if (batcher_) batcher_->Shutdown(absl::Now() + absl::Seconds(2));
    if (producer_) (void)producer_->Flush(absl::Now() + absl::Seconds(5));
    service_.reset();
    if (review_server_) review_server_->Shutdown(absl::Seconds(1));
  }

  void StartReview(const std::string& listen) {
    absl::StatusOr<std::unique_ptr<review::ReviewServer>> server =
        review::ReviewServer::Start({.listen = listen}, *review_core_);
    ASSERT_TRUE(server.ok()) << server.status();
    review_server_ = *std::move(server);
    review_port_ = review_server_->port();
  }

  // Publishes the corpus opportunities and starts the feed.
  void LoadOpportunities() {
    opportunities_.clear();
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
  }

  std::vector<v1::Event> CorpusEvents() {
    std::vector<v1::Event> events;
    for (const std::string& line : ReadLines(CorpusDir() + "/events.jsonl")) {
      absl::StatusOr<v1::Event> e = event::DecodeEvent(line, event::Encoding::kJson);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) events.push_back(*std::move(e));
    }
    return events;
  }

  // What rulectl run yields for `events` with the current rules.
  Expected Judge(const std::vector<v1::Event>& events) {
    Expected expected;
    rules::SnapshotResolver resolver(opportunities_);
    absl::StatusOr<std::unique_ptr<rules::Engine>> engine =
        rules::Engine::Create(reloader_->Current().rules, *guards_);
    EXPECT_TRUE(engine.ok()) << engine.status();
    if (!engine.ok()) return expected;
    for (const v1::Event& e : events) {
      absl::StatusOr<rules::Decision> d = (*engine)->Process(e, resolver);
      EXPECT_TRUE(d.ok()) << d.status();
      if (d.ok() && d->proposal) {
        ++expected.proposals;
        expected.pending.emplace(d->proposal->opportunity_id(), d->proposal->to_stage());
      }
    }
    return expected;
  }

  void StartIngest(IngestServiceOptions options = {}) {
    options.kafka = {{"bootstrap.servers", kafka_->bootstrap()},
                     {"group.id", "ingest-test"},
                     {"session.timeout.ms", "6000"},
                     {"heartbeat.interval.ms", "500"},
                     {"auto.commit.interval.ms", "200"}};
    options.topics = kEventTopics;
    options.drain_timeout = absl::Seconds(5);
    OpportunityFeed* feed = feed_.get();
    RulesReloader* reloader = reloader_.get();
    absl::StatusOr<std::unique_ptr<IngestService>> service = IngestService::Create(
        options, IngestDependencies{
                     .proposals = *batcher_,
                     .dlq = *dlq_,
                     .deduper = *deduper_,
                     .state = *state_,
                     .rules =
                         [reloader] {
                           RulesReloader::Snapshot s = reloader->Current();
                           return RuleSnapshot{s.rules, s.generation};
                         },
                     .guards = *guards_,
                     .metrics = *metrics_,
                     .log = *log_,
                     .state_ready = [feed] { return feed == nullptr || feed->CaughtUp(); },
                 });
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    runner_ = std::thread([this] { run_status_ = service_->Run(); });
  }

  void StopIngest() {
    if (!runner_.joinable()) return;
    service_->Stop();
    runner_.join();
    EXPECT_TRUE(run_status_.ok()) << run_status_;
  }

  void Publish(const v1::Event& e) {
    ASSERT_TRUE(producer_
                    ->Produce(TopicOf(e), KeyOf(e), event::EventToJson(e),
                              {{"content-type", "application/json"}})
                    .ok());
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
        EXPECT_EQ(p.status(), v1::PROPOSAL_STATUS_PENDING);
        ++out[{p.proposal().opportunity_id(), p.proposal().to_stage()}];
      }
      if (page->next_page_token().empty()) break;
      request.set_page_token(page->next_page_token());
    }
    return out;
  }

  void ExpectPendingExactly(const Expected& expected) {
    std::map<std::pair<std::string, std::string>, int> pending = PendingInReview();
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& [key, count] : pending) {
      keys.insert(key);
      EXPECT_EQ(count, 1) << key.first << " → " << key.second << " pending more than once";
    }
    EXPECT_EQ(keys, expected.pending);
  }

  bool AllHandled(int64_t n) const {
    return service_->stats().handled >= n && batcher_->InFlight() == 0;
  }

  // Starts the autostage-ingest binary against this fixture's broker, Redis and review; its
  // log goes to `log_file`.
  std::unique_ptr<testing::Subprocess> SpawnIngest(const std::string& log_file) {
    if (!process_dir_) {
      absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("ingest-proc");
      EXPECT_TRUE(dir.ok()) << dir.status();
      if (!dir.ok()) return nullptr;
      process_dir_ = std::make_unique<testing::TempDir>(*std::move(dir));
      std::ofstream(process_dir_->File("token")) << kIngestToken << "\n";
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

  // How many of `events` carry their dedupe mark (fully handled).
  int64_t Marked(const std::vector<v1::Event>& events) {
    std::vector<std::string> ids;
    for (const v1::Event& e : events) ids.push_back(e.event_id());
    absl::StatusOr<std::vector<bool>> done = deduper_->IsDoneMany(ids);
    if (!done.ok()) return -1;
    return std::count(done->begin(), done->end(), true);
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::unique_ptr<testing::TempDir> process_dir_;
  review::SystemClock clock_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<DevBrokerProcess> kafka_;
  std::unique_ptr<log::Logger> log_;
  std::unique_ptr<redis::RedisPool> redis_pool_;
  std::unique_ptr<review::ProposalStore> review_store_;
  review::TokenTable tokens_;
  std::unique_ptr<review::ReviewCore> review_core_;
  std::unique_ptr<review::ReviewServer> review_server_;
  int review_port_ = 0;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<DlqWriter> dlq_;
  std::unique_ptr<Deduper> deduper_;
  std::unique_ptr<crmstate::OpportunityStateStore> state_;
  std::unique_ptr<ReviewClient> review_client_;
  std::unique_ptr<ProposalBatcher> batcher_;
  std::shared_ptr<const text::Normalizer> normalizer_;
  std::unique_ptr<RulesReloader> reloader_;
  std::unique_ptr<text::GuardAnalyzer> guards_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<OpportunityFeed> feed_;
  std::vector<v1::Opportunity> opportunities_;
  std::unique_ptr<IngestService> service_;
  std::thread runner_;
  absl::Status run_status_;
};

bool HaveCorpus() { return std::ifstream(CorpusDir() + "/events.jsonl").good(); }

// `n` copies of the corpus events with distinct event ids.
std::vector<v1::Event> Variants(const std::vector<v1::Event>& corpus, int n,
                                absl::string_view tag) {
  std::vector<v1::Event> out;
  for (int i = 0; i < n; ++i) {
    v1::Event e = corpus[i % corpus.size()];
    e.set_event_id(absl::StrCat(e.event_id(), "-", tag, i));
    out.push_back(std::move(e));
  }
  return out;
}

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
      << "handled " << service_->stats().handled << " of " << n;
  const IngestStats stats = service_->stats();
  EXPECT_EQ(stats.consumed, n);
  EXPECT_EQ(stats.handled, n);
  EXPECT_EQ(stats.proposals_acked, static_cast<int64_t>(expected.proposals));
  ExpectPendingExactly(expected);
  EXPECT_TRUE(service_->Health().ok());
}

// Failure scenario 7 at volume: 1,000 malformed events mixed into 10,000 good ones.
TEST_F(IngestServiceTest, MalformedEventsGoToTheDlqWithTheirReasonAndNeverStall) {
  if (!HaveCorpus()) GTEST_SKIP() << "dev corpus absent at " << CorpusDir();
  LoadOpportunities();
  const std::vector<v1::Event> corpus = CorpusEvents();
  ASSERT_FALSE(corpus.empty());
  std::vector<v1::Event> good;
  for (int i = 0; i < 10000; ++i) {
    v1::Event e = corpus[i % corpus.size()];
    e.set_event_id(absl::StrCat(e.event_id(), "-v", i));
    good.push_back(std::move(e));
  }
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
    const std::string topic = kEventTopics[i % 3];
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
      << "handled " << service_->stats().handled << " of 11000";
  const IngestStats stats = service_->stats();
  EXPECT_EQ(stats.handled, 11000);
  EXPECT_EQ(stats.dead_lettered, 1000);
  EXPECT_EQ(stats.proposals_acked, static_cast<int64_t>(expected.proposals));

  // Every malformed event is in the DLQ once, with its reason and origin headers.
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> dlq =
      kafka::Consumer::Create({{"bootstrap.servers", kafka_->bootstrap()},
                               {"group.id", "dlq-check"},
                               {"auto.offset.reset", "earliest"}},
                              nullptr);
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
  std::vector<v1::Event> events;
  for (int i = 0; i < 3000; ++i) {
    v1::Event e = corpus[i % corpus.size()];
    e.set_event_id(absl::StrCat(e.event_id(), "-r", i));
    events.push_back(std::move(e));
  }
  const Expected expected = Judge(events);
  IngestServiceOptions options;
  options.max_queued_events = 200;
  options.max_pending_events = 400;
  StartIngest(options);
  for (int i = 0; i < 1000; ++i) Publish(events[i]);
  ASSERT_TRUE(WaitFor([&] { return service_->stats().handled >= 500; }, absl::Seconds(60)).ok());

  review_server_->Shutdown(absl::Seconds(1));
  review_server_.reset();
  for (int i = 1000; i < 3000; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(30)).ok());
  ASSERT_TRUE(WaitFor([&] { return service_->stats().pauses > 0; }, absl::Seconds(30)).ok());
  // While review is down (30 s): bounded in-flight work, no progress past it.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  int64_t max_outstanding = 0;
  while (absl::Now() < until) {
    const IngestStats s = service_->stats();
    max_outstanding = std::max(max_outstanding, s.consumed - s.handled);
    absl::SleepFor(absl::Milliseconds(50));  // sampling, not settling
  }
  EXPECT_LT(service_->stats().handled, 3000);
  EXPECT_LE(max_outstanding, 400 + 200);  // max_pending + one poll burst
  StartReview(absl::StrCat("127.0.0.1:", review_port_));
  ASSERT_TRUE(WaitFor([&] { return AllHandled(3000); }, absl::Seconds(90)).ok())
      << "handled " << service_->stats().handled;
  ExpectPendingExactly(expected);
  EXPECT_GE(service_->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
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
  ASSERT_TRUE(WaitFor([&] { return service_->stats().handled >= 300; }, absl::Seconds(60)).ok());
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
  ASSERT_TRUE(WaitFor([&] { return service_->stats().handled >= 1000; }, absl::Seconds(60)).ok());
  ASSERT_TRUE(kafka_->SendCommand("errors Heartbeat NOT_COORDINATOR NOT_COORDINATOR").ok());
  ASSERT_TRUE(kafka_->SendCommand("down all").ok());
  // Outage: the consumer keeps polling; the producer queues (it retries until up again).
  for (int i = 1400; i < 2000; ++i) Publish(events[i]);
  // Hold the outage over a few poll rounds of the consumer (its commits and fetches fail).
  EXPECT_FALSE(WaitFor([&] { return service_->stats().handled >= 2000; }, absl::Seconds(3)).ok());
  ASSERT_TRUE(kafka_->SendCommand("up all").ok());
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(60)).ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(2000); }, absl::Seconds(120)).ok())
      << "handled " << service_->stats().handled << " of 2000";
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
  EXPECT_EQ(service_->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
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
      << "handled " << service_->stats().handled << " of " << n;
  EXPECT_EQ(service_->stats().proposals_acked, static_cast<int64_t>(expected.proposals));
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
  bool RedisAppendOnly() const override { return true; }
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
  ASSERT_TRUE(WaitFor([&] { return service_->Health().ok(); }, absl::Seconds(10)).ok());

  ASSERT_TRUE(redis_->Stop().ok());
  for (int i = 400; i < 1200; ++i) Publish(events[i]);
  ASSERT_TRUE(producer_->Flush(absl::Now() + absl::Seconds(10)).ok());
  ASSERT_TRUE(WaitFor([&] { return !service_->Health().ok(); }, absl::Seconds(30)).ok());
  const int64_t handled_down = service_->stats().handled;
  EXPECT_FALSE(WaitFor([&] { return service_->stats().handled >= 1200; }, absl::Seconds(3)).ok());
  EXPECT_LT(handled_down, 1200);

  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(WaitFor([&] { return AllHandled(1200); }, absl::Seconds(120)).ok())
      << "handled " << service_->stats().handled;
  EXPECT_TRUE(WaitFor([&] { return service_->Health().ok(); }, absl::Seconds(10)).ok());
  EXPECT_EQ(Marked(events), 1200);
  ExpectPendingExactly(expected);
}

}  // namespace
}  // namespace autostage::ingest
