// autostage-loadgen: synthetic CRM events for load tests (see loadgen.h and BENCHMARKS.md).
//
//   autostage-loadgen produce --brokers B [--rate 20000] [--count N | --duration 60s] [--seed 1]
//       [--opportunities 1000] [--proposal-fraction 0.05] [--malformed-fraction 0]
//       [--zh-fraction 0.5] [--bytes 1500] [--sources email,call,chat] [--no-opportunities]
//       [--email-topic T] [--call-topic T] [--chat-topic T] [--opportunities-topic T]
//       [-X librdkafka.property=value ...]
//   autostage-loadgen consume --brokers B [--topics a,b,c] [--count N] [--duration 60s]
//       [--idle-timeout 5s] [--group G] [-X property=value ...]
//   autostage-loadgen generate --out DIR [--count N] [generator flags]   (no broker: writes
//       DIR/events.jsonl, DIR/opportunities.jsonl and DIR/kinds.jsonl for rulectl)
//
// produce and consume print one JSON summary line on stdout; exit 1 on setup errors.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/event/decode.h"
#include "tools/loadgen/loadgen.h"

namespace {

using autostage::loadgen::GeneratorOptions;

bool ParseDuration(const std::string& text, absl::Duration* out) {
  if (text.empty()) return true;
  return absl::ParseDuration(text, out);
}

bool ParseKafka(const std::vector<std::string>& props, autostage::kafka::KafkaConfig* out) {
  for (const std::string& p : props) {
    std::vector<std::string> kv = absl::StrSplit(p, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return false;
    (*out)[kv[0]] = kv[1];
  }
  return true;
}

void AddGeneratorFlags(CLI::App* app, GeneratorOptions* g, std::string* sources) {
  app->add_option("--seed", g->seed, "generator seed");
  app->add_option("--opportunities", g->opportunities, "opportunities the events refer to");
  app->add_option("--proposal-fraction", g->proposal_fraction, "fraction of trigger events");
  app->add_option("--malformed-fraction", g->malformed_fraction, "fraction of malformed events");
  app->add_option("--zh-fraction", g->zh_fraction, "fraction of Chinese texts");
  app->add_option("--bytes", g->target_bytes, "approximate event size");
  app->add_option("--sources", *sources, "comma-separated: email,call,chat");
  app->add_option("--id-prefix", g->id_prefix, "prefix of event and opportunity ids");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"autostage-loadgen: synthetic CRM events for load tests"};
  app.require_subcommand(1);

  autostage::loadgen::ProduceOptions produce;
  std::string produce_duration, sources = "email,call,chat";
  std::vector<std::string> produce_props;
  bool no_opportunities = false;
  CLI::App* p = app.add_subcommand("produce", "produce events to the event topics");
  p->add_option("--brokers", produce.brokers, "bootstrap.servers")->required();
  p->add_option("--rate", produce.rate, "events per second (0: as fast as possible)");
  p->add_option("--count", produce.count, "events to send");
  p->add_option("--duration", produce_duration, "how long to send, e.g. 60s");
  p->add_option("--email-topic", produce.email_topic);
  p->add_option("--call-topic", produce.call_topic);
  p->add_option("--chat-topic", produce.chat_topic);
  p->add_option("--opportunities-topic", produce.opportunities_topic);
  p->add_flag("--no-opportunities", no_opportunities, "do not publish the opportunities first");
  p->add_option("-X", produce_props, "librdkafka property=value");
  AddGeneratorFlags(p, &produce.generator, &sources);

  autostage::loadgen::ConsumeOptions consume;
  std::string consume_duration, consume_idle, topics;
  std::vector<std::string> consume_props;
  CLI::App* c = app.add_subcommand("consume", "consume and discard; measure throughput");
  c->add_option("--brokers", consume.brokers, "bootstrap.servers")->required();
  c->add_option("--topics", topics, "comma-separated topics");
  c->add_option("--count", consume.count, "stop after this many messages");
  c->add_option("--duration", consume_duration, "stop after this long");
  c->add_option("--idle-timeout", consume_idle, "stop when idle this long (default 5s)");
  c->add_option("--group", consume.group_id, "consumer group (default: a fresh one)");
  c->add_option("-X", consume_props, "librdkafka property=value");

  GeneratorOptions generate;
  std::string out_dir, generate_sources = "email,call,chat";
  int64_t generate_count = 1000;
  CLI::App* g = app.add_subcommand("generate", "write events as JSONL files (no broker)");
  g->add_option("--out", out_dir, "output directory (must exist)")->required();
  g->add_option("--count", generate_count, "events");
  AddGeneratorFlags(g, &generate, &generate_sources);

  CLI11_PARSE(app, argc, argv);

  if (p->parsed()) {
    produce.generator.sources = absl::StrSplit(sources, ',', absl::SkipEmpty());
    produce.publish_opportunities = !no_opportunities;
    if (!ParseDuration(produce_duration, &produce.duration) ||
        !ParseKafka(produce_props, &produce.kafka)) {
      std::cerr << "bad --duration or -X\n";
      return 2;
    }
    if (produce_duration.empty()) produce.duration = absl::InfiniteDuration();
    absl::StatusOr<autostage::loadgen::ProduceSummary> s = RunProduce(produce);
    if (!s.ok()) {
      std::cerr << s.status() << "\n";
      return 1;
    }
    std::cout << s->ToJson() << std::endl;
    return 0;
  }
  if (c->parsed()) {
    if (!topics.empty()) consume.topics = absl::StrSplit(topics, ',', absl::SkipEmpty());
    if (!ParseDuration(consume_duration, &consume.duration) ||
        !ParseDuration(consume_idle, &consume.idle_timeout) ||
        !ParseKafka(consume_props, &consume.kafka)) {
      std::cerr << "bad --duration, --idle-timeout or -X\n";
      return 2;
    }
    if (consume_duration.empty()) consume.duration = absl::InfiniteDuration();
    absl::StatusOr<autostage::loadgen::ConsumeSummary> s = RunConsume(consume);
    if (!s.ok()) {
      std::cerr << s.status() << "\n";
      return 1;
    }
    std::cout << s->ToJson() << std::endl;
    return 0;
  }
  generate.sources = absl::StrSplit(generate_sources, ',', absl::SkipEmpty());
  autostage::loadgen::EventGenerator gen(generate);
  std::ofstream opps(out_dir + "/opportunities.jsonl"), events(out_dir + "/events.jsonl"),
      kinds(out_dir + "/kinds.jsonl");
  if (!opps || !events || !kinds) {
    std::cerr << "cannot write to " << out_dir << "\n";
    return 1;
  }
  for (const autostage::v1::Opportunity& o : gen.Opportunities()) {
    opps << autostage::event::OpportunityToJson(o) << "\n";
  }
  for (int64_t i = 0; i < generate_count; ++i) {
    autostage::loadgen::GeneratedEvent e = gen.Next();
    events << e.value << "\n";
    kinds << "{\"event_id\":\"" << e.event_id << "\",\"kind\":\"" << KindName(e.kind)
          << "\",\"expect\":\"" << e.expect << "\"}\n";
  }
  return 0;
}
