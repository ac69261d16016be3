#include "common/text/internal/email_body.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/text/internal/email_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::text::internal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  std::string kept;     // kept spans joined by "|"
  std::string formats;  // dropped formats joined by ","
  BodySplit split;
};

Result Split(std::string_view text) {
  Result r;
  r.split = SplitEmailBody(text);
  for (const TextSpan& s : r.split.kept) {
    if (!r.kept.empty()) r.kept += "|";
    r.kept += std::string(text.substr(s.begin, s.end - s.begin));
  }
  for (const FormatSpan& d : r.split.dropped) {
    if (!r.formats.empty()) r.formats += ",";
    r.formats += std::string(d.format);
  }
  return r;
}

// ---- quoted history ----

TEST(EmailBodyTest, GtQuotedLinesDropped) {
  Result r = Split("Sounds good.\n\n> We will send the contract.\n> Regards");
  EXPECT_EQ(r.kept, "Sounds good.");
  EXPECT_EQ(r.formats, "quote_gt");
}

TEST(EmailBodyTest, FullWidthGtQuote) {
  Result r = Split("好的\n＞合同已盖章\n");
  EXPECT_EQ(r.kept, "好的");
  EXPECT_EQ(r.formats, "quote_gt");
}

TEST(EmailBodyTest, InlineRepliesBetweenQuotedLinesAreKept) {
  Result r = Split(
      "See inline.\n\nOn Mon, Mar 3, 2025 at 9:00 AM Bob <bob@x.com> wrote:\n"
      "> Can you confirm the price?\nYes, the price works for us.\n"
      "> And the payment terms?\nNet 60 please.\n> Thanks\n");
  EXPECT_EQ(r.kept, "See inline.|Yes, the price works for us.|Net 60 please.");
  EXPECT_THAT(r.formats, HasSubstr("on_wrote"));
  EXPECT_THAT(r.formats, HasSubstr("quote_gt"));
}

TEST(EmailBodyTest, OnWroteWithoutGtCutsToEnd) {
  Result r = Split(
      "Thanks!\nRaj\n\nOn Thu, Mar 6, 2025 at 4:12 PM Chen Hao <c@h.com> wrote:\n"
      "Please confirm the quotation.\n");
  EXPECT_THAT(r.kept, Not(HasSubstr("quotation")));
  EXPECT_THAT(r.formats, HasSubstr("on_wrote"));
}

TEST(EmailBodyTest, OnWroteWrappedOverTwoLines) {
  Result r = Split(
      "ok\n\nOn Thu, Mar 6, 2025 at 4:12 PM Chen Hao <\nchen.hao@x.com> wrote:\n"
      "> signed contract attached\n");
  EXPECT_EQ(r.kept, "ok");
  EXPECT_EQ(r.formats, "on_wrote,quote_gt");
}

TEST(EmailBodyTest, ChineseWroteLine) {
  Result r = Split(
      "好的，已转财务，谢谢！\r\n\r\n在 2025年3月26日周三 14:20，李婷 <l@r.com> 写道：\r\n"
      "> 发票已开出\r\n> 付款后请告知\r\n");
  EXPECT_EQ(r.kept, "好的，已转财务，谢谢！");
  EXPECT_EQ(r.formats, "on_wrote,quote_gt");
}

TEST(EmailBodyTest, OriginalMessageMarkers) {
  Result en = Split("Noted.\n\n-----Original Message-----\nFrom: a\nWe will sign.\n");
  EXPECT_EQ(en.kept, "Noted.");
  EXPECT_EQ(en.formats, "original_message");
  Result zh = Split("收到。\n\n-----原始邮件-----\n发件人: 王磊\n合同草稿见附件\n");
  EXPECT_EQ(zh.kept, "收到。");
  EXPECT_EQ(zh.formats, "original_message_zh");
  Result foxmail = Split("ok\n------------------ Original ------------------\nFrom: a\nPO\n");
  EXPECT_EQ(foxmail.kept, "ok");
  EXPECT_EQ(foxmail.formats, "original_message");
  Result qq = Split("好的\n------------------\xC2\xA0原始邮件\xC2\xA0------------------\n合同\n");
  EXPECT_EQ(qq.kept, "好的");
  EXPECT_EQ(qq.formats, "original_message_zh");
}

