#include "common/text/normalize.h"

#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "common/text/internal/normalize_table.h"
#include "gtest/gtest.h"

namespace autostage::text {
namespace {

class NormalizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto normalizer = Normalizer::Create();
    ASSERT_TRUE(normalizer.ok()) << normalizer.status();
    normalizer_ = std::move(normalizer).value().release();
  }
  static void TearDownTestSuite() {
    delete normalizer_;
    normalizer_ = nullptr;
  }
  static const Normalizer* normalizer_;
};
const Normalizer* NormalizerTest::normalizer_ = nullptr;

struct Case {
  std::string_view input;
  std::string_view expected;
};

TEST_F(NormalizerTest, TransformsAsSpecified) {
  const Case cases[] = {
      {"ＰＯ", "po"},
      {"合約已簽署", "合约已签署"},
      {"，", ","},
      {"Signed  Contract\r\n", "signed contract "},
      {"１２３", "123"},
      {"ﬁnal", "final"},
      {"㎏", "kg"},
      {"", ""},
      {"abc", "abc"},
      {"ABC xyz", "abc xyz"},
      {"合同已盖章", "合同已盖章"},
      {"報價單", "报价单"},
      {"請問這個價格含稅嗎？", "请问这个价格含税吗?"},
      {"ＰＯ＃１２３４５", "po#12345"},
      {"ｼｮｳﾋﾝ", "ショウヒン"},  // half-width katakana -> full width
      {"Straße", "strasse"},
      {"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
      {"a\xC2\xA0\xC2\xA0"
       "b",
       "a b"},                                // NBSP run
      {"合同\xE3\x80\x80已签", "合同 已签"},  // U+3000 ideographic space
      {"a\t\n \r\nb", "a b"},
      // Line breaks: kept between lines, folded inside hard-wrapped prose.
      {"大概情况：\n- 学员 600 人左右；\n- 预算 15 万左右",
       "大概情况:\n- 学员 600 人左右;\n- 预算 15 万左右"},
      {"合同已签\r\n\r\n发票已开", "合同已签\n发票已开"},
      {"1. demo\n2. quote", "1. demo\n2. quote"},
      {"We have signed the\ncontract", "we have signed the contract"},
      {"Thanks,\r\nJohn", "thanks, john"},
      {"Budget approved.\nTimeline Q3", "budget approved.\ntimeline q3"},
      {"a\xE2\x80\xA8\xE5\x90\x88", "a\n\xE5\x90\x88"},  // U+2028 before a Chinese line
      {"end\r\n", "end "},
      {"\n合同", " 合同"},
      {"  lead", " lead"},
      {"zero\xE2\x80\x8Bwidth", "zerowidth"},  // U+200B
      {"\xEF\xBB\xBFhello", "hello"},          // BOM
      {"a \xE2\x80\x8B b", "a b"},             // ZWSP inside a whitespace run
      {"a\xE2\x80\x8C\xE2\x80\x8D"
       "b",
       "ab"},  // ZWNJ, ZWJ
      {"（附件）：报价单；请查收！", "(附件):报价单;请查收!"},
      {"。、", "。、"},  // ideographic full stop and comma are kept (guards know them)
      {"…", "..."},
      {"①", "1"},
      {"Ⅻ", "xii"},
      {"ＨＴＴＰＳ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "https://example.com"},
      {"emoji 👍 ok", "emoji 👍 ok"},
      {"\xE2\x80\x83\xE2\x80\x83x", " x"},  // em spaces
  };
  for (const Case& c : cases) {
    EXPECT_EQ(normalizer_->NormalizeString(c.input), c.expected) << "input: " << c.input;
    EXPECT_EQ(normalizer_->Normalize(c.input).text, c.expected) << "input: " << c.input;
  }
}

TEST_F(NormalizerTest, InvalidUtf8BecomesReplacementCharacter) {
  const Case cases[] = {
      {"a\xFF"
       "b",
       "a\xEF\xBF\xBD"
       "b"},
      {"a\xC3", "a\xEF\xBF\xBD"},  // truncated 2-byte sequence
      {"\xE5\x90"
       "x",
       "\xEF\xBF\xBD"
       "x"},                                                     // truncated 3-byte: one U+FFFD
      {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                  // overlong: two maximal subparts
      {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // surrogate
      {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // > U+10FFFF
      {"\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(normalizer_->NormalizeString(c.input), c.expected);
    NormalizedText n = normalizer_->Normalize(c.input);
    EXPECT_EQ(n.text, c.expected);
    EXPECT_EQ(n.to_input.ToSource(n.text.size()), c.input.size());
  }
}

// Per code point, not per combining sequence: a decomposed "e" + U+0301 is not composed into
// "é" (NFKC of the whole string would). Documented limitation; zh/en business text is
// precomposed in practice.
TEST_F(NormalizerTest, CombiningSequencesAreMappedPerCodePoint) {
  EXPECT_EQ(normalizer_->NormalizeString("caf\xC3\x89"), "caf\xC3\xA9");  // É -> é
  EXPECT_EQ(normalizer_->NormalizeString("cafe\xCC\x81"), "cafe\xCC\x81");
}

// Offsets of a normalized span map back to the exact input bytes.
TEST_F(NormalizerTest, OffsetsMapBackToInput) {
  struct OffsetCase {
    std::string_view input;
    std::string_view normalized_span;  // searched in the normalized text
    std::string_view input_span;       // what it must map back to
  };
  const OffsetCase cases[] = {
      {"合約已簽署", "签署", "簽署"},
      {"ＰＯ：合約已簽署  OK", "签署", "簽署"},
      {"ＰＯ：合約已簽署  OK", "ok", "OK"},
      {"ＰＯ：合約已簽署  OK", "po", "ＰＯ"},
      {"ＰＯ：合約已簽署  OK", ":", "："},
      {"Signed  Contract\r\n", "contract", "Contract"},
      {"Signed \xC2\xA0\xE3\x80\x80 Contract", "contract", "Contract"},
      {"ﬁnal ＰＯ１２３", "po123", "ＰＯ１２３"},
      {"ﬁnal ＰＯ１２３", "final", "ﬁnal"},
      {"㎏ 合同", "合同", "合同"},
      {"a\xFF\xFE 合同", "合同", "合同"},
      {"zero\xE2\x80\x8Bwidth 簽約", "签约", "簽約"},
      {"客户说：“合約已簽署”", "合约已签署", "合約已簽署"},
  };
  for (const OffsetCase& c : cases) {
    NormalizedText n = normalizer_->Normalize(c.input);
    const size_t at = n.text.find(c.normalized_span);
    ASSERT_NE(at, std::string::npos) << n.text;
    const size_t begin = n.to_input.ToSource(at);
    const size_t end = n.to_input.ToSource(at + c.normalized_span.size());
    ASSERT_LE(begin, end);
    ASSERT_LE(end, c.input.size());
    EXPECT_EQ(c.input.substr(begin, end - begin), c.input_span) << "input: " << c.input;
  }
}

TEST_F(NormalizerTest, NormalizationIsIdempotentOnMixedText) {
  const std::string_view texts[] = {
      "Hi Hao, 合約已簽署，ＰＯ＃１２３４５ attached. Let’s sync on Ｍｏｎｄａｙ！",
      "張經理 您好：報價單我們已經收到了，價格沒問題，下週安排簽約。",
      "Straße ﬁnance ㎏ ① Ⅻ … ｼｮｳﾋﾝ \xC2\xA0 tab\tend",
      "Line one\nLine Two\n- Ｂullet\n合同\n\xE2\x80\x8B\nx",
  };
  for (std::string_view t : texts) {
    const std::string once = normalizer_->NormalizeString(t);
    EXPECT_EQ(normalizer_->NormalizeString(once), once);
  }
}

TEST_F(NormalizerTest, NormalizeAndNormalizeStringAgreeOnLongInput) {
  std::string input;
  for (int k = 0; k < 2000; ++k) input += "Contract 合約 ＰＯ１２ ﬁ\r\n\xE2\x80\x8B";
  NormalizedText n = normalizer_->Normalize(input);
  EXPECT_EQ(n.text, normalizer_->NormalizeString(input));
  EXPECT_EQ(n.to_input.ToSource(0), 0u);
  EXPECT_EQ(n.to_input.ToSource(n.text.size()), input.size());
  // Every "合约" maps back to a "合約".
  size_t count = 0;
  for (size_t at = n.text.find("合约"); at != std::string::npos;
       at = n.text.find("合约", at + 1), ++count) {
    const size_t b = n.to_input.ToSource(at);
    ASSERT_EQ(input.substr(b, 6), "合約");
  }
  EXPECT_EQ(count, 2000u);
}

// Random byte soup built from pieces that exercise every path (ASCII, whitespace runs, CJK,
// replaced and dropped code points, invalid bytes): the map stays monotonic and in bounds,
// and both entry points agree.
// NormalizeInto into one reused NormalizedText (long, short, empty, long texts in turn) gives
// what Normalize gives, offset map included.
TEST_F(NormalizerTest, NormalizeIntoReusedEqualsNormalize) {
  const std::string inputs[] = {
      std::string(300, 'x') + " 合約已簽署  ＰＯ＃１２３４５\r\n" + std::string(200, 'Y'),
      "ﬁnal  Straße",
      "",
      "a\xC2\xA0\xC2\xA0"
      "b \xFF 請問這個價格含稅嗎？",
      "ABC",
  };
  NormalizedText reused;
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input);
    const NormalizedText want = normalizer_->Normalize(input);
    normalizer_->NormalizeInto(input, &reused);
    EXPECT_EQ(reused.text, want.text);
    EXPECT_EQ(reused.to_input.anchor_count(), want.to_input.anchor_count());
    for (size_t at = 0; at <= want.text.size(); ++at) {
      ASSERT_EQ(reused.to_input.ToSource(at), want.to_input.ToSource(at)) << at;
    }
  }
}

TEST_F(NormalizerTest, RandomInputKeepsMapConsistent) {
  const std::string_view pieces[] = {
      "a",           "Z",        " ",  "\r\n", "\t",       "合",
      "約",          "Ｐ",       "ﬁ",  "㎏",   "\xC2\xA0", "\xE2\x80\x8B",
      "\xFF",        "\xE5\x90", "，", "…",    "é",        "\xF0\x9F\x91\x8D",
      "\xEF\xB7\xBA"};
  std::mt19937 rng(12345);  // fixed seed: deterministic
  for (int round = 0; round < 300; ++round) {
    std::string input;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) input += pieces[rng() % std::size(pieces)];
    const NormalizedText out = normalizer_->Normalize(input);
    ASSERT_EQ(out.text, normalizer_->NormalizeString(input));
    size_t previous = 0;
    for (size_t d = 0; d <= out.text.size(); ++d) {
      const size_t s = out.to_input.ToSource(d);
      ASSERT_LE(s, input.size()) << input;
      ASSERT_GE(s, previous) << input;
      previous = s;
    }
    EXPECT_EQ(out.to_input.ToSource(out.text.size()), input.size());
    EXPECT_EQ(out.text.find("  "), std::string::npos) << input;
  }
}

// The 8-byte ASCII path (on in Create()) against the byte-at-a-time path: same text, same
// offset map (anchor for anchor, and every offset mapped the same) on random mixes of words,
// single and double spaces, line breaks, upper case, controls, non-ASCII whitespace, ignorables
// and invalid bytes, with and without the offset map.
TEST(NormalizerFastPathTest, WordAtATimeEqualsByteAtATime) {
  auto fast = internal::CreateTableNormalizer(/*word_at_a_time=*/true);
  auto slow = internal::CreateTableNormalizer(/*word_at_a_time=*/false);
  ASSERT_TRUE(fast.ok()) << fast.status();
  ASSERT_TRUE(slow.ok()) << slow.status();
  const std::string_view pieces[] = {"Signed",
                                     "the",
                                     "CONTRACT",
                                     "po#123",
                                     "a",
                                     "Zz",
                                     " ",
                                     " ",
                                     " ",
                                     "  ",
                                     "\n",
                                     "\r\n",
                                     "\t",
                                     ",",
                                     ".",
                                     "-",
                                     "\x7F",
                                     "\x01",
                                     "合同",
                                     "Ｐ",
                                     "ﬁ",
                                     "é",
                                     "\xC2\xA0",
                                     "\xE2\x80\x8B",
                                     "\xE3\x80\x80",
                                     "\xFF",
                                     "\xE5\x90",
                                     "quote\"d",
                                     "[x]",
                                     "~`{}",
                                     "@",
                                     "^_",
                                     "0123456789"};
  std::mt19937 rng(20261127);  // fixed seed: deterministic
  NormalizedText reused;
  for (int round = 0; round < 3000; ++round) {
    std::string input;
    const int n = static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) input += pieces[rng() % std::size(pieces)];
    const NormalizedText want = (*slow)->Normalize(input);
    (*fast)->NormalizeInto(input, &reused);
    ASSERT_EQ(reused.text, want.text) << input;
    ASSERT_EQ(reused.to_input.anchor_count(), want.to_input.anchor_count()) << input;
    for (size_t d = 0; d <= want.text.size() + 1; ++d) {
      ASSERT_EQ(reused.to_input.ToSource(d), want.to_input.ToSource(d)) << input << " at " << d;
    }
    ASSERT_EQ((*fast)->NormalizeString(input), want.text) << input;
  }
}

}  // namespace
}  // namespace autostage::text
