#include "common/rules/matcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string_view>
#include <tuple>

#include "common/rules/internal/fakes.h"
#include "common/rules/internal/hit_walk.h"
#include "common/rules/internal/test_util.h"

namespace autostage::rules {
namespace {

using testing::CompilePack;
using testing::FakeGuardAnalyzer;
using testing::FakeNormalizer;

class MatcherTest : public ::testing::Test {
 protected:
  void Load(const std::string& rules_yaml) {
    set_ = CompilePack("pack: p\npipeline: b2b\nrules:\n" + rules_yaml);
    ASSERT_NE(set_, nullptr);
    auto m = Matcher::Create(set_, FakeGuardAnalyzer());
    ASSERT_TRUE(m.ok()) << m.status();
    matcher_ = *std::move(m);
    pipeline_ = set_->FindPipeline("b2b");
  }
  // Ids of the rules that fire on `text` (as normalized by the fake).
  std::vector<std::string> Fire(const std::string& text, SegmentContext context = Inbound()) {
    std::vector<Firing> firings;
    const std::string normalized = FakeNormalizer().NormalizeString(text);
    EXPECT_TRUE(matcher_->Evaluate(*pipeline_, context, normalized, &firings).ok());
    std::vector<std::string> ids;
    for (const Firing& f : firings) ids.push_back(pipeline_->rules()[f.rule].rule->id);
    return ids;
  }
  static SegmentContext Inbound() {
    SegmentContext c;
    c.source = "email";
    c.direction = "inbound";
    return c;
  }
  static SegmentContext InboundAttachment() {
    SegmentContext c = Inbound();
    c.kind = text::SegmentKind::kAttachmentName;
    return c;
  }
  std::shared_ptr<const RuleSet> set_;
  std::unique_ptr<Matcher> matcher_;
  const CompiledPipeline* pipeline_ = nullptr;
};

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(MatcherTest, LatinTermsMatchWholeWordsOnly) {
  Load("  - {id: po, stage: contract, any: [PO]}\n");
  EXPECT_THAT(Fire("Our PO is attached"), ElementsAre("po"));
  EXPECT_THAT(Fire("po#4411 attached"), ElementsAre("po"));
  EXPECT_THAT(Fire("see the report"), IsEmpty());
  EXPECT_THAT(Fire("pos terminal"), IsEmpty());
  EXPECT_THAT(Fire("采购PO已发"), ElementsAre("po"));  // CJK neighbours are not word characters
}

TEST_F(MatcherTest, StarIsAPrefixMatch) {
  Load("  - {id: sign, stage: contract, any: [sign*]}\n");
  EXPECT_THAT(Fire("we signed it"), ElementsAre("sign"));
  EXPECT_THAT(Fire("signing today"), ElementsAre("sign"));
  EXPECT_THAT(Fire("the design is done"), IsEmpty());  // left boundary still applies
}

TEST_F(MatcherTest, ChineseTermsMatchAnywhere) {
  Load("  - {id: stamp, stage: contract, any: [已盖章]}\n");
  EXPECT_THAT(Fire("合同已盖章寄回"), ElementsAre("stamp"));
}

TEST_F(MatcherTest, CaseInsensitiveThroughNormalization) {
  Load("  - {id: sc, stage: contract, any: [Signed Contract]}\n");
  EXPECT_THAT(Fire("SIGNED   contract attached"), ElementsAre("sc"));
}

TEST_F(MatcherTest, PhraseIsWhitespaceInsensitive) {
  Load("  - {id: ph, stage: contract, phrase: [purchase order attached]}\n");
  EXPECT_THAT(Fire("purchase\norder attached"), ElementsAre("ph"));
  EXPECT_THAT(Fire("purchase order attachedness"), IsEmpty());
}

TEST_F(MatcherTest, RegexAnchorsWithStartOfMatch) {
  Load("  - {id: re, stage: contract, regex: ['po\\s*#?\\s*\\d{4,}']}\n");
  std::vector<Firing> firings;
  const std::string text = "our po # 123456 is out";
  ASSERT_TRUE(matcher_->Evaluate(*pipeline_, Inbound(), text, &firings).ok());
  ASSERT_EQ(firings.size(), 1u);
  EXPECT_EQ(firings[0].anchor.begin, 4u);
  EXPECT_EQ(firings[0].anchor.end, 15u);  // the longest match at that start
  EXPECT_THAT(Fire("po 12"), IsEmpty());
}

TEST_F(MatcherTest, OneScanServesManyRulesWithSharedPatterns) {
  Load(
      "  - {id: a, stage: proposal, any: [报价, quote]}\n"
      "  - {id: b, stage: negotiation, any: [报价], all: [确认]}\n"
      "  - {id: c, stage: contract, any: [Quote], none: [报价]}\n");
  // 报价 and quote are each one pattern, shared by the rules that use them.
  EXPECT_EQ(pipeline_->patterns().size(), 3u);  // 报价, quote, 确认
  EXPECT_THAT(Fire("我们确认报价"), ElementsAre("a", "b"));
  EXPECT_THAT(Fire("quote received"), ElementsAre("a", "c"));
  EXPECT_THAT(Fire("quote 报价"), ElementsAre("a"));  // c: 报价 in its clause
}

TEST_F(MatcherTest, ConditionsAllNearNone) {
  Load(
      "  - id: all\n    stage: contract\n    any: [已盖章]\n    all: [合同]\n"
      "  - id: near\n    stage: contract\n    any: [signed]\n    near: {terms: [contract], within: "
      "5}\n"
      "  - id: none\n    stage: proposal\n    any: [合同]\n    none: [模板]\n");
  EXPECT_THAT(Fire("合同已盖章"), ElementsAre("all", "none"));
  EXPECT_THAT(Fire("已盖章。合同在路上"), ElementsAre("none"));  // 合同 in another sentence
  EXPECT_THAT(Fire("signed the contract"), ElementsAre("near"));
  EXPECT_THAT(Fire("signed the big new shiny contract"), IsEmpty());
  EXPECT_THAT(Fire("signed. contract"), IsEmpty());  // not the same sentence
  EXPECT_THAT(Fire("合同模板发您"), IsEmpty());
  EXPECT_THAT(Fire("合同发您，模板另发"), ElementsAre("none"));  // 模板 in another clause
}

TEST_F(MatcherTest, GuardsBlockOrAllow) {
  Load(
      "  - {id: blk, stage: contract, any: [签合同]}\n"
      "  - {id: alw, stage: negotiation, any: [签合同], guards: {negation: allow, "
      "question: allow, hypothetical: allow}}\n");
  EXPECT_THAT(Fire("我们今天签合同"), ElementsAre("blk", "alw"));
  EXPECT_THAT(Fire("我们还没签合同"), ElementsAre("alw"));
  EXPECT_THAT(Fire("如果价格合适，我们就签合同"), ElementsAre("alw"));
  EXPECT_THAT(Fire("今天签合同吗"), ElementsAre("alw"));
}

TEST_F(MatcherTest, FirstPassingAnchorWins) {
  Load("  - {id: blk, stage: contract, any: [签合同]}\n");
  std::vector<Firing> firings;
  const std::string text = "上周没签合同。今天签合同了";
  ASSERT_TRUE(matcher_->Evaluate(*pipeline_, Inbound(), text, &firings).ok());
  ASSERT_EQ(firings.size(), 1u);
  EXPECT_EQ(firings[0].anchor.begin, text.find("签合同", 10));
}

TEST_F(MatcherTest, SpeakerSourceDirectionAndCallFilters) {
  Load(
      "  - {id: cust, stage: contract, any: [x1]}\n"
      "  - {id: rep, stage: proposal, any: [x1], speakers: [rep], directions: [outbound]}\n"
      "  - {id: chat, stage: proposal, any: [x1], sources: [chat]}\n"
      "  - {id: call, stage: proposal, any: [x1], sources: [call], call: {min_duration_s: 30}}\n");
  EXPECT_THAT(Fire("x1"), ElementsAre("cust"));
  SegmentContext rep = Inbound();
  rep.speaker = text::Speaker::kRep;
  EXPECT_THAT(Fire("x1", rep), IsEmpty());
  rep.direction = "outbound";
  EXPECT_THAT(Fire("x1", rep), ElementsAre("rep"));
  SegmentContext chat = Inbound();
  chat.source = "chat";
  EXPECT_THAT(Fire("x1", chat), ElementsAre("cust", "chat"));
  SegmentContext call = Inbound();
  call.source = "call";
  call.call_answered = true;
  call.call_duration_s = 10;
  EXPECT_THAT(Fire("x1", call), ElementsAre("cust"));
  call.call_duration_s = 45;
  EXPECT_THAT(Fire("x1", call), ElementsAre("cust", "call"));
  call.call_answered = false;
  EXPECT_THAT(Fire("x1", call), ElementsAre("cust"));
}

TEST_F(MatcherTest, AttachmentGlobsOnAttachmentSegmentsOnly) {
  Load(
      "  - {id: att, stage: contract, attachments: [\"*盖章*\", \"*signed*.pdf\"], "
      "none: [模板]}\n"
      "  - {id: body, stage: proposal, any: [signed]}\n");
  const SegmentContext att = InboundAttachment();
  EXPECT_THAT(Fire("Contract_SIGNED_v2.pdf", att), ElementsAre("att"));
  EXPECT_THAT(Fire("合同-双方盖章版.pdf", att), ElementsAre("att"));
  EXPECT_THAT(Fire("盖章模板.docx", att), IsEmpty());
  EXPECT_THAT(Fire("signed.docx", att), IsEmpty());
  EXPECT_THAT(Fire("signed contract"), ElementsAre("body"));
}

// Globs that normalize alike are tried once; the matched term is the first as written, on the
// candidate path (Candidates + EvaluateRule, what the engine uses) and on Evaluate alike.
TEST_F(MatcherTest, AttachmentTermIsTheFirstMatchingGlobAsWritten) {
  Load(
      "  - {id: att, stage: contract, attachments: [\"*Draft*\", \"*合同*\", \"*DRAFT*\", "
      "\"*draft*\", \"*草稿*\"]}\n"
      "  - {id: rep, stage: contract, speakers: [rep], attachments: [\"*draft*\"]}\n");
  const SegmentContext att = InboundAttachment();
  for (const auto& [name, term] : std::vector<std::pair<std::string, std::string>>{
           {"合同_draft.pdf", "*Draft*"}, {"合同.pdf", "*合同*"}, {"草稿.pdf", "*草稿*"}}) {
    const std::string normalized = FakeNormalizer().NormalizeString(name);
    std::vector<Firing> firings;
    ASSERT_TRUE(matcher_->Evaluate(*pipeline_, att, normalized, &firings).ok());
    ASSERT_EQ(firings.size(), 1u) << name;
    EXPECT_THAT(firings[0].matched_terms, ElementsAre(term)) << name;
    std::vector<uint32_t> candidates;
    matcher_->Candidates(*pipeline_, att, normalized, {}, &candidates);
    ASSERT_EQ(candidates.size(), 1u) << name;  // the rep-only rule is filtered out
    SegmentCache cache;
    firings.clear();
    ASSERT_TRUE(
        matcher_->EvaluateRule(*pipeline_, att, normalized, {}, candidates[0], &cache, &firings));
    EXPECT_THAT(firings[0].matched_terms, ElementsAre(term)) << name;
  }
}

TEST(GlobTest, Basics) {
  EXPECT_TRUE(GlobMatch("*.pdf", "a.pdf"));
  EXPECT_TRUE(GlobMatch("a?c", "a合c"));
  EXPECT_FALSE(GlobMatch("a?c", "a合合c"));
  EXPECT_TRUE(GlobMatch("*报价*", "2025报价单.xlsx"));
  EXPECT_FALSE(GlobMatch("*报价*", "方案.pdf"));
  EXPECT_TRUE(GlobMatch("**", ""));
  EXPECT_TRUE(GlobMatch("PO_*", "PO_123.pdf"));
  EXPECT_FALSE(GlobMatch("PO_*", "xPO_123.pdf"));
  EXPECT_TRUE(GlobMatch("*.pdf", ".pdf"));
  EXPECT_FALSE(GlobMatch("a*a", "a"));
  EXPECT_TRUE(GlobMatch("*合同*草稿*", "合同草稿合同"));
  EXPECT_FALSE(GlobMatch("*合同*草稿*", "草稿合同"));
}

// Reference glob semantics: `*` any run of code points, `?` one code point, by recursion.
bool ReferenceGlob(std::string_view g, std::string_view t) {
  if (g.empty()) return t.empty();
  auto cp_len = [](std::string_view s) {
    size_t n = 1;
    while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
    return n;
  };
  if (g[0] == '*') {
    for (size_t i = 0;; i += cp_len(t.substr(i))) {
      if (ReferenceGlob(g.substr(1), t.substr(i))) return true;
      if (i >= t.size()) return false;
    }
  }
  if (t.empty()) return false;
  if (g[0] == '?') return ReferenceGlob(g.substr(1), t.substr(cp_len(t)));
  return g[0] == t[0] && ReferenceGlob(g.substr(1), t.substr(1));
}

// The '*'-only fast path and the general loop agree with the reference on random globs and
// texts over a small alphabet (ASCII and Chinese, so chunks repeat and overlap).
TEST(GlobTest, AgreesWithReferenceOnRandomInputs) {
  const std::vector<std::string> glob_atoms = {"*", "*", "?", "a", "b", "合", "同", "."};
  const std::vector<std::string> text_atoms = {"a", "b", "合", "同", "."};
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string glob, text;
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) glob += glob_atoms[rng() % 8];
    for (int k = static_cast<int>(rng() % 8); k > 0; --k) text += text_atoms[rng() % 5];
    ASSERT_EQ(GlobMatch(glob, text), ReferenceGlob(glob, text)) << glob << " / " << text;
  }
}

