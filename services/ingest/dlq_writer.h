// DlqWriter: dead-letters an event (spec/events.md, failure scenario 7). The original bytes go
// to the DLQ topic (default `crm.events.dlq`) keyed like the original, through an idempotent
// Producer, with these headers (after the original's own headers, minus any `dlq-*` ones, so a
// replayed and again dead-lettered event carries one set):
//
//   dlq-reason        machine-readable reason (event::ReasonOf codes, or the caller's own, e.g.
//                     "unresolved_opportunity")
//   dlq-detail        human-readable detail (the decode error message), at most 1 KiB
//   dlq-source-topic  original topic
//   dlq-partition     original partition (decimal)
//   dlq-offset        original offset (decimal)
//   dlq-timestamp     original message timestamp, ms since the epoch (absent if it had none)
//   dlq-failed-at     when it was dead-lettered, ms since the epoch
//
// The original headers are kept (content-type above all) so the DLQ message can be replayed
// as is (add `autostage-replay: 1`, contract C4).
//
//   DlqWriter dlq(producer, {.topic = "crm.events.dlq"});
//   RETURN_IF_ERROR(dlq.Write(message, event::ReasonOf(s), s.message(),
//       [](absl::Status acked) { if (acked.ok()) StoreOffset(...); else RetryLater(...); }));
//
// Write copies what it needs from the message, so the caller may drop it right after.
// `done` runs once, on the producer's delivery thread, after the broker acknowledged the
// message (OK) or delivery failed (the producer's error: kDeadlineExceeded after
// message.timeout.ms, kInternal, kCancelled at producer shutdown). Only store the original's
// offset after an OK. When Write itself returns an error, `done` is NOT called:
//   kResourceExhausted  the producer's queue stayed full for options.enqueue_timeout,
//   kInvalidArgument    message too large for the producer (message.max.bytes),
//   kNotFound / kInternal  from Producer::Produce.
//
// Thread safety: thread-safe (the Producer is); the producer is borrowed and must outlive the
// writer and every pending callback.
#ifndef AUTOSTAGE_SERVICES_INGEST_DLQ_WRITER_H_
#define AUTOSTAGE_SERVICES_INGEST_DLQ_WRITER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kafka/kafka_types.h"
#include "common/kafka/message.h"
#include "common/kafka/producer.h"

namespace autostage::ingest {

// Header names (spec/events.md).
inline constexpr absl::string_view kDlqReasonHeader = "dlq-reason";
inline constexpr absl::string_view kDlqDetailHeader = "dlq-detail";
inline constexpr absl::string_view kDlqSourceTopicHeader = "dlq-source-topic";
inline constexpr absl::string_view kDlqPartitionHeader = "dlq-partition";
inline constexpr absl::string_view kDlqOffsetHeader = "dlq-offset";
inline constexpr absl::string_view kDlqTimestampHeader = "dlq-timestamp";
inline constexpr absl::string_view kDlqFailedAtHeader = "dlq-failed-at";
inline constexpr size_t kMaxDlqDetailBytes = 1024;

struct DlqWriterOptions {
  std::string topic = "crm.events.dlq";
  // How long Write waits for room while the producer's local queue is full.
  absl::Duration enqueue_timeout = absl::Seconds(5);
};

// What the writer needs of the original message; a consumed kafka::Message converts via
// DlqSource::From. Tests and replay tools may fill it directly.
struct DlqSource {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;  // empty: no key
  std::string payload;
  std::vector<kafka::Header> headers;
  std::optional<int64_t> timestamp_ms;

  static DlqSource From(const kafka::Message& message);
};

using DlqCallback = std::function<void(absl::Status)>;

class DlqWriter {
 public:
  DlqWriter(kafka::Producer& producer, DlqWriterOptions options)
      : producer_(producer), options_(std::move(options)) {}

  absl::Status Write(const kafka::Message& original, absl::string_view reason,
                     absl::string_view detail, DlqCallback done);
  absl::Status Write(const DlqSource& original, absl::string_view reason, absl::string_view detail,
                     DlqCallback done);

  // The headers Write attaches (exposed for tests and tools). `now_ms`: the dlq-failed-at value.
  static std::vector<kafka::Header> Headers(const DlqSource& original, absl::string_view reason,
                                            absl::string_view detail, int64_t now_ms);

  const std::string& topic() const { return options_.topic; }

 private:
  kafka::Producer& producer_;
  const DlqWriterOptions options_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_DLQ_WRITER_H_
