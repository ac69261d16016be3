// OutboxPublisher: moves confirmed StageChanges from the outbox stream in Redis to Kafka
// (`crm.stage-changes`, keyed by opportunity id, JSON per shared/spec/events.md), so that a
// confirmation never waits for Kafka and is never lost when Kafka is down.
//
//   ASSIGN_OR_RETURN(auto publisher, OutboxPublisher::Create({
//       .redis = redis_options, .kafka = {{"bootstrap.servers", brokers}},
//       .consumer = "review-host-1"}));
//   publisher->Start();
//   ...
//   publisher->Stop(absl::Seconds(10));  // on SIGTERM: flush what is in flight, then return
//
// How it works. The publisher is a member of a Redis consumer group on the outbox stream
// (created at the stream's start, so entries written before the first publisher ran are
// published too). Each round it (1) re-reads its own pending entries (XREADGROUP ... 0) —
// entries an earlier incarnation with the same consumer name read but did not acknowledge, or
// whose delivery failed; (2) every claim_idle/2 takes over entries other consumers left idle
// longer than `claim_idle` (XAUTOCLAIM: a crashed instance); (3) reads new entries
// (XREADGROUP ... > BLOCK). It produces each entry with the idempotent producer and waits for
// the broker's acknowledgement; only then are the entries XACKed and XDELed (one Lua script),
// so the stream holds exactly the entries not yet published and its length is the backlog.
// While a batch waits for Kafka (broker down), the publisher renews its claim on it
// (XCLAIM JUSTID) so other instances do not take it over. Failed deliveries stay pending and
// are retried after `retry_backoff`. An entry whose StageChange does not parse is moved to
// `autostage:{review}:outbox:dead` and acknowledged (it can never be published).
//
// Delivery guarantee: at least once per outbox entry, and exactly once unless an instance
// stops or dies between the broker's acknowledgement and the XACK (Stop's flush deadline ran
// out, a crash, Redis unreachable until shutdown), or librdkafka gives up on a message the
// broker did store (message.timeout.ms). Then the entry is published again with the same
// `change_id` (= "sc-" + proposal id, also sent as Kafka header `change_id`), which the CRM
// side uses to drop the duplicate. One outbox entry is written per confirmation (the confirm
// script refuses a second one), so the topic never holds a change nobody confirmed.
// Order: entries of one opportunity are produced in stream order; a failed delivery that is
// retried later may land after a later change of the same opportunity.
//
// Thread safety: Start/Stop belong to one owning thread; stats() may be called from any
// thread. All Redis and Kafka work happens on the publisher's own thread.
#ifndef AUTOSTAGE_SERVICES_REVIEW_OUTBOX_PUBLISHER_H_
#define AUTOSTAGE_SERVICES_REVIEW_OUTBOX_PUBLISHER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autostage/v1/stage_change.pb.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_client.h"
#include "common/redis/script.h"

namespace autostage::review {

struct OutboxPublisherOptions {
  // The publisher's own connection (it blocks in XREADGROUP); command_timeout is raised to
  // block + 1 s if shorter.
  redis::RedisOptions redis;
  // librdkafka properties; bootstrap.servers is required. enable.idempotence stays on unless
  // set to "false" here.
  kafka::KafkaConfig kafka;
  std::string topic = "crm.stage-changes";
  std::string group = "autostage-review-outbox";
  // This instance's consumer name in the group: unique per running instance, and stable
  // across restarts of the same instance (e.g. the host name), so a restarted instance
  // finishes what it had read at once instead of after claim_idle. Required.
  std::string consumer;
  int batch_size = 256;
  // How long one XREADGROUP waits for new entries (also bounds how long Stop waits when idle).
  absl::Duration block = absl::Milliseconds(500);
  // Entries another consumer read and left unacknowledged this long are taken over.
  absl::Duration claim_idle = absl::Seconds(30);
  // Pause after a Redis error or a failed delivery before trying again.
  absl::Duration retry_backoff = absl::Seconds(1);
};

// Counters for metrics (main maps backlog/publish_errors_total onto ReviewMetrics' OutboxStats).
struct OutboxPublisherStats {
  int64_t published_total = 0;       // acknowledged by the broker (then XACKed)
  int64_t publish_errors_total = 0;  // deliveries that failed; the entries are retried
  int64_t redis_errors_total = 0;    // failed Redis calls (the loop backs off and retries)
  int64_t reclaimed_total = 0;       // entries taken over from idle consumers (XAUTOCLAIM)
  int64_t dead_lettered_total = 0;   // unparsable entries moved to outbox:dead
  int64_t backlog = -1;              // outbox entries not yet published, last seen; -1 unknown
};

// The StageChange as its JSON wire form (shared/spec/events.md): snake_case names, every
// field present, confirmed_at in RFC 3339.
absl::StatusOr<std::string> StageChangeToJson(const v1::StageChange& change);

class OutboxPublisher {
 public:
  // Validates the options and creates the Kafka producer (kInvalidArgument for bad options
  // or librdkafka properties). Does not contact Redis or Kafka yet.
  static absl::StatusOr<std::unique_ptr<OutboxPublisher>> Create(OutboxPublisherOptions options);

  OutboxPublisher(const OutboxPublisher&) = delete;
  OutboxPublisher& operator=(const OutboxPublisher&) = delete;
  // Stop(absl::ZeroDuration()) if still running, then destroys the producer (messages still
  // queued are purged: their entries stay pending and are published again later).
  ~OutboxPublisher();

  // Starts the publishing thread. No-op if already started.
  void Start();
  // Stops reading new entries, waits until `flush_timeout` for the broker to acknowledge what
  // is in flight, acknowledges those in Redis, and joins the thread. Idempotent.
  void Stop(absl::Duration flush_timeout);

  OutboxPublisherStats stats() const;
  const OutboxPublisherOptions& options() const { return options_; }

  // The dead-letter stream for unparsable outbox entries.
  static std::string DeadLetterKey();

 private:
  struct Entry {
    std::string id;  // stream entry id
    std::string change_id;
    std::string change;    // serialized StageChange
    bool deleted = false;  // pending but gone from the stream (nothing to publish)
  };
  struct BatchResult {
    std::vector<std::string> done;  // ids to acknowledge
    int failed = 0;
    bool abandoned = false;  // stop deadline passed with deliveries outstanding
  };

  explicit OutboxPublisher(OutboxPublisherOptions options);

  void Loop();
  bool Stopping();
  // Waits `d` or until Stop() is called.
  void Backoff(absl::Duration d);
  absl::Status EnsureGroup();
  absl::StatusOr<std::vector<Entry>> ReadOwnPending();
  absl::StatusOr<std::vector<Entry>> ReadNew();
  absl::StatusOr<std::vector<Entry>> Claim();
  BatchResult Publish(const std::vector<Entry>& entries);
  absl::Status Acknowledge(const std::vector<std::string>& ids);
  void RefreshBacklog();
  void RenewClaim(const std::vector<Entry>& entries);

  const OutboxPublisherOptions options_;
  const std::string stream_;
  std::unique_ptr<kafka::Producer> producer_;
  redis::RedisClient redis_;  // the loop thread's only
  const redis::Script ack_script_;
  std::string claim_cursor_ = "0-0";  // loop thread only

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::thread thread_;

  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> publish_errors_{0};
  std::atomic<int64_t> redis_errors_{0};
  std::atomic<int64_t> reclaimed_{0};
  std::atomic<int64_t> dead_lettered_{0};
  std::atomic<int64_t> backlog_{-1};
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_OUTBOX_PUBLISHER_H_
