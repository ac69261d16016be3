#include "common/text/guards.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autostage/v1/event.pb.h"
#include "common/text/extract.h"
#include "common/text/internal/guard_cues.h"
#include "common/text/normalize.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace autostage::text {
namespace {

enum class Lang { kZh, kEn };

// One guard case: `text` and `match` go through the Normalizer first, as in production; the
// match is the first occurrence of the normalized `match` in the normalized text.
struct GuardCase {
  Lang lang;
  std::string_view text;
  std::string_view match;
  bool expected;
};

class GuardsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto normalizer = Normalizer::Create();
    ASSERT_TRUE(normalizer.ok()) << normalizer.status();
    normalizer_ = std::move(normalizer).value().release();
    auto analyzer = GuardAnalyzer::Create();
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = std::move(analyzer).value().release();
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    delete normalizer_;
  }

  static GuardFindings Run(std::string_view raw, std::string_view raw_match, std::string* text) {
    *text = normalizer_->NormalizeString(raw);
    const std::string match = normalizer_->NormalizeString(raw_match);
    const size_t at = text->find(match);
    EXPECT_NE(at, std::string::npos) << "match '" << match << "' not in '" << *text << "'";
    if (at == std::string::npos) return {};
    return analyzer_->Analyze(*text, at, at + match.size());
  }

  // Runs a table; checks each language has at least 30 cases, positive and negative.
  template <typename Flag, typename Cue>
  static void RunTable(std::span<const GuardCase> cases, Flag flag, Cue cue) {
    std::map<std::pair<Lang, bool>, int> counts;
    for (const GuardCase& c : cases) {
      ++counts[{c.lang, c.expected}];
      std::string text;
      const GuardFindings f = Run(c.text, c.match, &text);
      EXPECT_EQ(flag(f), c.expected)
          << "text: " << c.text << "\nmatch: " << c.match
          << "\nclause: " << text.substr(f.clause.begin, f.clause.end - f.clause.begin)
          << "\ncue: " << cue(f);
      // A flag set means a cue is reported, and only then.
      EXPECT_EQ(flag(f), !cue(f).empty()) << c.text;
    }
    for (Lang lang : {Lang::kZh, Lang::kEn}) {
      const int positive = counts[std::make_pair(lang, true)];
      const int negative = counts[std::make_pair(lang, false)];
      EXPECT_GE(positive + negative, 30);
      EXPECT_GE(positive, 10);
      EXPECT_GE(negative, 10);
    }
  }

  static const Normalizer* normalizer_;
  static GuardAnalyzer* analyzer_;
};
const Normalizer* GuardsTest::normalizer_ = nullptr;
GuardAnalyzer* GuardsTest::analyzer_ = nullptr;

constexpr Lang kZh = Lang::kZh;
constexpr Lang kEn = Lang::kEn;

