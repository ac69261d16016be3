// Test helpers: rule folders written to a temporary directory, compiled with the fakes.
#ifndef AUTOSTAGE_COMMON_RULES_INTERNAL_TEST_UTIL_H_
#define AUTOSTAGE_COMMON_RULES_INTERNAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "common/rules/config.h"
#include "common/rules/internal/fakes.h"
#include "common/rules/rule_set.h"

namespace autostage::rules::testing {

inline constexpr char kPipelines[] = R"(pipelines:
  - id: b2b
    stages:
      - {id: prospecting, zh: 初步接触, en: Prospecting}
      - {id: needs_analysis, zh: 需求分析, en: Needs analysis}
      - {id: proposal, zh: 方案制定, en: Proposal}
      - {id: negotiation, zh: 商务谈判, en: Negotiation}
      - {id: contract, zh: 合同签约, en: Contract}
      - {id: follow_up, zh: 后续跟进, en: Follow-up}
  - id: short
    max_skip: 0
    stages:
      - {id: a}
      - {id: b}
      - {id: c}
)";

// Writes `files` (name -> content) into a fresh folder and returns its path.
inline std::string WriteRuleDir(const std::map<std::string, std::string>& files) {
  static std::atomic<int> counter{0};
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      ("rules_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& [name, content] : files) std::ofstream(dir / name) << content;
  return dir.string();
}

// Loads and compiles a pack (with kPipelines) using the fake normalizer.
inline std::shared_ptr<const RuleSet> CompilePack(const std::string& pack) {
  const std::string dir = WriteRuleDir({{"pipelines.yaml", kPipelines}, {"pack.yaml", pack}});
  auto config = LoadRulesDir(dir);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return nullptr;
  auto set = RuleSet::Compile(*std::move(config), std::make_shared<FakeNormalizer>());
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : nullptr;
}

}  // namespace autostage::rules::testing

#endif  // AUTOSTAGE_COMMON_RULES_INTERNAL_TEST_UTIL_H_
