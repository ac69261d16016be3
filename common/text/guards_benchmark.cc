// Cost of GuardAnalyzer::Analyze per match (the rules engine calls it at every anchor that
// reaches its guards), in Chinese and English, on sentences with and without cue words, and
// on a long multi-sentence text where the match sits in the middle.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::text {
namespace {

const Normalizer& SharedNormalizer() {
  // Built once per benchmark binary run; benchmarks are single-threaded.
  static const Normalizer* normalizer = Normalizer::Create().value().release();
  return *normalizer;
}

void BM_Analyze(benchmark::State& state, std::string_view raw, std::string_view match) {
  const std::string text = SharedNormalizer().NormalizeString(raw);
  auto analyzer = GuardAnalyzer::Create().value();
  const std::string needle = SharedNormalizer().NormalizeString(match);
  const size_t at = text.find(needle);
  if (at == std::string::npos) {
    state.SkipWithError("match not in text");
    return;
  }
  for (auto _ : state) {
    GuardFindings f = analyzer->Analyze(text, at, at + needle.size());
    benchmark::DoNotOptimize(f);
  }
}

void BM_ClauseAt(benchmark::State& state, std::string_view raw, std::string_view match) {
  const std::string text = SharedNormalizer().NormalizeString(raw);
  auto analyzer = GuardAnalyzer::Create().value();
  const std::string needle = SharedNormalizer().NormalizeString(match);
  const size_t at = text.find(needle);
  for (auto _ : state) {
    ByteRange r = analyzer->ClauseAt(text, at, at + needle.size());
    benchmark::DoNotOptimize(r);
  }
}

constexpr std::string_view kZhCues = "张经理，报价单收到了，我们还没签合同，等领导回来再说。";
constexpr std::string_view kZhPlain =
    "张经理您好，报价单我们已经收到，价格合适，领导同意，今天上午已经签了合同，盖章版本稍后寄出。";
constexpr std::string_view kEnCues =
    "Thanks for the quote. If the budget holds we might sign, but we haven't signed the contract "
    "yet, legal is reviewing.";
constexpr std::string_view kEnPlain =
    "Thanks for the quote. We reviewed it with procurement and signed the contract this morning, "
    "the countersigned copy follows by courier.";
constexpr std::string_view kZhLong =
    "张经理你好，校务会开完了，决定今年先把电工、焊工两个专业的理论和仿真实训搬到线上。大概情况：\n"
    "- 学员 600 人左右，分春秋两期；\n- 需要 3D 仿真实训（接线、焊接工艺），手机和电脑都能用；\n"
    "- 预算 15 万左右；\n- 9 月开学前必须能用。\n你们方便的话下周来学校详细聊一下。";

BENCHMARK_CAPTURE(BM_Analyze, zh_cues, kZhCues, "签");
BENCHMARK_CAPTURE(BM_Analyze, zh_no_cues, kZhPlain, "签了");
BENCHMARK_CAPTURE(BM_Analyze, en_cues, kEnCues, "signed");
BENCHMARK_CAPTURE(BM_Analyze, en_no_cues, kEnPlain, "signed");
BENCHMARK_CAPTURE(BM_Analyze, zh_long_email, kZhLong, "预算");
BENCHMARK_CAPTURE(BM_ClauseAt, zh_cues, kZhCues, "签");
BENCHMARK_CAPTURE(BM_ClauseAt, en_cues, kEnCues, "signed");

}  // namespace
}  // namespace autostage::text

BENCHMARK_MAIN();
