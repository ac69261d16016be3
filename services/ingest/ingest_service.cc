#include "services/ingest/ingest_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "autostage/v1/review.pb.h"
#include "google/protobuf/util/time_util.h"

namespace autostage::ingest {
namespace {

constexpr absl::string_view kContentTypeHeader = "content-type";
constexpr absl::string_view kReplayHeader = "autostage-replay";
// An id no event carries: its GET tells whether Redis answers again.
constexpr absl::string_view kRedisProbeId = "autostage-ingest-redis-probe";

bool Transient(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kResourceExhausted;
}

std::string OutcomeName(v1::SubmitOutcome outcome) {
  switch (outcome) {
    case v1::SUBMIT_OUTCOME_STORED:
      return "stored";
    case v1::SUBMIT_OUTCOME_MERGED:
      return "merged";
    case v1::SUBMIT_OUTCOME_DUPLICATE:
      return "duplicate";
    case v1::SUBMIT_OUTCOME_STALE:
      return "stale";
    case v1::SUBMIT_OUTCOME_INVALID:
      return "invalid";
    default:
      return "unspecified";
  }
}

std::vector<kafka::TopicPartition> ToTopicPartitions(const std::map<PartitionKey, uint64_t>& m) {
  std::vector<kafka::TopicPartition> out;
  out.reserve(m.size());
  for (const auto& [key, epoch] : m) out.push_back({key.topic, key.partition});
  return out;
}

}  // namespace

struct IngestService::Work {
  PartitionKey key;
  uint64_t epoch = 0;
  kafka::Message message;
  absl::Time consumed_at;
  std::string event_id;  // set once decoded
  absl::Time occurred_at = absl::InfinitePast();
  absl::Duration backoff;
};

struct IngestService::WorkerContext {
  explicit WorkerContext(const event::DecodeLimits& limits) : decoder(limits) {}
  event::Decoder decoder;
  std::unique_ptr<rules::Engine> engine;
  uint64_t generation = 0;
};

IngestService::IngestService(IngestServiceOptions options, IngestDependencies deps)
    : options_(std::move(options)), deps_(std::move(deps)) {}

IngestService::~IngestService() {
  Stop();
  pool_.reset();  // joins the workers before the rest goes away
  if (marker_.joinable()) {
    {
      absl::MutexLock lock(&marks_mu_);
      marks_stop_ = true;
    }
    marker_.join();  // finishes what is queued first
  }
}

absl::StatusOr<std::unique_ptr<IngestService>> IngestService::Create(IngestServiceOptions options,
                                                                     IngestDependencies deps) {
  if (options.topics.empty()) return absl::InvalidArgumentError("ingest: no topics to consume");
  if (!deps.rules) return absl::InvalidArgumentError("ingest: no rule source");
  kafka::KafkaConfig config = options.kafka;
  config["enable.auto.offset.store"] = "false";
  config.try_emplace("partition.assignment.strategy", "cooperative-sticky");
  // Scenario 9a: never jump to the end; gaps are logged and counted (OffsetTracker::Track).
  config.try_emplace("auto.offset.reset", "earliest");
  config.try_emplace("enable.auto.commit", "true");
  config.try_emplace("auto.commit.interval.ms", "1000");
  // Throughput: librdkafka's defaults prefetch up to 100,000 messages per partition and 64 MB
  // in all; the worker inboxes (max_queued_events) are the buffer that matters, so a smaller
  // prefetch bounds memory (36 partitions of 1.5 KB events) without starving the workers.
  config.try_emplace("queued.min.messages", "5000");
  config.try_emplace("queued.max.messages.kbytes", "32768");
  // A fetch answers once 64 KB are there or after 20 ms. Under a backlog every fetch fills at
  // once, so the wait only matters once the consumer has caught up, and then it is latency
  // (the devbroker, librdkafka's mock, delays every empty fetch by all of it). 5 ms halved a
  // plain consumer's median wait at 500 events/s, but at 5,000/s the A/B runs were not better
  // (docs/ingest.md), so the default stays.
  config.try_emplace("fetch.min.bytes", "65536");
  config.try_emplace("fetch.wait.max.ms", "20");
  std::unique_ptr<IngestService> service(new IngestService(std::move(options), std::move(deps)));
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(config, service.get());
  if (!consumer.ok()) return consumer.status();
  service->consumer_ = *std::move(consumer);
  service->monitor_ = std::make_unique<PartitionMonitor>(
      *service->consumer_, service->deps_.metrics, service->deps_.log,
      PartitionMonitorOptions{.lag_interval = service->options_.lag_interval});
  service->monitor_->Start();
  service->pool_ = std::make_unique<PartitionQueue>(service->options_.workers);
  service->marker_ = std::thread([s = service.get()] { s->MarkerLoop(); });
  return service;
}

void IngestService::Stop() {
  stopping_.store(true);
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

absl::Status IngestService::Health() const {
  if (!ready_.load()) return absl::UnavailableError("waiting for the opportunity feed");
  if (!redis_ok_.load()) return absl::UnavailableError("redis unavailable");
  return absl::OkStatus();
}

IngestStats IngestService::stats() const {
  IngestStats s;
  s.consumed = consumed_.load();
  s.handled = handled_.load();
  s.proposals_acked = proposals_acked_.load();
  s.dead_lettered = dead_lettered_.load();
  s.deduped = deduped_.load();
  s.skipped_unresolved = skipped_unresolved_.load();
  s.offsets_skipped = offsets_skipped_.load() + monitor_->skipped();
  s.pauses = pauses_.load();
  s.revocations = revocations_.load();
  return s;
}

absl::Status IngestService::Run() {
  // Resolution needs the opportunities: wait for the feed before taking any event.
  const absl::Time ready_deadline = absl::Now() + options_.state_ready_timeout;
  while (deps_.state_ready && !deps_.state_ready()) {
    if (stopping_.load()) return consumer_->Close();
    if (absl::Now() > ready_deadline) {
      return absl::DeadlineExceededError("ingest: the opportunity feed did not catch up");
    }
    absl::MutexLock lock(&wake_mu_);
    wake_mu_.AwaitWithTimeout(absl::Condition(&wake_), absl::Milliseconds(20));
  }
  ready_.store(true);
  if (absl::Status s = consumer_->Subscribe(options_.topics); !s.ok()) return s;
  deps_.log.Info("consuming",
                 {{"topics", absl::StrJoin(options_.topics, ",")}, {"workers", options_.workers}});

  absl::Time next_probe = absl::InfinitePast();
  absl::Time next_housekeeping = absl::InfinitePast();
  absl::Time next_gauges = absl::InfinitePast();
  absl::Status fatal;
  while (!stopping_.load()) {
    std::optional<kafka::Message> message = consumer_->Poll(options_.poll_timeout);
    if (message) {
      if (message->ok()) {
        Dispatch(*std::move(message));
      } else if (!message->is_partition_eof()) {
        deps_.metrics.consumer_errors.Increment();
        monitor_->ConsumerError(*message);  // scenario 4: max.poll.interval.ms exceeded
        deps_.log.Warn("consumer error", {{"error", message->status()},
                                          {"topic", message->topic()},
                                          {"partition", message->partition()}});
        if (message->is_fatal()) {
          fatal = absl::InternalError(
              absl::StrCat("ingest: fatal consumer error: ", message->status().ToString()));
          break;
        }
      }
    }
    const absl::Time now = absl::Now();
    // Storing offsets walks every assigned partition and calls into librdkafka: under load,
    // once every few milliseconds is enough (and far cheaper than once per message). The
    // pause check stays per message: it bounds memory to max_pending_events plus one poll.
    if (!message || now >= next_housekeeping) {
      StoreCommittable();
      next_housekeeping = now + absl::Milliseconds(5);
    }
    UpdatePause();
    if (!redis_ok_.load() && now >= next_probe) {
      // Redis went away; workers retry their own calls, this notices a recovery when no
      // event is in flight to try.
      NoteRedis(deps_.deduper.IsDone(kRedisProbeId).status());
      next_probe = now + absl::Milliseconds(200);
    }
    if (now >= next_gauges) {
      deps_.metrics.queued.Set(static_cast<double>(inbox_events_.load() + pool_->queued()));
      deps_.metrics.pending.Set(static_cast<double>(tracker_.PendingTotal()));
      deps_.metrics.review_up.Set(deps_.proposals.Available() ? 1 : 0);
      deps_.metrics.assigned_partitions.Set(static_cast<double>(epochs_.size()));
      next_gauges = now + absl::Milliseconds(250);
    }
  }

  // Drain: nothing new, everything queued or in flight gets until the deadline.
  if (!epochs_.empty() && !paused_) {
    (void)consumer_->Pause(ToTopicPartitions(epochs_));
    paused_ = true;
  }
  const absl::Time drain_deadline = absl::Now() + options_.drain_timeout;
  while (fatal.ok() && absl::Now() < drain_deadline &&
         (inbox_events_.load() + pool_->queued() + pool_->running() > 0 ||
          tracker_.PendingTotal() > 0)) {
    // Keep polling so the group membership lives; nothing polled now is handed out (it was
    // not tracked, so no offset at or past it can be stored).
    (void)consumer_->Poll(options_.poll_timeout);
    StoreCommittable();
  }
  const size_t left = tracker_.PendingTotal();
  abandon_.store(true);
  {
    absl::MutexLock lock(&wake_mu_);
    wake_ = true;
  }
  pool_->WaitAllIdle(absl::Now() + options_.revoke_wait);
  StoreCommittable();
  absl::Status commit = consumer_->CommitSync();
  if (!commit.ok()) deps_.log.Warn("final commit failed", {{"error", commit}});
  absl::Status closed = consumer_->Close();
  const IngestStats s = stats();
  deps_.log.Info("stopped", {{"consumed", s.consumed},
                             {"handled", s.handled},
                             {"proposals_acked", s.proposals_acked},
                             {"dead_lettered", s.dead_lettered},
                             {"deduped", s.deduped},
                             {"abandoned_in_flight", static_cast<int64_t>(left)}});
  if (!fatal.ok()) return fatal;
  return closed;
}

void IngestService::Dispatch(kafka::Message message) {
  PartitionKey key{message.topic(), message.partition()};
  auto it = epochs_.find(key);
  if (it == epochs_.end()) return;  // not ours (any more): the owner reads it
  consumed_.fetch_add(1);
  deps_.metrics.Consumed(key.topic).Increment();
  monitor_->Consumed(key, message.offset());  // 9a at the start of an assignment
  const int64_t skipped = tracker_.Track(key, it->second, message.offset());
  if (skipped > 0) {
    offsets_skipped_.fetch_add(skipped);
    deps_.metrics.offsets_skipped.Increment(static_cast<double>(skipped));
    deps_.log.Error("offsets skipped: the log start moved past unread events",
                    {{"topic", key.topic},
                     {"partition", key.partition},
                     {"skipped", skipped},
                     {"resumed_at", message.offset()}});
  }
  auto work = std::make_shared<Work>(Work{.key = key,
                                          .epoch = it->second,
                                          .message = std::move(message),
                                          .consumed_at = absl::Now(),
                                          .event_id = {},
                                          .occurred_at = absl::InfinitePast(),
                                          .backoff = options_.retry_initial});
  bool schedule = false;
  {
    absl::MutexLock lock(&inbox_mu_);
    Inbox& inbox = inboxes_[key];
    inbox.works.push_back(std::move(work));
    inbox_events_.fetch_add(1);
    schedule = !inbox.scheduled;
    inbox.scheduled = true;
  }
  if (schedule) pool_->Submit(key, [this, key] { HandleRun(key); });
}

void IngestService::UpdatePause() {
  if (epochs_.empty() || stopping_.load()) return;
  const bool review_up = deps_.proposals.Available();
  const bool redis_up = redis_ok_.load();
  const size_t queued = inbox_events_.load() + pool_->queued();
  const size_t pending = tracker_.PendingTotal();
  if (!paused_) {
    const char* why = !review_up                               ? "review unavailable"
                      : !redis_up                              ? "redis unavailable"
                      : queued >= options_.max_queued_events   ? "queue full"
                      : pending >= options_.max_pending_events ? "too many events in flight"
                                                               : nullptr;
    if (why == nullptr) return;
    if (absl::Status s = consumer_->Pause(ToTopicPartitions(epochs_)); !s.ok()) {
      deps_.log.Warn("pause failed", {{"error", s}});
      return;
    }
    paused_ = true;
    pauses_.fetch_add(1);
    deps_.metrics.pauses.Increment();
    deps_.metrics.paused.Set(1);
    deps_.log.Info("paused", {{"reason", why},
                              {"queued", static_cast<int64_t>(queued)},
                              {"pending", static_cast<int64_t>(pending)}});
    return;
  }
  if (review_up && redis_up && queued <= options_.max_queued_events / 2 &&
      pending <= options_.max_pending_events / 2) {
    if (absl::Status s = consumer_->Resume(ToTopicPartitions(epochs_)); !s.ok()) {
      deps_.log.Warn("resume failed", {{"error", s}});
      return;
    }
    paused_ = false;
    deps_.metrics.paused.Set(0);
    deps_.log.Info("resumed", {});
  }
}

void IngestService::StoreCommittable() {
  std::vector<kafka::TopicPartition> offsets;
  for (auto& [key, next] : tracker_.TakeCommittable()) {
    offsets.push_back({key.topic, key.partition, next});
  }
  if (offsets.empty()) return;
  if (absl::Status s = consumer_->StoreOffsets(offsets); !s.ok()) {
    // kFailedPrecondition after a revocation is expected: the new owner re-reads.
    deps_.metrics.offset_store_errors.Increment();
    deps_.log.Warn("offset store refused", {{"error", s}});
  }
}

void IngestService::OnAssigned(const std::vector<kafka::TopicPartition>& partitions) {
  for (const kafka::TopicPartition& tp : partitions) {
    PartitionKey key{tp.topic, tp.partition};
    epochs_[key] = tracker_.Assign(key);
    deps_.log.Info("partition assigned", {{"topic", tp.topic}, {"partition", tp.partition}});
  }
  monitor_->Assigned(partitions);
  if (paused_ && !partitions.empty()) {
    std::vector<kafka::TopicPartition> added;
    for (const kafka::TopicPartition& tp : partitions) added.push_back({tp.topic, tp.partition});
    (void)consumer_->Pause(added);
  }
  deps_.metrics.assigned_partitions.Set(static_cast<double>(epochs_.size()));
}

void IngestService::OnRevoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) {
  revocations_.fetch_add(1);
  monitor_->Revoked(partitions);
  std::vector<PartitionKey> keys;
  for (const kafka::TopicPartition& tp : partitions) {
    PartitionKey key{tp.topic, tp.partition};
    size_t dropped = 0;
    {
      absl::MutexLock lock(&inbox_mu_);
      if (auto it = inboxes_.find(key); it != inboxes_.end()) {
        dropped = it->second.works.size();
        inbox_events_.fetch_sub(dropped);
        inboxes_.erase(it);
      }
    }
    // The partition's queued HandleRun (and retry) tasks; a running one sees its works
    // abandoned (the epoch is revoked below).
    dropped += pool_->Drop(key);
    deps_.metrics.revoked_dropped.Increment(static_cast<double>(dropped));
    keys.push_back(std::move(key));
  }
  // Running events of these partitions get a moment to finish, so the new owner repeats less.
  const absl::Time deadline = absl::Now() + options_.revoke_wait;
  bool all_done = true;
  for (const PartitionKey& key : keys) {
    while (tracker_.Pending(key) > 0 && absl::Now() < deadline && !abandon_.load()) {
      // Idle lane but pending offsets: proposals awaiting review's answer.
      if (pool_->WaitIdle(key, std::min(deadline, absl::Now() + absl::Milliseconds(5)))) {
        absl::SleepFor(absl::Milliseconds(2));
      }
    }
    if (tracker_.Pending(key) > 0) all_done = false;
  }
  if (!all_done) deps_.metrics.revoked_abandoned.Increment();
  // Still ours during the callback (unless lost): store what is done, then never again.
  if (!lost) StoreCommittable();
  for (const PartitionKey& key : keys) {
    tracker_.Revoke(key);
    epochs_.erase(key);
    deps_.log.Info("partition revoked",
                   {{"topic", key.topic}, {"partition", key.partition}, {"lost", lost}});
  }
  deps_.metrics.assigned_partitions.Set(static_cast<double>(epochs_.size()));
}

void IngestService::OnRebalanceError(const absl::Status& error) {
  deps_.metrics.consumer_errors.Increment();
  deps_.log.Warn("rebalance error", {{"error", error}});
}

bool IngestService::Abandoned(const Work& work) const {
  return abandon_.load() || !tracker_.IsCurrent(work.key, work.epoch);
}

bool IngestService::Backoff(const Work& work, absl::Duration* backoff) {
  if (Abandoned(work)) return false;
  {
    absl::MutexLock lock(&wake_mu_);
    // Stop() sets wake_, which ends the sleep early; retries continue during the drain until
    // abandon_.
    wake_mu_.AwaitWithTimeout(absl::Condition(&wake_), *backoff);
  }
  *backoff = std::min(*backoff * 2, options_.retry_max);
  return !Abandoned(work);
}

void IngestService::NoteRedis(const absl::Status& status) {
  const bool ok = !Transient(status);
  if (redis_ok_.exchange(ok) != ok) {
    deps_.metrics.redis_up.Set(ok ? 1 : 0);
    if (ok) {
      deps_.log.Info("redis back", {});
    } else {
      deps_.log.Warn("redis unavailable", {{"error", status}});
    }
  }
}

std::unique_ptr<IngestService::WorkerContext> IngestService::AcquireContext() {
  absl::MutexLock lock(&contexts_mu_);
  if (free_contexts_.empty()) return std::make_unique<WorkerContext>(options_.decode_limits);
  std::unique_ptr<WorkerContext> context = std::move(free_contexts_.back());
  free_contexts_.pop_back();
  return context;
}

void IngestService::ReleaseContext(std::unique_ptr<WorkerContext> context) {
  absl::MutexLock lock(&contexts_mu_);
  free_contexts_.push_back(std::move(context));
}

void IngestService::HandleRun(const PartitionKey& key) {
  std::vector<std::shared_ptr<Work>> run;
  bool more = false;
  {
    absl::MutexLock lock(&inbox_mu_);
    auto it = inboxes_.find(key);
    if (it == inboxes_.end()) return;  // revoked meanwhile
    std::deque<std::shared_ptr<Work>>& works = it->second.works;
    const size_t n = std::min(works.size(), std::max<size_t>(1, options_.max_run_events));
    run.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      run.push_back(std::move(works.front()));
      works.pop_front();
    }
    inbox_events_.fetch_sub(n);
    more = !works.empty();
    if (!more) inboxes_.erase(it);  // the next Dispatch schedules a new task
  }
  // Still scheduled: the rest is the next run, after this one (the lane runs tasks in order).
  if (more) pool_->Submit(key, [this, key] { HandleRun(key); });
  ProcessRun(std::move(run));
}

