#include <hiredis/hiredis.h>

#include <filesystem>
#include <string>

#include "common/handle/handle.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"

namespace autostage::testing {
namespace {

using RedisContext = Handle<redisContext, &redisFree>;
using RedisReply = Handle<redisReply, &freeReplyObject>;

RedisContext Connect(const RedisServer& server) {
  RedisContext context(redisConnectWithTimeout(server.host().c_str(), server.port(),
                                               absl::ToTimeval(absl::Seconds(2))));
  EXPECT_TRUE(context && context->err == 0) << (context ? context->errstr : "out of memory");
  return context;
}

// The reply to a command as text: the string for bulk/status replies, "(nil)" for nil.
std::string Command(redisContext* context, const char* format, const char* a = nullptr,
                    const char* b = nullptr) {
  RedisReply reply(static_cast<redisReply*>(redisCommand(context, format, a, b)));
  if (!reply) return std::string("connection error: ") + context->errstr;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(reply->str, reply->len);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ERROR:
      return std::string("error: ") + reply->str;
    default:
      return "unexpected reply type";
  }
}

TEST(RedisServerTest, SetGetThenStopRemovesDirectory) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->host(), "127.0.0.1");
  EXPECT_GT((*server)->port(), 0);
  const std::string dir = (*server)->dir();
  {
    RedisContext context = Connect(**server);
    ASSERT_TRUE(context);
    EXPECT_EQ(Command(context.get(), "SET %s %s", "opp:1", "需求分析"), "OK");
    EXPECT_EQ(Command(context.get(), "GET %s", "opp:1"), "需求分析");
  }
  EXPECT_TRUE((*server)->Stop().ok());
  EXPECT_FALSE((*server)->Running());
  EXPECT_FALSE((*server)->Ping().ok());
  server->reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(RedisServerTest, AppendOnlyDataSurvivesKillAndRestart) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = true});
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  {
    RedisContext context = Connect(**server);
    ASSERT_TRUE(context);
    ASSERT_EQ(Command(context.get(), "SET %s %s", "opp:7", "商务谈判"), "OK");
  }
  (*server)->Kill();
  EXPECT_FALSE((*server)->Running());
  EXPECT_FALSE((*server)->Ping().ok());

  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ((*server)->port(), port);
  RedisContext context = Connect(**server);
  ASSERT_TRUE(context);
  EXPECT_EQ(Command(context.get(), "GET %s", "opp:7"), "商务谈判");
}

// The control for the test above: without AOF (and with snapshots off) a crash loses data,
// so the AOF option is what kept it.
TEST(RedisServerTest, WithoutAppendOnlyKillLosesData) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start({.append_only = false});
  ASSERT_TRUE(server.ok()) << server.status();
  {
    RedisContext context = Connect(**server);
    ASSERT_TRUE(context);
    ASSERT_EQ(Command(context.get(), "SET %s %s", "opp:7", "商务谈判"), "OK");
  }
  (*server)->Kill();
  ASSERT_TRUE((*server)->Restart().ok());
  RedisContext context = Connect(**server);
  ASSERT_TRUE(context);
  EXPECT_EQ(Command(context.get(), "GET %s", "opp:7"), "(nil)");
}

TEST(RedisServerTest, MissingBinaryIsAClearError) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start({.binary = "/nonexistent/redis-server"});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(server.status().message().find("/nonexistent/redis-server"), absl::string_view::npos);
}

}  // namespace
}  // namespace autostage::testing
