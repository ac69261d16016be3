// Test-only: the environment IngestService runs in, for the *_kafkatest files of
// services/ingest that start it in-process (labels kafka;redis): a redis-server, the devbroker
// with the ingest topics, the real review service (in-process ReviewServer on 127.0.0.1:0, an
// ingest service token), and ingest's real parts — producer, DlqWriter, Deduper, opportunity
// state, ReviewClient/ProposalBatcher, RulesReloader over deploy/rules, GuardAnalyzer and the
// OpportunityFeed. Expected proposals are computed with the rules library directly (what
// `rulectl run` does: Engine + SnapshotResolver over the corpus opportunities).
//
//   class MyTest : public IngestTestEnv {
//    protected:
//     MyTest() : IngestTestEnv({.name = "ingest-my"}) {}
//     RunningIngest ingest_;
//   };
//   TEST_F(MyTest, X) { LoadOpportunities(); RunIngest(ingest_, {}, metrics, *log_); ... }
//
// Thread safety: none; drive the fixture from the test's thread (servers and IngestService::Run
// have their own).
#ifndef AUTOSTAGE_SERVICES_INGEST_INGEST_TEST_ENV_H_
#define AUTOSTAGE_SERVICES_INGEST_INGEST_TEST_ENV_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/event/decode.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_pool.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/testing/devbroker_clients.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/redis_server.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"
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

// One IngestService with Run() on its own thread. Stop() (also on destruction) stops and joins
// it and expects Run() to have returned OK.
struct RunningIngest {
  std::unique_ptr<IngestService> service;
  std::thread runner;
  absl::Status status;

  void Stop() {
    if (!runner.joinable()) return;
    service->Stop();
    runner.join();
    EXPECT_TRUE(status.ok()) << status;
  }
  ~RunningIngest() { Stop(); }
};

struct IngestTestEnvOptions {
  // The logger name, the review token id and the ingest consumer group.
  std::string name = "ingest-test";
  // Redis with an append-only file, so that a restart keeps the data (Redis outage tests).
  bool redis_append_only = false;
  // Timeout of every Redis command of the fixture's pool (ingest's and review's).
  absl::Duration redis_command_timeout = absl::Seconds(1);
};

class IngestTestEnv : public ::testing::Test {
 protected:
  // (opportunity, to_stage) pairs, and the proposals per event, that the rules library yields.
  struct Expected {
    std::set<std::pair<std::string, std::string>> pending;
    size_t proposals = 0;
  };

  explicit IngestTestEnv(IngestTestEnvOptions options)
      : options_(std::move(options)), token_(options_.name + "-token") {}

  static std::string SourceDir() {
    const char* dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
    return dir != nullptr ? dir : "";
  }
  static std::string CorpusDir() { return SourceDir() + "/../shared/corpus/dev"; }
  static std::string RulesDir() { return SourceDir() + "/deploy/rules"; }
  static bool HaveCorpus() { return std::ifstream(CorpusDir() + "/events.jsonl").good(); }
  static std::vector<std::string> EventTopics() {
    return {"crm.events.email", "crm.events.call", "crm.events.chat"};
  }
  static std::string TopicOf(const v1::Event& e) { return "crm.events." + e.source(); }
  static std::string KeyOf(const v1::Event& e) {
    return e.opportunity_id().empty() ? e.event_id() : e.opportunity_id();
  }

