#include "common/text/internal/normalize_table.h"

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace autostage::text::internal {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;

using T2sMap = std::unordered_map<UChar32, icu::UnicodeString>;

// Transliterates every character the transliterator may change in one call (one character per
// line) instead of one call per character: ICU transliteration has a high per-call cost.
T2sMap BuildT2sMap(const icu::Transliterator& t2s) {
  icu::UnicodeSet source;
  t2s.getSourceSet(source);
  icu::UnicodeString batch;
  std::vector<UChar32> order;
  for (int32_t r = 0; r < source.getRangeCount(); ++r) {
    for (UChar32 c = source.getRangeStart(r); c <= source.getRangeEnd(r); ++c) {
      if (c == '\n' || U_IS_SURROGATE(c)) continue;
      batch.append(c).append(static_cast<UChar>('\n'));
      order.push_back(c);
    }
  }
  icu::UnicodeString out = batch;
  t2s.transliterate(out);
  T2sMap map;
  int32_t start = 0;
  size_t i = 0;
  for (int32_t pos = 0; pos < out.length(); ++pos) {
    if (out.charAt(pos) != '\n') continue;
    if (i == order.size()) break;
    // A copy: tempSubString would alias `out`, which dies with this function.
    map.emplace(order[i++], icu::UnicodeString(out, start, pos - start));
    start = pos + 1;
  }
  if (i != order.size()) {
    // The batch did not split back cleanly (a rule consumed a separator): fall back to one call
    // per character. Slower, still only done once.
    map.clear();
    for (UChar32 c : order) {
      icu::UnicodeString one(c);
      t2s.transliterate(one);
      map.emplace(c, one);
    }
  }
  return map;
}

icu::UnicodeString ApplyT2s(const icu::UnicodeString& in, const T2sMap& t2s) {
  icu::UnicodeString out;
  for (int32_t i = 0; i < in.length();) {
    UChar32 c = in.char32At(i);
    i += U16_LENGTH(c);
    auto it = t2s.find(c);
    if (it != t2s.end()) {
      out.append(it->second);
    } else {
      out.append(c);
    }
  }
  return out;
}

// Every run of White_Space becomes one U+0020.
icu::UnicodeString FoldWhitespace(const icu::UnicodeString& in) {
  icu::UnicodeString out;
  bool space = false;
  for (int32_t i = 0; i < in.length();) {
    UChar32 c = in.char32At(i);
    i += U16_LENGTH(c);
    if (u_isUWhiteSpace(c)) {
      if (!space) out.append(static_cast<UChar>(' '));
      space = true;
    } else {
      out.append(c);
      space = false;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<NormalizeTable> BuildNormalizeTable() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  if (U_FAILURE(status)) {
    return absl::InternalError(
        absl::StrCat("ICU NFKC_Casefold normalizer unavailable: ", u_errorName(status)));
  }
  std::unique_ptr<icu::Transliterator> t2s(
      icu::Transliterator::createInstance("Traditional-Simplified", UTRANS_FORWARD, status));
  if (U_FAILURE(status) || t2s == nullptr) {
    return absl::InternalError(absl::StrCat(
        "ICU transliterator Traditional-Simplified unavailable: ", u_errorName(status)));
  }
  const T2sMap t2s_map = BuildT2sMap(*t2s);

  // Code points whose result may differ from themselves: not NFKC_CF-inert, changed by T2S,
  // or White_Space. Everything else maps to itself.
  std::vector<uint32_t> dense(kMaxCodePoint + 1, NormalizeTable::kIdentity);
  NormalizeTable table;
  table.pool.push_back('\0');  // offset 0 is never a replacement
  std::unordered_map<std::string, uint32_t> pooled;
  std::string utf8;
  for (char32_t cp = 0x80; cp <= kMaxCodePoint; ++cp) {
    const auto c = static_cast<UChar32>(cp);
    if (U_IS_SURROGATE(c)) continue;
    if (u_isUWhiteSpace(c)) {
      dense[cp] = NormalizeTable::kWhitespace;
      continue;
    }
    if (nfkc_cf->isInert(c) && t2s_map.find(c) == t2s_map.end()) continue;
    const icu::UnicodeString original(c);
    icu::UnicodeString result = original;
    // Iterate to a fixed point so that normalizing normalized text changes nothing.
    for (int round = 0; round < 4; ++round) {
      icu::UnicodeString next = ApplyT2s(nfkc_cf->normalize(result, status), t2s_map);
      if (U_FAILURE(status)) {
        return absl::InternalError(absl::StrCat("ICU normalize failed: ", u_errorName(status)));
      }
      if (next == result) break;
      result = std::move(next);
    }
    result = FoldWhitespace(result);
    if (result == original) continue;
    if (result == icu::UnicodeString(static_cast<UChar>(' '))) {
      dense[cp] = NormalizeTable::kWhitespace;
      continue;
    }
    utf8.clear();
    result.toUTF8String(utf8);
    if (utf8.size() > NormalizeTable::kMaxReplacement) {
      return absl::InternalError(
          absl::StrCat("replacement of U+", absl::Hex(static_cast<uint32_t>(cp)), " too long"));
    }
    auto [it, inserted] = pooled.emplace(utf8, static_cast<uint32_t>(table.pool.size()));
    if (inserted) table.pool += utf8;
    dense[cp] = (it->second << 8) | static_cast<uint32_t>(utf8.size());
    ++table.changed_code_points;
  }

  for (int b = 0; b < 128; ++b) {
    table.ascii[b] = u_isUWhiteSpace(b) ? NormalizeTable::kAsciiSpace
                                        : static_cast<uint8_t>(b >= 'A' && b <= 'Z' ? b + 32 : b);
  }

  // Compress the dense table into shared 256-entry blocks.
  constexpr size_t kBlocks = (kMaxCodePoint + 1) >> NormalizeTable::kBlockBits;
  table.index.assign(kBlocks, 0);
  table.entries.assign(NormalizeTable::kBlockSize, NormalizeTable::kIdentity);  // block 0
  for (size_t block = 0; block < kBlocks; ++block) {
    const uint32_t* first = dense.data() + (block << NormalizeTable::kBlockBits);
    bool identity = true;
    for (size_t k = 0; k < NormalizeTable::kBlockSize; ++k) identity = identity && first[k] == 0;
    if (identity) continue;
    table.index[block] = static_cast<uint16_t>(table.entries.size() >> NormalizeTable::kBlockBits);
    table.entries.insert(table.entries.end(), first, first + NormalizeTable::kBlockSize);
  }
  return table;
}

}  // namespace autostage::text::internal
