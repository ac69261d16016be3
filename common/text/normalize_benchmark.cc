// Normalize throughput on mixed zh/en text (it runs over every text of every event), and the
// cost of GuardAnalyzer::Analyze per match. Reports bytes/s.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "benchmark/benchmark.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::text {
namespace {

constexpr std::string_view kAsciiHeavy[] = {
    "Hi Hao,\r\n\r\nThanks for the call yesterday. We reviewed the revised quote (Q-2025-0412) "
    "with our procurement team and the pricing works for us. ",
    "Please find the signed contract attached; our PO #4500012873 will follow by Friday. ",
    "Could you confirm the delivery schedule for the 5-axis machining centre? ",
    "客户已确认 ",
    "Best regards,\r\nPriya Tan | Kestrel Automotive Pte Ltd\r\n",
    "We are NOT ready to sign yet: legal still has comments on clause 7.2 (liability cap). ",
};

constexpr std::string_view kChineseHeavy[] = {
    "张经理您好，报价单我们已经收到了，价格没问题，下周安排签约。",
    "合約已簽署，蓋章版本稍後寄出，請查收！",
    "我们领导看了方案，觉得ＣＲＭ模块挺合适的，想约个时间做一次ｄｅｍｏ。",
    "如果价格能再优惠5%，我们这个月就可以下单 ",
    "PO已经走完审批流程了，编号４５００１２３４５，发票抬头按附件开。",
    "还没定，等老板出差回来再说哈\r\n",
};

template <size_t N>
std::string Build(const std::string_view (&parts)[N], size_t bytes) {
  std::string out;
  for (size_t k = 0; out.size() < bytes; ++k) out += parts[k % N];
  return out;
}

const Normalizer& SharedNormalizer() {
  // Built once per benchmark binary run; benchmarks are single-threaded.
  static const Normalizer* normalizer = Normalizer::Create().value().release();
  return *normalizer;
}

void BM_Normalize(benchmark::State& state, const std::string& text, bool with_map) {
  const Normalizer& normalizer = SharedNormalizer();
  for (auto _ : state) {
    if (with_map) {
      NormalizedText n = normalizer.Normalize(text);
      benchmark::DoNotOptimize(n);
    } else {
      std::string s = normalizer.NormalizeString(text);
      benchmark::DoNotOptimize(s);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_Create(benchmark::State& state) {
  for (auto _ : state) {
    auto normalizer = Normalizer::Create();
    benchmark::DoNotOptimize(normalizer);
  }
}
BENCHMARK(BM_Create)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Analyze(benchmark::State& state, std::string_view raw, std::string_view match) {
  const std::string text = SharedNormalizer().NormalizeString(raw);
  auto analyzer = GuardAnalyzer::Create().value();
  const size_t at = text.find(match);
  for (auto _ : state) {
    GuardFindings f = analyzer->Analyze(text, at, at + match.size());
    benchmark::DoNotOptimize(f);
  }
}

const std::string& AsciiText() {
  static const std::string* text = new std::string(Build(kAsciiHeavy, 64 * 1024));
  return *text;
}
const std::string& ChineseText() {
  static const std::string* text = new std::string(Build(kChineseHeavy, 64 * 1024));
  return *text;
}

BENCHMARK_CAPTURE(BM_Normalize, ascii_heavy_with_map, AsciiText(), true);
BENCHMARK_CAPTURE(BM_Normalize, ascii_heavy_string, AsciiText(), false);
BENCHMARK_CAPTURE(BM_Normalize, chinese_heavy_with_map, ChineseText(), true);
BENCHMARK_CAPTURE(BM_Normalize, chinese_heavy_string, ChineseText(), false);
BENCHMARK_CAPTURE(BM_Analyze, zh, "张经理，报价单收到了，我们还没签合同，等领导回来再说。", "签");
BENCHMARK_CAPTURE(BM_Analyze, en,
                  "Thanks for the quote. We haven't signed the contract yet, legal is reviewing.",
                  "signed");

}  // namespace
}  // namespace autostage::text

BENCHMARK_MAIN();