constexpr GuardCase kNegationCases[] = {
    // Chinese, negated.
    {kZh, "张经理，我们还没签合同，法务还在看", "签", true},
    {kZh, "合同尚未签署，预计下周走完流程。", "签署", true},
    {kZh, "报价收到了，我们暂不采购", "采购", true},
    {kZh, "我就问问价格 暂时不买哈", "买", true},
    {kZh, "老板不同意这个价格", "同意", true},
    {kZh, "我们内部决定不采购了", "采购", true},
    {kZh, "目前没有收到盖章版合同", "收到", true},
    {kZh, "ＰＯ还没走完审批流程", "走完", true},
    {kZh, "付款计划还未确认，请耐心等待", "确认", true},
    {kZh, "这个方案我们无需再评估了", "评估", true},
    {kZh, "先别发合同，等我通知", "发合同", true},
    {kZh, "不要安排演示了，我们换了供应商", "安排", true},
    {kZh, "领导拒绝了这份报价", "报价", true},
    {kZh, "我们并不打算续约", "续约", true},
    {kZh, "合同这周签不了，财务卡住了", "签", true},
    {kZh, "盖章还没，等法务回来", "盖章", true},
    {kZh, "我們還沒簽約，價格還在談", "签约", true},
    {kZh, "试用账号不用开了，我们暂停项目", "开", true},
    // Chinese, not negated.
    {kZh, "效果不错我们签了", "签", false},
    {kZh, "没问题，下周签合同", "签合同", false},
    {kZh, "价格没问题我们就下单", "下单", false},
    {kZh, "不过合同已经盖章了", "盖章", false},
    {kZh, "买了不少设备，合同也签了", "签", false},
    {kZh, "不是不签，是要等预算", "签", false},
    {kZh, "我们不得不签这个合同", "签", false},
    {kZh, "我们没有不同意的地方", "同意", false},
    {kZh, "不用再改了，合同已盖章", "盖章", false},
    {kZh, "特别满意，已经下单", "下单", false},
    {kZh, "差不多可以签了", "签", false},
    {kZh, "別擔心，合約已經簽好了", "签", false},
    {kZh, "未来三年都用你们的系统，合同已签", "签", false},
    {kZh, "我们不但签了合同还付了定金", "签", false},
    {kZh, "我就问问价格 暂时不买哈", "问问", false},
    {kZh, "要不要今天把合同签了", "签", false},
    // "、" separates list items: the negation reaches every item.
    {kZh, "本邮件不构成任何要约、承诺、报价确认", "报价确认", true},
    {kZh, "本邮件不构成任何要约、承诺、报价确认", "承诺", true},
    // A line break that survives normalization ends a sentence.
    {kZh, "我们还没定\n- 需要3D仿真实训", "需要", false},
    {kZh, "不好意思回复晚了，合同已经盖章寄出", "盖章", false},
    // English, negated.
    {kEn, "We haven't signed the contract yet.", "signed", true},
    {kEn, "We have not signed the agreement.", "signed", true},
    {kEn, "The PO is not approved by finance.", "approved", true},
    {kEn, "Legal did not approve the terms.", "approve", true},
    {kEn, "We don't need a demo at this stage.", "demo", true},
    {kEn, "We won't renew this year.", "renew", true},
    {kEn, "We cannot sign before the audit.", "sign", true},
    {kEn, "I can't confirm the order today.", "confirm", true},
    {kEn, "We are yet to receive the signed copy.", "receive", true},
    {kEn, "The budget was never approved.", "approved", true},
    {kEn, "No purchase order has been issued.", "purchase order", true},
    {kEn, "Neither finance nor legal signed off.", "signed", true},
    {kEn, "They declined the proposal last week.", "proposal", true},
    {kEn, "We're holding off on the purchase.", "purchase", true},
    {kEn, "The deal is on hold, we haven't signed.", "signed", true},
    {kEn, "We dont want the premium tier.", "want", true},
    {kEn, "Not ready to sign the contract.", "sign", true},
    {kEn, "We no longer need the extra licenses.", "need", true},
    {kEn, "We didn’t sign the renewal.", "sign", true},
    {kEn, "Ｗｅ ＤＯＮ'Ｔ accept the quote.", "accept", true},
    // English, not negated.
    {kEn, "I know you sent it and we signed the contract.", "signed", false},
    {kEn, "Thanks for the notice, contract signed.", "signed", false},
    {kEn, "No problem, we will sign today.", "sign", false},
    {kEn, "Not only did we sign the contract, we also paid.", "sign", false},
    {kEn, "We are not unwilling to sign.", "sign", false},
    {kEn, "We can't not sign this deal.", "sign", false},
    {kEn, "No worries, the PO is approved.", "approved", false},
    {kEn, "We didn't like the old vendor, so we signed with you.", "signed", false},
    {kEn, "We haven't met in person, but the contract is signed.", "signed", false},
    {kEn, "There is no reason not to sign.", "sign", false},
    {kEn, "We signed the contract without any issues.", "signed", false},
    {kEn, "Nothing else needed, PO attached.", "attached", false},
    {kEn, "The annotated contract is signed.", "signed", false},
    {kEn, "We now have the signed PO.", "signed", false},
    {kEn, "Never mind the earlier email, we signed.", "signed", false},
    {kEn, "Snowflake and Nokia signed the contract.", "signed", false},
    {kEn, "Not available yet\n- Budget approved for 50 seats", "approved", false},
    // Mixed zh/en.
    {kZh, "我们还没sign这个contract", "sign", true},
    {kEn, "Contract 已经 signed, no problem", "signed", false},
};

