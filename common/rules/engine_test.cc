// The engine's staged evaluation (furthest reachable stage first, lower stages skipped once one
// fired, segments prepared only when a rule of the stage can use them) must decide exactly as
// evaluating every rule and judging all firings: checked on the dev corpus with the default
// packs, also with max_skip 0 and 1 (so "max_skip" and the fallback order are exercised), and
// on the rulectl golden events.
#include "common/rules/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/rules/config.h"
#include "common/rules/internal/dev_corpus.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::rules {
namespace {

std::string SourceDir() {
  const char* env = std::getenv("AUTOSTAGE_SOURCE_DIR");
  return env != nullptr ? env : "";
}

std::string Describe(const Decision& d) {
  // StrCat, not operator+: GCC 12 at -O3 reports a false -Wrestrict on chained string +.
  std::string out = absl::StrCat(d.event_id, " ", d.opportunity_id, " ", d.reason);
  if (d.proposal) absl::StrAppend(&out, "\n", d.proposal->DebugString());
  absl::StrAppend(&out, "\ndropped:");
  for (std::string_view format : d.dropped_formats) out.append(" ").append(format);
  return out;
}

struct Counts {
  int events = 0;
  int proposed = 0;
  int max_skip = 0;
  int backward = 0;
  int with_dropped = 0;  // events whose decision names dropped parts
};

// Runs every event of `events` through a staged and a traced (evaluate-everything) Process and
// expects identical decisions.
Counts ExpectSameDecisions(RulesConfig config, const std::string& opportunities,
                           const std::string& events) {
  Counts counts;
  auto normalizer = text::Normalizer::Create();
  auto guards = text::GuardAnalyzer::Create();
  EXPECT_TRUE(normalizer.ok() && guards.ok());
  if (!normalizer.ok() || !guards.ok()) return counts;
  auto rules = RuleSet::Compile(std::move(config), *std::move(normalizer));
  EXPECT_TRUE(rules.ok()) << rules.status();
  if (!rules.ok()) return counts;
  auto resolver = SnapshotResolver::FromFile(opportunities);
  EXPECT_TRUE(resolver.ok()) << resolver.status();
  if (!resolver.ok()) return counts;
  auto engine = Engine::Create(*rules, **guards);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (!engine.ok()) return counts;
  for (const std::string& line : testing::JsonLines(events)) {
    auto event = event::DecodeEvent(line, event::Encoding::kJson);
    if (!event.ok()) continue;
    auto staged = (*engine)->Process(*event, *resolver);
    Trace trace;
    auto full = (*engine)->Process(*event, *resolver, &trace);
    EXPECT_TRUE(staged.ok() && full.ok());
    if (!staged.ok() || !full.ok()) continue;
    EXPECT_EQ(Describe(*staged), Describe(*full));
    // One format per dropped part of the extraction, in order.
    std::vector<std::string_view> formats;
    for (const text::DroppedPart& part : trace.extraction.dropped) formats.push_back(part.format);
    EXPECT_EQ(full->dropped_formats, formats) << event->event_id();
    EXPECT_TRUE(trace.extracted || full->dropped_formats.empty());
    counts.with_dropped += !staged->dropped_formats.empty();
    ++counts.events;
    counts.proposed += staged->reason == "proposed";
    counts.max_skip += staged->reason == "max_skip";
    counts.backward += staged->reason == "backward_or_same";
  }
  return counts;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (SourceDir().empty()) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    corpus_ = testing::DevCorpusDir(SourceDir());
    if (!std::filesystem::exists(corpus_ + "/events.jsonl")) {
      GTEST_SKIP() << "dev corpus not found at " << corpus_;
    }
  }
  std::string corpus_;
};

TEST_F(EngineTest, StagedDecisionsEqualFullEvaluationOnDevCorpus) {
  auto config = LoadRulesDir(SourceDir() + "/deploy/rules");
  ASSERT_TRUE(config.ok()) << config.status();
  const Counts counts =
      ExpectSameDecisions(*config, corpus_ + "/opportunities.jsonl", corpus_ + "/events.jsonl");
  EXPECT_GT(counts.events, 100);
  EXPECT_GT(counts.proposed, 50);
  EXPECT_GT(counts.backward, 0);
  EXPECT_GT(counts.with_dropped, 10);  // quoted history, signatures, auto-replies
}

