// Deduper: at-least-once-safe event dedupe by event_id in Redis.
//
//   if (ASSIGN_OR_RETURN(bool done, deduper.IsDone(id)); done) { StoreOffset(); return; }
//   Process(event);                    // ... proposals acknowledged by review, or DLQ acked
//   RETURN_IF_ERROR(deduper.MarkDone(id));
//   StoreOffset();
//
// The mark is written only after the event was fully handled, so a crash between processing
// and MarkDone replays the event (review's idempotent proposal ids make that harmless) instead
// of losing it; a crash after MarkDone and before the offset is stored skips the redelivered
// copy (failure scenarios 1 and 2). Events carrying `autostage-replay: 1` (contract C4) are not
// checked by the caller, but MarkDone is still fine for them.
//
// Key layout: `autostage:{<event_id>}:event-done` (redis::Key("event-done", event_id)), a
// STRING "1" written with SET NX EX <ttl>. The event id is the hash tag so keys spread over
// Redis Cluster slots. The TTL must exceed the event topics' retention (default 14 days), else
// an event redelivered after its mark expired would be judged twice (still no double proposal:
// review dedupes proposal ids).
//
// Errors: kUnavailable when Redis is unreachable, times out, answers an error, or no pooled
// connection frees up within options.acquire_wait. Never "not done" on an error: the caller
// must retry (and must not store the offset) — nothing is dropped.
//
// Throughput: the *Many variants send one pipeline (one round trip) per call.
//
// Thread safety: thread-safe; each call leases its own connection from the borrowed pool,
// which must outlive the Deduper.
#ifndef AUTOSTAGE_SERVICES_INGEST_DEDUPER_H_
#define AUTOSTAGE_SERVICES_INGEST_DEDUPER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis/redis_pool.h"

namespace autostage::ingest {

struct DeduperOptions {
  // Lifetime of a mark; longer than the event topics' retention.
  absl::Duration ttl = absl::Hours(24 * 14);
  // How long a call waits for a pooled connection.
  absl::Duration acquire_wait = absl::Milliseconds(200);
};

class Deduper {
 public:
  // kInvalidArgument (from the methods) for an empty event id; ttl must be >= 1 s.
  Deduper(redis::RedisPool& pool, DeduperOptions options) : pool_(pool), options_(options) {}

  // The key of an event's mark.
  static std::string KeyOf(absl::string_view event_id);

  // True when the event was marked done (and the mark has not expired).
  absl::StatusOr<bool> IsDone(absl::string_view event_id);
  // Marks the event done (SET NX EX ttl; an existing mark is kept as is).
  absl::Status MarkDone(absl::string_view event_id);

  // One answer per id, in order, in one round trip.
  absl::StatusOr<std::vector<bool>> IsDoneMany(const std::vector<std::string>& event_ids);
  // Marks every id, in one round trip. On error some marks may have been written (harmless:
  // the caller retries the whole list).
  absl::Status MarkDoneMany(const std::vector<std::string>& event_ids);

  const DeduperOptions& options() const { return options_; }

 private:
  absl::StatusOr<redis::RedisPool::Lease> Lease();

  redis::RedisPool& pool_;
  const DeduperOptions options_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_DEDUPER_H_
