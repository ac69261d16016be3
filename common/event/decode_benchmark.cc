// Decode throughput over the dev corpus events (JSON and binary), with a reused Decoder and
// with the free functions. Reports bytes/s; the engine budget is >= 100 MB/s per core for the
// whole path, so decoding should be a small fraction of it.
//
//   decode_benchmark [--benchmark_filter=...]   (reads $AUTOSTAGE_SOURCE_DIR/../shared or
//                                                 the current directory's ../shared)
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/event/decode.h"

namespace autostage::event {
namespace {

std::vector<std::string> LoadEvents() {
  const char* source_dir = std::getenv("AUTOSTAGE_SOURCE_DIR");
  const std::filesystem::path corpus =
      std::filesystem::path(source_dir != nullptr ? source_dir : ".") / ".." / "shared" / "corpus" /
      "dev" / "events.jsonl";
  std::vector<std::string> lines;
  std::ifstream in(corpus);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> ToBinary(const std::vector<std::string>& json_events) {
  std::vector<std::string> out;
  for (const std::string& json : json_events) {
    absl::StatusOr<v1::Event> event = DecodeEvent(json, Encoding::kJson);
    if (event.ok()) out.push_back(event->SerializeAsString());
  }
  return out;
}

// Loading happens outside the timed loop (google benchmark times only `for (auto _ : state)`).
void Run(benchmark::State& state, Encoding encoding, bool reuse) {
  const std::vector<std::string> json = LoadEvents();
  const std::vector<std::string> inputs = encoding == Encoding::kJson ? json : ToBinary(json);
  if (inputs.empty()) {
    state.SkipWithError("dev corpus not found: set AUTOSTAGE_SOURCE_DIR");
    return;
  }
  Decoder decoder;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& input : inputs) {
      absl::StatusOr<v1::Event> event =
          reuse ? decoder.DecodeEvent(input, encoding) : DecodeEvent(input, encoding);
      if (!event.ok()) {
        state.SkipWithError("decode failed");
        return;
      }
      benchmark::DoNotOptimize(event);
      bytes += static_cast<int64_t>(input.size());
    }
  }
  state.SetBytesProcessed(bytes);
}

void BM_JsonReusedDecoder(benchmark::State& state) { Run(state, Encoding::kJson, true); }
void BM_JsonFreeFunction(benchmark::State& state) { Run(state, Encoding::kJson, false); }
void BM_Protobuf(benchmark::State& state) { Run(state, Encoding::kProtobuf, true); }
BENCHMARK(BM_JsonReusedDecoder);
BENCHMARK(BM_JsonFreeFunction);
BENCHMARK(BM_Protobuf);

}  // namespace
}  // namespace autostage::event

BENCHMARK_MAIN();