absl::Status IngestService::EnsureEngine(WorkerContext& context) {
  const RuleSnapshot rules = deps_.rules();
  if (context.engine && context.generation == rules.generation) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<rules::Engine>> engine;
  {
    absl::MutexLock lock(&engine_mu_);  // GuardAnalyzer::Clone under one lock
    engine = rules::Engine::Create(rules.rules, deps_.guards);
  }
  if (!engine.ok()) {
    deps_.log.Error("engine build failed", {{"error", engine.status()}});
    return engine.status();
  }
  if (context.engine) deps_.metrics.rule_engine_rebuilds.Increment();
  context.engine = *std::move(engine);
  context.generation = rules.generation;
  deps_.metrics.rules_generation.Set(static_cast<double>(rules.generation));
  return absl::OkStatus();
}

void IngestService::ProcessRun(std::vector<std::shared_ptr<Work>> run) {
  if (run.empty() || Abandoned(*run.front())) return;  // one partition and epoch per run
  std::unique_ptr<WorkerContext> context = AcquireContext();
  struct Release {
    IngestService* self;
    std::unique_ptr<WorkerContext>* context;
    ~Release() {
      if (*context) self->ReleaseContext(std::move(*context));
    }
  } release{this, &context};

  // Decode and validate each; bad ones go to the DLQ (asynchronously) and leave the run.
  struct Item {
    std::shared_ptr<Work> work;
    v1::Event event;
    bool replay = false;
  };
  std::vector<Item> items;
  items.reserve(run.size());
  for (std::shared_ptr<Work>& work : run) {
    const kafka::Message& message = work->message;
    absl::StatusOr<event::Encoding> encoding =
        event::EncodingFromContentType(message.header(kContentTypeHeader).value_or(""));
    absl::StatusOr<v1::Event> decoded =
        encoding.ok()
            ? context->decoder.DecodeEvent(
                  std::string_view(message.payload().data(), message.payload().size()), *encoding)
            : absl::StatusOr<v1::Event>(encoding.status());
    if (!decoded.ok()) {
      std::string reason(event::ReasonOf(decoded.status()));
      if (reason.empty()) reason = "invalid";
      deps_.metrics.Invalid(reason).Increment();
      DeadLetter(work, std::move(reason), std::string(decoded.status().message()));
      continue;
    }
    deps_.metrics.decoded.Increment();
    work->event_id = decoded->event_id();
    work->occurred_at = absl::FromUnixMillis(
        google::protobuf::util::TimeUtil::TimestampToMilliseconds(decoded->occurred_at()));
    deps_.metrics.event_to_consume.Observe(
        absl::ToDoubleSeconds(work->consumed_at - work->occurred_at));
    const bool replay = message.header(kReplayHeader).value_or("") == "1";
    if (replay) deps_.metrics.replays.Increment();
    items.push_back(Item{std::move(work), *std::move(decoded), replay});
  }
  if (items.empty()) return;
  const Work& lead = *items.front().work;  // for Backoff: the run shares key and epoch
  absl::Duration backoff = options_.retry_initial;

  // Dedupe all but the replays (contract C4) in one round trip.
  std::vector<std::string> ids;
  std::vector<size_t> checked;  // ids[k] belongs to items[checked[k]]
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].replay) continue;
    ids.push_back(items[i].event.event_id());
    checked.push_back(i);
  }
  std::vector<bool> drop(items.size(), false);
  if (!ids.empty()) {
    absl::StatusOr<std::vector<bool>> done;
    while (true) {
      done = deps_.deduper.IsDoneMany(ids);
      NoteRedis(done.status());
      if (done.ok()) break;
      deps_.metrics.Retry("dedupe").Increment();
      if (!Backoff(lead, &backoff)) return;
    }
    for (size_t k = 0; k < checked.size(); ++k) {
      if (!(*done)[k]) continue;
      drop[checked[k]] = true;
      deduped_.fetch_add(1);
      deps_.metrics.deduped.Increment();
      Finish(items[checked[k]].work, /*mark_done=*/false);
    }
  }

  // Resolve the rest in one or two round trips.
  std::vector<size_t> live;
  std::vector<const v1::Event*> events;
  for (size_t i = 0; i < items.size(); ++i) {
    if (drop[i]) continue;
    live.push_back(i);
    events.push_back(&items[i].event);
  }
  if (live.empty()) return;
  absl::StatusOr<std::vector<absl::StatusOr<rules::Resolution>>> resolutions;
  while (true) {
    resolutions = deps_.state.ResolveMany(events);
    NoteRedis(resolutions.status());
    if (resolutions.ok()) break;
    if (!Transient(resolutions.status())) {
      deps_.log.Error("resolve failed", {{"events", static_cast<int64_t>(events.size())},
                                         {"error", resolutions.status()}});
      for (size_t i : live) {
        DeadLetter(items[i].work, "resolve_error", std::string(resolutions.status().message()));
      }
      return;
    }
    deps_.metrics.Retry("resolve").Increment();
    if (!Backoff(lead, &backoff)) return;
  }

  // Judge each with the current rule set.
  if (absl::Status built = EnsureEngine(*context); !built.ok()) {
    for (size_t i : live) {
      DeadLetter(items[i].work, "engine_error", std::string(built.message()));
    }
    return;
  }
  std::vector<std::shared_ptr<Work>> finished;  // no proposal: marked done by the marker
  for (size_t k = 0; k < live.size(); ++k) {
    Item& item = items[live[k]];
    absl::StatusOr<rules::Resolution>& resolution = (*resolutions)[k];
    if (!resolution.ok()) {
      deps_.log.Error("resolve failed",
                      {{"event_id", item.event.event_id()}, {"error", resolution.status()}});
      DeadLetter(item.work, "resolve_error", std::string(resolution.status().message()));
      continue;
    }
    if (!resolution->opportunity) {
      const std::string reason = resolution->reason.empty() ? "unresolved" : resolution->reason;
      if (options_.unresolved == UnresolvedPolicy::kDeadLetter) {
        deps_.metrics.Unresolved("dlq").Increment();
        DeadLetter(item.work, reason, "no opportunity for this event");
      } else {
        deps_.metrics.Unresolved("skip").Increment();
        skipped_unresolved_.fetch_add(1);
        finished.push_back(item.work);
      }
      continue;
    }
    const crmstate::FixedResolver resolver(*std::move(resolution));
    absl::StatusOr<rules::Decision> decision = context->engine->Process(item.event, resolver);
    if (!decision.ok()) {
      deps_.metrics.engine_errors.Increment();
      deps_.log.Error("engine failed",
                      {{"event_id", item.event.event_id()}, {"error", decision.status()}});
      DeadLetter(item.work, "engine_error", std::string(decision.status().message()));
      continue;
    }
    deps_.metrics.StrippedParts(item.event.source(), decision->dropped_formats);
    if (!decision->proposal) {
      finished.push_back(item.work);
      continue;
    }
    deps_.metrics.Proposal(decision->proposal->to_stage(), decision->proposal->rule_id())
        .Increment();
    // At once, not after the run: a proposal does not wait for the engine on the rest of a
    // long run (its batcher linger runs meanwhile). Order per partition is kept (offset order).
    SubmitProposal(item.work, *std::move(decision->proposal));
  }
  // The marker thread writes these marks, many runs' (and partitions') in one round trip, so
  // the partition's next run does not wait for it; their offsets are stored once marked.
  QueueMarks(std::move(finished));
}

