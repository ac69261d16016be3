#include "tools/autostagectl/kafka_commands.h"

#include <simdjson.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/event/decode.h"
#include "common/kafka/producer.h"
#include "common/rules/config.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"
#include "tools/autostagectl/exit_codes.h"
#include "tools/autostagectl/internal/topic_reader.h"

namespace autostage::ctl {
namespace {

using internal::PartitionWindow;
using internal::TopicReader;

constexpr char kDlqReason[] = "dlq-reason";
constexpr char kDlqDetail[] = "dlq-detail";
constexpr char kDlqSourceTopic[] = "dlq-source-topic";
constexpr char kDlqPartition[] = "dlq-partition";
constexpr char kDlqOffset[] = "dlq-offset";
constexpr char kDlqEventId[] = "dlq-event-id";

int KafkaFail(const KafkaContext& ctx, const absl::Status& status, std::ostream& err) {
  if (absl::IsUnavailable(status)) {
    return Fail(err, kExitKafka,
                absl::StrCat("kafka at ", ctx.bootstrap, " is unreachable: ", status.message()));
  }
  return Fail(err, kExitKafka, absl::StrCat("kafka: ", status.message()));
}

// The event id of a message whose payload may be invalid (that is why it is in the DLQ):
// the dlq-event-id header, else a lenient look into JSON or protobuf, else "".
std::string EventIdOf(const kafka::Message& m) {
  if (std::optional<std::string> id = m.header(kDlqEventId)) return *id;
  const absl::string_view payload = m.payload();
  const std::optional<std::string> content_type = m.header("content-type");
  absl::StatusOr<event::Encoding> encoding =
      event::EncodingFromContentType(content_type.value_or(""));
  if (encoding.ok() && *encoding == event::Encoding::kProtobuf) {
    v1::Event e;
    if (e.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return e.event_id();
    return "";
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(payload.data(), payload.size());
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return "";
  std::string_view id;
  if (root["event_id"].get(id) != simdjson::SUCCESS) return "";
  return std::string(id);
}

std::string HeaderOr(const kafka::Message& m, absl::string_view key, absl::string_view dflt) {
  std::optional<std::string> v = m.header(key);
  return v && !v->empty() ? *v : std::string(dflt);
}

std::string TimeText(std::optional<int64_t> ms) {
  if (!ms) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(*ms), absl::UTCTimeZone());
}

// Headers for a re-produced message: the originals minus DLQ bookkeeping and any earlier
// replay mark, plus `autostage-replay: 1`.
std::vector<kafka::Header> ReplayHeaders(const kafka::Message& m) {
  std::vector<kafka::Header> headers;
  for (kafka::Header& h : m.headers()) {
    if (absl::StartsWithIgnoreCase(h.key, "dlq-") || h.key == kReplayHeader) continue;
    headers.push_back(std::move(h));
  }
  headers.push_back({kReplayHeader, "1"});
  return headers;
}

// Produces messages and counts their deliveries.
class Resender {
 public:
  static absl::StatusOr<std::unique_ptr<Resender>> Create(const KafkaContext& ctx) {
    absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::Producer::Create(
        {{"bootstrap.servers", ctx.bootstrap},
         {"log_level", "0"},  // errors are reported as one line
         {"message.timeout.ms", std::to_string(absl::ToInt64Milliseconds(ctx.timeout))}});
    if (!producer.ok()) return producer.status();
    return std::unique_ptr<Resender>(new Resender(*std::move(producer), ctx.timeout));
  }

  absl::Status Send(const std::string& topic, const kafka::Message& m) {
    return producer_->Produce(topic, m.key(), m.payload(), ReplayHeaders(m),
                              [this](const kafka::DeliveryReport& r) {
                                absl::MutexLock lock(&mu_);
                                if (r.status.ok()) {
                                  ++delivered_;
                                } else if (first_error_.ok()) {
                                  first_error_ = r.status;
                                }
                              });
  }

  // OK when every sent message was delivered.
  absl::Status Finish(size_t sent) {
    absl::Status flushed = producer_->Flush(absl::Now() + timeout_ + absl::Seconds(5));
    absl::MutexLock lock(&mu_);
    if (!first_error_.ok()) return first_error_;
    if (!flushed.ok()) return flushed;
    if (delivered_ != sent) {
      return absl::InternalError(absl::StrCat(delivered_, " of ", sent, " delivered"));
    }
    return absl::OkStatus();
  }

 private:
  Resender(std::unique_ptr<kafka::Producer> producer, absl::Duration timeout)
      : producer_(std::move(producer)), timeout_(timeout) {}

  std::unique_ptr<kafka::Producer> producer_;
  absl::Duration timeout_;
  absl::Mutex mu_;
  size_t delivered_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
};

// The whole topic, every partition.
absl::StatusOr<std::vector<kafka::Message>> ReadAll(TopicReader& reader, const std::string& topic) {
  absl::StatusOr<std::vector<PartitionWindow>> windows = reader.Windows(topic);
  if (!windows.ok()) return windows.status();
  return reader.Read(topic, *windows);
}

void SortByTime(std::vector<kafka::Message>* messages) {
  std::stable_sort(
      messages->begin(), messages->end(), [](const kafka::Message& a, const kafka::Message& b) {
        return std::make_tuple(a.timestamp_ms().value_or(0), a.partition(), a.offset()) <
               std::make_tuple(b.timestamp_ms().value_or(0), b.partition(), b.offset());
      });
}

struct DlqEntry {
  const kafka::Message* message;
  std::string reason, detail, source_topic, source_partition, source_offset, event_id;
};

DlqEntry Describe(const kafka::Message& m) {
  return {&m,
          HeaderOr(m, kDlqReason, "-"),
          HeaderOr(m, kDlqDetail, ""),
          HeaderOr(m, kDlqSourceTopic, ""),
          HeaderOr(m, kDlqPartition, "-"),
          HeaderOr(m, kDlqOffset, "-"),
          EventIdOf(m)};
}

}  // namespace

int DlqList(const KafkaContext& ctx, const DlqListOptions& options, std::ostream& out,
            std::ostream& err) {
  if (options.limit < 1) return Fail(err, kExitUsage, "--limit must be at least 1");
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      TopicReader::Open(ctx.bootstrap, ctx.timeout);
  if (!reader.ok()) return KafkaFail(ctx, reader.status(), err);
  absl::StatusOr<std::vector<kafka::Message>> messages = ReadAll(**reader, options.topic);
  if (!messages.ok()) return KafkaFail(ctx, messages.status(), err);
  SortByTime(&*messages);
  std::vector<DlqEntry> entries;
  for (const kafka::Message& m : *messages) {
    DlqEntry e = Describe(m);
    if (!options.reason.empty() && e.reason != options.reason) continue;
    entries.push_back(std::move(e));
  }
  const size_t total = entries.size();
  if (entries.size() > static_cast<size_t>(options.limit)) {
    entries.erase(entries.begin(), entries.end() - options.limit);
  }
  if (ctx.json) {
    std::vector<std::string> items;
    for (const DlqEntry& e : entries) {
      const kafka::Message& m = *e.message;
      const absl::string_view payload = m.payload();
      std::string item = absl::StrCat(
          "{\"dlq_partition\":", m.partition(), ",\"dlq_offset\":", m.offset(),
          ",\"timestamp_ms\":", m.timestamp_ms().value_or(0), ",\"reason\":", JsonQuote(e.reason),
          ",\"detail\":", JsonQuote(e.detail), ",\"source_topic\":", JsonQuote(e.source_topic),
          ",\"source_partition\":", JsonQuote(e.source_partition),
          ",\"source_offset\":", JsonQuote(e.source_offset),
          ",\"event_id\":", JsonQuote(e.event_id), ",\"key\":", JsonQuote(m.key()),
          ",\"content_type\":", JsonQuote(HeaderOr(m, "content-type", "")),
          ",\"payload_bytes\":", payload.size());
      if (simdjson::validate_utf8(payload.data(), payload.size())) {
        absl::StrAppend(&item, ",\"payload\":", JsonQuote(payload));
      } else {
        absl::StrAppend(&item, ",\"payload_base64\":\"", absl::Base64Escape(payload), "\"");
      }
      items.push_back(item + "}");
    }
    out << "{\"topic\":" << JsonQuote(options.topic) << ",\"total\":" << total << ",\"entries\":["
        << absl::StrJoin(items, ",") << "]}\n";
    return kExitOk;
  }
  if (entries.empty()) {
    out << "no entries in " << options.topic << "\n";
    return kExitOk;
  }
  Table table({"DLQ", "TIME (UTC)", "REASON", "FROM", "EVENT", "DETAIL"});
  for (const DlqEntry& e : entries) {
    const kafka::Message& m = *e.message;
    table.Add({absl::StrCat(m.partition(), ":", m.offset()), TimeText(m.timestamp_ms()), e.reason,
               absl::StrCat(e.source_topic.empty() ? "?" : e.source_topic, "/", e.source_partition,
                            "@", e.source_offset),
               e.event_id.empty() ? "-" : e.event_id,
               e.detail.empty() ? "-" : Truncate(OneLine(e.detail), 80)});
  }
  table.Print(out);
  out << entries.size() << " of " << total << " entries\n";
  return kExitOk;
}

int DlqRedrive(const KafkaContext& ctx, const DlqRedriveOptions& options, std::ostream& out,
               std::ostream& err) {
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      TopicReader::Open(ctx.bootstrap, ctx.timeout);
  if (!reader.ok()) return KafkaFail(ctx, reader.status(), err);
  absl::StatusOr<std::vector<kafka::Message>> messages = ReadAll(**reader, options.topic);
  if (!messages.ok()) return KafkaFail(ctx, messages.status(), err);
  SortByTime(&*messages);
  const std::set<std::string> ids(options.event_ids.begin(), options.event_ids.end());
  // A message dead-lettered again after an earlier redrive appears twice: send it once.
  std::map<std::tuple<std::string, std::string, std::string>, DlqEntry> latest;
  int skipped_no_source = 0;
  for (const kafka::Message& m : *messages) {
    DlqEntry e = Describe(m);
    if (!options.reason.empty() && e.reason != options.reason) continue;
    if (!ids.empty() && ids.count(e.event_id) == 0) continue;
    if (e.source_topic.empty()) {
      ++skipped_no_source;
      continue;
    }
    latest.insert_or_assign({e.source_topic, e.source_partition, e.source_offset}, std::move(e));
  }
  std::vector<const DlqEntry*> chosen;
  for (const auto& [key, e] : latest) chosen.push_back(&e);
  std::sort(chosen.begin(), chosen.end(), [](const DlqEntry* a, const DlqEntry* b) {
    return std::make_pair(a->message->partition(), a->message->offset()) <
           std::make_pair(b->message->partition(), b->message->offset());
  });
  if (!options.dry_run && !chosen.empty()) {
    absl::StatusOr<std::unique_ptr<Resender>> resender = Resender::Create(ctx);
    if (!resender.ok()) return KafkaFail(ctx, resender.status(), err);
    for (const DlqEntry* e : chosen) {
      absl::Status s = (*resender)->Send(e->source_topic, *e->message);
      if (!s.ok()) return KafkaFail(ctx, s, err);
    }
    absl::Status done = (*resender)->Finish(chosen.size());
    if (!done.ok()) return KafkaFail(ctx, done, err);
  }
  if (ctx.json) {
    std::vector<std::string> items;
    for (const DlqEntry* e : chosen) {
      items.push_back(absl::StrCat(
          "{\"event_id\":", JsonQuote(e->event_id), ",\"topic\":", JsonQuote(e->source_topic),
          ",\"reason\":", JsonQuote(e->reason), ",\"dlq_partition\":", e->message->partition(),
          ",\"dlq_offset\":", e->message->offset(), "}"));
    }
    out << "{\"dry_run\":" << (options.dry_run ? "true" : "false") << ",\"redriven\":["
        << absl::StrJoin(items, ",") << "],\"skipped_no_source\":" << skipped_no_source << "}\n";
    return kExitOk;
  }
  for (const DlqEntry* e : chosen) {
    out << (options.dry_run ? "would send " : "sent ") << (e->event_id.empty() ? "-" : e->event_id)
        << " → " << e->source_topic << "  (dlq " << e->message->partition() << ":"
        << e->message->offset() << ", reason " << e->reason << ")\n";
  }
  out << (options.dry_run ? "would redrive " : "redrove ") << chosen.size() << " message"
      << (chosen.size() == 1 ? "" : "s");
  if (skipped_no_source > 0)
    out << "; skipped " << skipped_no_source << " without " << kDlqSourceTopic;
  out << "\n";
  return kExitOk;
}

absl::StatusOr<Bound> ParseBound(const std::string& text) {
  Bound bound;
  int64_t offset = 0;
  if (absl::SimpleAtoi(text, &offset)) {
    if (offset < 0) return absl::InvalidArgumentError(absl::StrCat("negative offset ", text));
    bound.offset = offset;
    return bound;
  }
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    bound.time = time;
    return bound;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", text, "\" is neither an offset nor an RFC 3339 time (", error, ")"));
}

