#include "tools/loadgen/loadgen.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/event/decode.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace autostage::loadgen {
namespace {

// A customer's sentence and the stage the default b2b_standard rules propose for it on an
// opportunity at `prospecting` (checked by loadgen_kafkatest through rulectl's engine).
struct Trigger {
  const char* stage;
  const char* zh;
  const char* en;
};
constexpr Trigger kTriggers[] = {
    {"needs_analysis", "我们的需求是先把销售和客服两个模块上线，主要是线索分配和工单流转。",
     "Our requirements are as follows: single sign-on, audit logs and lead routing for the "
     "sales team."},
    {"proposal", "麻烦发一份正式报价单给我们，我们这边内部走采购流程。",
     "Please send us a formal quotation for the sales and service modules."},
    {"contract", "合同我们已经盖章了，扫描件见附件，原件今天寄出。",
     "We have signed the contract and attached the scanned copy to this message."},
};

// Neutral small talk: logistics, greetings, facts without stage evidence.
constexpr const char* kFillerZh[] = {
    "会议室在三楼东侧，到了前台报一下名字就可以。",
    "附近停车比较方便，地下车库入口在大楼北面。",
    "谢谢您今天抽时间沟通，我们团队都觉得收获很大。",
    "这周天气变化比较大，出门记得多带件外套。",
    "我们公司的新办公室已经搬到园区二期，地址在签名里。",
    "下午的培训改到了五楼的大会议室，时间不变。",
    "春节前后物流会慢一些，大家提前做好安排。",
    "我们行政同事会把访客名单提前报给物业。",
};
constexpr const char* kFillerEn[] = {
    "The meeting room is on the third floor, east wing; just give your name at the front desk.",
    "Parking is easy nearby, the garage entrance is on the north side of the building.",
    "Thanks for taking the time to talk today, the whole team enjoyed the conversation.",
    "The weather has been changing a lot this week, so bring a jacket when you travel.",
    "Our new office is in phase two of the business park; the address is in my signature.",
    "The afternoon training moved to the large room on the fifth floor, same time as before.",
    "Shipping tends to slow down around the holidays, so plan a little ahead.",
    "Our office manager will send the visitor list to building security in advance.",
};
constexpr const char* kNamesZh[] = {"王建华", "李婷", "张伟", "刘洋",
                                    "陈静",   "赵刚", "孙丽", "周敏"};
constexpr const char* kNamesEn[] = {"Alex Chen",   "Maria Lopez",  "John Smith",  "Emma Brown",
                                    "Liam Wilson", "Olivia Davis", "Noah Miller", "Ava Moore"};
constexpr const char* kMalformedReasons[] = {"malformed_json", "missing_field", "invalid_utf8",
                                             "wrong_type"};

google::protobuf::Timestamp ToProto(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

void ReplaceFirst(std::string* s, absl::string_view from, absl::string_view to) {
  const size_t at = s->find(from.data(), 0, from.size());
  if (at != std::string::npos) s->replace(at, from.size(), to.data(), to.size());
}

}  // namespace

const char* KindName(EventKind kind) {
  switch (kind) {
    case EventKind::kTrigger:
      return "trigger";
    case EventKind::kFiller:
      return "filler";
    case EventKind::kMalformed:
      return "malformed";
  }
  return "?";
}

EventGenerator::EventGenerator(GeneratorOptions options)
    : options_(std::move(options)), rng_(options_.seed) {
  options_.opportunities = std::max(1, options_.opportunities);
  if (options_.sources.empty()) options_.sources = {"email", "call", "chat"};
}

absl::Time EventGenerator::TimeOf(int64_t n) const {
  return options_.fixed_time.has_value() ? *options_.fixed_time + absl::Milliseconds(n)
                                         : absl::Now();
}

std::vector<v1::Opportunity> EventGenerator::Opportunities() const {
  std::vector<v1::Opportunity> result;
  result.reserve(options_.opportunities);
  for (int i = 0; i < options_.opportunities; ++i) {
    v1::Opportunity o;
    const std::string n = absl::StrCat(options_.seed, "-", i);
    o.set_opportunity_id(absl::StrCat(options_.id_prefix, "-opp-", n));
    o.set_name(absl::StrCat("Load test account ", n));
    o.set_pipeline("b2b_standard");
    o.set_stage("prospecting");
    o.set_status("open");
    o.set_owner_id(absl::StrCat("rep-", i % 50));
    o.set_team_id(absl::StrCat("team-", i % 5));
    o.set_amount(10000 + i);
    o.set_currency("CNY");
    o.mutable_contacts()->add_emails(absl::StrCat("buyer-", n, "@example.com"));
    o.mutable_contacts()->add_phones(absl::StrCat("+86138", absl::StrFormat("%08d", i)));
    o.mutable_contacts()->add_chat_ids(absl::StrCat("wx-", n));
    *o.mutable_updated_at() = ToProto(TimeOf(0) - absl::Hours(1));
    result.push_back(std::move(o));
  }
  return result;
}

v1::Event EventGenerator::BuildEvent(EventKind kind, const std::string& source, bool zh,
                                     std::string* stage) {
  const int opp = static_cast<int>(Pick(options_.opportunities));
  const std::string n = absl::StrCat(options_.seed, "-", opp);
  v1::Event e;
  e.set_event_id(absl::StrCat(options_.id_prefix, "-ev-", options_.seed, "-", sequence_));
  e.set_source(source);
  *e.mutable_occurred_at() = ToProto(TimeOf(sequence_));
  e.set_opportunity_id(absl::StrCat(options_.id_prefix, "-opp-", n));
  e.set_direction("inbound");
  const char* customer =
      zh ? kNamesZh[Pick(std::size(kNamesZh))] : kNamesEn[Pick(std::size(kNamesEn))];
  v1::Party* from = e.mutable_from();
  from->set_name(customer);
  v1::Party* to = e.add_to();
  to->set_name(zh ? "销售代表" : "Sales Rep");

  std::string lead;
  if (kind == EventKind::kTrigger) {
    const Trigger& t = kTriggers[Pick(std::size(kTriggers))];
    *stage = t.stage;
    lead = zh ? t.zh : t.en;
  } else {
    lead = zh ? kFillerZh[Pick(std::size(kFillerZh))] : kFillerEn[Pick(std::size(kFillerEn))];
  }
  // Neutral padding until the event reaches about target_bytes.
  auto filler = [&] {
    return std::string(zh ? kFillerZh[Pick(std::size(kFillerZh))]
                          : kFillerEn[Pick(std::size(kFillerEn))]);
  };
  const size_t budget = options_.target_bytes > 500 ? options_.target_bytes - 500 : 0;
  e.mutable_attributes()->insert({"connector", "autostage-loadgen"});
  if (source == "email") {
    from->set_email(absl::StrCat("buyer-", n, "@example.com"));
    to->set_email("rep@autostage.example");
    v1::Email* email = e.mutable_email();
    email->set_subject(zh ? "回复：项目沟通" : "Re: project follow-up");
    email->set_message_id(absl::StrCat("<", e.event_id(), "@example.com>"));
    std::string text = absl::StrCat(zh ? "您好，\n\n" : "Hello,\n\n", lead, "\n\n");
    std::string quoted;
    while (text.size() + quoted.size() < budget) absl::StrAppend(&quoted, "> ", filler(), "\n");
    absl::StrAppend(&text, zh ? "祝好\n" : "Best regards,\n", customer, "\n\n",
                    zh ? "-----原始邮件-----\n" : "-----Original Message-----\n", quoted);
    email->set_text(std::move(text));
  } else if (source == "call") {
    from->set_phone(absl::StrCat("+86138", absl::StrFormat("%08d", opp)));
    to->set_phone("+861088886666");
    v1::Call* call = e.mutable_call();
    call->set_duration_s(60 + static_cast<int64_t>(Pick(900)));
    call->set_disposition("answered");
    size_t size = lead.size();
    auto* first = call->add_transcript();
    first->set_speaker("rep");
    first->set_text(zh ? "您好，我是销售代表，方便说话吗？"
                       : "Hi, this is your sales rep, is now a good time?");
    auto* said = call->add_transcript();
    said->set_speaker("customer");
    said->set_text(lead);
    while (size < budget) {
      auto* turn = call->add_transcript();
      turn->set_speaker(call->transcript_size() % 2 == 0 ? "customer" : "rep");
      turn->set_text(filler());
      size += turn->text().size() + 30;
    }
  } else {
    from->set_chat_id(absl::StrCat("wx-", n));
    to->set_chat_id("rep-chat");
    v1::Chat* chat = e.mutable_chat();
    chat->set_channel("wecom");
    chat->set_thread_id(absl::StrCat("thread-", n));
    size_t size = lead.size();
    while (size < budget) {
      auto* m = chat->add_messages();
      m->set_sender(chat->messages_size() % 2 == 0 ? "rep" : "customer");
      m->set_text(filler());
      size += m->text().size() + 30;
    }
    auto* said = chat->add_messages();
    said->set_sender("customer");
    said->set_text(lead);
  }
  return e;
}

GeneratedEvent EventGenerator::Next() {
  GeneratedEvent out;
  const double u = NextUniform();
  out.kind = u < options_.malformed_fraction                                ? EventKind::kMalformed
             : u < options_.malformed_fraction + options_.proposal_fraction ? EventKind::kTrigger
                                                                            : EventKind::kFiller;
  out.source = options_.sources[Pick(options_.sources.size())];
  const bool zh = NextUniform() < options_.zh_fraction;
  std::string stage;
  v1::Event e =
      BuildEvent(out.kind == EventKind::kTrigger ? EventKind::kTrigger : EventKind::kFiller,
                 out.source, zh, &stage);
  out.event_id = e.event_id();
  out.key = e.opportunity_id();
  out.value = event::EventToJson(e);
  out.headers = {{"content-type", "application/json"}, {"loadgen-kind", KindName(out.kind)}};
  if (out.kind == EventKind::kTrigger) {
    out.expect = stage;
  } else if (out.kind == EventKind::kMalformed) {
    out.expect = kMalformedReasons[sequence_ % std::size(kMalformedReasons)];
    if (out.expect == "malformed_json") {
      out.value.resize(out.value.size() / 2);
    } else if (out.expect == "missing_field") {
      ReplaceFirst(&out.value, "\"event_id\":", "\"event_idx\":");
    } else if (out.expect == "invalid_utf8") {
      ReplaceFirst(&out.value, "\"direction\":\"", "\"direction\":\"\xff");
    } else {
      ReplaceFirst(&out.value, "\"direction\":\"inbound\"", "\"direction\":1");
    }
  }
  if (!out.expect.empty()) out.headers.push_back({"loadgen-expect", out.expect});
  ++sequence_;
  return out;
}

std::string ProduceSummary::ToJson() const {
  return absl::StrFormat(
      "{\"mode\":\"produce\",\"sent\":%d,\"opportunities\":%d,\"triggers\":%d,\"malformed\":%d,"
      "\"errors\":%d,\"bytes\":%d,\"seconds\":%.3f,\"rate\":%.1f,\"mb_per_s\":%.2f,"
      "\"delivery_p50_ms\":%.1f,\"delivery_p99_ms\":%.1f}",
      sent, opportunities, triggers, malformed, errors, bytes, seconds, rate(),
      seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0, delivery_p50_ms,
      delivery_p99_ms);
}

std::string ConsumeSummary::ToJson() const {
  return absl::StrFormat(
      "{\"mode\":\"consume\",\"consumed\":%d,\"errors\":%d,\"bytes\":%d,\"seconds\":%.3f,"
      "\"rate\":%.1f,\"mb_per_s\":%.2f,\"latency_p50_ms\":%.1f,\"latency_p99_ms\":%.1f}",
      consumed, errors, bytes, seconds, rate(),
      seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0, latency_p50_ms,
      latency_p99_ms);
}

namespace {

// The q-quantile (nearest rank) of `micros`, in milliseconds; 0 when empty. Sorts `micros`.
double QuantileMs(std::vector<int64_t>& micros, double q) {
  if (micros.empty()) return 0;
  std::sort(micros.begin(), micros.end());
  const size_t rank = std::min(micros.size() - 1, static_cast<size_t>(q * micros.size()));
  return static_cast<double>(micros[rank]) / 1000.0;
}

}  // namespace

absl::StatusOr<ProduceSummary> RunProduce(const ProduceOptions& options) {
  if (options.count <= 0 && options.duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("loadgen: set a count or a duration");
  }
  kafka::KafkaConfig config = {{"bootstrap.servers", options.brokers},
                               {"linger.ms", "5"},
                               {"batch.num.messages", "10000"},
                               {"queue.buffering.max.messages", "200000"},
                               {"queue.buffering.max.kbytes", "1048576"}};
  for (const auto& [k, v] : options.kafka) config[k] = v;
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                   kafka::Producer::Create(config, absl::Seconds(30)));
  EventGenerator generator(options.generator);
  ProduceSummary summary;