void IngestService::SubmitProposal(const std::shared_ptr<Work>& work, v1::Proposal proposal) {
  if (Abandoned(*work)) return;
  auto retry_copy = std::make_shared<v1::Proposal>(proposal);
  deps_.proposals.Submit(
      std::move(proposal), [this, work, retry_copy](absl::Status status, v1::SubmitResult result) {
        if (status.ok()) {
          deps_.metrics.Outcome(OutcomeName(result.outcome())).Increment();
          const absl::Time acked = absl::Now();
          if (work->occurred_at != absl::InfinitePast()) {
            deps_.metrics.event_to_ack.Observe(absl::ToDoubleSeconds(acked - work->occurred_at));
          }
          deps_.metrics.consume_to_ack.Observe(absl::ToDoubleSeconds(acked - work->consumed_at));
          proposals_acked_.fetch_add(1);
          QueueMarks({work});
          return;
        }
        if (Abandoned(*work)) return;
        deps_.log.Warn("proposal not acknowledged, retrying",
                       {{"event_id", work->event_id}, {"error", status}});
        RetryLater(work, "submit", [this, work, retry_copy] { SubmitProposal(work, *retry_copy); });
      });
}

void IngestService::DeadLetter(const std::shared_ptr<Work>& work, std::string reason,
                               std::string detail) {
  if (Abandoned(*work)) return;
  auto reason_copy = std::make_shared<std::string>(reason);
  auto detail_copy = std::make_shared<std::string>(detail);
  absl::Status written = deps_.dlq.Write(
      work->message, reason, detail, [this, work, reason_copy, detail_copy](absl::Status acked) {
        if (acked.ok()) {
          dead_lettered_.fetch_add(1);
          deps_.metrics.Dlq(*reason_copy).Increment();
          Finish(work, /*mark_done=*/!work->event_id.empty());
          return;
        }
        if (Abandoned(*work)) return;
        RetryLater(work, "dlq", [this, work, reason_copy, detail_copy] {
          DeadLetter(work, *reason_copy, *detail_copy);
        });
      });
  if (written.ok()) return;
  if (written.code() == absl::StatusCode::kInvalidArgument) {
    // The producer cannot carry it (larger than message.max.bytes): never block the partition
    // on it; the log line and the metric are all that is left of it.
    deps_.log.Error("event cannot be dead-lettered, skipped", {{"topic", work->key.topic},
                                                               {"partition", work->key.partition},
                                                               {"offset", work->message.offset()},
                                                               {"reason", reason},
                                                               {"error", written}});
    deps_.metrics.Dlq("unwritable").Increment();
    Finish(work, /*mark_done=*/false);
    return;
  }
  RetryLater(work, "dlq", [this, work, reason_copy, detail_copy] {
    DeadLetter(work, *reason_copy, *detail_copy);
  });
}

