#include "common/config/units.h"

#include "gtest/gtest.h"

namespace autostage::config {
namespace {

TEST(ParseDurationTest, AcceptsUnitsAndCompoundTerms) {
  EXPECT_EQ(*ParseDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("14d"), absl::Hours(14 * 24));
  EXPECT_EQ(*ParseDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDuration("250us"), absl::Microseconds(250));
  EXPECT_EQ(*ParseDuration("0"), absl::ZeroDuration());
}

TEST(ParseDurationTest, RejectsMalformedInput) {
  for (const char* bad :
       {"", "30", "-5s", "5 s", "5sec", "s", "1.2.3s", "ms", "99999999999999999999d"}) {
    absl::StatusOr<absl::Duration> d = ParseDuration(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << bad;
  }
  EXPECT_NE(ParseDuration("5sec").status().message().find("unknown unit \"sec\""),
            std::string::npos);
}

TEST(ParseByteSizeTest, BinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseByteSize("1MiB"), 1048576u);
  EXPECT_EQ(*ParseByteSize("10MB"), 10000000u);
  EXPECT_EQ(*ParseByteSize("4 KiB"), 4096u);
  EXPECT_EQ(*ParseByteSize("512"), 512u);
  EXPECT_EQ(*ParseByteSize("7B"), 7u);
  EXPECT_EQ(*ParseByteSize("2TiB"), 2ULL << 40);
}

TEST(ParseByteSizeTest, RejectsMalformedAndOverflow) {
  for (const char* bad :
       {"", "MiB", "1.5MiB", "-1", "1 mib", "1MiBs", "99999999999TiB", "999999999999999999999"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseByteSize(bad).status())) << bad;
  }
}

}  // namespace
}  // namespace autostage::config