TEST_F(GuardsTest, Negation) {
  RunTable(
      kNegationCases, [](const GuardFindings& f) { return f.negated; },
      [](const GuardFindings& f) { return f.negation_cue; });
}

constexpr GuardCase kHypotheticalCases[] = {
    // Chinese, hypothetical.
    {kZh, "如果价格合适，我们就签", "签", true},
    {kZh, "假如预算批下来，下个月下单", "下单", true},
    {kZh, "要是能打九折，我们就签合同", "签合同", true},
    {kZh, "万一验收不过，能退款吗", "退款", true},
    {kZh, "倘若贵司同意，我们下周签约", "签约", true},
    {kZh, "一旦审批通过就下单", "下单", true},
    {kZh, "签合同的话需要准备哪些资料", "签合同", true},
    {kZh, "等领导定了再签", "签", true},
    {kZh, "今年可能会采购你们的系统", "采购", true},
    {kZh, "我们也许下个月下单", "下单", true},
    {kZh, "我们在考虑要不要买", "买", true},
    {kZh, "不确定是否今年签约", "签约", true},
    {kZh, "我们可能会考虑明年上一套MES", "上", true},
    {kZh, "如果预算批下来，我们打算明年上MES", "上", true},
    {kZh, "我们希望月底前签合同", "签合同", true},
    {kZh, "只要交期能保证，我们就订", "订", true},
    {kZh, "除非价格再降，否则不签", "签", true},
    {kZh, "预算批了以后再下单", "下单", true},
    {kZh, "或许可以先试用一个月", "试用", true},
    {kZh, "假设我们买十套，能优惠多少", "买", true},
    {kZh, "若貴司同意，我們即可簽約", "签约", true},
    {kZh, "大概下周会签", "签", true},
    {kZh, "大概3月份签合同", "签合同", true},
    {kZh, "如果可以，我们今天就签", "签", true},
    // Chinese, not hypothetical.
    {kZh, "合同已经签了", "签", false},
    {kZh, "我们上周已经下单了", "下单", false},
    {kZh, "价格合适，我们签了", "签", false},
    {kZh, "主要是交期问题，合同已盖章", "盖章", false},
    {kZh, "若干设备已经到货验收", "验收", false},
    {kZh, "合同已盖章，如果有问题随时联系", "盖章", false},
    {kZh, "我们已经付款了，发票请尽快开", "付款", false},
    {kZh, "准备好了，合同今天寄出", "寄出", false},
    {kZh, "等了很久，终于签了", "签", false},
    {kZh, "再次感谢，合同已签", "签", false},
    {kZh, "打印好的合同已经签字", "签字", false},
    {kZh, "老板昨天拍板了，今天下单", "下单", false},
    // Estimates: "大概/大约/约/左右" around an amount, and "大概情况" (overview).
    {kZh, "预算大概50万", "预算", false},
    {kZh, "大概需要50个账号", "需要", false},
    {kZh, "budget大概50w，需要尽快上线", "上线", false},
    {kZh, "大概情况：学员600人，需要仿真实训", "需要", false},
    {kZh, "学员大约600人，需要3D仿真实训", "需要", false},
    {kZh, "预算15万左右，需要9月前上线", "上线", false},
    {kZh, "约50个用户需要开通账号", "开通", false},
    // A stated plan (with a budget) is a need, not a supposition.
    {kZh, "我们计划明年上一套MES，预算150万", "预算", false},
    {kZh, "打算下季度采购五台", "采购", false},
    {kZh, "计划明年上线你们的ＣＲＭ", "上线", false},
    // Polite requests are not conditions.
    {kZh, "方便的话请发一份报价", "报价", false},
    {kZh, "可以的话请尽快安排演示", "演示", false},
    {kZh, "如果方便，请发一份报价", "报价", false},
    {kZh, "请发一份报价，方便的话", "报价", false},
    // English, hypothetical.
    {kEn, "If the price works, we will sign next week.", "sign", true},
    {kEn, "We will sign if legal approves.", "sign", true},
    {kEn, "Unless the budget is cut, we order in May.", "order", true},
    {kEn, "We might sign the contract next month.", "sign", true},
    {kEn, "We may consider upgrading to the enterprise plan.", "upgrading", true},
    {kEn, "In case we renew, what discount applies?", "renew", true},
    {kEn, "Assuming the demo goes well, we'll proceed with the purchase.", "purchase", true},
    {kEn, "We are thinking about a pilot with 20 seats.", "pilot", true},
    {kEn, "If we go ahead, we will need 50 seats.", "need", true},
    {kEn, "We may consider a purchase if possible.", "purchase", true},
    {kEn, "We would sign if you include onboarding.", "sign", true},
    {kEn, "We could potentially place an order in Q3.", "order", true},
    {kEn, "Not sure whether we'll renew.", "renew", true},
    {kEn, "Maybe we can sign by Friday.", "sign", true},
    {kEn, "Perhaps we should schedule a demo.", "demo", true},
    {kEn, "We're considering a purchase of five units.", "purchase", true},
    {kEn, "We're hoping to finalize the contract soon.", "finalize", true},
    {kEn, "Once the budget is approved, we'll sign.", "sign", true},
    {kEn, "Provided the delivery date holds, we'll place the order.", "order", true},
    {kEn, "We expect to sign in April.", "sign", true},
    {kEn, "We are going to order after the trial.", "order", true},
    // English, not hypothetical.
    {kEn, "We signed the contract yesterday.", "signed", false},
    {kEn, "On May 5 we signed the contract.", "signed", false},
    {kEn, "Could you send the contract draft?", "send", false},
    {kEn, "Would you share the signed copy?", "share", false},
    {kEn, "Signed contract attached, let me know if you have questions.", "signed", false},
    {kEn, "The gift arrived and we signed.", "signed", false},
    {kEn, "Thanks, we confirmed the order.", "confirmed", false},
    {kEn, "The verified PO is attached.", "attached", false},
    {kEn, "Clarify the terms? We signed already.", "signed", false},
    {kEn, "We have approved the budget and placed the order.", "placed", false},
    {kEn, "Our team has committed to the purchase.", "purchase", false},
    {kEn, "Diff attached; we signed the amended agreement.", "signed", false},
    {kEn, "We plan to roll out the MES next year, budget 1.5m.", "budget", false},
    {kEn, "We plan to issue the PO after the board meeting.", "issue", false},
    {kEn, "If possible, please send the quote.", "quote", false},
    {kEn, "If you could send the quote by Friday, thanks.", "quote", false},
    {kEn, "Please send the quote if possible.", "quote", false},
    {kEn, "If you can send the quote today that would help us plan.", "quote", false},
    // Mixed zh/en.
    {kZh, "如果legal没意见，我们就sign", "sign", true},
    {kEn, "PO已经issue了，if有问题再说", "issue", false},
};

