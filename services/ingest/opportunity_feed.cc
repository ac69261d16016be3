#include "services/ingest/opportunity_feed.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/handle/handle.h"
#include "common/status/status_macros.h"

namespace autostage::ingest {
namespace {

using MetadataHandle = Handle<const rd_kafka_metadata_t, &rd_kafka_metadata_destroy>;

int ToMs(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, int64_t{1} << 30));
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpportunityFeed>> OpportunityFeed::Create(
    OpportunityFeedOptions options, crmstate::OpportunityStateStore& store, log::Logger log) {
  if (options.topic.empty()) return absl::InvalidArgumentError("opportunity feed: no topic");
  kafka::KafkaConfig config = options.kafka;
  // Needed by rd_kafka_assign/rd_kafka_consumer_poll only: the feed never subscribes, so it
  // never joins this group, and it never commits to it.
  config.emplace("group.id", "autostage-opportunity-feed");
  config["enable.auto.commit"] = "false";
  config["enable.auto.offset.store"] = "false";
  config["enable.partition.eof"] = "true";
  ASSIGN_OR_RETURN(kafka::internal::ConfHandle conf, kafka::internal::BuildConf(config));
  std::unique_ptr<OpportunityFeed> feed(
      new OpportunityFeed(std::move(options), store, std::move(log)));
  char errstr[512];
  feed->kafka_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr)));
  if (!feed->kafka_) {
    return absl::InvalidArgumentError(absl::StrCat("opportunity feed: ", errstr));  // conf ours
  }
  conf.release();  // owned by the rd_kafka_t now
  rd_kafka_poll_set_consumer(feed->kafka_.get());
  return feed;
}

OpportunityFeed::~OpportunityFeed() {
  Stop();
  // Assign-only consumer: closing leaves no group and commits nothing.
  rd_kafka_consumer_close(kafka_.get());
}

void OpportunityFeed::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&stop_mu_);
    if (stopping_) return;
  }
  thread_ = std::thread([this] { Run(); });
}

void OpportunityFeed::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool OpportunityFeed::Backoff(absl::Duration* backoff) {
  absl::MutexLock lock(&stop_mu_);
  stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), *backoff);
  *backoff = std::min(*backoff * 2, options_.retry_max);
  return !stopping_;
}

bool OpportunityFeed::WaitCaughtUp(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto caught_up = [this] { return caught_up_.load(std::memory_order_acquire); };
  return mu_.AwaitWithTimeout(absl::Condition(&caught_up), timeout);
}

absl::Status OpportunityFeed::Setup() {
  rd_kafka_t* rk = kafka_.get();
  const rd_kafka_metadata_t* raw = nullptr;
  RETURN_IF_ERROR(kafka::KafkaStatus(
      rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &raw, ToMs(options_.request_timeout)),
      "metadata"));
  MetadataHandle metadata(raw);
  int partition_count = -1;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (options_.topic != t.topic) continue;
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::KafkaStatus(t.err, absl::StrCat("metadata of ", options_.topic));
    }
    partition_count = t.partition_cnt;
  }
  if (partition_count <= 0) {
    return absl::UnavailableError(absl::StrCat("topic ", options_.topic, " does not exist (yet)"));
  }
  std::vector<PartitionState> states;
  std::vector<kafka::TopicPartition> assignment;
  for (int32_t p = 0; p < partition_count; ++p) {
    int64_t low = 0, high = 0;
    RETURN_IF_ERROR(
        kafka::KafkaStatus(rd_kafka_query_watermark_offsets(rk, options_.topic.c_str(), p, &low,
                                                            &high, ToMs(options_.request_timeout)),
                           absl::StrCat("watermarks of ", options_.topic, "/", p)));
    states.push_back(PartitionState{p, high, low, high <= low});
    assignment.push_back(kafka::TopicPartition{options_.topic, p, RD_KAFKA_OFFSET_BEGINNING});
  }
  kafka::internal::PartitionListHandle list = kafka::internal::ToList(assignment);
  RETURN_IF_ERROR(kafka::KafkaStatus(rd_kafka_assign(rk, list.get()), "assign"));
  absl::MutexLock lock(&mu_);
  partitions_ = std::move(states);
  UpdateCaughtUp();
  log_.Info("opportunity feed assigned",
            {{"topic", options_.topic}, {"partitions", partition_count}});
  return absl::OkStatus();
}

void OpportunityFeed::Run() {
  absl::Duration backoff = options_.retry_initial;
  while (true) {
    absl::Status s = Setup();
    if (s.ok()) break;
    log_.Warn("opportunity feed: cannot start yet, retrying",
              {{"topic", options_.topic}, {"error", s}});
    if (!Backoff(&backoff)) return;
  }
  const int poll_ms = ToMs(options_.poll_timeout);
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stopping_) return;
    }
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(kafka_.get(), poll_ms);
    if (raw == nullptr) continue;
    Handle(kafka::Message(raw));
  }
}