  std::atomic<int64_t> acked{0}, failed{0}, acked_bytes{0};
  absl::Mutex delivery_mu;
  std::vector<int64_t> delivery_us;  // of acknowledged events, guarded by delivery_mu
  auto retrying_produce = [&](const std::string& topic, const std::string& key,
                              const std::string& value, const std::vector<kafka::Header>& headers,
                              kafka::DeliveryCallback cb) -> absl::Status {
    while (true) {
      absl::Status s = producer->Produce(topic, key, value, headers, cb);
      // A full local queue drains as the broker acknowledges.
      if (!absl::IsResourceExhausted(s)) return s;
      absl::SleepFor(absl::Milliseconds(1));
    }
  };

  if (options.publish_opportunities) {
    std::atomic<int64_t> opp_failed{0};
    for (const v1::Opportunity& o : generator.Opportunities()) {
      RETURN_IF_ERROR(retrying_produce(
          options.opportunities_topic, o.opportunity_id(), event::OpportunityToJson(o),
          {{"content-type", "application/json"}}, [&](const kafka::DeliveryReport& r) {
            if (!r.status.ok()) opp_failed.fetch_add(1);
          }));
      ++summary.opportunities;
    }
    RETURN_IF_ERROR(producer->Flush(absl::Now() + absl::Seconds(60)));
    if (opp_failed.load() > 0) {
      return absl::UnavailableError(
          absl::StrCat("loadgen: ", opp_failed.load(), " opportunities were not delivered"));
    }
  }

