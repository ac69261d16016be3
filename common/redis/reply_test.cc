#include "common/redis/reply.h"

#include "gtest/gtest.h"

namespace autostage::redis {
namespace {

TEST(ReplyTest, AccessorsFollowType) {
  EXPECT_TRUE(Reply().is_nil());
  EXPECT_EQ(Reply::Integer(7).integer(), 7);
  EXPECT_EQ(Reply::String("x").integer(), 0);
  EXPECT_EQ(Reply::String(std::string("a\0b", 3)).str().size(), 3u);
  const Reply array = Reply::Array({Reply::Status("OK"), Reply::Nil(), Reply::Integer(3)});
  ASSERT_EQ(array.size(), 3u);
  EXPECT_TRUE(array[0].is_status());
  EXPECT_TRUE(array[1].is_nil());
  EXPECT_EQ(array.DebugString(), "[OK, nil, 3]");
}

TEST(ReplyTest, EqualityIsDeep) {
  EXPECT_EQ(Reply::Array({Reply::String("a")}), Reply::Array({Reply::String("a")}));
  EXPECT_NE(Reply::Array({Reply::String("a")}), Reply::Array({Reply::Status("a")}));
  EXPECT_NE(Reply::Integer(1), Reply::Integer(2));
}

TEST(ReplyTest, ErrorRepliesMapToCodesByWhatTheCallerShouldDo) {
  EXPECT_TRUE(absl::IsUnavailable(ErrorReplyToStatus("LOADING Redis is loading")));
  EXPECT_TRUE(absl::IsUnavailable(ErrorReplyToStatus("READONLY You can't write")));
  EXPECT_TRUE(absl::IsFailedPrecondition(ErrorReplyToStatus("WRONGTYPE Operation against")));
  EXPECT_TRUE(absl::IsFailedPrecondition(ErrorReplyToStatus("NOAUTH Authentication required.")));
  EXPECT_TRUE(absl::IsNotFound(ErrorReplyToStatus("NOSCRIPT No matching script.")));
  const absl::Status other = ErrorReplyToStatus("ERR unknown command 'FOO'");
  EXPECT_TRUE(absl::IsInternal(other));
  EXPECT_EQ(other.message(), "redis: ERR unknown command 'FOO'");
  // A code is the whole first word: "ASKING..." is not "ASK".
  EXPECT_TRUE(absl::IsInternal(ErrorReplyToStatus("ASKINGX something")));
  EXPECT_TRUE(Reply::Error("BUSY script").ToStatus().code() == absl::StatusCode::kUnavailable);
  EXPECT_TRUE(Reply::String("ERR not an error").ToStatus().ok());
}

}  // namespace
}  // namespace autostage::redis
