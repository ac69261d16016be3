#include "tools/autostagectl/settings.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "common/testing/processes.h"
#include "gtest/gtest.h"

namespace autostage::ctl {
namespace {

// A scratch HOME with ~/.config/autostage/, removed afterwards.
class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("autostagectl-settings");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(*std::move(dir));
    home_ = dir_->path();
    std::filesystem::create_directories(home_ + "/.config/autostage");
  }

  void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  std::string DefaultConfig() const { return home_ + "/.config/autostage/ctl.yaml"; }

  std::optional<testing::TempDir> dir_;
  std::string home_;
};

TEST_F(SettingsTest, DefaultsWithoutAnyFile) {
  absl::StatusOr<Settings> s = ResolveSettings({.home = home_});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->review, kDefaultReview);
  EXPECT_EQ(s->kafka, kDefaultKafka);
  EXPECT_TRUE(s->token.empty());
  EXPECT_TRUE(s->config_file.empty());
}

TEST_F(SettingsTest, TokenPrecedenceFlagThenEnvThenFile) {
  Write(DefaultConfig(), "review: r.example:7070\ntoken: from-file\nkafka_bootstrap: k:9092\n");
  absl::StatusOr<Settings> file_only = ResolveSettings({.home = home_});
  ASSERT_TRUE(file_only.ok()) << file_only.status();
  EXPECT_EQ(file_only->token, "from-file");
  EXPECT_EQ(file_only->token_origin, DefaultConfig());
  EXPECT_EQ(file_only->review, "r.example:7070");
  EXPECT_EQ(file_only->kafka, "k:9092");

  absl::StatusOr<Settings> env = ResolveSettings({.env_token = "from-env", .home = home_});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->token, "from-env");
  EXPECT_EQ(env->token_origin, "AUTOSTAGE_TOKEN");

  absl::StatusOr<Settings> flag = ResolveSettings(
      {.review = "flag:1", .token = "from-flag", .env_token = "from-env", .home = home_});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->token, "from-flag");
  EXPECT_EQ(flag->review, "flag:1");  // flags override the file too
}

TEST_F(SettingsTest, TokenFileIsReadAndTrimmed) {
  Write(home_ + "/token", "  secret-token\n");
  Write(DefaultConfig(), "token_file: ~/token\n");
  absl::StatusOr<Settings> s = ResolveSettings({.home = home_});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->token, "secret-token");
}

TEST_F(SettingsTest, UnknownKeyIsAnErrorWithLine) {
  Write(DefaultConfig(), "review: a:1\nreveiw: b:2\n");
  absl::StatusOr<Settings> s = ResolveSettings({.home = home_});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_TRUE(absl::StrContains(s.status().message(), "ctl.yaml:2")) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "reveiw")) << s.status();
}

TEST_F(SettingsTest, ExplicitMissingConfigIsNotFound) {
  absl::StatusOr<Settings> s =
      ResolveSettings({.config_path = home_ + "/nope.yaml", .home = home_});
  EXPECT_TRUE(absl::IsNotFound(s.status())) << s.status();
}

TEST(StageNamesTest, DisplaysBothLanguagesOrTheId) {
  absl::StatusOr<StageNames> names = StageNames::Parse(R"(
pipelines:
  - id: b2b_standard
    stages:
      - {id: prospecting, zh: 初步接触, en: Prospecting}
      - {id: proposal, zh: 方案制定}
)");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->Display("b2b_standard", "prospecting"), "Prospecting 初步接触");
  EXPECT_EQ(names->Display("b2b_standard", "proposal"), "方案制定");
  EXPECT_EQ(names->Display("b2b_standard", "contract"), "contract");
  EXPECT_EQ(names->Display("retail_quick", "lead"), "lead");
  EXPECT_FALSE(StageNames::Parse("pipelines: 3").ok());
  EXPECT_FALSE(StageNames::Parse("pipelines: [{stages: []}]").ok());
}

TEST(StageNamesTest, LoadsTheShippedPipelinesFile) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  if (source == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
  absl::StatusOr<StageNames> names =
      StageNames::Load(std::string(source) + "/deploy/rules/pipelines.yaml");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->Display("b2b_standard", "negotiation"), "Negotiation 商务谈判");
  EXPECT_EQ(names->Display("retail_quick", "ordered"), "Ordered 下单成交");
}

}  // namespace
}  // namespace autostage::ctl