TEST(EmailBodyTest, ForwardedMarkers) {
  Result en = Split("FYI below.\n\n---------- Forwarded message ---------\nFrom: x\nPO attached\n");
  EXPECT_EQ(en.kept, "FYI below.");
  EXPECT_EQ(en.formats, "forwarded");
  Result zh =
      Split("请参考。\n\n---------- 转发的邮件 ----------\n发件人：冯志刚\n我们已同意签约\n");
  EXPECT_EQ(zh.kept, "请参考。");
  EXPECT_EQ(zh.formats, "forwarded");
  Result apple = Split("see below\n\nBegin forwarded message:\n\nFrom: x\nsigned\n");
  EXPECT_EQ(apple.kept, "see below");
  EXPECT_EQ(apple.formats, "forwarded");
}

TEST(EmailBodyTest, OutlookHeaderBlockWithSeparator) {
  Result r = Split(
      "Noted with thanks.\n\n________________________________\n"
      "From: Mike Turner <m@p.com>\nSent: Wednesday, March 19, 2025 6:41 PM\n"
      "To: Zhang Wei <z@r.com>\nSubject: RE: next steps\n\nWe'll issue the PO.\n");
  EXPECT_EQ(r.kept, "Noted with thanks.");
  EXPECT_EQ(r.formats, "outlook_header");
  // The separator belongs to the dropped part.
  EXPECT_LT(r.split.dropped[0].begin, std::string_view("Noted with thanks.\n\n_").size());
}

TEST(EmailBodyTest, ChineseHeaderBlockWithFullWidthColons) {
  Result r = Split(
      "纪要收到，谢谢。\n\n发件人：张伟 <z@r.com>\n发送时间：2025年3月25日 18:05\n"
      "收件人：许丹 <x@q.com>\n主题：会议纪要\n\n双方确认：3 月底前完成合同盖章。\n");
  EXPECT_EQ(r.kept, "纪要收到，谢谢。");
  EXPECT_EQ(r.formats, "zh_header");
  Result half = Split("好\n发件人: a\n时间: b\n主题: c\n合同\n");
  EXPECT_EQ(half.kept, "好");
  EXPECT_EQ(half.formats, "zh_header");
}

TEST(EmailBodyTest, DeliveryNoteIsNoHeaderBlock) {
  Result r = Split(
      "Delivery details:\nFrom: our Suzhou plant\nTo: your Kunshan warehouse\n"
      "Date: April 3\n\nPO attached.\n");
  EXPECT_THAT(r.kept, HasSubstr("PO attached."));
  EXPECT_EQ(r.formats, "");
}

TEST(EmailBodyTest, LoneFromLineIsContent) {
  Result r = Split("From: our legal team\nThe contract is signed.\n");
  EXPECT_EQ(r.kept, "From: our legal team\nThe contract is signed.");
  EXPECT_EQ(r.formats, "");
}

// ---- signatures ----

TEST(EmailBodyTest, DashDashSignature) {
  Result r =
      Split("附件是报价单。\n\n--\n张伟 | 大客户经理\n锐衡科技有限公司\nM：+86 138 1662 0451\n");
  EXPECT_EQ(r.kept, "附件是报价单。");
  EXPECT_EQ(r.formats, "signature");
}

TEST(EmailBodyTest, EnglishSignoffBlock) {
  Result r = Split(
      "The price works for us.\n\nBest regards,\nLinda\nPurchasing Manager\n"
      "Precision Dynamics (Suzhou) Co., Ltd.\n");
  EXPECT_EQ(r.kept, "The price works for us.");
  EXPECT_EQ(r.formats, "signoff");
}

TEST(EmailBodyTest, ChineseSignoffBlocks) {
  Result a = Split("合同已盖章寄出。\n\n谢谢！\n张三\n采购部\n");
  EXPECT_EQ(a.kept, "合同已盖章寄出。");
  EXPECT_EQ(a.formats, "signoff");
  Result b = Split("请尽快发送报价。\n此致\n敬礼！\n李四\n");
  EXPECT_EQ(b.kept, "请尽快发送报价。");
  EXPECT_EQ(b.formats, "signoff");
}

