// The generator without a broker: determinism, sizes, decode outcomes, and — through rulectl's
// engine with the default rule packs (deploy/rules) — that trigger events yield exactly the
// expected proposal and filler events none.
#include "tools/loadgen/loadgen.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/event/decode.h"
#include "gtest/gtest.h"
#include "tools/rulectl/rulectl.h"

namespace autostage::loadgen {
namespace {

GeneratorOptions Options(uint64_t seed) {
  GeneratorOptions o;
  o.seed = seed;
  o.opportunities = 20;
  o.proposal_fraction = 0.3;
  o.malformed_fraction = 0.1;
  o.fixed_time = absl::FromUnixSeconds(1767225600);  // 2026-01-01
  return o;
}

TEST(LoadgenTest, SameSeedSameBytes) {
  EventGenerator a(Options(3)), b(Options(3)), c(Options(4));
  bool differs = false;
  for (int i = 0; i < 200; ++i) {
    GeneratedEvent x = a.Next(), y = b.Next(), z = c.Next();
    ASSERT_EQ(x.value, y.value) << i;
    ASSERT_EQ(x.key, y.key);
    differs |= x.value != z.value;
  }
  EXPECT_TRUE(differs);
}

TEST(LoadgenTest, EventsDecodeOrFailWithTheAnnouncedReason) {
  GeneratorOptions options = Options(11);
  EventGenerator gen(options);
  std::map<EventKind, int> kinds;
  std::map<std::string, int> sources;
  size_t total_bytes = 0, n = 2000, zh = 0;
  for (size_t i = 0; i < n; ++i) {
    GeneratedEvent e = gen.Next();
    ++kinds[e.kind];
    ++sources[e.source];
    total_bytes += e.value.size();
    EXPECT_EQ(e.headers[0].key, "content-type");
    EXPECT_EQ(e.headers[1].value, KindName(e.kind));
    absl::StatusOr<v1::Event> decoded = event::DecodeEvent(e.value, event::Encoding::kJson);
    if (e.kind == EventKind::kMalformed) {
      ASSERT_FALSE(decoded.ok()) << e.value;
      EXPECT_EQ(event::ReasonOf(decoded.status()), e.expect) << decoded.status();
      continue;
    }
    ASSERT_TRUE(decoded.ok()) << decoded.status() << "\n" << e.value;
    EXPECT_EQ(decoded->event_id(), e.event_id);
    EXPECT_EQ(decoded->source(), e.source);
    EXPECT_EQ(decoded->opportunity_id(), e.key);
    EXPECT_GT(e.value.size(), 1000u) << e.value;
    EXPECT_LT(e.value.size(), 2600u) << e.value;
    zh += e.value.find("\xe7\x9a\x84") != std::string::npos ||  // 的
          e.value.find("\xe6\x88\x91") != std::string::npos;    // 我
  }
  EXPECT_NEAR(kinds[EventKind::kMalformed] / static_cast<double>(n), 0.1, 0.03);
  EXPECT_NEAR(kinds[EventKind::kTrigger] / static_cast<double>(n), 0.3, 0.04);
  EXPECT_EQ(sources.size(), 3u);
  EXPECT_NEAR(total_bytes / static_cast<double>(n), 1500, 300);
  EXPECT_GT(zh, n / 4);
  EXPECT_LT(zh, n * 3 / 4);
}

TEST(LoadgenTest, DefaultRulesProposeForTriggersOnly) {
  const char* source_dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source_dir == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set (run under ctest)";
  const std::string rules = absl::StrCat(source_dir, "/deploy/rules");
  const std::string dir = ::testing::TempDir();
  const std::string opps_path = dir + "/loadgen_opportunities.jsonl";
  const std::string events_path = dir + "/loadgen_events.jsonl";
  GeneratorOptions options = Options(5);
  options.malformed_fraction = 0;
  EventGenerator gen(options);
  std::vector<GeneratedEvent> events;
  {
    std::ofstream opps(opps_path), out(events_path);
    for (const v1::Opportunity& o : gen.Opportunities()) {
      opps << event::OpportunityToJson(o) << "\n";
    }
    for (int i = 0; i < 600; ++i) {
      events.push_back(gen.Next());
      out << events.back().value << "\n";
    }
  }
  std::ostringstream out, err;
  ASSERT_EQ(rulectl::Run(rules, opps_path, events_path, out, err), 0) << err.str();
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), events.size()) << err.str();
  std::map<std::string, int> per_stage;
  for (size_t i = 0; i < events.size(); ++i) {
    const GeneratedEvent& e = events[i];
    ASSERT_NE(lines[i].find("\"event_id\":\"" + e.event_id + "\""), std::string::npos) << lines[i];
    if (e.kind == EventKind::kTrigger) {
      EXPECT_NE(lines[i].find("\"to_stage\":\"" + e.expect + "\""), std::string::npos)
          << e.value << "\n=> " << lines[i];
      ++per_stage[e.expect];
    } else {
      EXPECT_NE(lines[i].find("\"proposal\":null"), std::string::npos)
          << e.value << "\n=> " << lines[i];
    }
  }
  // Every trigger template was exercised.
  EXPECT_EQ(per_stage.size(), 3u);
}

}  // namespace
}  // namespace autostage::loadgen