void IngestService::RetryLater(const std::shared_ptr<Work>& work, const char* what,
                               std::function<void()> step) {
  deps_.metrics.Retry(what).Increment();
  pool_->Submit(work->key, [this, work, step = std::move(step)] {
    if (!Backoff(*work, &work->backoff)) return;
    step();
  });
}

void IngestService::FinishMany(const std::vector<std::shared_ptr<Work>>& works) {
  std::vector<std::string> ids;
  ids.reserve(works.size());
  for (const std::shared_ptr<Work>& work : works) {
    if (!work->event_id.empty()) ids.push_back(work->event_id);
  }
  absl::Status marked = deps_.deduper.MarkDoneMany(ids);
  NoteRedis(marked);
  if (!marked.ok()) {
    // Safe to go on: a redelivery is judged again and review answers `duplicate`.
    deps_.metrics.Retry("mark_done").Increment();
    deps_.log.Warn("dedupe marks failed",
                   {{"events", static_cast<int64_t>(ids.size())}, {"error", marked}});
  }
  for (const std::shared_ptr<Work>& work : works) Finish(work, /*mark_done=*/false);
}

void IngestService::QueueMarks(std::vector<std::shared_ptr<Work>> works) {
  if (works.empty()) return;
  absl::MutexLock lock(&marks_mu_);
  if (marks_.empty()) {
    marks_ = std::move(works);
  } else {
    marks_.insert(marks_.end(), std::make_move_iterator(works.begin()),
                  std::make_move_iterator(works.end()));
  }
}