void OpportunityFeed::Handle(const kafka::Message& message) {
  if (!message.ok()) {
    if (message.is_partition_eof()) {
      // The offset of an EOF event is the partition's end: everything before it was read.
      MarkHandled(message.partition(), message.offset());
    } else {
      log_.Warn("opportunity feed: consumer error", {{"error", message.status()}});
    }
    return;
  }
  if (message.topic() != options_.topic) return;
  if (message.has_payload()) {
    HandleSnapshot(message);
  } else {
    HandleTombstone(message);
  }
  // Also after a Stop() mid-retry: harmless, the feed is ending and commits nothing.
  MarkHandled(message.partition(), message.offset() + 1);
}

template <typename Call>
auto OpportunityFeed::Retry(const char* what, Call call) -> decltype(call()) {
  absl::Duration backoff = options_.retry_initial;
  while (true) {
    auto result = call();
    if (result.ok() || absl::IsInvalidArgument(result.status())) return result;
    redis_retries_.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("opportunity feed: state store failed, retrying",
              {{"op", what}, {"error", result.status()}, {"backoff", backoff}});
    if (!Backoff(&backoff)) return result;
  }
}

void OpportunityFeed::HandleSnapshot(const kafka::Message& message) {
  auto invalid = [&](const absl::Status& why) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("opportunity feed: invalid snapshot skipped", {{"topic", options_.topic},
                                                             {"partition", message.partition()},
                                                             {"offset", message.offset()},
                                                             {"reason", event::ReasonOf(why)},
                                                             {"error", why}});
  };
  absl::StatusOr<event::Encoding> encoding =
      event::EncodingFromContentType(message.header("content-type").value_or(""));
  if (!encoding.ok()) return invalid(encoding.status());
  const absl::string_view payload = message.payload();
  absl::StatusOr<v1::Opportunity> snapshot =
      decoder_.DecodeOpportunity(std::string_view(payload.data(), payload.size()), *encoding);
  if (!snapshot.ok()) return invalid(snapshot.status());
  if (message.has_key() && message.key() != snapshot->opportunity_id()) {
    return invalid(absl::InvalidArgumentError(absl::StrCat("message key '", message.key(),
                                                           "' differs from opportunity_id '",
                                                           snapshot->opportunity_id(), "'")));
  }
  absl::StatusOr<crmstate::ApplyOutcome> outcome =
      Retry("apply", [&] { return store_.Apply(*snapshot); });
  if (!outcome.ok()) {
    if (absl::IsInvalidArgument(outcome.status())) invalid(outcome.status());
    return;
  }
  if (*outcome == crmstate::ApplyOutcome::kApplied) {
    applied_.fetch_add(1, std::memory_order_relaxed);
  } else {
    ignored_older_.fetch_add(1, std::memory_order_relaxed);
  }
}

void OpportunityFeed::HandleTombstone(const kafka::Message& message) {
  if (message.key().empty()) {
    invalid_.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("opportunity feed: tombstone without key skipped",
              {{"topic", options_.topic},
               {"partition", message.partition()},
               {"offset", message.offset()}});
    return;
  }
  const std::string id(message.key());
  const absl::Time when = message.timestamp_ms().has_value()
                              ? absl::FromUnixMillis(*message.timestamp_ms())
                              : absl::Now();
  absl::StatusOr<crmstate::DeleteOutcome> outcome =
      Retry("delete", [&] { return store_.Delete(id, when); });
  if (outcome.ok()) deleted_.fetch_add(1, std::memory_order_relaxed);
}

void OpportunityFeed::MarkHandled(int32_t partition, int64_t next_offset) {
  absl::MutexLock lock(&mu_);
  for (PartitionState& p : partitions_) {
    if (p.partition != partition) continue;
    p.next_offset = std::max(p.next_offset, next_offset);
    if (p.next_offset >= p.start_high) p.caught_up = true;
  }
  UpdateCaughtUp();
}

void OpportunityFeed::UpdateCaughtUp() {
  if (caught_up_.load(std::memory_order_relaxed) || partitions_.empty()) return;
  for (const PartitionState& p : partitions_) {
    if (!p.caught_up) return;
  }
  caught_up_.store(true, std::memory_order_release);
  log_.Info(
      "opportunity feed caught up",
      {{"topic", options_.topic}, {"applied", applied_.load()}, {"invalid", invalid_.load()}});
}

OpportunityFeedStats OpportunityFeed::stats() const {
  OpportunityFeedStats s;
  s.applied = applied_.load(std::memory_order_relaxed);
  s.ignored_older = ignored_older_.load(std::memory_order_relaxed);
  s.deleted = deleted_.load(std::memory_order_relaxed);
  s.invalid = invalid_.load(std::memory_order_relaxed);
  s.redis_retries = redis_retries_.load(std::memory_order_relaxed);
  s.caught_up = CaughtUp();
  absl::MutexLock lock(&mu_);
  s.partitions = static_cast<int>(partitions_.size());
  for (const PartitionState& p : partitions_) {
    int64_t low = 0, high = 0;
    // The watermarks librdkafka last saw in fetch responses (no request).
    if (rd_kafka_get_watermark_offsets(kafka_.get(), options_.topic.c_str(), p.partition, &low,
                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      high = p.start_high;
    }
    s.lag += std::max<int64_t>(0, std::max(high, p.start_high) - p.next_offset);
  }
  return s;
}

}  // namespace autostage::ingest
