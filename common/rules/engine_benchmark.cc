// Throughput of the rules path over the dev corpus (../shared/corpus/dev) with the default packs
// (deploy/rules), beside the raw Vectorscan scan of the same texts, and with a generated
// 10,000-rule pack (compile time, scan throughput, RSS).
//
//   engine_benchmark [--benchmark_filter=...]
// The source tree is $AUTOSTAGE_SOURCE_DIR, else the configure-time source dir.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/event/decode.h"
#include "common/rules/config.h"
#include "common/rules/engine.h"
#include "common/rules/internal/dev_corpus.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/text/extract.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::rules {
namespace {

std::string SourceDir() {
  const char* env = std::getenv("AUTOSTAGE_SOURCE_DIR");
  return env != nullptr ? env : AUTOSTAGE_DEFAULT_SOURCE_DIR;
}

long RssKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::string(field).size());
  }
  return 0;
}

// Everything the benchmarks share, built once.
struct Fixture {
  std::shared_ptr<const text::Normalizer> normalizer;
  std::unique_ptr<text::GuardAnalyzer> guards;
  std::vector<std::string> event_lines;
  std::vector<v1::Event> events;
  std::vector<v1::Opportunity> opportunities;
  std::unique_ptr<SnapshotResolver> resolver;
  RulesConfig default_config;
  bool ok = false;

  static Fixture& Get() {
    static Fixture* fixture = [] {
      auto* f = new Fixture();
      const std::string corpus = testing::DevCorpusDir(SourceDir());
      f->event_lines = testing::JsonLines(corpus + "/events.jsonl");
      for (const std::string& line : f->event_lines) {
        auto e = event::DecodeEvent(line, event::Encoding::kJson);
        if (e.ok()) f->events.push_back(*e);
      }
      auto resolver = SnapshotResolver::FromFile(corpus + "/opportunities.jsonl");
      auto config = LoadRulesDir(SourceDir() + "/deploy/rules");
      auto normalizer = text::Normalizer::Create();
      auto guards = text::GuardAnalyzer::Create();
      if (!resolver.ok() || !config.ok() || !normalizer.ok() || !guards.ok() || f->events.empty()) {
        return f;
      }
      f->resolver = std::make_unique<SnapshotResolver>(*std::move(resolver));
      f->default_config = *std::move(config);
      f->normalizer = *std::move(normalizer);
      f->guards = *std::move(guards);
      f->ok = true;
      return f;
    }();
    return *fixture;
  }
};