int Replay(const KafkaContext& ctx, const ReplayOptions& options, std::ostream& out,
           std::ostream& err) {
  if (options.topic.empty()) return Fail(err, kExitUsage, "replay needs --topic");
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      TopicReader::Open(ctx.bootstrap, ctx.timeout);
  if (!reader.ok()) return KafkaFail(ctx, reader.status(), err);
  absl::StatusOr<std::vector<PartitionWindow>> windows = (*reader)->Windows(options.topic);
  if (!windows.ok()) return KafkaFail(ctx, windows.status(), err);
  std::vector<PartitionWindow> chosen;
  for (PartitionWindow w : *windows) {
    if (options.partition && w.partition != *options.partition) continue;
    const int64_t low = w.begin;
    if (options.from.offset) w.begin = std::max(low, *options.from.offset);
    if (options.from.time) {
      absl::StatusOr<int64_t> at =
          (*reader)->OffsetForTime(options.topic, w.partition, *options.from.time);
      if (!at.ok()) return KafkaFail(ctx, at.status(), err);
      if (*at >= 0) w.begin = std::max(low, *at);
    }
    if (options.to && options.to->offset) w.end = std::min(w.end, *options.to->offset);
    chosen.push_back(w);
  }
  if (options.partition && chosen.empty()) {
    return Fail(err, kExitUsage,
                absl::StrCat("topic ", options.topic, " has no partition ", *options.partition));
  }
  absl::StatusOr<std::vector<kafka::Message>> messages = (*reader)->Read(options.topic, chosen);
  if (!messages.ok()) return KafkaFail(ctx, messages.status(), err);
  // Times are checked on every message: brokers without a time index give no start offset.
  std::vector<const kafka::Message*> selected;
  for (const kafka::Message& m : *messages) {
    const absl::Time t = absl::FromUnixMillis(m.timestamp_ms().value_or(0));
    if (options.from.time && t < *options.from.time) continue;
    if (options.to && options.to->time && t >= *options.to->time) continue;
    selected.push_back(&m);
  }
  if (!options.dry_run && !selected.empty()) {
    absl::StatusOr<std::unique_ptr<Resender>> resender = Resender::Create(ctx);
    if (!resender.ok()) return KafkaFail(ctx, resender.status(), err);
    for (const kafka::Message* m : selected) {
      absl::Status s = (*resender)->Send(options.topic, *m);
      if (!s.ok()) return KafkaFail(ctx, s, err);
    }
    absl::Status done = (*resender)->Finish(selected.size());
    if (!done.ok()) return KafkaFail(ctx, done, err);
  }
  std::map<int32_t, std::pair<int64_t, int64_t>> ranges;  // partition → first, last offset
  for (const kafka::Message* m : selected) {
    auto [it, inserted] = ranges.try_emplace(m->partition(), m->offset(), m->offset());
    it->second.second = m->offset();
  }
  if (ctx.json) {
    std::vector<std::string> items;
    for (const auto& [p, r] : ranges) {
      items.push_back(absl::StrCat("{\"partition\":", p, ",\"first_offset\":", r.first,
                                   ",\"last_offset\":", r.second, "}"));
    }
    out << "{\"topic\":" << JsonQuote(options.topic)
        << ",\"dry_run\":" << (options.dry_run ? "true" : "false")
        << ",\"messages\":" << selected.size() << ",\"partitions\":[" << absl::StrJoin(items, ",")
        << "]}\n";
    return kExitOk;
  }
  for (const auto& [p, r] : ranges) {
    out << "  partition " << p << ": offsets " << r.first << ".." << r.second << "\n";
  }
  out << (options.dry_run ? "would replay " : "replayed ") << selected.size() << " message"
      << (selected.size() == 1 ? "" : "s") << " to " << options.topic << " with " << kReplayHeader
      << ": 1\n";
  return kExitOk;
}