TEST(RuleSetTest, RefusedRegexRejectedAtCompileWithMessageAndLocation) {
  const std::string dir =
      testing::WriteRuleDir({{"pipelines.yaml", testing::kPipelines},
                             {"pack.yaml",
                              "pack: p\npipeline: b2b\nrules:\n  - id: bad\n    stage: proposal\n"
                              "    regex: ['(\\w+) \\1']\n"}});
  auto config = LoadRulesDir(dir);
  ASSERT_TRUE(config.ok());
  auto set = RuleSet::Compile(*std::move(config), std::make_shared<FakeNormalizer>());
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), ::testing::HasSubstr("pack.yaml:6: rule bad: regex"));
  EXPECT_THAT(set.status().message(), ::testing::HasSubstr("refused by Vectorscan"));
  EXPECT_THAT(set.status().message(), ::testing::HasSubstr("Back-references are unsupported"));
}

TEST_F(MatcherTest, ScanTimeIsLinearOnAMebibyte) {
  // Failure scenario 21: a pathological-looking input costs time linear in its size.
  Load(
      "  - {id: re, stage: contract, regex: ['(a|aa)+b', 'x.*y.*z']}\n"
      "  - {id: t, stage: proposal, any: [aaab, 合同]}\n");
  // The fastest of several scans per size: a preempted scan on a busy machine only makes
  // one sample slow, never the minimum, so the ratio below tests the algorithm, not the load.
  auto time_for = [&](size_t bytes) {
    const std::string text(bytes, 'a');
    std::vector<Hit> hits;
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      hits.clear();
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_TRUE(matcher_->Scan(*pipeline_, text, &hits).ok());
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  time_for(1 << 16);  // warm up
  const double small = std::max(time_for(1 << 17), 1e-4);
  const double large = time_for(1 << 20);
  // 8x the input: allow generous slack for noise, but nothing quadratic (which would be 64x).
  EXPECT_LT(large, small * 24) << "small " << small << " large " << large;
}

}  // namespace
}  // namespace autostage::rules