  const absl::Time start = absl::Now();
  const absl::Time end = options.duration == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                                      : start + options.duration;
  int64_t produced = 0;
  while ((options.count <= 0 || produced < options.count) && absl::Now() < end) {
    if (options.rate > 0) {
      // Open-loop pacing: event n is due at start + n / rate.
      const absl::Time due = start + absl::Seconds(static_cast<double>(produced) / options.rate);
      const absl::Time now = absl::Now();
      if (due > now) absl::SleepFor(due - now);
    }
    GeneratedEvent e = generator.Next();
    const std::string& topic = e.source == "email"  ? options.email_topic
                               : e.source == "call" ? options.call_topic
                                                    : options.chat_topic;
    const int64_t size = static_cast<int64_t>(e.value.size());
    const absl::Time produced_at = absl::Now();
    absl::Status s = retrying_produce(
        topic, e.key, e.value, e.headers, [&, size, produced_at](const kafka::DeliveryReport& r) {
          if (r.status.ok()) {
            acked.fetch_add(1);
            acked_bytes.fetch_add(size);
            const int64_t us = absl::ToInt64Microseconds(absl::Now() - produced_at);
            absl::MutexLock lock(&delivery_mu);
            delivery_us.push_back(us);
          } else {
            failed.fetch_add(1);
          }
        });
    if (!s.ok()) {
      failed.fetch_add(1);
    } else {
      summary.triggers += e.kind == EventKind::kTrigger;
      summary.malformed += e.kind == EventKind::kMalformed;
    }
    ++produced;
  }
  absl::Status flushed = producer->Flush(absl::Now() + absl::Seconds(60));
  summary.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  summary.sent = acked.load();
  summary.bytes = acked_bytes.load();
  summary.errors = failed.load() + (flushed.ok() ? 0 : producer->outstanding());
  absl::MutexLock lock(&delivery_mu);
  summary.delivery_p50_ms = QuantileMs(delivery_us, 0.5);
  summary.delivery_p99_ms = QuantileMs(delivery_us, 0.99);
  return summary;
}

