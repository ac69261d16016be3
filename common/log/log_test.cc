#include "common/log/log.h"

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace autostage::log {
namespace {

absl::Time FixedTime() { return absl::FromUnixMillis(1714564800123); }  // 2024-05-01T12:00:00.123Z

class LogTest : public ::testing::Test {
 protected:
  Logger MakeLogger(Level level) {
    return Logger("ingest", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_), level,
                  FixedTime);
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
    return lines;
  }
  std::ostringstream out_;
};

TEST_F(LogTest, WritesOneJsonObjectPerLineWithFields) {
  Logger log = MakeLogger(Level::info);
  log.Info("partition assigned", {{"topic", "crm.events.email"},
                                  {"partition", 3},
                                  {"paused", false},
                                  {"lag_ratio", 0.5},
                                  {"took", absl::Milliseconds(1500)},
                                  {"status", absl::UnavailableError("redis down")}});
  ASSERT_EQ(Lines().size(), 1u);
  EXPECT_EQ(Lines()[0],
            R"({"ts":"2024-05-01T12:00:00.123Z","level":"info","logger":"ingest",)"
            R"("msg":"partition assigned","topic":"crm.events.email","partition":3,)"
            R"("paused":false,"lag_ratio":0.5,"took":"1.5s","status":"UNAVAILABLE: redis down"})");
}

TEST_F(LogTest, LevelFiltersAndParses) {
  Logger log = MakeLogger(*ParseLevel("WARN"));
  log.Debug("hidden");
  log.Info("hidden");
  log.Warn("shown");
  log.Error("shown too");
  ASSERT_EQ(Lines().size(), 2u);
  EXPECT_NE(Lines()[0].find(R"("level":"warning")"), std::string::npos);
  EXPECT_NE(Lines()[1].find(R"("level":"error")"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLevel("loud").status()));
  EXPECT_EQ(*ParseLevel("off"), Level::off);
  EXPECT_FALSE(MakeLogger(Level::off).Enabled(Level::critical));
}

TEST_F(LogTest, HostileTextStaysValidJson) {
  Logger log = MakeLogger(Level::debug);
  const std::string hostile = std::string("quote\" back\\ nl\n tab\t nul") + '\0' +
                              " bad\xff\xfe utf8 \xe4\xb8\xad \xed\xa0\x80 end";
  log.With({{"event_id", "e-1"}}).Named("ingest.decode").Error(hostile, {{hostile, hostile}});
  ASSERT_EQ(Lines().size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(Lines()[0]).get(doc), simdjson::SUCCESS) << Lines()[0];
  std::string_view msg;
  ASSERT_EQ(doc["msg"].get(msg), simdjson::SUCCESS);
  EXPECT_EQ(msg, std::string("quote\" back\\ nl\n tab\t nul") + '\0' +
                     " bad\uFFFD\uFFFD utf8 \u4E2D \uFFFD\uFFFD\uFFFD end");
  std::string_view logger;
  ASSERT_EQ(doc["logger"].get(logger), simdjson::SUCCESS);
  EXPECT_EQ(logger, "ingest.decode");
  std::string_view event_id;
  ASSERT_EQ(doc["event_id"].get(event_id), simdjson::SUCCESS);
  EXPECT_EQ(event_id, "e-1");
}

TEST_F(LogTest, ConcurrentLinesNeverInterleave) {
  Logger log = MakeLogger(Level::info);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 200; ++i) log.Info("tick", {{"thread", t}, {"i", i}});
    });
  }
  for (std::thread& t : threads) t.join();
  const std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 800u);
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
  }
}

TEST(MakeStderrLoggerTest, RejectsUnknownLevel) {
  EXPECT_TRUE(MakeStderrLogger("x", "info").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(MakeStderrLogger("x", "verbose").status()));
}

}  // namespace
}  // namespace autostage::log
