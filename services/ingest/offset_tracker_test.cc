#include "services/ingest/offset_tracker.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

const PartitionKey kP0{"crm.events.email", 0};
const PartitionKey kP1{"crm.events.email", 1};

TEST(OffsetTrackerTest, StoresOnlyTheContiguousDonePrefix) {
  OffsetTracker tracker;
  const uint64_t epoch = tracker.Assign(kP0);
  for (int64_t o = 10; o < 14; ++o) EXPECT_EQ(tracker.Track(kP0, epoch, o), 0);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 10)));
  tracker.Done(kP0, epoch, 11);
  tracker.Done(kP0, epoch, 13);
  EXPECT_THAT(tracker.TakeCommittable(), IsEmpty());  // 10 still pending
  tracker.Done(kP0, epoch, 10);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 12)));
  tracker.Done(kP0, epoch, 12);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 14)));
  EXPECT_THAT(tracker.TakeCommittable(), IsEmpty());
  EXPECT_EQ(tracker.PendingTotal(), 0u);
}

TEST(OffsetTrackerTest, DoneOfARevokedAssignmentIsIgnored) {
  OffsetTracker tracker;
  const uint64_t old_epoch = tracker.Assign(kP0);
  tracker.Track(kP0, old_epoch, 5);
  tracker.Revoke(kP0);
  tracker.Done(kP0, old_epoch, 5);
  EXPECT_THAT(tracker.TakeCommittable(), IsEmpty());
  const uint64_t epoch = tracker.Assign(kP0);
  EXPECT_NE(epoch, old_epoch);
  EXPECT_FALSE(tracker.IsCurrent(kP0, old_epoch));
  tracker.Track(kP0, epoch, 5);
  tracker.Done(kP0, old_epoch, 5);  // the old assignment's late completion
  EXPECT_EQ(tracker.Pending(kP0), 1u);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 5)));
  tracker.Done(kP0, epoch, 5);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 6)));
}

TEST(OffsetTrackerTest, ReportsSkippedOffsets) {
  OffsetTracker tracker;
  const uint64_t epoch = tracker.Assign(kP1);
  EXPECT_EQ(tracker.Track(kP1, epoch, 100), 0);  // first of the assignment: no predecessor
  EXPECT_EQ(tracker.Track(kP1, epoch, 101), 0);
  EXPECT_EQ(tracker.Track(kP1, epoch, 150), 48);
  tracker.Done(kP1, epoch, 100);
  tracker.Done(kP1, epoch, 101);
  tracker.Done(kP1, epoch, 150);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP1, 151)));
}

TEST(OffsetTrackerTest, PartitionsAreIndependent) {
  OffsetTracker tracker;
  const uint64_t e0 = tracker.Assign(kP0);
  const uint64_t e1 = tracker.Assign(kP1);
  tracker.Track(kP0, e0, 0);
  tracker.Track(kP1, e1, 0);
  tracker.Done(kP1, e1, 0);
  EXPECT_THAT(tracker.TakeCommittable(), ElementsAre(Pair(kP0, 0), Pair(kP1, 1)));
  EXPECT_EQ(tracker.Pending(kP0), 1u);
  EXPECT_EQ(tracker.Pending(kP1), 0u);
}

}  // namespace
}  // namespace autostage::ingest
