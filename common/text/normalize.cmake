# Normalization (ICU tables built once) and NLP guards (ICU word segmentation).
# Included by common/text/CMakeLists.txt when normalize.cc exists.

autostage_library(autostage_normalize
  SOURCES
    normalize.cc
    guards.cc
    internal/normalize_table.cc
    internal/guard_cues.cc
  DEPS autostage_text absl::status absl::statusor ICU::uc ICU::i18n ICU::data
  PRIVATE_DEPS autostage_handle absl::strings)

autostage_test(normalize_test SOURCES normalize_test.cc DEPS autostage_normalize)
autostage_test(offset_map_test SOURCES offset_map_test.cc DEPS autostage_text)
# guards_test also compares Create() with CreateReference() over the extracted dev corpus.
autostage_test(guards_test
  SOURCES guards_test.cc
  DEPS autostage_normalize autostage_extract protobuf::libprotobuf
  TIMEOUT 300)

autostage_benchmark(normalize_benchmark
  SOURCES normalize_benchmark.cc
  DEPS autostage_normalize)

# Analyze() cost per match, zh/en, with and without cue words.
autostage_benchmark(guards_benchmark
  SOURCES guards_benchmark.cc
  DEPS autostage_normalize)
