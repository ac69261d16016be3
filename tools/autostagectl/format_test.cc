#include "tools/autostagectl/format.h"

#include <sstream>

#include "gtest/gtest.h"

namespace autostage::ctl {
namespace {

TEST(DisplayWidthTest, CountsCjkDoubleAndEscapesZero) {
  EXPECT_EQ(DisplayWidth("abc"), 3);
  EXPECT_EQ(DisplayWidth("方案制定"), 8);
  EXPECT_EQ(DisplayWidth("a → b"), 5);
  EXPECT_EQ(DisplayWidth("\x1b[1mok\x1b[0m"), 2);
  EXPECT_EQ(DisplayWidth("\xff"), 1);      // invalid byte
  EXPECT_EQ(DisplayWidth("\xe6\x96"), 2);  // truncated sequence: two bytes, one column each
}

TEST(TruncateTest, CutsOnCodePointsByWidth) {
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("abcdefghij", 5), "abcd…");
  EXPECT_EQ(Truncate("合同签约合同签约", 5), "合同…");
}

TEST(HighlightTermsTest, MarksEveryOccurrenceCaseInsensitively) {
  EXPECT_EQ(HighlightTerms("Please send the PO and the po number", {"po"}, Highlight::kBrackets),
            "Please send the [[PO]] and the [[po]] number");
  EXPECT_EQ(HighlightTerms("我们同意签合同", {"签合同"}, Highlight::kAnsi),
            "我们同意\x1b[1m签合同\x1b[0m");
  // Overlapping terms merge; newlines flatten.
  EXPECT_EQ(HighlightTerms("signed\ncontract attached", {"signed contract", "contract"},
                           Highlight::kBrackets),
            "[[signed contract]] attached");
  EXPECT_EQ(HighlightTerms("purchase order ready", {"purchase order", "order ready"},
                           Highlight::kBrackets),
            "[[purchase order ready]]");
  EXPECT_EQ(HighlightTerms("nothing here", {"absent", ""}, Highlight::kBrackets), "nothing here");
}

TEST(AgeTest, RelativeToNow) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(Age(now, now), "now");
  EXPECT_EQ(Age(now - absl::Seconds(45), now), "45s ago");
  EXPECT_EQ(Age(now - absl::Minutes(12), now), "12m ago");
  EXPECT_EQ(Age(now - absl::Hours(30), now), "30h ago");
  EXPECT_EQ(Age(now - absl::Hours(24 * 5 + 3), now), "5d ago");
  EXPECT_EQ(Age(now + absl::Minutes(3), now), "in 3m");
}

TEST(JsonQuoteTest, EscapesControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  EXPECT_EQ(JsonQuote("合同"), "\"合同\"");
}

TEST(TableTest, PadsByDisplayWidthAndLeavesLastColumnRagged) {
  Table table({"ID", "STAGE", "NOTE"});
  table.Add({"p-1", "方案制定", "x"});
  table.Add({"p-22", "lead", "longer note"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID    STAGE     NOTE\n"
            "p-1   方案制定  x\n"
            "p-22  lead      longer note\n");
  EXPECT_EQ(table.size(), 2u);
}

}  // namespace
}  // namespace autostage::ctl
