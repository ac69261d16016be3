// RedisClient, Script and RedisPool against a real redis-server (label `redis`).
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/redis/key.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_pool.h"
#include "common/redis/script.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::redis {
namespace {

using ::autostage::testing::RedisServer;
using ::testing::HasSubstr;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  RedisOptions Options() const {
    RedisOptions options;
    options.host = server_->host();
    options.port = server_->port();
    return options;
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisClientTest, CommandsReturnOwnedReplies) {
  RedisClient client(Options());
  const std::string key = Key("test", "opp-1");
  const std::string binary("a\0b\r\nc", 6);
  ASSERT_TRUE(client.Command("SET", key, binary).ok());
  absl::StatusOr<Reply> get = client.Command("GET", key);
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(*get, Reply::String(binary));
  EXPECT_EQ(*client.Command("GET", "missing"), Reply::Nil());
  EXPECT_EQ(*client.Command("INCRBY", "counter", 41), Reply::Integer(41));
  ASSERT_TRUE(client.Command("RPUSH", "list", "x", "y").ok());
  EXPECT_EQ(*client.Command("LRANGE", "list", 0, -1),
            Reply::Array({Reply::String("x"), Reply::String("y")}));
  EXPECT_EQ(*client.Command("PING"), Reply::Status("PONG"));
  EXPECT_EQ(client.connects(), 1);
}

TEST_F(RedisClientTest, ErrorRepliesBecomeStatuses) {
  RedisClient client(Options());
  ASSERT_TRUE(client.Command("SET", "str", "v").ok());
  const absl::StatusOr<Reply> wrongtype = client.Command("LPUSH", "str", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(wrongtype.status())) << wrongtype.status();
  EXPECT_THAT(wrongtype.status().message(), HasSubstr("WRONGTYPE"));
  const absl::StatusOr<Reply> unknown = client.Command("NOSUCHCOMMAND");
  EXPECT_TRUE(absl::IsInternal(unknown.status())) << unknown.status();
  EXPECT_TRUE(absl::IsInvalidArgument(client.Command(Args{}).status()));
  // An error reply is not a connection problem: the connection stays.
  EXPECT_TRUE(client.Command("PING").ok());
  EXPECT_EQ(client.connects(), 1);
}

TEST_F(RedisClientTest, PipelineKeepsPerCommandErrors) {
  RedisClient client(Options());
  absl::StatusOr<std::vector<Reply>> replies = client.Pipeline({
      {"SET", "p", "1"},
      {"INCR", "p"},
      {"LPUSH", "p", "x"},  // WRONGTYPE, but the others still run
      {"GET", "p"},
  });
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0], Reply::Status("OK"));
  EXPECT_EQ((*replies)[1], Reply::Integer(2));
  EXPECT_TRUE((*replies)[2].is_error());
  EXPECT_TRUE(absl::IsFailedPrecondition((*replies)[2].ToStatus()));
  EXPECT_EQ((*replies)[3], Reply::String("2"));

  // MULTI/EXEC inside a pipeline: one round trip, atomic.
  replies = client.Pipeline({{"MULTI"}, {"INCR", "p"}, {"INCR", "p"}, {"EXEC"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  EXPECT_EQ(replies->back(), Reply::Array({Reply::Integer(3), Reply::Integer(4)}));
}

TEST_F(RedisClientTest, ScriptReloadsAfterScriptFlush) {
  RedisClient client(Options());
  // Check-and-set: set KEYS[1] to ARGV[2] only if it currently holds ARGV[1].
  const Script cas(R"lua(
    if redis.call('GET', KEYS[1]) == ARGV[1] then
      redis.call('SET', KEYS[1], ARGV[2])
      return 1
    end
    return 0
  )lua");
  ASSERT_TRUE(client.Command("SET", "stage", "QUALIFY").ok());
  EXPECT_EQ(*cas.Run(client, {"stage"}, {"QUALIFY", "PROPOSE"}), Reply::Integer(1));
  EXPECT_EQ(*cas.Run(client, {"stage"}, {"QUALIFY", "CLOSED_WON"}), Reply::Integer(0));
  EXPECT_EQ(cas.loads(), 1);
  EXPECT_EQ(cas.sha().size(), 40u);

  ASSERT_TRUE(client.Command("SCRIPT", "FLUSH").ok());
  absl::StatusOr<Reply> after_flush = cas.Run(client, {"stage"}, {"PROPOSE", "NEGOTIATE"});
  ASSERT_TRUE(after_flush.ok()) << after_flush.status();
  EXPECT_EQ(*after_flush, Reply::Integer(1));
  EXPECT_EQ(cas.loads(), 2) << "NOSCRIPT must trigger exactly one reload";
  EXPECT_EQ(*client.Command("GET", "stage"), Reply::String("NEGOTIATE"));

  const Script failing("return redis.error_reply('CONFLICT version moved')");
  const absl::StatusOr<Reply> conflict = failing.Run(client, {}, {});
  EXPECT_TRUE(absl::IsInternal(conflict.status()));
  EXPECT_THAT(conflict.status().message(), HasSubstr("CONFLICT version moved"));
}

TEST_F(RedisClientTest, ScriptRunPipelinedKeepsOrderErrorsAndReloadsAfterFlush) {
  RedisClient client(Options());
  // Appends ARGV[1] to the list KEYS[1] and returns its new length; "fail" raises an error.
  const Script push(R"lua(
    if ARGV[1] == 'fail' then return redis.error_reply('CONFLICT ' .. ARGV[1]) end
    return redis.call('RPUSH', KEYS[1], ARGV[1])
  )lua");
  absl::StatusOr<std::vector<Reply>> none = push.RunPipelined(client, {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  absl::StatusOr<std::vector<Reply>> replies = push.RunPipelined(
      client, {{{"l"}, {"a"}}, {{"l"}, {"fail"}}, {{"l"}, {"b"}}, {{"m"}, {"c"}}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0], Reply::Integer(1));
  ASSERT_TRUE((*replies)[1].is_error());
  EXPECT_TRUE(absl::IsInternal((*replies)[1].ToStatus()));
  EXPECT_THAT((*replies)[1].str(), HasSubstr("CONFLICT fail"));
  EXPECT_EQ((*replies)[2], Reply::Integer(2)) << "an error reply must not stop the others";
  EXPECT_EQ((*replies)[3], Reply::Integer(1));
  EXPECT_EQ(push.loads(), 1);

  // After SCRIPT FLUSH every invocation gets NOSCRIPT: one reload, each runs exactly once.
  ASSERT_TRUE(client.Command("SCRIPT", "FLUSH").ok());
  replies = push.RunPipelined(client, {{{"l"}, {"c"}}, {{"l"}, {"d"}}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  EXPECT_EQ(*replies, (std::vector<Reply>{Reply::Integer(3), Reply::Integer(4)}));
  EXPECT_EQ(push.loads(), 2) << "NOSCRIPT must trigger exactly one reload";
  EXPECT_EQ(*client.Command("LRANGE", "l", 0, -1),
            Reply::Array(
                {Reply::String("a"), Reply::String("b"), Reply::String("c"), Reply::String("d")}));
}

TEST_F(RedisClientTest, KilledServerIsUnavailableThenClientReconnectsByItself) {
  RedisClient client(Options());
  ASSERT_TRUE(client.Command("PING").ok());
  server_->Kill();
  const absl::StatusOr<Reply> down = client.Command("PING");
  EXPECT_TRUE(absl::IsUnavailable(down.status())) << down.status();
  EXPECT_FALSE(client.connected());
  EXPECT_TRUE(absl::IsUnavailable(client.Command("PING").status()));

  ASSERT_TRUE(server_->Restart().ok());
  const absl::StatusOr<Reply> up = client.Command("PING");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(*up, Reply::Status("PONG"));
  EXPECT_EQ(client.connects(), 2);
}

TEST_F(RedisClientTest, ConnectionClosedWhileIdleIsReplacedBeforeTheNextCommand) {
  RedisClient client(Options());
  ASSERT_TRUE(client.Command("PING").ok());
  // The server goes away and comes back while the client is idle: the next command must not
  // fail on the dead socket.
  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  const absl::StatusOr<Reply> reply = client.Command("ECHO", "hello");
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, Reply::String("hello"));
  EXPECT_EQ(client.connects(), 2);
}

TEST_F(RedisClientTest, TimeoutDropsTheConnectionSoALateReplyIsNeverMisread) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(100);
  RedisClient client(options);
  ASSERT_TRUE(client.Command("PING").ok());
  // BLPOP answers nil after 0.5 s, long after the client gave up. Reusing that connection
  // would hand the nil to the next command.
  const absl::StatusOr<Reply> blocked = client.Command("BLPOP", "nothing", "0.5");
  EXPECT_TRUE(absl::IsUnavailable(blocked.status())) << blocked.status();
  EXPECT_FALSE(client.connected());
  const absl::StatusOr<Reply> echo = client.Command("ECHO", "mine");
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, Reply::String("mine"));
  EXPECT_EQ(client.connects(), 2);
}

TEST_F(RedisClientTest, AuthAndSelectRunOnEveryConnection) {
  RedisClient admin(Options());
  ASSERT_TRUE(admin.Command("CONFIG", "SET", "requirepass", "s3cret").ok());

  RedisOptions wrong = Options();
  wrong.password = "nope";
  RedisClient denied(wrong);
  const absl::StatusOr<Reply> r = denied.Command("PING");
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_FALSE(denied.connected());

  RedisOptions db3 = Options();
  db3.password = "s3cret";
  db3.db = 3;
  RedisClient client(db3);
  ASSERT_TRUE(client.Command("SET", "only-in-3", "x").ok());
  client.Disconnect();  // the reconnect must AUTH and SELECT again
  EXPECT_EQ(*client.Command("GET", "only-in-3"), Reply::String("x"));
  EXPECT_EQ(*admin.Command("GET", "only-in-3"), Reply::Nil()) << "admin is on db 0";
  EXPECT_EQ(client.connects(), 2);
}

TEST_F(RedisClientTest, PoolHandsEachClientToOneThreadAtATime) {
  RedisPool pool(Options(), 2);
  {
    absl::StatusOr<RedisPool::Lease> a = pool.Acquire(absl::Milliseconds(10));
    absl::StatusOr<RedisPool::Lease> b = pool.Acquire(absl::Milliseconds(10));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(absl::IsDeadlineExceeded(pool.Acquire(absl::Milliseconds(10)).status()));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool] {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<RedisPool::Lease> lease = pool.Acquire(absl::Seconds(5));
        ASSERT_TRUE(lease.ok()) << lease.status();
        ASSERT_TRUE((*lease)->Command("INCR", "shared").ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  RedisClient check(Options());
  EXPECT_EQ(*check.Command("GET", "shared"), Reply::String("200"));
}

}  // namespace
}  // namespace autostage::redis