void IngestService::MarkerLoop() {
  while (true) {
    std::vector<std::shared_ptr<Work>> batch;
    {
      absl::MutexLock lock(&marks_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(marks_mu_) {
        return marks_stop_ || !marks_.empty();
      };
      marks_mu_.Await(absl::Condition(&ready));
      if (marks_.empty()) return;  // stopping, nothing left
      batch.swap(marks_);
    }
    FinishMany(batch);
  }
}

void IngestService::Finish(const std::shared_ptr<Work>& work, bool mark_done) {
  if (mark_done && !work->event_id.empty()) {
    absl::Status marked = deps_.deduper.MarkDone(work->event_id);
    NoteRedis(marked);
    if (!marked.ok()) {
      // Safe to go on: a redelivery is judged again and review answers `duplicate`.
      deps_.metrics.Retry("mark_done").Increment();
      deps_.log.Warn("dedupe mark failed", {{"event_id", work->event_id}, {"error", marked}});
    }
  }
  tracker_.Done(work->key, work->epoch, work->message.offset());
  handled_.fetch_add(1);
  deps_.metrics.handled.Increment();
  deps_.metrics.consume_to_done.Observe(absl::ToDoubleSeconds(absl::Now() - work->consumed_at));
}

}  // namespace autostage::ingest