TEST_F(GuardsTest, Hypothetical) {
  RunTable(
      kHypotheticalCases, [](const GuardFindings& f) { return f.hypothetical; },
      [](const GuardFindings& f) { return f.hypothetical_cue; });
}

constexpr GuardCase kQuestionCases[] = {
    // Chinese, question.
    {kZh, "合同盖好章了吗？", "盖", true},
    {kZh, "合同签了没", "签", true},
    {kZh, "合同签了没有？", "签", true},
    {kZh, "能不能今天签合同", "签合同", true},
    {kZh, "要不要先签个意向书", "签", true},
    {kZh, "是否可以先发报价", "报价", true},
    {kZh, "有没有盖章版的合同", "合同", true},
    {kZh, "你们能否月底前交货", "交货", true},
    {kZh, "可否先开发票", "开发票", true},
    {kZh, "价格还能再优惠么", "优惠", true},
    {kZh, "ＰＯ什么时候能下来", "po", true},
    {kZh, "合同寄出了？", "寄出", true},
    {kZh, "报价单发我看看呢？", "报价单", true},
    {kZh, "这个配置可不可以再调整", "调整", true},
    {kZh, "签没签合同啊", "签", true},
    {kZh, "付款了吗，财务在问", "付款", true},
    {kZh, "这台设备是不是含税价", "含税", true},
    {kZh, "合同到底会不会签", "签", true},
    {kZh, "發票開了嗎？", "发票", true},
    {kZh, "定金付了吧？", "付", true},
    // Chinese, not a question.
    {kZh, "合同已经盖章寄出了，您收到了吗？", "盖章", false},
    {kZh, "合同已签", "签", false},
    {kZh, "那么我们就下单了", "下单", false},
    {kZh, "怎么说呢，合同还是签了", "签", false},
    {kZh, "报价单已发送，请查收。", "发送", false},
    {kZh, "付款已完成，这么快就到账了", "付款", false},
    {kZh, "我问了领导，他同意签合同", "签合同", false},
    {kZh, "没问题，已经下单", "下单", false},
    {kZh, "发票开好了", "发票", false},
    {kZh, "合同签好了。有问题吗？", "签", false},
    {kZh, "吗的问题不算，合同已盖章！", "盖章", false},
    // English, question.
    {kEn, "Have you signed the contract?", "signed", true},
    {kEn, "Did you receive the PO", "PO", true},
    {kEn, "Is it possible to sign this week", "sign", true},
    {kEn, "Could you send the contract draft?", "send", true},
    {kEn, "Can you confirm the delivery date", "confirm", true},
    {kEn, "Would you share the signed copy?", "share", true},
    {kEn, "Do you need the PO number", "PO", true},
    {kEn, "When will the contract be signed", "signed", true},
    {kEn, "The contract is signed?", "signed", true},
    {kEn, "Any update on the purchase order?", "purchase order", true},
    {kEn, "Are we still on track to sign Friday", "sign", true},
    {kEn, "Has the PO been approved yet?", "approved", true},
    {kEn, "Signed yet?", "signed", true},
    {kEn, "What did legal say about the contract", "contract", true},
    {kEn, "Will you issue the PO today", "issue", true},
    {kEn, "Should we sign the NDA first", "sign", true},
    {kEn, "Ｈａｖｅ ｙｏｕ ｓｉｇｎｅｄ？", "signed", true},
    // English, not a question.
    {kEn, "We signed the contract.", "signed", false},
    {kEn, "I have signed the contract.", "signed", false},
    {kEn, "You can sign it now.", "sign", false},
    {kEn, "It is signed.", "signed", false},
    {kEn, "We signed the contract, did you get it?", "signed", false},
    {kEn, "The PO is attached. Any questions, call me.", "attached", false},
    {kEn, "Do not hesitate to call, the contract is signed.", "signed", false},
    {kEn, "Is it done? Yes, we signed yesterday.", "signed", false},
    {kEn, "Whatever you need, the PO is approved.", "approved", false},
    {kEn, "We know when the contract was signed.", "signed", false},
    {kEn, "Thanks for asking, we signed.", "signed", false},
    {kEn, "Contract signed, invoice to follow.", "signed", false},
    {kEn, "The PO was approved by the CFO.", "approved", false},
    // Mixed zh/en.
    {kZh, "contract签了吗", "签", true},
    {kEn, "PO approved了，thanks", "approved", false},
};

