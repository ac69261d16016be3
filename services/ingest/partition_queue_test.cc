#include "services/ingest/partition_queue.h"

#include <atomic>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

TEST(PartitionQueueTest, KeepsEachPartitionInOrderAndNeverRunsItTwiceAtOnce) {
  PartitionQueue pool(4);
  absl::Mutex mu;
  std::map<int, std::vector<int>> seen;
  std::map<int, std::atomic<int>> active;
  for (int p = 0; p < 8; ++p) active[p] = 0;
  std::atomic<bool> overlap{false};
  for (int i = 0; i < 2000; ++i) {
    const int p = i % 8;
    pool.Submit({"t", p}, [&, p, i] {
      if (active[p].fetch_add(1) != 0) overlap = true;
      {
        absl::MutexLock lock(&mu);
        seen[p].push_back(i);
      }
      active[p].fetch_sub(1);
    });
  }
  ASSERT_TRUE(pool.WaitAllIdle(Soon()));
  EXPECT_FALSE(overlap);
  for (int p = 0; p < 8; ++p) {
    ASSERT_EQ(seen[p].size(), 250u);
    for (size_t k = 1; k < seen[p].size(); ++k) EXPECT_LT(seen[p][k - 1], seen[p][k]);
  }
  EXPECT_EQ(pool.queued(), 0u);
}

TEST(PartitionQueueTest, ABlockedPartitionDoesNotBlockOthers) {
  PartitionQueue pool(2);
  absl::Notification release;
  absl::Notification started;
  pool.Submit({"t", 0}, [&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  std::atomic<int> done{0};
  for (int i = 0; i < 100; ++i) pool.Submit({"t", 1}, [&] { ++done; });
  EXPECT_TRUE(pool.WaitIdle({"t", 1}, Soon()));
  EXPECT_EQ(done.load(), 100);
  EXPECT_FALSE(pool.WaitIdle({"t", 0}, absl::Now() + absl::Milliseconds(20)));
  release.Notify();
  EXPECT_TRUE(pool.WaitAllIdle(Soon()));
}

TEST(PartitionQueueTest, DropRemovesQueuedTasksOnly) {
  PartitionQueue pool(1);
  absl::Notification release;
  absl::Notification started;
  std::atomic<int> ran{0};
  pool.Submit({"t", 0}, [&] {
    started.Notify();
    release.WaitForNotification();
    ++ran;
  });
  started.WaitForNotification();
  for (int i = 0; i < 10; ++i) pool.Submit({"t", 0}, [&] { ++ran; });
  EXPECT_EQ(pool.queued(), 10u);
  EXPECT_EQ(pool.Drop({"t", 0}), 10u);
  EXPECT_EQ(pool.queued(), 0u);
  EXPECT_EQ(pool.running(), 1u);
  release.Notify();
  EXPECT_TRUE(pool.WaitIdle({"t", 0}, Soon()));
  EXPECT_EQ(ran.load(), 1);
  // The partition works again after the drop.
  pool.Submit({"t", 0}, [&] { ++ran; });
  EXPECT_TRUE(pool.WaitAllIdle(Soon()));
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace autostage::ingest
