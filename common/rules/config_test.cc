#include "common/rules/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/rules/internal/test_util.h"

namespace autostage::rules {
namespace {

using ::testing::HasSubstr;
using testing::kPipelines;
using testing::WriteRuleDir;

std::vector<std::string> Errors(const std::string& pack) {
  const std::string dir = WriteRuleDir({{"pipelines.yaml", kPipelines}, {"pack.yaml", pack}});
  std::vector<std::string> out;
  for (const Diagnostic& d : Lint({dir})) {
    if (d.severity != Diagnostic::Severity::kError) continue;
    // Paths differ per run: keep "pack.yaml:LINE: message".
    out.push_back(d.location.file.substr(d.location.file.rfind('/') + 1) + ":" +
                  std::to_string(d.location.line) + ": " + d.message);
  }
  return out;
}

TEST(ConfigTest, LoadsPipelinesAndPackWithDefaultsAndLexicon) {
  const std::string dir = WriteRuleDir({{"pipelines.yaml", kPipelines}, {"pack.yaml", R"(
pack: p
pipeline: b2b
defaults:
  speakers: [customer, rep]
  confidence: 0.7
lexicon:
  contract: [合同, contract]
rules:
  - id: r1
    stage: contract
    any: [已盖章, "@contract"]
    guards: {question: allow}
    call: {min_duration_s: 20}
)"}});
  auto config = LoadRulesDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->pipelines.size(), 2u);
  EXPECT_EQ(config->pipelines[0].StageIndex("contract"), 4);
  EXPECT_EQ(config->pipelines[1].max_skip, 0);
  ASSERT_EQ(config->packs.size(), 1u);
  const Rule& r = config->packs[0].rules[0];
  EXPECT_EQ(r.speakers, (std::vector<std::string>{"customer", "rep"}));
  EXPECT_DOUBLE_EQ(r.confidence, 0.7);
  ASSERT_EQ(r.any.size(), 2u);
  EXPECT_EQ(r.any[1].name, "@contract");
  EXPECT_EQ(r.any[1].terms, (std::vector<std::string>{"合同", "contract"}));
  EXPECT_EQ(r.guards.question, GuardMode::kAllow);
  EXPECT_EQ(r.guards.negation, GuardMode::kBlock);
  EXPECT_EQ(r.min_call_duration_s, 20);
  EXPECT_EQ(r.sources, (std::vector<std::string>{"email", "call", "chat"}));
  EXPECT_EQ(r.location.line, 10);
}

TEST(ConfigTest, UnknownKeysReportedWithLine) {
  EXPECT_THAT(Errors("pack: p\npipeline: b2b\nrules:\n  - id: r1\n    stage: contract\n"
                     "    any: [x]\n    colour: red\n"),
              ::testing::ElementsAre("pack.yaml:7: rule: unknown key 'colour'"));
  EXPECT_THAT(Errors("pack: p\npipeline: b2b\nextra: 1\nrules: []\n"),
              ::testing::ElementsAre("pack.yaml:3: file: unknown key 'extra'"));
}

TEST(ConfigTest, DuplicateRuleIdsAcrossFiles) {
  const std::string dir = WriteRuleDir(
      {{"pipelines.yaml", kPipelines},
       {"a.yaml", "pack: a\npipeline: b2b\nrules:\n  - {id: same, stage: proposal, any: [x]}\n"},
       {"b.yaml", "pack: b\npipeline: b2b\nrules:\n  - {id: same, stage: proposal, any: [y]}\n"}});
  auto diags = Lint({dir});
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_THAT(diags[0].ToString(), HasSubstr("b.yaml:4: duplicate rule id 'same' (first at "));
  EXPECT_THAT(diags[0].ToString(), HasSubstr("a.yaml:4)"));
}

TEST(ConfigTest, MissingStageAndPipeline) {
  EXPECT_THAT(Errors("pack: p\npipeline: b2b\nrules:\n  - {id: r, stage: nowhere, any: [x]}\n"),
              ::testing::ElementsAre(
                  "pack.yaml:4: rule r: stage 'nowhere' is not a stage of pipeline 'b2b'"));
  EXPECT_THAT(Errors("pack: p\npipeline: nope\nrules:\n  - {id: r, stage: a, any: [x]}\n"),
              ::testing::ElementsAre("pack.yaml:1: pack p: unknown pipeline 'nope'"));
}

TEST(ConfigTest, BadGuardValue) {
  EXPECT_THAT(Errors("pack: p\npipeline: b2b\nrules:\n  - id: r\n    stage: proposal\n"
                     "    any: [x]\n    guards:\n      negation: maybe\n"),
              ::testing::ElementsAre("pack.yaml:8: guards.negation: invalid value 'maybe' "
                                     "(expected block or allow)"));
}

TEST(ConfigTest, EmptyAnchors) {
  auto errors = Errors(
      "pack: p\npipeline: b2b\nrules:\n  - id: r\n    stage: proposal\n"
      "    any: []\n    all: [x]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("pack.yaml:4: rule r: no anchor"));
  errors = Errors(
      "pack: p\npipeline: b2b\nrules:\n  - id: r\n    stage: proposal\n"
      "    any: [\"  \"]\n");
  EXPECT_THAT(errors, ::testing::Contains("pack.yaml:6: rule r: any: empty term"));
}

TEST(ConfigTest, UnknownLexicon) {
  EXPECT_THAT(Errors("pack: p\npipeline: b2b\nlexicon:\n  known: [a]\nrules:\n  - id: r\n"
                     "    stage: proposal\n    any: [x]\n    near: {terms: [\"@missing\"], "
                     "within: 5}\n"),
              ::testing::Contains("pack.yaml:9: rule r: near.terms: unknown lexicon '@missing'"));
}

TEST(ConfigTest, ReportsEveryErrorNotJustTheFirst) {
  auto errors = Errors(
      "pack: p\npipeline: b2b\nrules:\n"
      "  - {id: r1, stage: nowhere, any: [x]}\n"
      "  - {id: r2, stage: proposal, any: [x], confidence: 3}\n"
      "  - {id: r3, stage: proposal, any: [x], directions: [internal]}\n"
      "  - {id: r4, stage: proposal, any: [x], sources: [fax]}\n");
  EXPECT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
}

TEST(ConfigTest, YamlSyntaxErrorHasLine) {
  auto errors = Errors("pack: p\npipeline: b2b\nrules:\n  - id: [unclosed\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0], HasSubstr("pack.yaml:"));
  EXPECT_THAT(errors[0], HasSubstr("YAML syntax error"));
}

TEST(ConfigTest, RefusedRegexCarriesCompilerMessage) {
  // Failure scenario 21: backreferences and lookaround are refused at load.
  auto errors = Errors(
      "pack: p\npipeline: b2b\nrules:\n  - id: r\n    stage: proposal\n"
      "    regex:\n      - '(a)\\1'\n      - '(?<=x)y'\n      - 'fine\\d+'\n");
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_THAT(errors[0], HasSubstr("pack.yaml:7: rule r: regex '(a)\\1' refused by Vectorscan: "));
  EXPECT_THAT(errors[0], HasSubstr("Back-references are unsupported"));
  EXPECT_THAT(errors[1], HasSubstr("pack.yaml:8: rule r: regex '(?<=x)y' refused by Vectorscan: "));
}

TEST(ConfigTest, PipelineErrors) {
  const std::string dir = WriteRuleDir({{"pipelines.yaml", R"(pipelines:
  - id: x
    stages: [{id: a}, {id: a}]
    max_skip: -1
  - id: x
    stages: [{id: b}]
)"}});
  auto diags = Lint({dir});
  std::vector<std::string> messages;
  for (const auto& d : diags) messages.push_back(std::to_string(d.location.line) + " " + d.message);
  EXPECT_THAT(messages, ::testing::UnorderedElementsAre(
                            "3 pipeline x: duplicate stage 'a'", "4 max_skip: must be >= 0",
                            ::testing::HasSubstr("5 duplicate pipeline 'x'")));
}

}  // namespace
}  // namespace autostage::rules
