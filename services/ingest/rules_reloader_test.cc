// RulesReloader: a good reload swaps the rule set, a bad file keeps the old rules (issue 4),
// file changes are detected by content, and the watcher serves file changes and
// RequestReload().
#include "services/ingest/rules_reloader.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/testing/processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"

namespace autostage::ingest {
namespace {

using ::testing::HasSubstr;

constexpr char kPipelines[] = R"(pipelines:
  - id: b2b
    stages:
      - {id: prospecting, zh: 初步接触, en: Prospecting}
      - {id: proposal, zh: 方案制定, en: Proposal}
      - {id: contract, zh: 合同签约, en: Contract}
)";

std::string Pack(int rules) {
  std::string pack = "pack: p\npipeline: b2b\nrules:\n";
  for (int i = 0; i < rules; ++i) {
    pack += "  - id: r" + std::to_string(i) + "\n    stage: contract\n    any: [合同" +
            std::to_string(i) + "]\n";
  }
  return pack;
}

class RulesReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::TempDir> dir = testing::TempDir::Create("rules-reloader");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<testing::TempDir>(*std::move(dir));
    Write("pipelines.yaml", kPipelines);
    Write("pack.yaml", Pack(1));
    absl::StatusOr<std::unique_ptr<const text::Normalizer>> normalizer = text::Normalizer::Create();
    ASSERT_TRUE(normalizer.ok()) << normalizer.status();
    normalizer_ = std::shared_ptr<const text::Normalizer>(*std::move(normalizer));
  }

  void Write(const std::string& name, const std::string& content) {
    // Write-then-rename, as editors and config management do.
    const std::string tmp = dir_->File(name + ".tmp");
    std::ofstream(tmp) << content;
    std::filesystem::rename(tmp, dir_->File(name));
  }

  std::unique_ptr<RulesReloader> MakeReloader(absl::Duration poll = absl::Seconds(2)) {
    RulesReloaderOptions options;
    options.paths = {dir_->path()};
    options.poll_interval = poll;
    options.signal_check = absl::Milliseconds(5);
    absl::StatusOr<std::unique_ptr<RulesReloader>> r =
        RulesReloader::Create(options, normalizer_, Logger());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : nullptr;
  }

  log::Logger Logger() {
    return log::Logger("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_),
                       log::Level::info);
  }

  std::ostringstream log_;
  std::unique_ptr<testing::TempDir> dir_;
  std::shared_ptr<const text::Normalizer> normalizer_;
};

TEST_F(RulesReloaderTest, GoodReloadSwapsAndOldSnapshotsStayValid) {
  std::unique_ptr<RulesReloader> reloader = MakeReloader();
  ASSERT_NE(reloader, nullptr);
  RulesReloader::Snapshot first = reloader->Current();
  ASSERT_NE(first.rules, nullptr);
  EXPECT_EQ(first.generation, 1u);
  EXPECT_EQ(first.rules->rule_count(), 1u);

  Write("pack.yaml", Pack(3));
  ASSERT_TRUE(reloader->Reload().ok());
  RulesReloader::Snapshot second = reloader->Current();
  EXPECT_EQ(second.generation, 2u);
  EXPECT_EQ(second.rules->rule_count(), 3u);
  EXPECT_NE(second.rules, first.rules);
  // A worker still holding the old snapshot keeps a working rule set.
  EXPECT_EQ(first.rules->rule_count(), 1u);
  EXPECT_NE(first.rules->FindPipeline("b2b"), nullptr);

  RulesReloaderStats stats = reloader->stats();
  EXPECT_EQ(stats.reloads_ok, 1);
  EXPECT_EQ(stats.reloads_failed, 0);
  EXPECT_THAT(log_.str(), HasSubstr("rules reloaded"));
}

