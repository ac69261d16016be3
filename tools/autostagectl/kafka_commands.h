// The ops commands of autostagectl over Kafka: dlq list, dlq redrive, replay, rules check.
// They read topics with an assigned consumer that commits nothing (internal/topic_reader.h),
// so they never move the services' consumer groups. Each writes its result to `out`, one error
// line to `err`, and returns the exit code (exit_codes.h): kExitKafka when Kafka is
// unreachable or refuses, kExitUsage for bad options.
//
// Re-produced messages keep their key and headers (content-type included) and carry the
// header `autostage-replay: 1` (contract C4: ingest judges them again despite its event_id
// dedupe; review answers `duplicate` for proposals it already decided).
//
// Thread safety: calls are independent; each makes its own clients.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_KAFKA_COMMANDS_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_KAFKA_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tools/autostagectl/format.h"
#include "tools/autostagectl/settings.h"

namespace autostage::ctl {

inline constexpr char kReplayHeader[] = "autostage-replay";
inline constexpr char kDefaultDlqTopic[] = "crm.events.dlq";
inline constexpr char kDefaultOpportunitiesTopic[] = "crm.opportunities";

struct KafkaContext {
  std::string bootstrap;
  // Metadata/watermark calls, and the longest wait without progress while reading.
  absl::Duration timeout = absl::Seconds(10);
  const StageNames* stages = nullptr;  // may be null
  bool json = false;
  Highlight highlight = Highlight::kBrackets;
};

struct DlqListOptions {
  std::string topic = kDefaultDlqTopic;
  int limit = 50;      // the newest N entries
  std::string reason;  // only this dlq-reason (empty: all)
};
// Text: a table (DLQ P:OFFSET, TIME, REASON, SOURCE TOPIC/P/OFFSET, EVENT, DETAIL).
// JSON: {"topic", "total", "entries":[{dlq_partition, dlq_offset, timestamp_ms, reason,
// detail, source_topic, source_partition, source_offset, event_id, key, content_type,
// payload_bytes, payload}]} (payload only when it is UTF-8).
int DlqList(const KafkaContext& ctx, const DlqListOptions& options, std::ostream& out,
            std::ostream& err);

struct DlqRedriveOptions {
  std::string topic = kDefaultDlqTopic;
  std::string reason;                  // only entries with this dlq-reason
  std::vector<std::string> event_ids;  // only these events (empty: all)
  bool dry_run = false;
};
// Sends each selected original message (the newest DLQ entry per source topic/partition/
// offset) back to its source topic. Entries without dlq-source-topic are skipped and counted.
int DlqRedrive(const KafkaContext& ctx, const DlqRedriveOptions& options, std::ostream& out,
               std::ostream& err);

// A window bound: an offset (applied to every partition) or a time (RFC 3339).
struct Bound {
  std::optional<int64_t> offset;
  std::optional<absl::Time> time;
};
// "1234" → offset; "2026-11-27T09:00:00Z" → time; else kInvalidArgument.
absl::StatusOr<Bound> ParseBound(const std::string& text);

struct ReplayOptions {
  std::string topic;
  Bound from;                        // inclusive
  std::optional<Bound> to;           // exclusive; none: up to the end as of now
  std::optional<int32_t> partition;  // only this partition
  bool dry_run = false;
};
int Replay(const KafkaContext& ctx, const ReplayOptions& options, std::ostream& out,
           std::ostream& err);

struct RulesCheckOptions {
  std::string rules_dir;
  std::string topic;  // events
  int last = 100;     // the newest N events of the topic (all partitions, by timestamp)
  // Opportunity snapshots: a JSON-lines file, else the compacted topic (latest per key wins,
  // tombstones delete).
  std::string opportunities_file;
  std::string opportunities_topic = kDefaultOpportunitiesTopic;
  // The rules running now: when set, also list every event whose outcome differs between
  // them and `rules_dir` (what the new rules would change).
  std::string baseline_dir;
};
// Judges the events with the rules library and prints what would be proposed; proposes
// nothing. Text: a table of would-be proposals and a summary of the other outcomes. JSON:
// {"events", "undecodable", "proposals":[{event_id, opportunity_id, proposal_id, from_stage,
// to_stage, rule_id, confidence, snippet}], "no_proposal":{reason: count}}. With a baseline,
// also "changes":[{event_id, opportunity_id, before, after}] (to_stage or null), and in text a
// CHANGES table.
int RulesCheck(const KafkaContext& ctx, const RulesCheckOptions& options, std::ostream& out,
               std::ostream& err);

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_KAFKA_COMMANDS_H_