absl::StatusOr<ConsumeSummary> RunConsume(const ConsumeOptions& options) {
  kafka::KafkaConfig config = {
      {"bootstrap.servers", options.brokers},
      {"group.id", options.group_id.empty()
                       ? absl::StrCat("autostage-loadgen-", absl::ToUnixNanos(absl::Now()))
                       : options.group_id},
      {"auto.offset.reset", "earliest"},
      {"enable.auto.commit", "false"},
      {"session.timeout.ms", "6000"}};
  for (const auto& [k, v] : options.kafka) config[k] = v;
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                   kafka::Consumer::Create(config, nullptr));
  RETURN_IF_ERROR(consumer->Subscribe(options.topics));
  ConsumeSummary summary;
  const absl::Time started = absl::Now();
  absl::Time first = absl::InfinitePast();
  absl::Time last = absl::InfinitePast();
  std::vector<int64_t> latency_us;
  while (options.count <= 0 || summary.consumed < options.count) {
    const absl::Time now = absl::Now();
    if (summary.consumed == 0) {
      if (now - started > options.start_timeout) break;
    } else if (now - last > options.idle_timeout || now - first > options.duration) {
      break;
    }
    std::optional<kafka::Message> m = consumer->Poll(absl::Milliseconds(100));
    if (!m) continue;
    if (!m->ok()) {
      if (!m->is_partition_eof()) ++summary.errors;
      if (m->is_fatal()) return m->status();
      continue;
    }
    last = absl::Now();
    if (summary.consumed == 0) first = last;
    ++summary.consumed;
    summary.bytes += static_cast<int64_t>(m->payload().size());
    if (std::optional<int64_t> created = m->timestamp_ms(); created.has_value()) {
      latency_us.push_back(absl::ToInt64Microseconds(last - absl::FromUnixMillis(*created)));
    }
  }
  summary.latency_p50_ms = QuantileMs(latency_us, 0.5);
  summary.latency_p99_ms = QuantileMs(latency_us, 0.99);
  summary.seconds = summary.consumed > 0 ? absl::ToDoubleSeconds(last - first) : 0;
  consumer->Close().IgnoreError();  // a measurement tool: nothing was stored to commit
  return summary;
}

}  // namespace autostage::loadgen