// A pack of `n` generated rules on b2b_standard: two-to-four-character Chinese terms and
// Latin words, a quarter with a `near` condition, spread over the stages.
RulesConfig Generated(const RulesConfig& base, int n) {
  RulesConfig config;
  config.pipelines = base.pipelines;
  RulePack pack;
  pack.name = "generated";
  pack.pipeline = "b2b_standard";
  std::mt19937 rng(42);
  auto cjk = [&](int len) {
    std::string s;
    for (int i = 0; i < len; ++i) {
      const uint32_t cp = 0x4E00 + rng() % 0x5000;
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  auto latin = [&](int len) {
    std::string s;
    for (int i = 0; i < len; ++i) s += static_cast<char>('a' + rng() % 26);
    return s;
  };
  const char* stages[] = {"needs_analysis", "proposal", "negotiation", "contract", "follow_up"};
  for (int i = 0; i < n; ++i) {
    Rule r;
    r.id = "gen." + std::to_string(i);
    r.pack = pack.name;
    r.pipeline = pack.pipeline;
    r.stage = stages[i % 5];
    r.sources = {"email", "call", "chat"};
    r.speakers = {"customer"};
    r.directions = {"inbound", "outbound"};
    const std::string term = i % 3 == 0 ? latin(5 + rng() % 6) : cjk(2 + rng() % 3);
    r.any.push_back({term, {term}});
    if (i % 4 == 0) {
      const std::string partner = cjk(2);
      r.near = Near{{{partner, {partner}}}, 10};
    }
    pack.rules.push_back(std::move(r));
  }
  // The default rules too, so real events still hit something.
  config.packs = base.packs;
  config.packs.push_back(std::move(pack));
  return config;
}

// With `decode`, each pass decodes the JSON lines too (the "decode → ... → judge"),
// with one reused event::Decoder and Event; without, it processes the events decoded once up front
// (Engine::Process alone: resolve → extract → normalize → match → guards → judge). Either way the
// bytes are the JSON lines'.
void RunFullPath(benchmark::State& state, const std::shared_ptr<const RuleSet>& rules) {
  Fixture& f = Fixture::Get();
  auto engine = Engine::Create(rules, *f.guards);
  if (!engine.ok()) {
    state.SkipWithError(std::string(engine.status().message()).c_str());
    return;
  }
  const bool decode = state.range(0) != 0;
  size_t bytes = 0;
  for (const std::string& line : f.event_lines) bytes += line.size();
  int64_t proposals = 0;
  // As a worker does (services/ingest): one decoder (its parser buffers) and one Event (its
  // strings' capacity) per thread, reused for every message.
  event::Decoder decoder;
  v1::Event event;
  for (auto _ : state) {
    if (decode) {
      for (const std::string& line : f.event_lines) {
        if (!decoder.DecodeEventInto(line, event::Encoding::kJson, &event).ok()) continue;
        auto decision = (*engine)->Process(event, *f.resolver);
        if (decision.ok() && decision->proposal) ++proposals;
        benchmark::DoNotOptimize(decision);
      }
    } else {
      for (const v1::Event& decoded : f.events) {
        auto decision = (*engine)->Process(decoded, *f.resolver);
        if (decision.ok() && decision->proposal) ++proposals;
        benchmark::DoNotOptimize(decision);
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.SetLabel(decode ? "decode included" : "decode excluded");
  state.counters["proposals_per_pass"] =
      static_cast<double>(proposals) / static_cast<double>(state.iterations());
}

// [decode →] resolve → extract → normalize → match → guards → judge, default packs.
void BM_FullPathDefaultPacks(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  if (!f.ok) {
    state.SkipWithError("dev corpus or deploy/rules not found");
    return;
  }
  auto rules = RuleSet::Compile(f.default_config, f.normalizer);
  if (!rules.ok()) {
    state.SkipWithError(std::string(rules.status().message()).c_str());
    return;
  }
  RunFullPath(state, *rules);
}
BENCHMARK(BM_FullPathDefaultPacks)
    ->ArgName("decode")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);

// The stages before matching, cumulatively, to see where the full path spends its time.
void BM_StagesBeforeMatching(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  if (!f.ok) {
    state.SkipWithError("dev corpus or deploy/rules not found");
    return;
  }
  size_t bytes = 0;
  for (const std::string& line : f.event_lines) bytes += line.size();
  for (auto _ : state) {
    for (const std::string& line : f.event_lines) {
      auto event = event::DecodeEvent(line, event::Encoding::kJson);
      if (!event.ok() || state.range(0) < 1) continue;
      text::Extraction extraction = text::Extract(*event);
      if (state.range(0) < 2) continue;
      for (const text::Segment& s : extraction.segments) {
        benchmark::DoNotOptimize(f.normalizer->Normalize(s.text));
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.SetLabel(state.range(0) == 0 ? "decode" : state.range(0) == 1 ? "+extract" : "+normalize");
}
BENCHMARK(BM_StagesBeforeMatching)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// Extracted + normalized segment texts of every event (the texts the matcher sees); with
// `per_event`, one text per event: its segments joined by a '\n'.
std::vector<std::string> SegmentTexts(bool per_event = false) {
  Fixture& f = Fixture::Get();
  std::vector<std::string> texts;
  for (const v1::Event& e : f.events) {
    std::string joined;
    for (const text::Segment& s : text::Extract(e).segments) {
      std::string normalized = f.normalizer->NormalizeString(s.text);
      if (!per_event) {
        texts.push_back(std::move(normalized));
        continue;
      }
      if (!joined.empty()) joined.push_back('\n');
      joined += normalized;
    }
    if (per_event && !joined.empty()) texts.push_back(std::move(joined));
  }
  return texts;
}

int NoOp(unsigned, unsigned long long, unsigned long long, unsigned, void*) { return 0; }

// The same texts through the same pipeline database with nothing around it; range(1) = 1 scans
// each event's segments as one text (the fixed cost per scan paid once per event).
void BM_RawVectorscanScan(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  if (!f.ok) {
    state.SkipWithError("dev corpus or deploy/rules not found");
    return;
  }
  auto rules = RuleSet::Compile(
      state.range(0) == 0 ? f.default_config : Generated(f.default_config, 10000), f.normalizer);
  if (!rules.ok()) {
    state.SkipWithError(std::string(rules.status().message()).c_str());
    return;
  }
  const hs_database_t* db = (*rules)->FindPipeline("b2b_standard")->database();
  hs_scratch_t* raw = nullptr;
  hs_clone_scratch((*rules)->scratch_prototype(), &raw);
  HsScratch scratch(raw);
  const std::vector<std::string> texts = SegmentTexts(state.range(1) != 0);
  size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  for (auto _ : state) {
    for (const std::string& t : texts) {
      hs_scan(db, t.data(), static_cast<unsigned>(t.size()), 0, scratch.get(), &NoOp, nullptr);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_RawVectorscanScan)
    ->ArgNames({"rules", "per_event"})
    ->Args({0, 0})
    ->Args({10000, 0})
    ->Args({0, 1})
    ->Args({10000, 1})
    ->Unit(benchmark::kMicrosecond);

void BM_Compile10kRules(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  if (!f.ok) {
    state.SkipWithError("dev corpus or deploy/rules not found");
    return;
  }
  const RulesConfig config = Generated(f.default_config, 10000);
  size_t patterns = 0;
  size_t database_bytes = 0;
  for (auto _ : state) {
    auto rules = RuleSet::Compile(config, f.normalizer);
    if (!rules.ok()) {
      state.SkipWithError(std::string(rules.status().message()).c_str());
      return;
    }
    patterns = (*rules)->pattern_count();
    hs_database_size((*rules)->FindPipeline("b2b_standard")->database(), &database_bytes);
  }
  state.counters["patterns"] = static_cast<double>(patterns);
  state.counters["database_kb"] = static_cast<double>(database_bytes) / 1024.0;
  state.counters["rss_peak_mb"] = static_cast<double>(RssKb("VmHWM:")) / 1024.0;
}
BENCHMARK(BM_Compile10kRules)->Unit(benchmark::kMillisecond)->Iterations(2);

void BM_FullPath10kRules(benchmark::State& state) {
  Fixture& f = Fixture::Get();
  if (!f.ok) {
    state.SkipWithError("dev corpus or deploy/rules not found");
    return;
  }
  auto rules = RuleSet::Compile(Generated(f.default_config, 10000), f.normalizer);
  if (!rules.ok()) {
    state.SkipWithError(std::string(rules.status().message()).c_str());
    return;
  }
  RunFullPath(state, *rules);
  state.counters["rss_mb"] = static_cast<double>(RssKb("VmRSS:")) / 1024.0;
}
BENCHMARK(BM_FullPath10kRules)->ArgName("decode")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace autostage::rules

BENCHMARK_MAIN();
