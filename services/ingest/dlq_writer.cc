#include "services/ingest/dlq_writer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace autostage::ingest {
namespace {

// Cuts at most `max` bytes without splitting a UTF-8 sequence (the detail is read by people).
std::string Truncate(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end));
}

}  // namespace

DlqSource DlqSource::From(const kafka::Message& message) {
  DlqSource source;
  source.topic = message.topic();
  source.partition = message.partition();
  source.offset = message.offset();
  source.key = std::string(message.key());
  source.payload = std::string(message.payload());
  source.headers = message.headers();
  source.timestamp_ms = message.timestamp_ms();
  return source;
}

std::vector<kafka::Header> DlqWriter::Headers(const DlqSource& original, absl::string_view reason,
                                              absl::string_view detail, int64_t now_ms) {
  std::vector<kafka::Header> headers;
  headers.reserve(original.headers.size() + 7);
  for (const kafka::Header& h : original.headers) {
    if (!absl::StartsWithIgnoreCase(h.key, "dlq-")) headers.push_back(h);
  }
  headers.push_back({std::string(kDlqReasonHeader), std::string(reason)});
  headers.push_back({std::string(kDlqDetailHeader), Truncate(detail, kMaxDlqDetailBytes)});
  headers.push_back({std::string(kDlqSourceTopicHeader), original.topic});
  headers.push_back({std::string(kDlqPartitionHeader), absl::StrCat(original.partition)});
  headers.push_back({std::string(kDlqOffsetHeader), absl::StrCat(original.offset)});
  if (original.timestamp_ms.has_value()) {
    headers.push_back({std::string(kDlqTimestampHeader), absl::StrCat(*original.timestamp_ms)});
  }
  headers.push_back({std::string(kDlqFailedAtHeader), absl::StrCat(now_ms)});
  return headers;
}

absl::Status DlqWriter::Write(const kafka::Message& original, absl::string_view reason,
                              absl::string_view detail, DlqCallback done) {
  return Write(DlqSource::From(original), reason, detail, std::move(done));
}

absl::Status DlqWriter::Write(const DlqSource& original, absl::string_view reason,
                              absl::string_view detail, DlqCallback done) {
  if (reason.empty()) return absl::InvalidArgumentError("dlq: empty reason");
  const std::vector<kafka::Header> headers =
      Headers(original, reason, detail, absl::ToUnixMillis(absl::Now()));
  kafka::DeliveryCallback on_delivery = nullptr;
  if (done) {
    on_delivery = [done = std::move(done)](const kafka::DeliveryReport& report) {
      done(report.status);
    };
  }
  // A full local queue drains as the broker acknowledges; wait for room a bounded time. The
  // wait is a condition-free backoff because the producer offers no "room available" signal.
  const absl::Time deadline = absl::Now() + options_.enqueue_timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (true) {
    absl::Status s =
        producer_.Produce(options_.topic, original.key, original.payload, headers, on_delivery);
    if (!absl::IsResourceExhausted(s) || absl::Now() >= deadline) return s;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(50));
  }
}

}  // namespace autostage::ingest