namespace {

struct LoadedRules {
  std::shared_ptr<const rules::RuleSet> rules;
  std::unique_ptr<text::GuardAnalyzer> guards;
  std::unique_ptr<rules::Engine> engine;
};

absl::StatusOr<LoadedRules> LoadEngine(const std::string& rules_dir) {
  absl::StatusOr<rules::RulesConfig> config = rules::LoadRulesDir(rules_dir);
  if (!config.ok()) return config.status();
  auto normalizer = text::Normalizer::Create();
  if (!normalizer.ok()) return normalizer.status();
  std::shared_ptr<const text::Normalizer> shared_normalizer(*std::move(normalizer));
  auto set = rules::RuleSet::Compile(*std::move(config), std::move(shared_normalizer));
  if (!set.ok()) return set.status();
  absl::StatusOr<std::unique_ptr<text::GuardAnalyzer>> guards = text::GuardAnalyzer::Create();
  if (!guards.ok()) return guards.status();
  auto engine = rules::Engine::Create(*set, **guards);
  if (!engine.ok()) return engine.status();
  return LoadedRules{*std::move(set), *std::move(guards), *std::move(engine)};
}

// The decoder takes std::string_view; kafka::Message hands out absl::string_view.
std::string_view View(absl::string_view s) { return {s.data(), s.size()}; }

absl::StatusOr<event::Encoding> EncodingOf(const kafka::Message& m) {
  return event::EncodingFromContentType(m.header("content-type").value_or(""));
}

}  // namespace

