#include "common/redis/key.h"

#include <string>

#include "gtest/gtest.h"

namespace autostage::redis {
namespace {

TEST(KeyTest, PutsTheTagInBracesAfterThePrefix) {
  EXPECT_EQ(Key("proposal", "opp-1"), "autostage:{opp-1}:proposal");
  EXPECT_EQ(Key("proposal", std::string("opp-1"), "CLOSED_WON", 3),
            "autostage:{opp-1}:proposal:CLOSED_WON:3");
}

TEST(KeyTest, KeysOfOneTagShareTheHashTag) {
  // Redis Cluster hashes the text between the first '{' and the next '}'.
  auto tag_of = [](const std::string& key) {
    const size_t open = key.find('{');
    const size_t close = key.find('}', open + 1);
    return key.substr(open + 1, close - open - 1);
  };
  EXPECT_EQ(tag_of(Key("proposal", "o1", "x")), tag_of(Key("stage", "o1")));
  EXPECT_NE(tag_of(Key("proposal", "o1")), tag_of(Key("proposal", "o2")));
}

}  // namespace
}  // namespace autostage::redis