TEST(EmailBodyTest, NameTitleCompanyBlockWithoutSignoff) {
  Result r = Split(
      "样盒今天顺丰寄出了，收到说一声。\n\n吴晓东 | 总经理\n厦门鹭岛包装科技有限公司\n"
      "—— 已为 3000+ 品牌完成签约交付 · 下单热线 0592-5587 120 ——\n厦门市集美区杏林湾路 492 号\n");
  EXPECT_EQ(r.kept, "样盒今天顺丰寄出了，收到说一声。");
  EXPECT_EQ(r.formats, "signature");
}

TEST(EmailBodyTest, SignoffFollowedByRealContentIsKept) {
  Result r = Split("Hi,\n\nThanks!\nWe have signed the contract and attached the scan.\n");
  EXPECT_THAT(r.kept, HasSubstr("We have signed the contract"));
  EXPECT_EQ(r.formats, "");
  Result zh = Split("王经理：\n谢谢！\n合同我们已经盖章了，扫描件见附件。\n");
  EXPECT_THAT(zh.kept, HasSubstr("合同我们已经盖章了"));
}

TEST(EmailBodyTest, ShortContentLinesAreNotASignature) {
  // Short unpunctuated lines without any signature evidence stay.
  Result r = Split("王经理：\n\n已付款\n\n张三\n");
  EXPECT_THAT(r.kept, HasSubstr("已付款"));
  Result evidence = Split("王经理：\n\n已付款\n\n张三\n采购部\n");
  EXPECT_THAT(evidence.kept, HasSubstr("已付款"));
  Result after_thanks = Split("王经理：\n\n谢谢！\n已付款\n");
  EXPECT_THAT(after_thanks.kept, HasSubstr("已付款"));
  Result list = Split("Our needs:\n\n200 seats\nSSO support\nQ3 go-live\n");
  EXPECT_THAT(list.kept, HasSubstr("200 seats\nSSO support\nQ3 go-live"));
}

TEST(EmailBodyTest, LongTrailingParagraphIsContent) {
  Result r = Split(
      "Hi Wei,\n\nRegards,\nPlease note that the board approved the purchase order "
      "yesterday and we will send it today.\n");
  EXPECT_THAT(r.kept, HasSubstr("board approved the purchase order"));
}

// ---- disclaimers ----

TEST(EmailBodyTest, ChineseDisclaimer) {
  Result r = Split(
      "下周二的会我们参加。\n\n白露\n\n本邮件（包括其附件）可能包含机密信息，仅供指定收件人使用。"
      "本邮件内容不构成任何合同、付款或法律承诺。\n");
  EXPECT_EQ(r.kept, "下周二的会我们参加。\n\n白露");
  EXPECT_EQ(r.formats, "disclaimer");
}

TEST(EmailBodyTest, TraditionalChineseDisclaimer) {
  // Extraction runs before normalization, so Traditional footers need their own cues.
  Result r = Split(
      "合同我們看過了，價格可以接受。\n\n陳志明\n\n本電郵及其附件僅供指定收件人使用。"
      "本電郵內容不構成任何要約、承諾、報價確認或合同。\n");
  EXPECT_EQ(r.kept, "合同我們看過了，價格可以接受。\n\n陳志明");
  EXPECT_EQ(r.formats, "disclaimer");
}

TEST(EmailBodyTest, EnglishDisclaimerAfterSignature) {
  Result r = Split(
      "Could you confirm the character set?\n\nThanks,\nTom\n\nTom Becker\nGeneral Counsel | "
      "Maple Learning Group Inc.\n\nCONFIDENTIALITY NOTICE: This e-mail and any attachments are "
      "confidential. No contract shall be formed by e-mail.\n");
  EXPECT_EQ(r.kept, "Could you confirm the character set?");
  EXPECT_EQ(r.formats, "signoff,disclaimer");
}

TEST(EmailBodyTest, FooterAfterSeparatorWithWeakCue) {
  Result r = Split(
      "确认参加评估会。\n\n何丽 | 采购主管\n广州穗达电子有限公司\n——————————————————\n"
      "采购订单（PO）以采购部盖章版本为准；任何个人发出的订单、合同均不代表公司确认。\n");
  EXPECT_EQ(r.kept, "确认参加评估会。");
}

