// autostage-loadgen as a library: a deterministic generator of synthetic CRM events
// (spec/events.md) and opportunities, a rate-controlled producer to the event topics, and a
// plain consume-and-discard reader that measures what the broker delivers to one consumer (the
// baseline for ingest's throughput ratio in BENCHMARKS.md).
//
// Events (~`target_bytes` each, JSON, `content-type: application/json`) are of three kinds:
//   kTrigger   — a customer's sentence that the default rule packs (deploy/rules) turn into a
//                proposal for the event's opportunity (needs_analysis, proposal or contract of
//                b2b_standard; every generated opportunity sits at `prospecting`);
//   kFiller    — neutral business small talk that no rule fires on;
//   kMalformed — bytes that fail decoding with a known reason (malformed_json, missing_field,
//                invalid_utf8, wrong_type); the expected reason is in the `loadgen-expect`
//                header.
// Every message carries `loadgen-kind: trigger|filler|malformed`. Chinese and English texts are
// mixed by `zh_fraction`. Everything but timestamps is a pure function of the seed (and
// timestamps too with `fixed_time`).
//
// Thread safety: an EventGenerator is NOT thread-safe. RunProduce/RunConsume are independent.
#ifndef AUTOSTAGE_TOOLS_LOADGEN_LOADGEN_H_
#define AUTOSTAGE_TOOLS_LOADGEN_LOADGEN_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"
#include "common/kafka/kafka_types.h"

namespace autostage::loadgen {

enum class EventKind { kTrigger, kFiller, kMalformed };
const char* KindName(EventKind kind);

struct GeneratorOptions {
  uint64_t seed = 1;
  // Opportunities the events refer to (ids "<id_prefix>-opp-<seed>-<n>").
  int opportunities = 1000;
  double proposal_fraction = 0.05;
  double malformed_fraction = 0.0;
  double zh_fraction = 0.5;
  size_t target_bytes = 1500;
  // Sources to draw from, uniformly: any of "email", "call", "chat".
  std::vector<std::string> sources = {"email", "call", "chat"};
  std::string id_prefix = "lg";
  // occurred_at / updated_at: fixed_time + n ms when set (reproducible bytes), else now.
  std::optional<absl::Time> fixed_time;
};

struct GeneratedEvent {
  EventKind kind = EventKind::kFiller;
  std::string source;    // "email" | "call" | "chat"
  std::string event_id;  // also for malformed ones (the id before it was broken)
  std::string key;       // the opportunity id
  std::string value;     // the message bytes
  std::vector<kafka::Header> headers;
  // For kTrigger: the stage the default rules should propose; for kMalformed: the decode
  // reason expected (event::ReasonOf).
  std::string expect;
};

class EventGenerator {
 public:
  explicit EventGenerator(GeneratorOptions options);

  // Every opportunity (b2b_standard, stage prospecting, open), in id order.
  std::vector<v1::Opportunity> Opportunities() const;
  // The next event (the n-th call gives event number n, from 0).
  GeneratedEvent Next();
  const GeneratorOptions& options() const { return options_; }

 private:
  double NextUniform() {
    return static_cast<double>(rng_() >> 11) / static_cast<double>(1ULL << 53);
  }
  size_t Pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  absl::Time TimeOf(int64_t n) const;
  v1::Event BuildEvent(EventKind kind, const std::string& source, bool zh, std::string* stage);

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  int64_t sequence_ = 0;
};

struct ProduceOptions {
  std::string brokers;
  // Event topics by source, and the opportunity feed.
  std::string email_topic = "crm.events.email";
  std::string call_topic = "crm.events.call";
  std::string chat_topic = "crm.events.chat";
  std::string opportunities_topic = "crm.opportunities";
  bool publish_opportunities = true;
  // Events to send (0: unlimited) and for how long (InfiniteDuration: unlimited); the first
  // limit reached ends the run. At least one must be set.
  int64_t count = 0;
  absl::Duration duration = absl::InfiniteDuration();
  // Events per second; 0 = as fast as the producer takes them.
  double rate = 0;
  GeneratorOptions generator;
  // Extra librdkafka properties for the producer.
  kafka::KafkaConfig kafka;
};

struct ProduceSummary {
  int64_t sent = 0;  // acknowledged by the broker
  int64_t opportunities = 0;
  int64_t triggers = 0;
  int64_t malformed = 0;
  int64_t errors = 0;  // produce or delivery failures
  int64_t bytes = 0;
  double seconds = 0;  // first event produced → last acknowledged
  // Produce call → delivery report (the broker acknowledged), over the acknowledged events:
  // the producer's own share of an event's latency (linger, batching, broker append).
  double delivery_p50_ms = 0;
  double delivery_p99_ms = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(sent) / seconds : 0; }
  std::string ToJson() const;
};

// Publishes the opportunities (and waits for them), then the events. Errors only for setup
// failures (bad config, broker unreachable for the opportunity feed); delivery failures of
// events are counted.
absl::StatusOr<ProduceSummary> RunProduce(const ProduceOptions& options);

struct ConsumeOptions {
  std::string brokers;
  std::vector<std::string> topics = {"crm.events.email", "crm.events.call", "crm.events.chat"};
  // A fresh group by default, reading from the earliest offset.
  std::string group_id;
  // Stop after this many messages (0: no limit), after `duration`, or once no message arrived
  // for `idle_timeout` after the first one.
  int64_t count = 0;
  absl::Duration duration = absl::InfiniteDuration();
  absl::Duration idle_timeout = absl::Seconds(5);
  // How long to wait for the first message (group join takes ~3 s on the devbroker).
  absl::Duration start_timeout = absl::Seconds(60);
  kafka::KafkaConfig kafka;
};

struct ConsumeSummary {
  int64_t consumed = 0;
  int64_t bytes = 0;
  int64_t errors = 0;
  double seconds = 0;  // first message → last message
  // Message timestamp (the producer's create time) → consumed, over all messages: with a
  // producer running at the same time, what a plain consumer of this broker waits per event.
  // Meaningless for a backlog (it then measures the age of the backlog).
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double rate() const {
    return seconds > 0 && consumed > 1 ? static_cast<double>(consumed - 1) / seconds : 0;
  }
  std::string ToJson() const;
};

// Consume-and-discard with the same Consumer (rd_kafka_consumer_poll per message) ingest uses.
absl::StatusOr<ConsumeSummary> RunConsume(const ConsumeOptions& options);

}  // namespace autostage::loadgen

#endif  // AUTOSTAGE_TOOLS_LOADGEN_LOADGEN_H_
