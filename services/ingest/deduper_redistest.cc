// Deduper against a real redis-server (label `redis`): marks, TTLs, pipelined variants, and
// Redis down → kUnavailable (never "not done"), recovery after a restart.
#include <memory>
#include <string>
#include <vector>

#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"
#include "services/ingest/deduper.h"

namespace autostage::ingest {
namespace {

using ::autostage::testing::RedisServer;

class DeduperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
    options_.host = redis_->host();
    options_.port = redis_->port();
    options_.command_timeout = absl::Milliseconds(500);
    options_.connect_timeout = absl::Milliseconds(500);
    pool_ = std::make_unique<redis::RedisPool>(options_, 2);
  }

  std::unique_ptr<RedisServer> redis_;
  redis::RedisOptions options_;
  std::unique_ptr<redis::RedisPool> pool_;
};

TEST_F(DeduperTest, KeyLayout) { EXPECT_EQ(Deduper::KeyOf("ev-1"), "autostage:{ev-1}:event-done"); }

TEST_F(DeduperTest, MarkThenIsDone) {
  Deduper deduper(*pool_, {.ttl = absl::Hours(1)});
  ASSERT_EQ(deduper.IsDone("ev-1").value_or(true), false);
  ASSERT_TRUE(deduper.MarkDone("ev-1").ok());
  EXPECT_EQ(deduper.IsDone("ev-1").value_or(false), true);
  EXPECT_EQ(deduper.IsDone("ev-2").value_or(true), false);
  // Marking again is fine and keeps the mark.
  ASSERT_TRUE(deduper.MarkDone("ev-1").ok());
  redis::RedisClient client(options_);
  absl::StatusOr<redis::Reply> ttl = client.Command("TTL", Deduper::KeyOf("ev-1"));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer(), 3500);
  EXPECT_LE(ttl->integer(), 3600);
  EXPECT_EQ(deduper.IsDone("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DeduperTest, ExpiredMarkIsNotDone) {
  Deduper deduper(*pool_, {.ttl = absl::Seconds(100)});
  ASSERT_TRUE(deduper.MarkDone("ev-x").ok());
  redis::RedisClient client(options_);
  // Expire it now rather than waiting for the TTL.
  ASSERT_TRUE(client.Command("PEXPIRE", Deduper::KeyOf("ev-x"), 1).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return deduper.IsDone("ev-x").value_or(true) == false; },
                               absl::Seconds(5))
                  .ok());
}

TEST_F(DeduperTest, ManyVariantsAnswerInOrder) {
  Deduper deduper(*pool_, {});
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i) ids.push_back("ev-" + std::to_string(i));
  std::vector<std::string> even;
  for (int i = 0; i < 500; i += 2) even.push_back(ids[i]);
  ASSERT_TRUE(deduper.MarkDoneMany(even).ok());
  absl::StatusOr<std::vector<bool>> done = deduper.IsDoneMany(ids);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ((*done)[i], i % 2 == 0) << i;
  EXPECT_TRUE(deduper.IsDoneMany({}).value().empty());
  EXPECT_EQ(deduper.MarkDoneMany({"a", ""}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DeduperTest, RedisDownIsUnavailableNeverNotDone) {
  Deduper deduper(*pool_, {.acquire_wait = absl::Milliseconds(100)});
  ASSERT_TRUE(deduper.MarkDone("before").ok());
  redis_->Kill();
  absl::StatusOr<bool> done = deduper.IsDone("new-event");
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable) << done.status();
  EXPECT_EQ(deduper.MarkDone("new-event").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(deduper.IsDoneMany({"a", "b"}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(deduper.MarkDoneMany({"a", "b"}).code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(redis_->Restart().ok());
  // The pool reconnects by itself; the restarted server (no AOF) forgot the old mark, which
  // replays that event rather than losing it.
  ASSERT_TRUE(
      testing::WaitFor([&] { return deduper.IsDone("new-event").ok(); }, absl::Seconds(10)).ok());
  ASSERT_TRUE(deduper.MarkDone("new-event").ok());
  EXPECT_EQ(deduper.IsDone("new-event").value_or(false), true);
  EXPECT_EQ(deduper.IsDone("before").value_or(true), false);
}

TEST_F(DeduperTest, MarksSurviveACrashWithAppendOnly) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = true});
  ASSERT_TRUE(server.ok()) << server.status();
  redis::RedisOptions options = options_;
  options.port = (*server)->port();
  redis::RedisPool pool(options, 1);
  Deduper deduper(pool, {});
  ASSERT_TRUE(deduper.MarkDoneMany({"a", "b", "c"}).ok());
  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE(testing::WaitFor([&] { return deduper.IsDone("a").ok(); }, absl::Seconds(10)).ok());
  EXPECT_EQ(deduper.IsDoneMany({"a", "b", "c", "d"}).value(),
            (std::vector<bool>{true, true, true, false}));
}

}  // namespace
}  // namespace autostage::ingest