TEST_F(RulesReloaderTest, BadFileOnReloadKeepsTheOldRules) {
  std::unique_ptr<RulesReloader> reloader = MakeReloader();
  ASSERT_NE(reloader, nullptr);
  const RulesReloader::Snapshot before = reloader->Current();

  // A config error (unknown stage, line 5) ...
  Write("pack.yaml",
        "pack: p\npipeline: b2b\nrules:\n  - id: r0\n    stage: nowhere\n"
        "    any: [合同]\n");
  absl::Status s = reloader->Reload();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("pack.yaml:"));
  EXPECT_EQ(reloader->Current().rules, before.rules);
  EXPECT_EQ(reloader->Current().generation, before.generation);

  // ... a regex Vectorscan refuses (back-reference), reported with file:line ...
  Write("pack.yaml",
        "pack: p\npipeline: b2b\nrules:\n  - id: r0\n    stage: contract\n"
        "    regex: ['(a)\\1']\n");
  s = reloader->Reload();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("pack.yaml:6"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Vectorscan"));
  // ... and YAML that does not parse.
  Write("pack.yaml", "pack: p\nrules: [\n");
  EXPECT_TRUE(absl::IsInvalidArgument(reloader->Reload()));

  EXPECT_EQ(reloader->Current().rules, before.rules);
  RulesReloaderStats stats = reloader->stats();
  EXPECT_EQ(stats.generation, 1u);
  EXPECT_EQ(stats.reloads_failed, 3);
  EXPECT_EQ(stats.reloads_ok, 0);
  EXPECT_THAT(stats.last_error, HasSubstr("pack.yaml"));
  EXPECT_THAT(log_.str(), HasSubstr("rules reload failed"));

  // Fixed: the next reload swaps and clears the error.
  Write("pack.yaml", Pack(2));
  ASSERT_TRUE(reloader->Reload().ok());
  EXPECT_EQ(reloader->Current().generation, 2u);
  EXPECT_EQ(reloader->Current().rules->rule_count(), 2u);
  EXPECT_EQ(reloader->stats().last_error, "");
}

TEST_F(RulesReloaderTest, CreateRefusesBadRules) {
  Write("pack.yaml", "pack: p\npipeline: nope\nrules: []\n");
  RulesReloaderOptions options;
  options.paths = {dir_->path()};
  absl::StatusOr<std::unique_ptr<RulesReloader>> r =
      RulesReloader::Create(options, normalizer_, Logger());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("pack.yaml"));
}

TEST_F(RulesReloaderTest, ReloadIfChangedComparesContent) {
  std::unique_ptr<RulesReloader> reloader = MakeReloader();
  ASSERT_NE(reloader, nullptr);
  absl::StatusOr<bool> changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(*changed);

  // Same content rewritten: not a change.
  Write("pack.yaml", Pack(1));
  changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(reloader->Current().generation, 1u);

  // New content, and a new file in the folder, are.
  Write("pack.yaml", Pack(2));
  changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(reloader->Current().generation, 2u);
  Write("extra.yaml",
        "pack: q\npipeline: b2b\nrules:\n  - id: q1\n    stage: proposal\n"
        "    any: [方案]\n");
  changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(*changed);
  EXPECT_EQ(reloader->Current().rules->rule_count(), 3u);
  // Files the loader ignores do not count.
  std::ofstream(dir_->File("notes.txt")) << "not a rule file";
  changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);

  // A bad change is reported once, not on every poll.
  Write("extra.yaml",
        "pack: q\npipeline: b2b\nrules:\n  - id: r0\n    stage: proposal\n"
        "    any: [方案]\n");  // duplicate rule id r0
  EXPECT_TRUE(absl::IsInvalidArgument(reloader->ReloadIfChanged().status()));
  changed = reloader->ReloadIfChanged();
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);
  EXPECT_EQ(reloader->stats().reloads_failed, 1);
  EXPECT_EQ(reloader->Current().generation, 3u);
}

TEST_F(RulesReloaderTest, WatcherReloadsOnFileChangeAndOnRequest) {
  std::unique_ptr<RulesReloader> reloader = MakeReloader(absl::Milliseconds(20));
  ASSERT_NE(reloader, nullptr);
  reloader->StartWatching();
  reloader->StartWatching();  // idempotent

  Write("pack.yaml", Pack(4));
  ASSERT_TRUE(
      testing::WaitFor([&] { return reloader->Current().generation == 2; }, absl::Seconds(10))
          .ok());
  EXPECT_EQ(reloader->Current().rules->rule_count(), 4u);

  // SIGHUP path: reloads even though nothing changed.
  reloader->RequestReload();
  ASSERT_TRUE(
      testing::WaitFor([&] { return reloader->Current().generation == 3; }, absl::Seconds(10))
          .ok());

  // A bad file seen by the watcher keeps the rules running.
  Write("pack.yaml",
        "pack: p\npipeline: b2b\nrules:\n  - id: r0\n    stage: nowhere\n"
        "    any: [合同]\n");
  ASSERT_TRUE(
      testing::WaitFor([&] { return reloader->stats().reloads_failed == 1; }, absl::Seconds(10))
          .ok());
  EXPECT_EQ(reloader->Current().generation, 3u);
  EXPECT_EQ(reloader->Current().rules->rule_count(), 4u);
  reloader->StopWatching();
  reloader->StopWatching();
}

}  // namespace
}  // namespace autostage::ingest