TEST_F(GuardsTest, Question) {
  RunTable(
      kQuestionCases, [](const GuardFindings& f) { return f.question; },
      [](const GuardFindings& f) { return f.question_cue; });
}

TEST_F(GuardsTest, ReportsCueWords) {
  std::string text;
  GuardFindings f = Run("我们还没签合同", "签", &text);
  EXPECT_EQ(f.negation_cue, "还没");
  f = Run("如果价格合适，我们就签", "签", &text);
  EXPECT_EQ(f.hypothetical_cue, "如果");
  f = Run("Have you signed the contract", "signed", &text);
  EXPECT_EQ(f.question_cue, "have you");
  f = Run("We haven't signed", "signed", &text);
  EXPECT_EQ(f.negation_cue, "haven't");
}

TEST_F(GuardsTest, ClauseAndSentenceRanges) {
  const std::string text = normalizer_->NormalizeString("您好。如果价格合适，我们就签！谢谢");
  const size_t at = text.find("签");
  const ByteRange sentence = analyzer_->SentenceAt(text, at, at + 3);
  EXPECT_EQ(text.substr(sentence.begin, sentence.end - sentence.begin), "如果价格合适,我们就签!");
  const ByteRange clause = analyzer_->ClauseAt(text, at, at + 3);
  EXPECT_EQ(text.substr(clause.begin, clause.end - clause.begin), "我们就签!");

  const std::string en = "Thanks. We reviewed it, but the contract is signed. Bye";
  const size_t s = en.find("signed");
  const ByteRange es = analyzer_->SentenceAt(en, s, s + 6);
  EXPECT_EQ(en.substr(es.begin, es.end - es.begin), "We reviewed it, but the contract is signed.");
  const ByteRange ec = analyzer_->ClauseAt(en, s, s + 6);
  EXPECT_EQ(en.substr(ec.begin, ec.end - ec.begin), "but the contract is signed.");
  // Decimals and domains do not end sentences.
  const std::string num = "7.5千瓦的报价见 example.com 已签";
  const size_t k = num.find("已签");
  const ByteRange ns = analyzer_->SentenceAt(num, k, k + 6);
  EXPECT_EQ(ns.begin, 0u);
}