  // The non-empty lines of `path`.
  static std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) lines.push_back(line);
    }
    return lines;
  }

  // `n` copies of the corpus events with distinct event ids (`<id>-<tag><i>`).
  static std::vector<v1::Event> Variants(const std::vector<v1::Event>& corpus, int n,
                                         absl::string_view tag) {
    std::vector<v1::Event> out;
    for (int i = 0; i < n; ++i) {
      v1::Event e = corpus[i % corpus.size()];
      e.set_event_id(absl::StrCat(e.event_id(), "-", tag, i));
      out.push_back(std::move(e));
    }
    return out;
  }

  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis =
        testing::RedisServer::Start({.append_only = options_.redis_append_only});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    std::vector<testing::KafkaTopic> topics = {{"crm.opportunities", 1}, {"crm.events.dlq", 1}};
    for (const std::string& t : EventTopics()) topics.push_back({t, 3});
    absl::StatusOr<testing::BrokerWithProducer> kafka =
        testing::StartBrokerWithProducer({.brokers = 1, .topics = topics});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(kafka->broker);
    producer_ = std::move(kafka->producer);

    absl::StatusOr<log::Logger> logger = log::MakeStderrLogger(options_.name, "warn");
    ASSERT_TRUE(logger.ok());
    log_ = std::make_unique<log::Logger>(*logger);

    redis::RedisOptions ro;
    ro.host = redis_->host();
    ro.port = redis_->port();
    ro.command_timeout = options_.redis_command_timeout;
    redis_pool_ = std::make_unique<redis::RedisPool>(ro, 8);

    // Review, in-process.
    absl::StatusOr<review::Pipelines> pipelines =
        review::Pipelines::Load(RulesDir() + "/pipelines.yaml");
    ASSERT_TRUE(pipelines.ok()) << pipelines.status();
    review_store_ =
        std::make_unique<review::ProposalStore>(*redis_pool_, *std::move(pipelines), clock_);
    absl::StatusOr<review::TokenTable> tokens = review::TokenTable::Parse(
        absl::StrCat("- {sha256: ", review::Sha256Hex(token_), ", id: ", options_.name,
                     ", kind: service, role: ingest}\n"));
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = *std::move(tokens);
    review_core_ = std::make_unique<review::ReviewCore>(*review_store_, tokens_);
    StartReview("127.0.0.1:0");
    if (HasFatalFailure()) return;

    // Ingest's parts.
    dlq_ = std::make_unique<DlqWriter>(*producer_, DlqWriterOptions{});
    deduper_ = std::make_unique<Deduper>(*redis_pool_, DeduperOptions{});
    state_ = std::make_unique<crmstate::OpportunityStateStore>(*redis_pool_);
    absl::StatusOr<std::unique_ptr<ReviewClient>> client =
        ReviewClient::Create({.target = absl::StrCat("127.0.0.1:", review_port_),
                              .token = token_,
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
  }

  // Stops every IngestService RunIngest started (a fixture whose instances need more to stop,
  // stops them first), then the feed, the batcher and the producer, destroys the services and
  // stops review.
  void TearDown() override {
    for (RunningIngest* ingest : started_) ingest->Stop();
    if (feed_) feed_->Stop();
    if (batcher_) batcher_->Shutdown(absl::Now() + absl::Seconds(2));
    if (producer_) (void)producer_->Flush(absl::Now() + absl::Seconds(5));
    for (RunningIngest* ingest : started_) ingest->service.reset();
    if (review_server_) review_server_->Shutdown(absl::Seconds(1));
  }

  // Starts review on `listen` (again on review_port_ after a shutdown: an outage ends).
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

  // Creates an IngestService over this environment — consumer group options_.name on the event
  // topics, `extra` Kafka settings on top — and runs it on `into`'s thread; TearDown stops it.
  void RunIngest(RunningIngest& into, IngestServiceOptions options, IngestMetrics& metrics,
                 const log::Logger& log, const kafka::KafkaConfig& extra = {}) {
    options.kafka = {{"bootstrap.servers", kafka_->bootstrap()},
                     {"group.id", options_.name},
                     {"session.timeout.ms", "6000"},
                     {"heartbeat.interval.ms", "500"},
                     {"auto.commit.interval.ms", "200"}};
    for (const auto& [key, value] : extra) options.kafka[key] = value;
    options.topics = EventTopics();
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
                     .metrics = metrics,
                     .log = log,
                     .state_ready = [feed] { return feed == nullptr || feed->CaughtUp(); },
                 });
    ASSERT_TRUE(service.ok()) << service.status();
    into.service = *std::move(service);
    into.runner = std::thread([&into] { into.status = into.service->Run(); });
    if (std::find(started_.begin(), started_.end(), &into) == started_.end()) {
      started_.push_back(&into);
    }
  }

  void Publish(const v1::Event& e, const std::string& topic, const std::string& key) {
    ASSERT_TRUE(
        producer_
            ->Produce(topic, key, event::EventToJson(e), {{"content-type", "application/json"}})
            .ok());
  }
  void Publish(const v1::Event& e) { Publish(e, TopicOf(e), KeyOf(e)); }

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

  // Review holds exactly `expected.pending`, each pair pending once.
  void ExpectPendingExactly(const Expected& expected) {
    std::map<std::pair<std::string, std::string>, int> pending = PendingInReview();
    std::set<std::pair<std::string, std::string>> keys;
    for (const auto& [key, count] : pending) {
      keys.insert(key);
      EXPECT_EQ(count, 1) << key.first << " → " << key.second << " pending more than once";
    }
    EXPECT_EQ(keys, expected.pending);
  }

  // How many of `events` carry their dedupe mark (fully handled).
  int64_t Marked(const std::vector<v1::Event>& events) {
    std::vector<std::string> ids;
    for (const v1::Event& e : events) ids.push_back(e.event_id());
    absl::StatusOr<std::vector<bool>> done = deduper_->IsDoneMany(ids);
    if (!done.ok()) return -1;
    return std::count(done->begin(), done->end(), true);
  }

  const IngestTestEnvOptions options_;
  // The review bearer token of the ingest principal.
  const std::string token_;
  review::SystemClock clock_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::DevBrokerProcess> kafka_;
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
  std::unique_ptr<OpportunityFeed> feed_;
  std::vector<v1::Opportunity> opportunities_;

 private:
  // Borrowed: the fixture's RunningIngest members, stopped and destroyed by TearDown.
  std::vector<RunningIngest*> started_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_INGEST_TEST_ENV_H_
