// The review invariant (issue 3 "Done when", failure scenario 18), as a rapidcheck property
// against a real redis-server (AOF, appendfsync always) and the devbroker (labels `redis`,
// `kafka`):
//
//   Random programs of submits, resubmits (retries), confirms and rejects (current or stale
//   versions), replays, confirm/reject races, a service principal trying to confirm, the CRM
//   moving an opportunity, clean restarts and crashes of the in-process service objects
//   (ProposalStore, ReviewCore, OutboxPublisher), redis-server crashes and restarts, and Kafka
//   outages. At the end, once the outbox is drained: every record on the stage-changes topic
//   matches exactly one human confirmation in the audit stream, and no confirmation is
//   missing from the topic. Each change_id is on the topic exactly once, unless the program
//   stopped the publisher while Kafka or Redis was down, or crashed it — the documented
//   at-least-once window (outbox_publisher.h); then duplicates must be byte-identical.
//
// Runtime: by default 10 programs of 15..40 steps with a fixed seed (about 40 s). Set
// RC_PARAMS (e.g. "seed=123 max_success=50") to explore more; the failure message prints the
// program and the seed to reproduce it.
#include <rapidcheck.h>

#include <cstdlib>
#include <latch>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/redis/redis_pool.h"
#include "common/testing/devbroker_process.h"
#include "common/testing/processes.h"
#include "common/testing/redis_server.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "services/review/auth.h"
#include "services/review/outbox_publisher.h"
#include "services/review/proposal_store.h"
#include "services/review/review_core.h"
#include "services/review/topic_reader_testing.h"

