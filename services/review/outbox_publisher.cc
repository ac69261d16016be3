#include "services/review/outbox_publisher.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis/key.h"
#include "common/redis/reply.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "services/review/proposal_store.h"

namespace autostage::review {
namespace {

using redis::Reply;

// KEYS: outbox. ARGV: group id... — acknowledges and deletes, so the stream length stays the
// number of entries not yet published.
constexpr absl::string_view kAckLua = R"lua(
for i = 2, #ARGV do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  redis.call('XDEL', KEYS[1], ARGV[i])
end
return #ARGV - 1
)lua";

std::string FieldOf(const Reply& fields, absl::string_view name) {
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == name) return fields[i + 1].str();
  }
  return "";
}

// An XREADGROUP / XAUTOCLAIM entry list: [[id, [f, v, ...]], ...]. A pending entry that was
// deleted from the stream comes back with nil fields.
template <typename Entry>
std::vector<Entry> ToEntries(const Reply& list) {
  std::vector<Entry> out;
  for (const Reply& e : list.elements()) {
    if (e.size() != 2) continue;
    out.push_back({.id = e[0].str(),
                   .change_id = FieldOf(e[1], "change_id"),
                   .change = FieldOf(e[1], "change"),
                   .deleted = e[1].is_nil()});
  }
  return out;
}

bool IsNoGroup(const absl::Status& s) { return absl::StrContains(s.message(), "NOGROUP"); }

}  // namespace

absl::StatusOr<std::string> StageChangeToJson(const v1::StageChange& change) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(change, &json, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("StageChange to JSON: ", status.ToString()));
  }
  return json;
}

std::string OutboxPublisher::DeadLetterKey() { return ProposalStore::OutboxKey() + ":dead"; }

absl::StatusOr<std::unique_ptr<OutboxPublisher>> OutboxPublisher::Create(
    OutboxPublisherOptions options) {
  if (options.consumer.empty()) {
    return absl::InvalidArgumentError("outbox publisher: consumer name is required");
  }
  if (options.topic.empty() || options.group.empty()) {
    return absl::InvalidArgumentError("outbox publisher: topic and group are required");
  }
  if (options.batch_size <= 0 || options.block <= absl::ZeroDuration() ||
      options.claim_idle <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "outbox publisher: batch_size, block and claim_idle must be positive");
  }
  if (!options.kafka.contains("bootstrap.servers")) {
    return absl::InvalidArgumentError("outbox publisher: bootstrap.servers is required");
  }
  options.redis.command_timeout =
      std::max(options.redis.command_timeout, options.block + absl::Seconds(1));
  // The destructor bounds its own wait (Stop's flush deadline already passed by then).
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create(options.kafka, absl::ZeroDuration());
  if (!producer.ok()) return producer.status();
  std::unique_ptr<OutboxPublisher> publisher(new OutboxPublisher(std::move(options)));
  publisher->producer_ = *std::move(producer);
  return publisher;
}

OutboxPublisher::OutboxPublisher(OutboxPublisherOptions options)
    : options_(std::move(options)),
      stream_(ProposalStore::OutboxKey()),
      redis_(options_.redis),
      ack_script_(std::string(kAckLua)) {}

OutboxPublisher::~OutboxPublisher() {
  Stop(absl::ZeroDuration());
  // Destroying the producer purges what is still queued; those callbacks hold their batch
  // alive through shared_ptr, so nothing here dangles.
  producer_.reset();
}

void OutboxPublisher::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;  // stopped publishers are not restarted: create a new one
  }
  thread_ = std::thread([this] { Loop(); });
}

void OutboxPublisher::Stop(absl::Duration flush_timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = absl::Now() + flush_timeout;
    }
  }
  if (thread_.joinable()) thread_.join();
}

OutboxPublisherStats OutboxPublisher::stats() const {
  OutboxPublisherStats s;
  s.published_total = published_.load();
  s.publish_errors_total = publish_errors_.load();
  s.redis_errors_total = redis_errors_.load();
  s.reclaimed_total = reclaimed_.load();
  s.dead_lettered_total = dead_lettered_.load();
  s.backlog = backlog_.load();
  return s;
}

bool OutboxPublisher::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void OutboxPublisher::Backoff(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
}

absl::Status OutboxPublisher::EnsureGroup() {
  absl::StatusOr<Reply> r =
      redis_.Command("XGROUP", "CREATE", stream_, options_.group, "0", "MKSTREAM");
  if (r.ok() || absl::StrContains(r.status().message(), "BUSYGROUP")) return absl::OkStatus();
  return r.status();
}

