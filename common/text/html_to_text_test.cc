#include "common/text/html_to_text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::text {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(HtmlToTextTest, DropsScriptsStylesCommentsAndHead) {
  HtmlText t = HtmlToText(
      "<html><head><title>T</title><style>p{color:red}</style></head><body>"
      "<script>var x = '<p>合同</p>';</script><!-- 报价 comment -->"
      "<p>visible</p><STYLE type=x>.a{}</STYLE></body></html>");
  EXPECT_EQ(t.text, "visible\n");
  EXPECT_TRUE(t.had_script_or_style);
  EXPECT_EQ(t.scripts_and_styles.size(), 2u);
}

TEST(HtmlToTextTest, DecodesNamedDecimalAndHexEntities) {
  HtmlText t =
      HtmlToText("a&amp;b &lt;c&gt; &quot;d&quot; &#21512;&#x540C; &nbsp;x &copy &bogus; &#;");
  EXPECT_EQ(t.text, "a&b <c> \"d\" 合同 \xC2\xA0x \xC2\xA9 &bogus; &#;");
}

TEST(HtmlToTextTest, InvalidCodePointsBecomeReplacementCharacter) {
  HtmlText t = HtmlToText("&#0;&#xD800;&#x110000;&#99999999999;&#150;");
  EXPECT_EQ(t.text, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xE2\x80\x93");
}

TEST(HtmlToTextTest, BlockElementsBecomeLineBreaks) {
  HtmlText t = HtmlToText(
      "<div>one</div><div>two<br>three</div><p>four</p><ul><li>a</li><li>b</li></ul>"
      "<table><tr><td>c1</td><td>c2</td></tr><tr><td>d</td></tr></table><h1>h</h1>x");
  EXPECT_EQ(t.text, "one\ntwo\nthree\nfour\na\nb\nc1 c2\nd\nh\nx");
}

TEST(HtmlToTextTest, CollapsesWhitespaceButKeepsPre) {
  HtmlText t = HtmlToText("<p>  a \n\t b  </p>\n  <pre>x  y\n z</pre> c");
  EXPECT_EQ(t.text, "a b\nx  y\n z\nc");
}

TEST(HtmlToTextTest, GmailQuoteIsReported) {
  std::string html =
      "<div dir=\"ltr\">Thanks, works for us.</div><br><div class=\"gmail_quote\">"
      "<div class=\"gmail_attr\">On Thu, Apr 3, 2025 Chen Hao &lt;a@b.com&gt; wrote:<br></div>"
      "<blockquote class=\"gmail_quote\">send the contract</blockquote></div><p>after</p>";
  HtmlText t = HtmlToText(html);
  ASSERT_EQ(t.quoted.size(), 1u);
  EXPECT_EQ(t.quoted[0].format, "gmail_quote");
  std::string quoted = t.text.substr(t.quoted[0].begin, t.quoted[0].end - t.quoted[0].begin);
  EXPECT_THAT(quoted, HasSubstr("wrote:"));
  EXPECT_THAT(quoted, HasSubstr("send the contract"));
  EXPECT_THAT(quoted, Not(HasSubstr("after")));
  EXPECT_THAT(quoted, Not(HasSubstr("works for us")));
}

TEST(HtmlToTextTest, BlockquoteAndQqContainersAreReported) {
  HtmlText a = HtmlToText("new<blockquote type=\"cite\">old <b>合同</b></blockquote>tail");
  ASSERT_EQ(a.quoted.size(), 1u);
  EXPECT_EQ(a.quoted[0].format, "blockquote");
  EXPECT_EQ(a.text.substr(a.quoted[0].begin, a.quoted[0].end - a.quoted[0].begin), "old 合同\n");

  HtmlText b = HtmlToText("好的<includetail><div>原邮件 报价</div></includetail>");
  ASSERT_EQ(b.quoted.size(), 1u);
  EXPECT_EQ(b.quoted[0].format, "qq_quote");

  HtmlText c = HtmlToText("ok<blockquote id=\"ntes-pcmail-quote\">x</blockquote>");
  ASSERT_EQ(c.quoted.size(), 1u);
  EXPECT_EQ(c.quoted[0].format, "blockquote");

  HtmlText d = HtmlToText("ok<div id=\"isReplyContent\">x</div>");
  ASSERT_EQ(d.quoted.size(), 1u);
  EXPECT_EQ(d.quoted[0].format, "qq_quote");
}

TEST(HtmlToTextTest, NoQuoteInPlainHtml) {
  HtmlText t = HtmlToText("<div class=\"content\">合同已盖章</div>");
  EXPECT_TRUE(t.quoted.empty());
}

TEST(HtmlToTextTest, OffsetsMapBackToHtmlSource) {
  std::string html = "<p>A&amp;B</p><div>合同&nbsp;已盖章</div>";
  HtmlText t = HtmlToText(html);
  ASSERT_EQ(t.text, "A&B\n合同\xC2\xA0已盖章\n");
  // "B" comes after the entity.
  size_t b = t.text.find('B');
  EXPECT_EQ(html.substr(t.to_html.ToSource(b), 1), "B");
  size_t amp = t.text.find('&');
  EXPECT_EQ(html.substr(t.to_html.ToSource(amp), 5), "&amp;");
  size_t seal = t.text.find("已盖章");
  EXPECT_EQ(html.substr(t.to_html.ToSource(seal), 9), "已盖章");
  size_t he = t.text.find("合同");
  OffsetMap sub = MapTextRange(t, he, seal + 9);
  EXPECT_EQ(sub.ToSource(0), html.find("合同"));
  EXPECT_EQ(sub.ToSource(seal - he), html.find("已盖章"));
  EXPECT_EQ(sub.ToSource(seal + 9 - he), html.find("已盖章") + 9);
}

TEST(HtmlToTextTest, UnterminatedConstructsEndQuietly) {
  EXPECT_EQ(HtmlToText("a<!-- never closed").text, "a");
  EXPECT_EQ(HtmlToText("a<script>never closed").text, "a");
  EXPECT_EQ(HtmlToText("a<div class=\"x").text, "a");
  EXPECT_EQ(HtmlToText("a < b").text, "a < b");
  EXPECT_EQ(HtmlToText("a<").text, "a<");
  EXPECT_EQ(HtmlToText("").text, "");
}

TEST(HtmlToTextTest, HundredThousandNestedTagsInBoundedTime) {
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<div><blockquote><span>";
  html += "deep";
  for (int i = 0; i < 100000; ++i) html += "</span></blockquote></div>";
  html += "after";
  // No wall-clock assertion (machines are noisy): a quadratic path over 100,000 tags would
  // run for many minutes and hit this test's CTest timeout (extract.cmake).
  HtmlText t = HtmlToText(html, 256);
  EXPECT_THAT(t.text, HasSubstr("deep"));
  EXPECT_THAT(t.text, HasSubstr("after"));
  ASSERT_EQ(t.quoted.size(), 1u);
  // "after" is outside the quote again.
  EXPECT_LT(t.quoted[0].end, t.text.find("after") + 1);
  EXPECT_LT(t.text.size(), html.size());
}

TEST(HtmlToTextTest, HundredThousandUnclosedTags) {
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<p><b><i>x";
  HtmlText t = HtmlToText(html);  // bounded time: see HundredThousandNestedTagsInBoundedTime
  EXPECT_EQ(t.text.size(), 200000u - 1);  // "x\n" per <p>, no trailing newline
}

TEST(HtmlToTextTest, OneMebibyteSingleLine) {
  std::string html(1 << 20, 'a');
  HtmlText t = HtmlToText(html);
  EXPECT_EQ(t.text.size(), html.size());
  EXPECT_EQ(t.to_html.ToSource(12345), 12345u);
}

}  // namespace
}  // namespace autostage::text
