// Test support shared by engine_test and engine_benchmark: where the dev corpus is and how its
// JSON-lines files are read. Header-only and free of GoogleTest, so benchmarks can use it.
//
// Thread safety: free functions without shared state.
#ifndef AUTOSTAGE_COMMON_RULES_INTERNAL_DEV_CORPUS_H_
#define AUTOSTAGE_COMMON_RULES_INTERNAL_DEV_CORPUS_H_

#include <fstream>
#include <string>
#include <vector>

namespace autostage::rules::testing {

// The dev corpus folder of the source tree `source_dir`: it lives beside the repository, in
// shared/corpus/dev.
inline std::string DevCorpusDir(const std::string& source_dir) {
  return source_dir + "/../shared/corpus/dev";
}

// The non-empty lines of the JSON-lines file `path`; empty when it cannot be read.
inline std::vector<std::string> JsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace autostage::rules::testing

#endif  // AUTOSTAGE_COMMON_RULES_INTERNAL_DEV_CORPUS_H_