absl::StatusOr<std::vector<OutboxPublisher::Entry>> OutboxPublisher::ReadOwnPending() {
  ASSIGN_OR_RETURN(Reply r, redis_.Command("XREADGROUP", "GROUP", options_.group, options_.consumer,
                                           "COUNT", options_.batch_size, "STREAMS", stream_, "0"));
  if (r.size() != 1 || r[0].size() != 2) return std::vector<Entry>{};
  return ToEntries<Entry>(r[0][1]);
}

absl::StatusOr<std::vector<OutboxPublisher::Entry>> OutboxPublisher::ReadNew() {
  ASSIGN_OR_RETURN(
      Reply r, redis_.Command("XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                              options_.batch_size, "BLOCK",
                              absl::ToInt64Milliseconds(options_.block), "STREAMS", stream_, ">"));
  if (r.size() != 1 || r[0].size() != 2) return std::vector<Entry>{};  // nil: timed out
  return ToEntries<Entry>(r[0][1]);
}

absl::StatusOr<std::vector<OutboxPublisher::Entry>> OutboxPublisher::Claim() {
  // Walks the group's pending list from claim_cursor_; a full pass may take several calls.
  ASSIGN_OR_RETURN(Reply r, redis_.Command("XAUTOCLAIM", stream_, options_.group, options_.consumer,
                                           absl::ToInt64Milliseconds(options_.claim_idle),
                                           claim_cursor_, "COUNT", options_.batch_size));
  if (r.size() < 2) return absl::InternalError("XAUTOCLAIM: unexpected reply");
  claim_cursor_ = r[0].str();
  // Redis 7 drops ids deleted from the stream from the pending list itself (reported in r[2]).
  std::vector<Entry> out = ToEntries<Entry>(r[1]);
  reclaimed_ += static_cast<int64_t>(out.size());
  return out;
}

absl::Status OutboxPublisher::Acknowledge(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::vector<std::string> args = {options_.group};
  args.insert(args.end(), ids.begin(), ids.end());
  return ack_script_.Run(redis_, {stream_}, args).status();
}

void OutboxPublisher::RefreshBacklog() {
  absl::StatusOr<Reply> r = redis_.Command("XLEN", stream_);
  if (r.ok()) backlog_ = r->integer();
}

void OutboxPublisher::RenewClaim(const std::vector<Entry>& entries) {
  // XCLAIM with min-idle 0 resets the entries' idle time, so no other instance takes over a
  // batch this one is still delivering (e.g. while Kafka is down).
  redis::Args args = {"XCLAIM", stream_, options_.group, options_.consumer, "0"};
  for (const Entry& e : entries) args.push_back(e.id);
  args.push_back("JUSTID");
  if (!redis_.Command(args).ok()) ++redis_errors_;
}