TEST_F(EngineTest, StagedDecisionsEqualFullEvaluationWithMaxSkip) {
  auto config = LoadRulesDir(SourceDir() + "/deploy/rules");
  ASSERT_TRUE(config.ok()) << config.status();
  for (int max_skip : {0, 1}) {
    SCOPED_TRACE(max_skip);
    RulesConfig skipping = *config;
    for (Pipeline& p : skipping.pipelines) p.max_skip = max_skip;
    const Counts counts =
        ExpectSameDecisions(skipping, corpus_ + "/opportunities.jsonl", corpus_ + "/events.jsonl");
    EXPECT_GT(counts.proposed, 0);
    if (max_skip == 0) {
      EXPECT_GT(counts.max_skip, 0);
    }
  }
}

TEST_F(EngineTest, StagedDecisionsEqualFullEvaluationOnGoldenEvents) {
  const std::string golden = SourceDir() + "/tests/rulectl/golden";
  auto config = LoadRulesDir(golden + "/rules");
  ASSERT_TRUE(config.ok()) << config.status();
  const Counts counts =
      ExpectSameDecisions(*config, golden + "/opportunities.jsonl", golden + "/events.jsonl");
  EXPECT_GT(counts.events, 10);
  EXPECT_GT(counts.max_skip, 0);
  EXPECT_GT(counts.backward, 0);
}

}  // namespace
}  // namespace autostage::rules

namespace autostage::rules {
namespace {

// Snippet as it was written before its word-at-a-time skips: one byte at a time.
std::string ReferenceSnippet(std::string_view text, size_t begin, size_t end, size_t context) {
  auto continuation = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  begin = std::min(begin, text.size());
  end = std::min(std::max(begin, end), text.size());
  size_t from = begin;
  for (size_t n = 0; from > 0 && n < context;) {
    --from;
    if (!continuation(text[from])) ++n;
  }
  while (from > 0 && from < text.size() && continuation(text[from])) --from;
  size_t to = end;
  for (size_t n = 0; to < text.size() && n < context;) {
    ++to;
    while (to < text.size() && continuation(text[to])) ++to;
    ++n;
  }
  std::string out;
  if (from > 0) out += "…";
  bool content = false;
  for (size_t i = from; i < to;) {
    size_t j = i;
    while (j < to && !space(text[j])) ++j;
    if (j > i) {
      if (content && i > from) out.push_back(' ');
      out.append(text.data() + i, j - i);
      content = true;
    }
    while (j < to && space(text[j])) ++j;
    i = j;
  }
  if (to < text.size()) out += "…";
  return out;
}

// Snippet (8-byte skips over code points and whitespace-free runs) agrees with the byte loop on
// random mixes of ASCII, 2-, 3- and 4-byte characters, whitespace and control bytes, at random
// ranges (also outside the text and reversed) and context widths.
TEST(SnippetTest, AgreesWithTheByteLoopOnRandomText) {
  const std::vector<std::string> atoms = {"a",    "b", "Z", " ",  "  ", "\n", "\t",   "\r", "\x01",
                                          "\x1f", "!", "é", "合", "同", "𝄞",  "\x7f", "0"};
  std::mt19937 rng(5);
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    for (int k = static_cast<int>(rng() % 90); k > 0; --k) text += atoms[rng() % atoms.size()];
    const size_t begin = rng() % (text.size() + 4);
    const size_t end = rng() % 4 == 0 ? begin : rng() % (text.size() + 4);
    const size_t context = rng() % 45;
    ASSERT_EQ(Snippet(text, begin, end, context), ReferenceSnippet(text, begin, end, context))
        << "text '" << text << "' [" << begin << ", " << end << ") context " << context;
  }
}

}  // namespace
}  // namespace autostage::rules