TEST_F(GuardsTest, CloneAnalyzesIndependently) {
  std::unique_ptr<GuardAnalyzer> clone = analyzer_->Clone();
  const std::string a = "我们还没签合同";
  const std::string b = "We signed the contract, thanks.";
  const GuardFindings fa = clone->Analyze(a, a.find("签"), a.find("签") + 3);
  const GuardFindings fb = analyzer_->Analyze(b, b.find("signed"), b.find("signed") + 6);
  EXPECT_TRUE(fa.negated);
  EXPECT_FALSE(fb.negated);
}

TEST_F(GuardsTest, OutOfRangeMatchIsClamped) {
  const std::string text = "合同已签";
  const GuardFindings f = analyzer_->Analyze(text, 100, 200);
  EXPECT_LE(f.sentence.end, text.size());
  EXPECT_LE(f.clause.begin, f.clause.end);
  EXPECT_FALSE(f.negated);
  const GuardFindings e = analyzer_->Analyze("", 0, 0);
  EXPECT_EQ(e.sentence.begin, 0u);
  EXPECT_EQ(e.sentence.end, 0u);
}

// Any byte range of any normalized text is analyzed without crashing, and the reported ranges
// hold the match and stay inside the text.
TEST_F(GuardsTest, RandomRangesStayInBounds) {
  const std::string_view pieces[] = {
      "我们", "还没", "签", "合同", "，", "。",     "?",      "吗",        "如果", "not ", "sign ",
      "if ",  "but ", " ",  "7.5",  "!",  "不是不", "要不要", "have you ", "\n",   "...",  "的话"};
  std::mt19937 rng(777);  // fixed seed: deterministic
  for (int round = 0; round < 300; ++round) {
    std::string raw;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) raw += pieces[rng() % std::size(pieces)];
    const std::string text = normalizer_->NormalizeString(raw);
    size_t b = rng() % (text.size() + 1);
    size_t e = b + rng() % (text.size() - b + 1);
    const GuardFindings f = analyzer_->Analyze(text, b, e);
    ASSERT_LE(f.sentence.begin, f.clause.begin) << text;
    ASSERT_LE(f.clause.begin, f.clause.end) << text;
    ASSERT_LE(f.clause.end, f.sentence.end) << text;
    ASSERT_LE(f.sentence.end, text.size()) << text;
    ASSERT_LE(f.sentence.begin, b) << text;
    ASSERT_GE(f.sentence.end, e) << text;
  }
}

