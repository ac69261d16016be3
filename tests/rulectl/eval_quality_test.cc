// Quality gate of the DEFAULT rule packs (deploy/rules) on the labeled dev corpus
// ($AUTOSTAGE_SOURCE_DIR/../shared/corpus/dev): precision >= 0.95 and recall >= 0.90, measured
// by the real `rulectl eval`. Skipped when the corpus is absent.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

TEST(EvalQualityTest, DefaultPacksMeetPrecisionAndRecallOnDevCorpus) {
  const char* source = std::getenv("AUTOSTAGE_SOURCE_DIR");
  const char* bin = std::getenv("AUTOSTAGE_BIN_DIR");
  ASSERT_NE(source, nullptr);
  ASSERT_NE(bin, nullptr);
  const std::string corpus = std::string(source) + "/../shared/corpus/dev";
  if (!std::filesystem::exists(corpus + "/expected.jsonl")) {
    GTEST_SKIP() << "dev corpus not found at " << corpus << " (needs ../shared next to the repo)";
  }
  const std::string command = std::string(bin) + "/rulectl eval --json --rules " + source +
                              "/deploy/rules --corpus " + corpus;
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;

  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.parse(output).get(report), simdjson::SUCCESS) << output;
  double precision = 0, recall = 0;
  ASSERT_EQ(report["overall"]["precision"].get(precision), simdjson::SUCCESS);
  ASSERT_EQ(report["overall"]["recall"].get(recall), simdjson::SUCCESS);
  EXPECT_GE(precision, 0.95) << "false proposals: " << report["false_proposals"];
  EXPECT_GE(recall, 0.90) << "misses: " << report["misses"];
}

}  // namespace