OutboxPublisher::BatchResult OutboxPublisher::Publish(const std::vector<Entry>& entries) {
  // Shared with the delivery callbacks, which may outlive this call (stop deadline).
  struct Batch {
    absl::Mutex mu;
    int remaining ABSL_GUARDED_BY(mu) = 0;
    // Per entry: unset until its delivery report arrived.
    std::vector<std::optional<absl::Status>> results ABSL_GUARDED_BY(mu);
    bool Done() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return remaining == 0; }
  };
  auto batch = std::make_shared<Batch>();
  {
    absl::MutexLock lock(&batch->mu);
    batch->results.resize(entries.size());
  }
  BatchResult result;
  std::vector<size_t> produced;  // indexes into entries
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.deleted) {
      result.done.push_back(e.id);  // nothing left to publish; just clear it
      continue;
    }
    v1::StageChange change;
    absl::StatusOr<std::string> json = change.ParseFromString(e.change)
                                           ? StageChangeToJson(change)
                                           : absl::DataLossError("unparsable StageChange");
    if (!json.ok()) {
      absl::StatusOr<Reply> dead =
          redis_.Command("XADD", DeadLetterKey(), "*", "entry_id", e.id, "change_id", e.change_id,
                         "change", e.change, "error", json.status().ToString());
      if (dead.ok()) {
        ++dead_lettered_;
        result.done.push_back(e.id);
      } else {
        ++redis_errors_;
        ++result.failed;
      }
      continue;
    }
    {
      absl::MutexLock lock(&batch->mu);
      ++batch->remaining;
    }
    produced.push_back(i);
    absl::Status queued = producer_->Produce(
        options_.topic, change.opportunity_id(), *json,
        {{"change_id", change.change_id()}, {"content-type", "application/json"}},
        [batch, i](const kafka::DeliveryReport& report) {
          absl::MutexLock lock(&batch->mu);
          batch->results[i] = report.status;
          --batch->remaining;
        });
    if (!queued.ok()) {  // no callback will come
      absl::MutexLock lock(&batch->mu);
      batch->results[i] = queued;
      --batch->remaining;
    }
  }

  // Wait for the broker, renewing the claim now and then; give up only at the stop deadline.
  const absl::Duration renew_every = std::max(options_.claim_idle / 3, absl::Milliseconds(10));
  absl::Time next_renew = absl::Now() + renew_every;
  absl::Time next_backlog = absl::Now() + absl::Seconds(1);
  for (;;) {
    {
      absl::MutexLock lock(&batch->mu);
      if (batch->mu.AwaitWithTimeout(absl::Condition(batch.get(), &Batch::Done),
                                     absl::Milliseconds(50))) {
        break;
      }
    }
    const absl::Time now = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ && now >= stop_deadline_) {
        result.abandoned = true;
        break;
      }
    }
    if (now >= next_renew) {
      RenewClaim(entries);
      next_renew = now + renew_every;
    }
    if (now >= next_backlog) {
      RefreshBacklog();
      next_backlog = now + absl::Seconds(1);
    }
  }

  absl::MutexLock lock(&batch->mu);
  for (size_t i : produced) {
    const std::optional<absl::Status>& r = batch->results[i];
    if (!r.has_value()) continue;  // abandoned in flight: stays pending, published later
    if (r->ok()) {
      result.done.push_back(entries[i].id);
    } else {
      ++result.failed;
    }
  }
  published_ += static_cast<int64_t>(result.done.size());
  publish_errors_ += result.failed;
  return result;
}

void OutboxPublisher::Loop() {
  bool group_ready = false;
  // First the entries this consumer name read before (a restart) and failed deliveries.
  bool read_own = true;
  absl::Time next_claim = absl::InfinitePast();
  const absl::Duration claim_every = std::max(options_.claim_idle / 2, absl::Milliseconds(10));
  std::vector<std::string> to_ack;  // delivered, not yet acknowledged in Redis

  auto redis_failed = [&](const absl::Status& s) {
    ++redis_errors_;
    if (IsNoGroup(s)) group_ready = false;  // the stream or group vanished (data loss)
    Backoff(options_.retry_backoff);
  };

  while (!Stopping()) {
    if (!to_ack.empty()) {
      // Before anything else: a delivered entry must not be read and published again.
      if (absl::Status s = Acknowledge(to_ack); !s.ok()) {
        redis_failed(s);
        continue;
      }
      to_ack.clear();
    }
    if (!group_ready) {
      if (absl::Status s = EnsureGroup(); !s.ok()) {
        redis_failed(s);
        continue;
      }
      group_ready = true;
    }
    RefreshBacklog();
    absl::StatusOr<std::vector<Entry>> entries;
    if (read_own) {
      entries = ReadOwnPending();
      if (entries.ok() && entries->empty()) {
        read_own = false;
        continue;
      }
    } else if (absl::Now() >= next_claim) {
      entries = Claim();
      if (entries.ok() && claim_cursor_ == "0-0") next_claim = absl::Now() + claim_every;
      if (entries.ok() && entries->empty()) continue;
    } else {
      entries = ReadNew();
    }
    if (!entries.ok()) {
      redis_failed(entries.status());
      continue;
    }
    if (entries->empty()) continue;
    BatchResult batch = Publish(*entries);
    to_ack = std::move(batch.done);
    if (batch.abandoned) break;
    if (batch.failed > 0) {
      read_own = true;  // the failed ones are still ours, pending: retry them
      Backoff(options_.retry_backoff);
    }
  }
  // Flush: acknowledge what the broker already has, retrying until the stop deadline (Redis
  // may be restarting); whatever is still unacknowledged then is published again later.
  while (!to_ack.empty()) {
    if (Acknowledge(to_ack).ok()) break;
    ++redis_errors_;
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      deadline = stop_deadline_;
    }
    if (absl::Now() + absl::Milliseconds(50) >= deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  RefreshBacklog();
}

}  // namespace autostage::review