// Create()'s fast paths (SIMD sentence scans, question cues through an index, runs after the
// match left unsegmented when their words cannot matter) must find exactly what the general
// path of CreateReference() finds.
void ExpectSameFindings(GuardAnalyzer& fast, GuardAnalyzer& reference, std::string_view text,
                        size_t b, size_t e) {
  const GuardFindings f = fast.Analyze(text, b, e);
  const GuardFindings r = reference.Analyze(text, b, e);
  const auto where = [&] {
    return ::testing::Message() << "[" << b << ", " << e << ") of: " << text;
  };
  ASSERT_EQ(f.sentence.begin, r.sentence.begin) << where();
  ASSERT_EQ(f.sentence.end, r.sentence.end) << where();
  ASSERT_EQ(f.clause.begin, r.clause.begin) << where();
  ASSERT_EQ(f.clause.end, r.clause.end) << where();
  ASSERT_EQ(f.negated, r.negated) << where();
  ASSERT_EQ(f.hypothetical, r.hypothetical) << where();
  ASSERT_EQ(f.question, r.question) << where();
  ASSERT_EQ(f.negation_cue, r.negation_cue) << where();
  ASSERT_EQ(f.hypothetical_cue, r.hypothetical_cue) << where();
  ASSERT_EQ(f.question_cue, r.question_cue) << where();
  const ByteRange fc = fast.ClauseAt(text, b, e);
  const ByteRange rc = reference.ClauseAt(text, b, e);
  ASSERT_EQ(fc.begin, rc.begin) << where();
  ASSERT_EQ(fc.end, rc.end) << where();
  const ByteRange fs = fast.SentenceAt(text, b, e);
  ASSERT_EQ(fs.begin, r.sentence.begin) << where();
  ASSERT_EQ(fs.end, r.sentence.end) << where();
}