TEST(EmailBodyTest, ConfidentialInContentIsKept) {
  Result r = Split("Hi,\n\nPlease keep our signed contract confidential.\n");
  EXPECT_THAT(r.kept, HasSubstr("signed contract confidential"));
  EXPECT_FALSE(IsDisclaimerParagraph("Please keep our signed contract confidential.", false));
  EXPECT_FALSE(IsDisclaimerParagraph("我们已盖章的合同属于机密文件，仅供贵司内部使用。", false));
  Result on = Split("Hi,\n\nOn Monday our lawyer wrote:\nThe contract is signed.\n");
  EXPECT_THAT(on.kept, HasSubstr("The contract is signed."));
  EXPECT_TRUE(IsDisclaimerParagraph("This email and any attachments are confidential.", false));
  EXPECT_TRUE(IsDisclaimerParagraph("本邮件及附件仅供指定收件人使用，可能包含保密信息。", false));
}

// ---- robustness ----

TEST(EmailBodyTest, EmptyAndEmojiOnly) {
  EXPECT_EQ(Split("").kept, "");
  EXPECT_EQ(Split("\n \r\n\xE3\x80\x80\n").kept, "");
  EXPECT_EQ(Split("\xF0\x9F\x91\x8D\xF0\x9F\x8E\x89").kept, "\xF0\x9F\x91\x8D\xF0\x9F\x8E\x89");
}

TEST(EmailBodyTest, OneMebibyteSingleLineIsLinear) {
  std::string text(1 << 20, 'x');
  // No wall-clock assertion (machines are noisy): a quadratic scan of a 1 MiB line would run
  // for many minutes and hit this test's CTest timeout (extract.cmake).
  Result r = Split(text);
  ASSERT_EQ(r.split.kept.size(), 1u);
  EXPECT_EQ(r.split.kept[0].end, text.size());
}

TEST(EmailBodyTest, ManyQuotedLinesAreLinear) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "> quoted line\nreply\n";
  Result r = Split(text);  // bounded time: see OneMebibyteSingleLineIsLinear
  EXPECT_EQ(r.split.kept.size(), 100000u);
}

TEST(EmailBodyTest, HtmlQuotedSpansAreDropped) {
  std::string text = "Works for us.\nOn Thu wrote:\nold contract text\nafter";
  std::vector<FormatSpan> quoted = {{text.find("On Thu"), text.find("after"), "gmail_quote"}};
  BodySplit s = SplitEmailBody(text, quoted);
  ASSERT_EQ(s.kept.size(), 2u);
  EXPECT_EQ(text.substr(s.kept[0].begin, s.kept[0].end - s.kept[0].begin), "Works for us.");
  EXPECT_EQ(s.dropped[0].format, "gmail_quote");
}

// ---- fast paths against their general forms ----