int RulesCheck(const KafkaContext& ctx, const RulesCheckOptions& options, std::ostream& out,
               std::ostream& err) {
  if (options.rules_dir.empty()) return Fail(err, kExitUsage, "rules check needs --rules DIR");
  if (options.topic.empty()) return Fail(err, kExitUsage, "rules check needs --against TOPIC");
  if (options.last < 1) return Fail(err, kExitUsage, "--last must be at least 1");
  absl::StatusOr<LoadedRules> loaded = LoadEngine(options.rules_dir);
  if (!loaded.ok()) {
    return Fail(err, kExitUsage,
                absl::StrCat("rules in ", options.rules_dir, ": ", loaded.status().message()));
  }
  std::optional<LoadedRules> baseline;
  if (!options.baseline_dir.empty()) {
    absl::StatusOr<LoadedRules> b = LoadEngine(options.baseline_dir);
    if (!b.ok()) {
      return Fail(err, kExitUsage,
                  absl::StrCat("rules in ", options.baseline_dir, ": ", b.status().message()));
    }
    baseline = *std::move(b);
  }
  absl::StatusOr<std::unique_ptr<TopicReader>> reader =
      TopicReader::Open(ctx.bootstrap, ctx.timeout);
  if (!reader.ok()) return KafkaFail(ctx, reader.status(), err);

  std::unique_ptr<rules::SnapshotResolver> resolver;
  if (!options.opportunities_file.empty()) {
    absl::StatusOr<rules::SnapshotResolver> from_file =
        rules::SnapshotResolver::FromFile(options.opportunities_file);
    if (!from_file.ok()) return Fail(err, kExitUsage, from_file.status().message());
    resolver = std::make_unique<rules::SnapshotResolver>(*std::move(from_file));
  } else {
    absl::StatusOr<std::vector<kafka::Message>> snapshots =
        ReadAll(**reader, options.opportunities_topic);
    if (!snapshots.ok()) return KafkaFail(ctx, snapshots.status(), err);
    std::map<std::string, v1::Opportunity> latest;  // by key; a tombstone deletes
    for (const kafka::Message& m : *snapshots) {
      const std::string key(m.key());
      if (m.payload().empty()) {
        latest.erase(key);
        continue;
      }
      absl::StatusOr<event::Encoding> encoding = EncodingOf(m);
      if (!encoding.ok()) continue;
      absl::StatusOr<v1::Opportunity> opp = event::DecodeOpportunity(View(m.payload()), *encoding);
      if (!opp.ok()) continue;  // ingest dead-letters these; nothing to resolve against
      latest[key.empty() ? opp->opportunity_id() : key] = *std::move(opp);
    }
    std::vector<v1::Opportunity> all;
    for (auto& [key, opp] : latest) all.push_back(std::move(opp));
    resolver = std::make_unique<rules::SnapshotResolver>(std::move(all));
  }

  absl::StatusOr<std::vector<PartitionWindow>> windows = (*reader)->Windows(options.topic);
  if (!windows.ok()) return KafkaFail(ctx, windows.status(), err);
  for (PartitionWindow& w : *windows) w.begin = std::max(w.begin, w.end - options.last);
  absl::StatusOr<std::vector<kafka::Message>> messages = (*reader)->Read(options.topic, *windows);
  if (!messages.ok()) return KafkaFail(ctx, messages.status(), err);
  SortByTime(&*messages);
  if (messages->size() > static_cast<size_t>(options.last)) {
    messages->erase(messages->begin(), messages->end() - options.last);
  }

  int undecodable = 0;
  std::map<std::string, int> no_proposal;
  std::vector<rules::Decision> proposals;
  struct Change {
    std::string event_id, opportunity_id, before, after;  // to_stage, "" = no proposal
  };
  std::vector<Change> changes;
  for (const kafka::Message& m : *messages) {
    absl::StatusOr<event::Encoding> encoding = EncodingOf(m);
    absl::StatusOr<v1::Event> e = encoding.ok() ? event::DecodeEvent(View(m.payload()), *encoding)
                                                : absl::StatusOr<v1::Event>(encoding.status());
    if (!e.ok()) {
      ++undecodable;
      continue;
    }
    absl::StatusOr<rules::Decision> d = loaded->engine->Process(*e, *resolver);
    if (!d.ok()) return Fail(err, kExitError, absl::StrCat("rules engine: ", d.status().message()));
    if (baseline) {
      absl::StatusOr<rules::Decision> before = baseline->engine->Process(*e, *resolver);
      if (!before.ok()) {
        return Fail(err, kExitError, absl::StrCat("rules engine: ", before.status().message()));
      }
      const std::string was = before->proposal ? before->proposal->to_stage() : "";
      const std::string now = d->proposal ? d->proposal->to_stage() : "";
      if (was != now) changes.push_back({d->event_id, d->opportunity_id, was, now});
    }
    if (d->proposal) {
      proposals.push_back(*std::move(d));
    } else {
      ++no_proposal[d->reason.empty() ? "no_proposal" : d->reason];
    }
  }

  auto snippet_of = [](const v1::Proposal& p) {
    return p.evidence_size() > 0 ? p.evidence(0).snippet() : std::string();
  };
  if (ctx.json) {
    std::vector<std::string> items;
    for (const rules::Decision& d : proposals) {
      const v1::Proposal& p = *d.proposal;
      items.push_back(absl::StrCat("{\"event_id\":", JsonQuote(d.event_id),
                                   ",\"opportunity_id\":", JsonQuote(d.opportunity_id),
                                   ",\"proposal_id\":", JsonQuote(p.proposal_id()),
                                   ",\"from_stage\":", JsonQuote(p.from_stage()), ",\"to_stage\":",
                                   JsonQuote(p.to_stage()), ",\"rule_id\":", JsonQuote(p.rule_id()),
                                   ",\"confidence\":", absl::StrFormat("%.4g", p.confidence()),
                                   ",\"snippet\":", JsonQuote(snippet_of(p)), "}"));
    }
    std::vector<std::string> reasons;
    for (const auto& [reason, n] : no_proposal) {
      reasons.push_back(absl::StrCat(JsonQuote(reason), ":", n));
    }
    out << "{\"events\":" << messages->size() << ",\"undecodable\":" << undecodable
        << ",\"proposals\":[" << absl::StrJoin(items, ",") << "],\"no_proposal\":{"
        << absl::StrJoin(reasons, ",") << "}";
    if (baseline) {
      auto stage = [](const std::string& s) { return s.empty() ? "null" : JsonQuote(s); };
      std::vector<std::string> diffs;
      for (const Change& c : changes) {
        diffs.push_back(absl::StrCat("{\"event_id\":", JsonQuote(c.event_id),
                                     ",\"opportunity_id\":", JsonQuote(c.opportunity_id),
                                     ",\"before\":", stage(c.before), ",\"after\":", stage(c.after),
                                     "}"));
      }
      out << ",\"changes\":[" << absl::StrJoin(diffs, ",") << "]";
    }
    out << "}\n";
    return kExitOk;
  }
  if (!proposals.empty()) {
    Table table({"EVENT", "OPPORTUNITY", "FROM → TO", "RULE", "CONF", "EVIDENCE"});
    for (const rules::Decision& d : proposals) {
      const v1::Proposal& p = *d.proposal;
      auto name = [&](const std::string& stage) {
        return ctx.stages != nullptr ? ctx.stages->Display(p.pipeline(), stage) : stage;
      };
      std::vector<std::string> terms;
      if (p.evidence_size() > 0) {
        terms.assign(p.evidence(0).matched_terms().begin(), p.evidence(0).matched_terms().end());
      }
      table.Add({d.event_id, d.opportunity_id,
                 absl::StrCat(name(p.from_stage()), " → ", name(p.to_stage())), p.rule_id(),
                 absl::StrFormat("%.2f", p.confidence()),
                 HighlightTerms(Truncate(snippet_of(p), 72), terms, ctx.highlight)});
    }
    table.Print(out);
  }
  if (baseline) {
    if (changes.empty()) {
      out << "no changes against " << options.baseline_dir << "\n";
    } else {
      Table diff({"CHANGED EVENT", "OPPORTUNITY", "BASELINE", "NEW RULES"});
      for (const Change& c : changes) {
        diff.Add({c.event_id, c.opportunity_id.empty() ? "-" : c.opportunity_id,
                  c.before.empty() ? "(none)" : c.before, c.after.empty() ? "(none)" : c.after});
      }
      diff.Print(out);
    }
  }
  out << messages->size() << " events from " << options.topic << ": " << proposals.size()
      << " would be proposed (nothing was proposed)";
  if (undecodable > 0) out << ", " << undecodable << " undecodable";
  for (const auto& [reason, n] : no_proposal) out << ", " << reason << " " << n;
  if (baseline) out << "; " << changes.size() << " changed against the baseline";
  out << "\n";
  return kExitOk;
}

}  // namespace autostage::ctl