TEST_F(GuardsTest, FastPathsMatchReferenceOnRandomText) {
  auto reference = GuardAnalyzer::CreateReference();
  ASSERT_TRUE(reference.ok()) << reference.status();
  std::vector<std::string_view> pieces = {"，",
                                          "。",
                                          "?",
                                          "？",
                                          "!",
                                          "！",
                                          "…",
                                          "\n",
                                          ". ",
                                          "7.5",
                                          "v2.0",
                                          "1,000",
                                          " ",
                                          "  ",
                                          "\"",
                                          "”",
                                          "）",
                                          ":",
                                          ";",
                                          "—",
                                          "、",
                                          "合同",
                                          "签",
                                          "盖章",
                                          "报价",
                                          "领导",
                                          "价格",
                                          "我们",
                                          "您",
                                          "了",
                                          "呢",
                                          "啊",
                                          "么",
                                          "什么",
                                          "再",
                                          "等",
                                          "之后",
                                          "don't",
                                          "haven’t",
                                          "the contract",
                                          "signed",
                                          "quote",
                                          "you",
                                          "may 5",
                                          "could you",
                                          "Thanks for the quote",
                                          "procurement reviewed the terms with legal this morning",
                                          "éte",
                                          "签了没",
                                          "好了没有"};
  for (const internal::Cue& c : internal::ZhNegationCues()) pieces.push_back(c.text);
  for (const internal::Cue& c : internal::EnNegationCues()) pieces.push_back(c.text);
  for (const internal::Cue& c : internal::ZhHypotheticalCues()) pieces.push_back(c.text);
  for (const internal::Cue& c : internal::EnHypotheticalCues()) pieces.push_back(c.text);
  for (auto list : {internal::ZhNegationExceptions(), internal::EnNegationExceptions(),
                    internal::ZhNegatingTails(), internal::ZhQuestionTails(),
                    internal::ZhHypotheticalExceptions(), internal::EnHypotheticalExceptions(),
                    internal::ZhTrailingHypotheticalCues(), internal::EnTrailingHypotheticalCues(),
                    internal::ZhQuestionCues(), internal::ZhFinalQuestionParticles(),
                    internal::EnQuestionAuxiliaries(), internal::EnQuestionSubjects(),
                    internal::EnQuestionWords(), internal::ZhClauseConjunctions(),
                    internal::EnClauseConjunctions(), internal::ZhNegationPrefixAdverbs()}) {
    pieces.insert(pieces.end(), list.begin(), list.end());
  }
  std::mt19937 rng(20261127);  // fixed seed: deterministic
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) {
      text += pieces[rng() % pieces.size()];
      if (rng() % 3 == 0) text += ' ';
    }
    // Arbitrary byte ranges, also inside a character: both paths must still agree.
    for (int probe = 0; probe < 4; ++probe) {
      const size_t b = rng() % (text.size() + 1);
      const size_t e = b + rng() % std::min<size_t>(text.size() - b + 1, 24);
      ExpectSameFindings(*analyzer_, **reference, text, b, e);
      if (HasFatalFailure()) return;
    }
  }
}

// Over the dev corpus (shared/corpus/dev): every segment of every event, extracted and
// normalized as the engine does, probed at every character start with matches of one and
// three characters (every anchor of the default packs starts at a character start) — the
// fast paths agree with the general path on all of them.
TEST_F(GuardsTest, FastPathsMatchReferenceOnDevCorpus) {
  const char* src = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
  const std::filesystem::path events_path =
      std::filesystem::path(src) / ".." / "shared" / "corpus" / "dev" / "events.jsonl";
  if (!std::filesystem::exists(events_path)) {
    GTEST_SKIP() << "dev corpus not found at " << events_path;
  }
  auto reference = GuardAnalyzer::CreateReference();
  ASSERT_TRUE(reference.ok()) << reference.status();
  std::ifstream events(events_path);
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  size_t probes = 0;
  for (std::string line; std::getline(events, line);) {
    if (line.empty()) continue;
    v1::Event event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &event, options).ok()) << line;
    const Extraction x = Extract(event);
    for (const Segment& segment : x.segments) {
      const std::string text = normalizer_->NormalizeString(segment.text);
      std::vector<size_t> starts;
      for (size_t k = 0; k < text.size(); ++k) {
        if ((static_cast<uint8_t>(text[k]) & 0xC0) != 0x80) starts.push_back(k);
      }
      starts.push_back(text.size());
      for (size_t k = 0; k + 1 < starts.size(); ++k) {
        for (size_t chars : {1, 3}) {
          const size_t e = starts[std::min(k + chars, starts.size() - 1)];
          ExpectSameFindings(*analyzer_, **reference, text, starts[k], e);
          if (HasFatalFailure()) return;
          ++probes;
        }
      }
    }
  }
  EXPECT_GT(probes, 10000u);
}

}  // namespace
}  // namespace autostage::text