namespace fast_path {

// Inputs mixing the bytes the fast paths decide on: ASCII letters of both cases, dashes and
// spaces in every encoding IsDashCp / IsSpace know, ideographs, fragments of needles, stray
// continuation and lead bytes.
std::string RandomText(std::mt19937& rng, const std::vector<std::string_view>& fragments) {
  static constexpr std::string_view kPieces[] = {"a",
                                                 "B",
                                                 "o",
                                                 "N",
                                                 " ",
                                                 "\t",
                                                 "-",
                                                 "_",
                                                 "=",
                                                 "*",
                                                 "~",
                                                 ":",
                                                 ".",
                                                 ",",
                                                 "!",
                                                 "|",
                                                 "@",
                                                 "7",
                                                 "\xC2\xA0",
                                                 "\xE2\x80\x94",
                                                 "\xE2\x80\x93",
                                                 "\xE2\x80\x95",
                                                 "\xE2\x94\x80",
                                                 "\xE2\x94\x81",
                                                 "\xE2\x80\x92",
                                                 "\xEF\xBC\x8D",
                                                 "\xEF\xB9\x98",
                                                 "\xE3\x80\x80",
                                                 "\xEF\xBB\xBF",
                                                 "\xE2\x80\x8B",
                                                 "\xE2\x80\xAF",
                                                 "\xE2\x81\x9F",
                                                 "\xEF\xBC\x9A",
                                                 "合",
                                                 "同",
                                                 "邮",
                                                 "件",
                                                 "自",
                                                 "动",
                                                 "\x80",
                                                 "\xE4\xB8",
                                                 "\xC3",
                                                 "\xF0\x9F\x91\x8D"};
  std::string out;
  size_t n = rng() % 24;
  for (size_t i = 0; i < n; ++i) {
    if (!fragments.empty() && rng() % 4 == 0) {
      std::string_view f = fragments[rng() % fragments.size()];
      size_t b = rng() % (f.size() + 1);
      std::string piece(f.substr(b, rng() % (f.size() - b + 1)));
      if (rng() % 2 == 0) {
        for (char& c : piece) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
      }
      out += piece;
    } else {
      out += kPieces[rng() % std::size(kPieces)];
    }
  }
  return out;
}

// The dev corpus's raw event lines (real mail text), or nothing when the corpus is absent.
std::vector<std::string> CorpusLines() {
  std::vector<std::string> lines;
  const char* src = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (src == nullptr) return lines;
  std::ifstream in(std::string(src) + "/../shared/corpus/dev/events.jsonl");
  for (std::string line; std::getline(in, line);) {
    // Split on the JSON "\n" escapes too: each piece is one line of a body.
    for (size_t at = 0; at <= line.size();) {
      size_t nl = line.find("\\n", at);
      if (nl == std::string::npos) nl = line.size();
      lines.push_back(line.substr(at, nl - at));
      at = nl + 2;
    }
  }
  return lines;
}

// NeedleSet::Count as its contract states it: distinct needles found, capped at `limit`.
size_t NaiveCount(const std::string_view* needles, size_t size, std::string_view hay,
                  size_t limit) {
  size_t found = 0;
  for (size_t i = 0; i < size; ++i) found += ContainsNoCase(hay, needles[i]) ? 1 : 0;
  return std::min(found, limit);
}

constexpr std::string_view kShort[] = {"co.", "ltd", "部", "路", "@x", "tel", "经理"};
constexpr std::string_view kLong[] = {"out of office", "auto-reply", "自动回复",
                                      "不在办公室",    "休产假",     "this is an automated",
                                      "ooo:x"};
constexpr std::string_view kMixed[] = {
    "confidential",       "virus", "保密", "机密", "unauthorized", "不构成",
    "intended recipient", "误收"};
constexpr NeedleSet kShortSet(kShort);
constexpr NeedleSet kLongSet(kLong);
constexpr NeedleSet kMixedSet(kMixed);

void ExpectCountsMatch(std::string_view hay) {
  for (size_t limit : {size_t{1}, size_t{3}, size_t{100}}) {
    ASSERT_EQ(kShortSet.Count(hay, limit), NaiveCount(kShort, std::size(kShort), hay, limit))
        << hay;
    ASSERT_EQ(kLongSet.Count(hay, limit), NaiveCount(kLong, std::size(kLong), hay, limit)) << hay;
    ASSERT_EQ(kMixedSet.Count(hay, limit), NaiveCount(kMixed, std::size(kMixed), hay, limit))
        << hay;
  }
}

TEST(EmailFastPathTest, NeedleSetSkippingScanMatchesNaiveSearch) {
  std::vector<std::string_view> fragments;
  for (std::string_view n : kShort) fragments.push_back(n);
  for (std::string_view n : kMixed) fragments.push_back(n);
  for (std::string_view n : kLong) fragments.push_back(n);
  std::mt19937 rng(20261127);
  for (int round = 0; round < 200000; ++round) ExpectCountsMatch(RandomText(rng, fragments));
  std::vector<std::string> corpus = CorpusLines();
  std::string all;
  for (const std::string& line : corpus) {
    ExpectCountsMatch(line);
    all += line;
  }
  ExpectCountsMatch(all);
}

// IsSeparatorLine as it was before its first-byte fast path: strip dash-like characters and
// spaces from both ends, decoding every code point.
bool GeneralIsSeparator(std::string_view t) {
  if (t.empty() || t == "--") return false;
  auto is_dash = [](char32_t c) {
    return c == '-' || c == '_' || c == '=' || c == '*' || c == '~' || c == 0x2014 || c == 0x2013 ||
           c == 0x2015 || c == 0x2500 || c == 0x2501 || c == 0x2012 || c == 0xFF0D || c == 0xFE58;
  };
  size_t dashes = 0;
  bool non_ascii = false;
  while (!t.empty()) {
    CodePoint cp = DecodeAt(t, 0);
    if (is_dash(cp.value)) {
      ++dashes;
      non_ascii |= cp.value >= 0x80;
    } else if (!IsSpace(cp.value)) {
      break;
    }
    t.remove_prefix(cp.length);
  }
  while (!t.empty()) {
    CodePoint cp = DecodeBefore(t, t.size());
    if (is_dash(cp.value)) {
      ++dashes;
      non_ascii |= cp.value >= 0x80;
    } else if (!IsSpace(cp.value)) {
      break;
    }
    t.remove_suffix(cp.length);
  }
  return t.empty() && (dashes >= 3 || (dashes >= 2 && non_ascii));
}

TEST(EmailFastPathTest, SeparatorFirstByteTestMatchesGeneralForm) {
  std::mt19937 rng(7);
  size_t separators = 0;
  for (int round = 0; round < 200000; ++round) {
    std::string t = RandomText(rng, {});
    // Every one-byte and lead-byte start, not only the pieces' own.
    if (round % 3 == 0) t.insert(t.begin(), static_cast<char>(rng() % 256));
    bool general = GeneralIsSeparator(t);
    separators += general;
    ASSERT_EQ(IsSeparatorLine(t), general) << t;
  }
  EXPECT_GT(separators, 100u);  // the inputs do reach the separator case
  for (const std::string& line : CorpusLines()) {
    ASSERT_EQ(IsSeparatorLine(line), GeneralIsSeparator(line)) << line;
    std::string_view trimmed = Trim(line);
    ASSERT_EQ(IsSeparatorLine(trimmed), GeneralIsSeparator(trimmed)) << line;
  }
}

// LeadingSpace / TrailingSpace / SkipOpeningBrackets as they were before their byte tests:
// decode every code point.
size_t GeneralLeadingSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    CodePoint cp = DecodeAt(s, i);
    if (!IsSpace(cp.value)) break;
    i += cp.length;
  }
  return i;
}

