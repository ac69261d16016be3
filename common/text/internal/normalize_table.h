// NormalizeTable: the per-code-point result of NFKC_Casefold + width folding + Traditional ->
// Simplified Chinese, precomputed once with ICU so the hot path of the Normalizer is a table
// lookup (see normalize.h).
//
// Layout: a two-stage table over all of Unicode. `index` maps the high bits (cp >> 8) to a
// block of 256 entries in `entries`; block 0 is all-identity and shared by every block without
// a changed code point. An entry is kIdentity, kWhitespace, or (pool_offset << 8 | length)
// naming the replacement's UTF-8 bytes in `pool` (an empty replacement drops the code point).
//
// Thread safety: immutable after BuildNormalizeTable(); concurrent reads are safe.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_NORMALIZE_TABLE_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_NORMALIZE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace autostage::text::internal {

struct NormalizeTable {
  static constexpr uint32_t kIdentity = 0;
  static constexpr uint32_t kWhitespace = 1;
  static constexpr size_t kBlockBits = 8;
  static constexpr size_t kBlockSize = size_t{1} << kBlockBits;
  static constexpr size_t kMaxReplacement = 255;

  uint32_t Lookup(char32_t cp) const {
    return entries[(size_t{index[cp >> kBlockBits]} << kBlockBits) | (cp & (kBlockSize - 1))];
  }
  std::string_view Replacement(uint32_t entry) const {
    return std::string_view(pool.data() + (entry >> 8), entry & 0xFF);
  }

  // ASCII: the lower-cased byte, or kAsciiSpace for White_Space bytes (\t \n \v \f \r ' ').
  static constexpr uint8_t kAsciiSpace = 0xFF;
  uint8_t ascii[128] = {};

  std::vector<uint16_t> index;     // 0x110000 >> kBlockBits entries
  std::vector<uint32_t> entries;   // blocks of kBlockSize
  std::string pool;                // replacement bytes; offset 0 unused
  size_t changed_code_points = 0;  // statistics for tests / logs
};

// Fails (kInternal) when the ICU normalizer or the "Traditional-Simplified" transliterator
// cannot be loaded (missing ICU data).
absl::StatusOr<NormalizeTable> BuildNormalizeTable();

}  // namespace autostage::text::internal

namespace autostage::text {
class Normalizer;
}  // namespace autostage::text

namespace autostage::text::internal {

// Normalizer::Create() with the 8-byte ASCII path on (`word_at_a_time`) or off: tests compare
// the two, which must give the same text and offset map on every input (normalize.cc).
absl::StatusOr<std::unique_ptr<const Normalizer>> CreateTableNormalizer(bool word_at_a_time);

}  // namespace autostage::text::internal

#endif  // AUTOSTAGE_COMMON_TEXT_INTERNAL_NORMALIZE_TABLE_H_
