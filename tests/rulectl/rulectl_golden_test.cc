// Golden test of `rulectl run`: a hand-written rules folder, opportunities and events
// (tests/rulectl/golden/) whose expected output is checked in. It runs the real binary.
//
// Each event exercises one decision: furthest stage (g-01), participant resolution with email
// case (g-02), negation (g-03), backward (g-04), won (g-05), internal (g-06), auto-reply
// (g-07), ambiguous contact (g-08), unresolved (g-09), an undecodable line (10), an outbound
// attachment (g-11), a quoted later stage ignored (g-12), chat resolution (g-13), max_skip
// (g-14), an unanswered call (g-15), lexicon + near (g-16), word boundaries (g-17).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `command` and returns its stdout and exit status.
std::pair<std::string, int> RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {"", -1};
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(RulectlGoldenTest, RunMatchesExpectedOutput) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  const char* bin = std::getenv("AUTOSTAGE_BIN_DIR");
  ASSERT_NE(source, nullptr);
  ASSERT_NE(bin, nullptr);
  const std::string dir = std::string(source) + "/tests/rulectl/golden";
  const auto [output, status] =
      RunCommand(std::string(bin) + "/rulectl run --rules " + dir + "/rules --opportunities " +
                 dir + "/opportunities.jsonl --events " + dir + "/events.jsonl");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(output, ReadFile(dir + "/expected_run.jsonl"));
}

TEST(RulectlGoldenTest, LintAcceptsTheGoldenRulesAndRejectsBrokenOnes) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  const char* bin = std::getenv("AUTOSTAGE_BIN_DIR");
  ASSERT_NE(source, nullptr);
  ASSERT_NE(bin, nullptr);
  const std::string dir = std::string(source) + "/tests/rulectl/golden";
  EXPECT_EQ(RunCommand(std::string(bin) + "/rulectl lint " + dir + "/rules").second, 0);
  const auto [output, status] =
      RunCommand(std::string(bin) + "/rulectl lint " + dir + "/rules " + dir + "/broken.yaml");
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find("broken.yaml:6: rule bad.backref: regex '(\\w+) \\1' refused by "
                        "Vectorscan: Back-references are unsupported."),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("broken.yaml:7: rule bad.stage: stage 'nowhere' is not a stage"),
            std::string::npos)
      << output;
}

TEST(RulectlGoldenTest, RunFailsWhenAFileIsMissing) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  const char* bin = std::getenv("AUTOSTAGE_BIN_DIR");
  ASSERT_NE(source, nullptr);
  ASSERT_NE(bin, nullptr);
  const std::string dir = std::string(source) + "/tests/rulectl/golden";
  EXPECT_EQ(
      RunCommand(std::string(bin) + "/rulectl run --rules " + dir + "/rules --opportunities " +
                 dir + "/missing.jsonl --events " + dir + "/events.jsonl 2>/dev/null")
          .second,
      1);
}

}  // namespace
