// The arithmetic of PartitionMonitor: offsets skipped at an assignment (scenario 9a) and the
// consumer lag from what is known of a partition. The devbroker side is
// partition_monitor_kafkatest.cc.
#include "services/ingest/partition_monitor.h"

#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

TEST(SkippedAtAssignmentTest, CountsTheOffsetsBetweenTheCommitAndTheFirstConsumed) {
  EXPECT_EQ(SkippedAtAssignment(/*committed=*/10, /*first=*/42), 32);
  EXPECT_EQ(SkippedAtAssignment(0, 1), 1);
}

TEST(SkippedAtAssignmentTest, ResumingAtOrBeforeTheCommitSkipsNothing) {
  EXPECT_EQ(SkippedAtAssignment(10, 10), 0);
  EXPECT_EQ(SkippedAtAssignment(10, 3), 0);  // re-reading is a duplicate, not a loss
}

TEST(SkippedAtAssignmentTest, ANewGroupOrAnUnknownCommitNeverCounts) {
  EXPECT_EQ(SkippedAtAssignment(-1, 500), 0);
}

TEST(ConsumerLagTest, HighWatermarkMinusThePosition) {
  EXPECT_EQ(ConsumerLag(/*low=*/0, /*high=*/50, /*position=*/20, /*committed=*/5), 30);
  EXPECT_EQ(ConsumerLag(0, 50, 50, 5), 0);
}

TEST(ConsumerLagTest, BeforeConsumingFromTheCommitElseFromTheLogStart) {
  EXPECT_EQ(ConsumerLag(0, 50, -1, 5), 45);
  EXPECT_EQ(ConsumerLag(7, 50, -1, -1), 43);
}

TEST(ConsumerLagTest, NeverBelowTheLogStart) {
  // Committed offset deleted by retention: only what is still readable is owed.
  EXPECT_EQ(ConsumerLag(30, 50, -1, 10), 20);
}

TEST(ConsumerLagTest, UnknownWithoutAHighWatermarkOrAnyStartingPoint) {
  EXPECT_EQ(ConsumerLag(0, -1, 20, 5), -1);
  EXPECT_EQ(ConsumerLag(-1, 50, -1, -1), -1);
}

TEST(ConsumerLagTest, APositionPastACachedHighWatermarkIsZeroNotNegative) {
  EXPECT_EQ(ConsumerLag(0, 40, 45, -1), 0);
}

}  // namespace
}  // namespace autostage::ingest