size_t GeneralTrailingSpace(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    CodePoint cp = DecodeBefore(s, end);
    if (!IsSpace(cp.value)) break;
    end -= cp.length;
  }
  return s.size() - end;
}

std::string_view GeneralSkipOpeningBrackets(std::string_view s) {
  while (true) {
    s.remove_prefix(GeneralLeadingSpace(s));
    if (s.empty()) return s;
    CodePoint cp = DecodeAt(s, 0);
    char32_t c = cp.value;
    if (c != '[' && c != '(' && c != 0x3010 && c != 0xFF08 && c != 0xFF3B && c != 0x3014) return s;
    s.remove_prefix(cp.length);
  }
}

void ExpectSpacesMatch(std::string_view t) {
  ASSERT_EQ(LeadingSpace(t), GeneralLeadingSpace(t)) << t;
  ASSERT_EQ(TrailingSpace(t), GeneralTrailingSpace(t)) << t;
  ASSERT_EQ(SkipOpeningBrackets(t).size(), GeneralSkipOpeningBrackets(t).size()) << t;
}

TEST(EmailFastPathTest, SpaceByteTestsMatchGeneralForms) {
  static constexpr std::string_view kBrackets[] = {"[",  "(",  "【", "（",
                                                   "［", "〔", " ",  "\xE3\x80\x80"};
  std::vector<std::string_view> fragments(std::begin(kBrackets), std::end(kBrackets));
  std::mt19937 rng(11);
  for (int round = 0; round < 200000; ++round) {
    std::string t = RandomText(rng, fragments);
    if (round % 3 == 0) t.insert(t.begin(), static_cast<char>(rng() % 256));
    if (round % 5 == 0) t.push_back(static_cast<char>(rng() % 256));
    ExpectSpacesMatch(t);
  }
  for (const std::string& line : CorpusLines()) ExpectSpacesMatch(line);
}

}  // namespace fast_path

}  // namespace
}  // namespace autostage::text::internal
