// WatchHub: the fan-out behind WatchProposals. One thread per process tails the review updates
// stream (contract C1, `autostage:{review}:updates`) with a blocking XREAD and hands each update
// to the subscribers whose filter matches it; each subscriber gets the proposal as loaded once
// per update (ProposalStore::Get in production). A stream entry carries one update (decisions,
// expiry) or, from SubmitProposals, every update of one batch (ParseUpdates): watchers see the
// same updates, in the same order, either way.
//
//   WatchHub hub(redis_options, [&](absl::string_view id) { return store.Get(id); });
//   hub.Start();
//   std::shared_ptr<Subscription> sub = *hub.Subscribe(filter);   // per WatchProposals call
//   absl::StatusOr<v1::ProposalUpdate> u = sub->Next(absl::Milliseconds(200));
//   hub.Stop();   // every open subscription ends with kUnavailable
//
// Start position and reconnects. The thread starts after the stream's newest entry at the
// time it first reaches Redis (a watcher sees changes made after it subscribed, not history).
// When Redis goes away it retries with backoff and resumes after the last entry id it saw, so
// entries appended while it was reconnecting are still delivered, in order.
//
// Memory bound. Each subscription holds at most `queue_capacity` undelivered updates. A
// watcher that falls further behind is dropped: its next Next() returns kResourceExhausted
// (the client reconnects and re-lists) and the hub forgets it, so one slow client cannot grow
// the process.
//
// Thread safety: all methods are thread-safe. A Subscription is read by one thread (its gRPC
// handler) while the hub thread fills it. Stop() before destroying the loader's referents.
#ifndef AUTOSTAGE_SERVICES_REVIEW_WATCH_HUB_H_
#define AUTOSTAGE_SERVICES_REVIEW_WATCH_HUB_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "autostage/v1/review.pb.h"
#include "common/redis/redis_client.h"

namespace autostage::review {

// One update of the updates stream (field names of contract C1).
struct UpdateEntry {
  std::string id;  // stream entry id (shared by the updates of one batch entry)
  std::string kind;
  std::string proposal_id;
  std::string opportunity_id;
  std::string owner_id;
  std::string team_id;
  std::string status;
  int64_t version = 0;
  std::string to_stage;
  std::string source;
};

// Which updates one watcher receives: its authorization scope and its request filters.
struct WatchFilter {
  enum class Scope { kAll, kOwner, kTeam };
  Scope scope = Scope::kAll;
  std::string scope_id;        // owner id (kOwner) or team id (kTeam)
  std::string opportunity_id;  // empty = any
  std::string to_stage;        // empty = any

  bool Matches(const UpdateEntry& e) const;
};

// The updates one stream entry (an XREAD/XRANGE entry reply: [id, [field, value, ...]])
// carries: the entry itself when it has the C1 fields; a batch entry's (fields `kind` =
// `batch`, `updates` = MessagePack array of 9 × n values, each update's C1 field values in the
// order kind proposal_id opportunity_id owner_id team_id status version to_stage source)
// in order. None for a malformed batch. Exposed for tests.
std::vector<UpdateEntry> ParseUpdates(const redis::Reply& entry);

// The ProposalUpdate an entry describes, with `loaded` (the proposal as stored now) when the
// load succeeded, else the entry's own fields. Exposed for tests.
v1::ProposalUpdate MakeUpdate(const UpdateEntry& e,
                              const absl::StatusOr<v1::ReviewedProposal>& loaded);

class Subscription {
 public:
  explicit Subscription(WatchFilter filter, size_t capacity)
      : filter_(std::move(filter)), capacity_(capacity) {}

  // The next update, waiting up to `timeout`. kDeadlineExceeded when none arrived in time
  // (check for cancellation, then call again); kResourceExhausted once this watcher fell
  // behind and was dropped; kUnavailable once the hub stopped. Those two are final.
  absl::StatusOr<v1::ProposalUpdate> Next(absl::Duration timeout);

  const WatchFilter& filter() const { return filter_; }

 private:
  friend class WatchHub;
  // kDropped (and the subscription closed with kResourceExhausted) when the queue is full;
  // kClosed when it was closed before.
  enum class PushResult { kQueued, kDropped, kClosed };
  PushResult Push(std::shared_ptr<const v1::ProposalUpdate> update);
  void Close(absl::Status why);
  bool closed() const;

  const WatchFilter filter_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const v1::ProposalUpdate>> queue_ ABSL_GUARDED_BY(mu_);
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
};

struct WatchHubOptions {
  std::string stream_key = "autostage:{review}:updates";
  // XREAD BLOCK time; Stop() takes up to this long.
  absl::Duration block = absl::Milliseconds(500);
  int batch = 256;
  size_t queue_capacity = 256;
  // Reconnect backoff after a Redis error (doubles up to the max).
  absl::Duration retry_min = absl::Milliseconds(50);
  absl::Duration retry_max = absl::Seconds(2);
};

class WatchHub {
 public:
  using Loader = std::function<absl::StatusOr<v1::ReviewedProposal>(absl::string_view)>;
  // Called when a subscriber is dropped for being slow (metrics); may be empty.
  using DropHook = std::function<void()>;

  WatchHub(redis::RedisOptions redis, Loader loader, WatchHubOptions options = {},
           DropHook on_drop = nullptr);
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;
  ~WatchHub() { Stop(); }

  // Starts the reader thread (once). Never fails: Redis being down is retried in the thread.
  void Start();
  // Ends every subscription with kUnavailable, refuses new ones, joins the thread. Idempotent.
  void Stop();

  // kUnavailable after Stop().
  absl::StatusOr<std::shared_ptr<Subscription>> Subscribe(WatchFilter filter);

  // Introspection for tests and metrics.
  int subscribers() const;
  // Id of the last entry read ("" before the start position is known).
  std::string last_id() const;
  // Redis errors the reader recovered from.
  int64_t errors() const;
  // True once the start position is known (the hub is tailing the stream).
  bool tailing() const { return !last_id().empty(); }

 private:
  void Run();
  void Dispatch(const UpdateEntry& entry);
  // Waits `d` unless Stop() comes first; false when stopping.
  bool Backoff(absl::Duration d);

  const redis::RedisOptions redis_;
  const Loader loader_;
  const WatchHubOptions options_;
  const DropHook on_drop_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<Subscription>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::string last_id_ ABSL_GUARDED_BY(mu_);
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_WATCH_HUB_H_