namespace autostage::review {
namespace {

using ::autostage::testing::DevBrokerProcess;
using ::autostage::testing::RedisServer;
using ::autostage::testing::WaitFor;

constexpr int kOpportunities = 3;
constexpr int kPartitions = 2;
const std::vector<std::string>& Stages() {
  static const auto* stages = new std::vector<std::string>{
      "prospecting", "needs_analysis", "proposal", "negotiation", "contract", "follow_up"};
  return *stages;
}

enum class Op {
  kSubmit,
  kResubmit,
  kConfirm,
  kReject,
  kRetryDecision,
  kRace,
  kServiceConfirms,
  kCrmMoves,
  kRestartService,
  kCrashService,
  kRedisDown,
  kRedisUp,
  kKafkaDown,
  kKafkaUp,
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kSubmit:
      return "Submit";
    case Op::kResubmit:
      return "Resubmit";
    case Op::kConfirm:
      return "Confirm";
    case Op::kReject:
      return "Reject";
    case Op::kRetryDecision:
      return "RetryDecision";
    case Op::kRace:
      return "Race";
    case Op::kServiceConfirms:
      return "ServiceConfirms";
    case Op::kCrmMoves:
      return "CrmMoves";
    case Op::kRestartService:
      return "RestartService";
    case Op::kCrashService:
      return "CrashService";
    case Op::kRedisDown:
      return "RedisDown";
    case Op::kRedisUp:
      return "RedisUp";
    case Op::kKafkaDown:
      return "KafkaDown";
    case Op::kKafkaUp:
      return "KafkaUp";
  }
  return "?";
}

struct Step {
  Step() = default;
  Step(Op o, int x, int y) : op(o), a(x), b(y) {}
  Op op = Op::kSubmit;
  int a = 0;  // picks an opportunity / proposal
  int b = 0;  // picks a stage / version variant
};

std::ostream& operator<<(std::ostream& os, const Step& s) {
  return os << OpName(s.op) << "(" << s.a << "," << s.b << ")";
}

rc::Gen<Step> StepGen() {
  return rc::gen::construct<Step>(rc::gen::weightedElement<Op>({{8, Op::kSubmit},
                                                                {2, Op::kResubmit},
                                                                {7, Op::kConfirm},
                                                                {3, Op::kReject},
                                                                {2, Op::kRetryDecision},
                                                                {2, Op::kRace},
                                                                {1, Op::kServiceConfirms},
                                                                {1, Op::kCrmMoves},
                                                                {1, Op::kRestartService},
                                                                {1, Op::kCrashService},
                                                                {1, Op::kRedisDown},
                                                                {2, Op::kRedisUp},
                                                                {1, Op::kKafkaDown},
                                                                {2, Op::kKafkaUp}}),
                                  rc::gen::inRange(0, 1000), rc::gen::inRange(0, 1000));
}

constexpr char kRepToken[] = "Bearer rep-alice-token";
constexpr char kIngestToken[] = "Bearer ingest-token";

TokenTable MakeTokens() {
  const std::string yaml = absl::StrCat("- {sha256: ", Sha256Hex("rep-alice-token"),
                                        ", id: alice, kind: human, role: rep, ", "team: east}\n",
                                        "- {sha256: ", Sha256Hex("ingest-token"),
                                        ", id: ingest-1, kind: service, role: ingest}\n");
  absl::StatusOr<TokenTable> table = TokenTable::Parse(yaml);
  if (!table.ok()) throw std::runtime_error(table.status().ToString());
  return *std::move(table);
}

// One program run: a fresh redis-server, its own topic on the shared broker, the service
// objects, and the test's model of what it did.
class World {
 public:
  World(DevBrokerProcess& broker, int case_number)
      : broker_(broker),
        topic_(absl::StrCat("crm.stage-changes.case", case_number)),
        tokens_(MakeTokens()) {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = true});
    RC_ASSERT(server.ok());
    redis_ = *std::move(server);
    redis_options_.host = redis_->host();
    redis_options_.port = redis_->port();
    redis_options_.connect_timeout = absl::Milliseconds(200);
    RC_ASSERT(broker_.SendCommand("up all").ok());
    RC_ASSERT(broker_.SendCommand(absl::StrCat("topic ", topic_, ":", kPartitions)).ok());
    pipelines_.Set("b2b_standard", Stages());
    StartService();
    for (int i = 0; i < kOpportunities; ++i) {
      RC_ASSERT(store_
                    ->PutOpportunity({.opportunity_id = Opp(i),
                                      .pipeline = "b2b_standard",
                                      .stage = "prospecting",
                                      .owner_id = "alice",
                                      .team_id = "east"})
                    .ok());
    }
  }

  ~World() { StopService(absl::ZeroDuration()); }

  void Apply(const Step& s) {
    clock_.Advance(absl::Minutes(1));
    switch (s.op) {
      case Op::kSubmit:
        return Submit(s);
      case Op::kResubmit:
        return Resubmit();
      case Op::kConfirm:
        return Decide(s, Decision::kConfirm);
      case Op::kReject:
        return Decide(s, Decision::kReject);
      case Op::kRetryDecision:
        return RetryDecision();
      case Op::kRace:
        return Race(s);
      case Op::kServiceConfirms:
        return ServiceConfirms(s);
      case Op::kCrmMoves:
        return CrmMoves(s);
      case Op::kRestartService:
        // A clean restart (SIGTERM): flush what is in flight within a deadline. With Kafka or
        // Redis down the deadline may run out before the broker's or Redis' acknowledgement:
        // the documented at-least-once window.
        if (kafka_down_ || redis_down_) at_least_once_ = true;
        StopService(kafka_down_ || redis_down_ ? absl::Milliseconds(200) : absl::Seconds(5));
        return StartService();
      case Op::kCrashService:
        // The instance dies; another one (new consumer name) must take over its entries.
        at_least_once_ = true;
        StopService(absl::ZeroDuration());
        ++instance_;
        return StartService();
      case Op::kRedisDown:
        redis_->Kill();
        redis_down_ = true;
        return;
      case Op::kRedisUp:
        if (redis_down_) RC_ASSERT(redis_->Restart().ok());
        redis_down_ = false;
        return;
      case Op::kKafkaDown:
        RC_ASSERT(broker_.SendCommand("down all").ok());
        kafka_down_ = true;
        return;
      case Op::kKafkaUp:
        RC_ASSERT(broker_.SendCommand("up all").ok());
        kafka_down_ = false;
        return;
    }
  }

  // Brings everything back, waits for the outbox to drain, and checks the invariant.
  void Check() {
    Apply({Op::kRedisUp, 0, 0});
    Apply({Op::kKafkaUp, 0, 0});
    redis::RedisClient raw(redis_options_);
    const absl::Status drained = WaitFor(
        [&] {
          absl::StatusOr<redis::Reply> len = raw.Command("XLEN", ProposalStore::OutboxKey());
          absl::StatusOr<redis::Reply> pending =
              raw.Command("XPENDING", ProposalStore::OutboxKey(), "autostage-review-outbox");
          return len.ok() && len->integer() == 0 && pending.ok() && pending->size() > 0 &&
                 (*pending)[0].integer() == 0;
        },
        absl::Seconds(90), absl::Milliseconds(50));
    RC_ASSERT(drained.ok());

    // Human confirmations in the audit stream, per proposal.
    absl::StatusOr<redis::Reply> audit = raw.Command("XRANGE", ProposalStore::AuditKey(), "-", "+");
    RC_ASSERT(audit.ok());
    std::map<std::string, int> confirmations;
    std::map<std::string, std::string> confirmed_by;
    for (const redis::Reply& e : audit->elements()) {
      std::map<std::string, std::string> f;
      for (size_t i = 0; i + 1 < e[1].size(); i += 2) f[e[1][i].str()] = e[1][i + 1].str();
      if (f["action"] != "confirm") continue;
      ++confirmations[f["proposal_id"]];
      confirmed_by[f["proposal_id"]] = f["principal"];
    }
    for (const auto& [pid, n] : confirmations) {
      RC_ASSERT(n == 1);
      RC_ASSERT(confirmed_by[pid] == "alice");  // only the human rep can confirm
    }
    // Every confirmation the callers were told about is in the audit stream.
    for (const std::string& pid : confirmed_ok_) RC_ASSERT(confirmations.count(pid) == 1u);

    absl::StatusOr<std::vector<TopicRecord>> records =
        ReadTopic(broker_.bootstrap(), topic_, kPartitions, absl::Seconds(30));
    RC_ASSERT(records.ok());
    std::map<std::string, std::vector<std::string>> by_change;
    for (const TopicRecord& r : *records) {
      v1::StageChange change;
      RC_ASSERT(google::protobuf::util::JsonStringToMessage(r.value, &change).ok());
      RC_ASSERT(r.change_id == change.change_id());
      RC_ASSERT(r.key == change.opportunity_id());
      RC_ASSERT(change.change_id() == "sc-" + change.proposal_id());
      // Matches exactly one human confirmation...
      RC_ASSERT(confirmations.count(change.proposal_id()) == 1u);
      RC_ASSERT(change.confirmed_by() == confirmed_by[change.proposal_id()]);
      absl::StatusOr<v1::ReviewedProposal> p = store_->Get(change.proposal_id());
      RC_ASSERT(p.ok());
      RC_ASSERT(p->status() == v1::PROPOSAL_STATUS_CONFIRMED);
      RC_ASSERT(p->proposal().to_stage() == change.to_stage());
      by_change[change.change_id()].push_back(r.value);
    }
    // ...and no confirmation is missing from the topic.
    for (const auto& [pid, n] : confirmations) RC_ASSERT(by_change.count("sc-" + pid) == 1u);
    RC_ASSERT(by_change.size() == confirmations.size());
    int duplicates = 0;
    for (const auto& [change_id, values] : by_change) {
      for (const std::string& v : values) RC_ASSERT(v == values.front());
      duplicates += static_cast<int>(values.size()) - 1;
    }
    if (!at_least_once_) RC_ASSERT(duplicates == 0);
    RC_TAG(confirmations.empty() ? "no confirmation" : "confirmations");
    RC_TAG(at_least_once_ ? "publisher stopped in an outage or crashed" : "exactly once");
    RC_LOG() << confirmations.size() << " confirmations, " << records->size() << " records, "
             << duplicates << " duplicates\n";
  }

 private:
  static std::string Opp(int i) { return absl::StrCat("opp-", i); }

  void StartService() {
    pool_ = std::make_unique<redis::RedisPool>(redis_options_, 4);
    store_ = std::make_unique<ProposalStore>(*pool_, pipelines_, clock_);
    core_ = std::make_unique<ReviewCore>(*store_, tokens_);
    absl::StatusOr<std::unique_ptr<OutboxPublisher>> publisher =
        OutboxPublisher::Create({.redis = redis_options_,
                                 .kafka = {{"bootstrap.servers", broker_.bootstrap()},
                                           {"reconnect.backoff.ms", "20"},
                                           {"reconnect.backoff.max.ms", "200"}},
                                 .topic = topic_,
                                 .consumer = absl::StrCat("review-", instance_),
                                 .block = absl::Milliseconds(50),
                                 .claim_idle = absl::Milliseconds(500),
                                 .retry_backoff = absl::Milliseconds(50)});
    RC_ASSERT(publisher.ok());
    publisher_ = *std::move(publisher);
    publisher_->Start();
  }

  void StopService(absl::Duration flush) {
    if (publisher_) publisher_->Stop(flush);
    publisher_.reset();
    core_.reset();
    store_.reset();
    pool_.reset();
  }

  static CallInfo Call(const char* token, const char* method) {
    return {.authorization = token, .peer = "test", .method = method};
  }

  void Submit(const Step& s) {
    v1::SubmitProposalsRequest request;
    v1::Proposal* p = request.add_proposals();
    p->set_proposal_id(absl::StrCat("p", next_id_++));
    p->set_opportunity_id(Opp(s.a % kOpportunities));
    p->set_pipeline("b2b_standard");
    p->set_to_stage(Stages()[1 + s.b % (Stages().size() - 1)]);
    p->set_confidence(0.5 + (s.b % 50) / 100.0);
    v1::Evidence* e = p->add_evidence();
    e->set_event_id(absl::StrCat("e", next_id_));
    e->set_source(s.b % 2 == 0 ? "email" : "call");
    e->set_rule_id("rule-" + p->to_stage());
    e->set_snippet("evidence " + p->proposal_id());
    last_submit_ = request;
    last_submit_result_.reset();
    absl::StatusOr<v1::SubmitProposalsResponse> r =
        core_->SubmitProposals(Call(kIngestToken, "SubmitProposals"), request);
    if (redis_down_) {
      RC_ASSERT(!r.ok());
      return;
    }
    RC_ASSERT(r.ok());
    const v1::SubmitResult& result = r->results(0);
    last_submit_result_ = result;
    if (!result.stored_as().empty()) known_.insert(result.stored_as());
  }

  // Scenario 10: a retried batch gets the same acknowledgement and stores nothing twice.
  void Resubmit() {
    if (!last_submit_) return;
    absl::StatusOr<v1::SubmitProposalsResponse> r =
        core_->SubmitProposals(Call(kIngestToken, "SubmitProposals"), *last_submit_);
    if (redis_down_) {
      RC_ASSERT(!r.ok());
      return;
    }
    RC_ASSERT(r.ok());
    const v1::SubmitResult& again = r->results(0);
    if (last_submit_result_ && (last_submit_result_->outcome() == v1::SUBMIT_OUTCOME_STORED ||
                                last_submit_result_->outcome() == v1::SUBMIT_OUTCOME_MERGED)) {
      RC_ASSERT(again.outcome() == v1::SUBMIT_OUTCOME_DUPLICATE);
      RC_ASSERT(again.stored_as() == last_submit_result_->stored_as());
    }
    if (!again.stored_as().empty()) known_.insert(again.stored_as());
  }

  std::string Pick(int a) const {
    if (known_.empty()) return "p-unknown";
    auto it = known_.begin();
    std::advance(it, a % static_cast<int>(known_.size()));
    return *it;
  }

  absl::StatusOr<v1::ReviewedProposal> Run(const std::string& pid, int64_t version,
                                           Decision decision, const char* token) {
    if (decision == Decision::kConfirm) {
      v1::ConfirmProposalRequest request;
      request.set_proposal_id(pid);
      request.set_version(version);
      return core_->ConfirmProposal(Call(token, "ConfirmProposal"), request);
    }
    v1::RejectProposalRequest request;
    request.set_proposal_id(pid);
    request.set_version(version);
    request.set_reason("not yet");
    return core_->RejectProposal(Call(token, "RejectProposal"), request);
  }

  void Record(const std::string& pid, Decision decision,
              const absl::StatusOr<v1::ReviewedProposal>& r) {
    if (redis_down_) RC_ASSERT(!r.ok());
    if (!r.ok()) return;
    if (decision == Decision::kConfirm) {
      RC_ASSERT(r->status() == v1::PROPOSAL_STATUS_CONFIRMED);
      confirmed_ok_.insert(pid);
    } else {
      RC_ASSERT(r->status() == v1::PROPOSAL_STATUS_REJECTED);
    }
  }

  void Decide(const Step& s, Decision decision) {
    const std::string pid = Pick(s.a);
    int64_t version = 1;
    if (!redis_down_) {
      absl::StatusOr<v1::ReviewedProposal> current = store_->Get(pid);
      if (current.ok()) version = current->version();
    }
    if (s.b % 5 == 0) version -= 1;  // a stale view of the proposal
    last_decision_ = {pid, version, decision};
    absl::StatusOr<v1::ReviewedProposal> r = Run(pid, version, decision, kRepToken);
    last_decision_result_ = r.status();
    Record(pid, decision, r);
  }

  // Scenario 11: the same decision again gives the same answer.
  void RetryDecision() {
    if (!last_decision_) return;
    const auto& [pid, version, decision] = *last_decision_;
    absl::StatusOr<v1::ReviewedProposal> r = Run(pid, version, decision, kRepToken);
    if (last_decision_result_.ok() && !redis_down_) RC_ASSERT(r.ok());
    Record(pid, decision, r);
  }

  // Scenario 12: concurrent confirm and reject at the same version: never both.
  void Race(const Step& s) {
    const std::string pid = Pick(s.a);
    int64_t version = 1;
    bool pending = false;
    if (!redis_down_) {
      absl::StatusOr<v1::ReviewedProposal> current = store_->Get(pid);
      if (current.ok()) version = current->version();
      pending = current.ok() && current->status() == v1::PROPOSAL_STATUS_PENDING;
    }
    std::latch start(2);
    absl::StatusOr<v1::ReviewedProposal> confirm, reject;
    std::thread a([&] {
      start.arrive_and_wait();
      confirm = Run(pid, version, Decision::kConfirm, kRepToken);
    });
    std::thread b([&] {
      start.arrive_and_wait();
      reject = Run(pid, version, Decision::kReject, kRepToken);
    });
    a.join();
    b.join();
    RC_ASSERT(!(confirm.ok() && reject.ok()));
    // On a pending proposal the loser lost at the version check. (On a decided one, the same
    // decision is a replay and the other one FAILED_PRECONDITION.)
    if (pending && confirm.ok()) RC_ASSERT(absl::IsAborted(reject.status()));
    if (pending && reject.ok()) RC_ASSERT(absl::IsAborted(confirm.status()));
    Record(pid, Decision::kConfirm, confirm);
    Record(pid, Decision::kReject, reject);
  }

  // Scenario 14: a service identity never confirms.
  void ServiceConfirms(const Step& s) {
    const std::string pid = Pick(s.a);
    int64_t version = 1;
    if (!redis_down_) {
      absl::StatusOr<v1::ReviewedProposal> current = store_->Get(pid);
      if (current.ok()) version = current->version();
    }
    RC_ASSERT(!Run(pid, version, Decision::kConfirm, kIngestToken).ok());
  }

  // The CRM moved the opportunity (ingest writes the new state): pending proposals that no
  // longer start from the current stage are superseded when someone confirms them.
  void CrmMoves(const Step& s) {
    (void)store_->PutOpportunity({.opportunity_id = Opp(s.a % kOpportunities),
                                  .pipeline = "b2b_standard",
                                  .stage = Stages()[s.b % Stages().size()],
                                  .owner_id = "alice",
                                  .team_id = "east"});
  }

  DevBrokerProcess& broker_;
  const std::string topic_;
  const TokenTable tokens_;
  Pipelines pipelines_;
  std::unique_ptr<RedisServer> redis_;
  redis::RedisOptions redis_options_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<ProposalStore> store_;
  std::unique_ptr<ReviewCore> core_;
  std::unique_ptr<OutboxPublisher> publisher_;
  int instance_ = 0;
  int next_id_ = 0;

  bool redis_down_ = false;
  bool kafka_down_ = false;
  bool at_least_once_ = false;
  std::set<std::string> known_;  // stored proposal ids
  std::optional<v1::SubmitProposalsRequest> last_submit_;
  std::optional<v1::SubmitResult> last_submit_result_;
  std::optional<std::tuple<std::string, int64_t, Decision>> last_decision_;
  absl::Status last_decision_result_;
  std::set<std::string> confirmed_ok_;
};

TEST(ReviewInvariantTest, EveryPublishedChangeHasExactlyOneHumanConfirmationAndViceVersa) {
  absl::StatusOr<std::unique_ptr<DevBrokerProcess>> broker = DevBrokerProcess::Start({});
  ASSERT_TRUE(broker.ok()) << broker.status();

  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) {
    // Few, meaningful, reproducible cases by default: each one runs real servers.
    params.seed = 20261127;
    params.maxSuccess = 10;
    params.disableShrinking = true;
  }
  int case_number = 0;
  rc::detail::TestMetadata metadata;
  metadata.id = "ReviewInvariantTest";
  metadata.description = "review invariant";
  const rc::detail::TestResult result = rc::detail::checkTestable(
      [&] {
        const int length = *rc::gen::inRange(15, 41);
        const std::vector<Step> program =
            *rc::gen::container<std::vector<Step>>(static_cast<size_t>(length), StepGen());
        World world(**broker, case_number++);
        for (const Step& step : program) world.Apply(step);
        world.Check();
      },
      metadata, params);
  std::ostringstream message;
  rc::detail::printResultMessage(result, message);
  std::cout << message.str() << std::endl;
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>()) << message.str();
}

}  // namespace
}  // namespace autostage::review