namespace autostage::rules {
namespace {

TEST_F(MatcherTest, LongRegexMatchesNeitherCrashNorLoseTheirEnd) {
  // Vectorscan 5.4.9 aborts when a SOM pattern reverse-scans > 255 bytes (see kSomWindow).
  Load("  - {id: re, stage: contract, regex: ['a+b', '\\d+x']}\n");
  const std::string text = std::string(5000, 'a') + "b " + std::string(3000, '1') + "x";
  std::vector<Hit> hits;
  ASSERT_TRUE(matcher_->Scan(*pipeline_, text, &hits).ok());
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].end, 5001u);
  EXPECT_EQ(hits[0].start, 5001u - kSomWindow);  // clamped to the window
  EXPECT_EQ(hits[1].end, text.size());
  std::vector<Hit> short_hits;
  ASSERT_TRUE(matcher_->Scan(*pipeline_, "xx aab 12x", &short_hits).ok());
  ASSERT_EQ(short_hits.size(), 2u);
  EXPECT_EQ(short_hits[0].start, 3u);
  EXPECT_EQ(short_hits[1].start, 7u);
}

}  // namespace
}  // namespace autostage::rules

namespace autostage::rules {
namespace {

// Scan's hits (start, end, boundary checks, one hit per (pattern, start), sorted) agree with a
// naive search over random rule packs and texts: short terms over a small alphabet (Latin,
// Chinese, '*' prefixes), so terms overlap, repeat and sit next to word characters.
TEST_F(MatcherTest, ScanAgreesWithReferenceOnRandomTerms) {
  const std::vector<std::string> atoms = {"a", "b", "c", "合", "同", "签"};
  const std::vector<std::string> text_atoms = {"a", "b", "c", "合", "同", "签", " ", ".", "é"};
  std::mt19937 rng(11);
  for (int round = 0; round < 40; ++round) {
    std::vector<std::string> terms;
    std::string yaml;
    for (int r = 0; r < 12; ++r) {
      std::string term;
      for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) term += atoms[rng() % 6];
      if (rng() % 4 == 0) term += "*";
      terms.push_back(term);
      yaml += "  - {id: r" + std::to_string(r) + ", stage: contract, any: ['" + term + "']}\n";
    }
    Load(yaml);
    for (int t = 0; t < 50; ++t) {
      std::string text;
      for (int k = static_cast<int>(rng() % 30); k > 0; --k) text += text_atoms[rng() % 9];
      std::vector<Hit> hits;
      ASSERT_TRUE(matcher_->Scan(*pipeline_, text, &hits).ok());
      std::vector<Hit> expected;
      for (uint32_t p = 0; p < pipeline_->patterns().size(); ++p) {
        std::string literal = pipeline_->patterns()[p].display;
        const bool prefix = literal.back() == '*';
        if (prefix) literal.pop_back();
        const bool left = IsWordChar(CodePointAt(literal, 0));
        const bool right = !prefix && IsWordChar(CodePointBefore(literal, literal.size()));
        for (size_t at = text.find(literal); at != std::string::npos;
             at = text.find(literal, at + 1)) {
          const size_t end = at + literal.size();
          if (left && IsWordChar(CodePointBefore(text, at))) continue;
          if (right && IsWordChar(CodePointAt(text, end))) continue;
          expected.push_back({p, static_cast<uint32_t>(at), static_cast<uint32_t>(end)});
        }
      }
      ASSERT_EQ(hits.size(), expected.size()) << "text '" << text << "' round " << round;
      for (size_t i = 0; i < hits.size(); ++i) {
        EXPECT_EQ(hits[i].pattern, expected[i].pattern) << text;
        EXPECT_EQ(hits[i].start, expected[i].start) << text;
        EXPECT_EQ(hits[i].end, expected[i].end) << text;
      }
    }
  }
}

}  // namespace
}  // namespace autostage::rules

namespace autostage::rules {
namespace {

// The three walks of ForEachHitOf (and kAuto) visit exactly the hits a plain filter keeps, in
// the same order, and stop where the callback says, on random hit lists and term sets of
// every relative size (few terms, few hits, comparable).
TEST(HitWalkTest, EveryWalkAgreesWithAPlainFilter) {
  std::mt19937 rng(23);
  const internal::HitWalk walks[] = {internal::HitWalk::kAuto, internal::HitWalk::kPerTerm,
                                     internal::HitWalk::kPerHit, internal::HitWalk::kMerge};
  for (int round = 0; round < 2000; ++round) {
    const uint32_t universe = 1 + rng() % 60;
    std::vector<Hit> hits(rng() % 80);
    for (Hit& h : hits) {
      h.pattern = rng() % universe;
      h.start = rng() % 100;
      h.end = h.start + 1 + rng() % 5;
    }
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      return std::tie(a.pattern, a.start) < std::tie(b.pattern, b.start);
    });
    std::vector<uint32_t> terms(rng() % 70);
    for (uint32_t& t : terms) t = rng() % universe;
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    std::vector<Hit> expected;
    for (const Hit& h : hits) {
      if (std::binary_search(terms.begin(), terms.end(), h.pattern)) expected.push_back(h);
    }
    // Stop after `limit` visits (or never, when limit exceeds the matches).
    const size_t limit = 1 + rng() % (expected.size() + 2);
    for (internal::HitWalk walk : walks) {
      std::vector<Hit> seen;
      const bool stopped = internal::ForEachHitOf(
          hits, terms,
          [&](const Hit& h) {
            seen.push_back(h);
            return seen.size() == limit;
          },
          walk);
      const size_t want = std::min(limit, expected.size());
      ASSERT_EQ(stopped, limit <= expected.size()) << "round " << round;
      ASSERT_EQ(seen.size(), want) << "round " << round << " walk " << static_cast<int>(walk);
      for (size_t i = 0; i < want; ++i) {
        EXPECT_EQ(seen[i].pattern, expected[i].pattern) << "round " << round;
        EXPECT_EQ(seen[i].start, expected[i].start) << "round " << round;
      }
    }
  }
}

}  // namespace
}  // namespace autostage::rules
