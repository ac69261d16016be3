#include "common/text/internal/email_util.h"

#include <string.h>  // memmem

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace autostage::text::internal {

CodePoint DecodeAt(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return {c, 1};
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (len == 0 || c >= 0xF8 || i + len > s.size()) return {0xFFFD, 1};
  char32_t v = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {0xFFFD, 1};
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  return {v, len};
}

CodePoint DecodeBefore(std::string_view s, size_t end) {
  size_t start = end - 1;
  size_t steps = 0;
  while (start > 0 && steps < 3 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) {
    --start;
    ++steps;
  }
  CodePoint cp = DecodeAt(s, start);
  if (start + cp.length != end) return {0xFFFD, 1};
  return cp;
}

bool IsSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0xA0 ||
         (c >= 0x2000 && c <= 0x200B) || c == 0x3000 || c == 0xFEFF || c == 0x202F || c == 0x205F;
}

namespace {

// Bytes that can start / end a non-ASCII IsSpace code point: U+00A0 is C2 A0; U+2000..U+200B
// are E2 80 80..8B; U+202F is E2 80 AF; U+205F is E2 81 9F; U+3000 is E3 80 80; U+FEFF is
// EF BB BF. A code point starting or ending with any other byte (or an invalid sequence, which
// decodes as U+FFFD) is no space: most text (ideographs, letters) is told so without decoding.
bool MayStartWideSpace(unsigned char c) { return c == 0xC2 || c == 0xE2 || c == 0xE3 || c == 0xEF; }
bool MayEndWideSpace(unsigned char c) {
  return c == 0xA0 || (c >= 0x80 && c <= 0x8B) || c == 0xAF || c == 0x9F || c == 0xBF;
}

}  // namespace

size_t LeadingSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (!IsSpace(c)) break;
      ++i;
      continue;
    }
    if (!MayStartWideSpace(c)) break;
    CodePoint cp = DecodeAt(s, i);
    if (!IsSpace(cp.value)) break;
    i += cp.length;
  }
  return i;
}

size_t TrailingSpace(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    unsigned char c = static_cast<unsigned char>(s[end - 1]);
    if (c < 0x80) {
      if (!IsSpace(c)) break;
      --end;
      continue;
    }
    if (!MayEndWideSpace(c)) break;
    CodePoint cp = DecodeBefore(s, end);
    if (!IsSpace(cp.value)) break;
    end -= cp.length;
  }
  return s.size() - end;
}

std::string_view Trim(std::string_view s) {
  size_t lead = LeadingSpace(s);
  s.remove_prefix(lead);
  s.remove_suffix(TrailingSpace(s));
  return s;
}

bool StartsWithNoCase(std::string_view s, std::string_view needle) {
  if (s.size() < needle.size()) return false;
  for (size_t i = 0; i < needle.size(); ++i) {
    if (AsciiLower(s[i]) != needle[i]) return false;
  }
  return true;
}

bool EndsWithNoCase(std::string_view s, std::string_view needle) {
  return s.size() >= needle.size() && StartsWithNoCase(s.substr(s.size() - needle.size()), needle);
}

bool EqualsNoCase(std::string_view s, std::string_view needle) {
  return s.size() == needle.size() && StartsWithNoCase(s, needle);
}

size_t FindNoCase(std::string_view hay, std::string_view needle, size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  if (needle.empty()) return from;
  if (hay.size() - from < needle.size()) return std::string_view::npos;
  bool letters = false;
  for (char c : needle) letters |= (c >= 'a' && c <= 'z');
  if (!letters) {
    // No case to fold: glibc's memmem is the fastest exact search.
    const void* p = memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
    return p == nullptr ? std::string_view::npos
                        : static_cast<size_t>(static_cast<const char*>(p) - hay.data());
  }
  char first = needle[0];
  bool alpha = first >= 'a' && first <= 'z';
  char upper = alpha ? static_cast<char>(first - 'a' + 'A') : first;
  size_t last = hay.size() - needle.size();
  // Next occurrence of each case of the first byte; each is searched for again only once
  // passed, so the scan stays linear.
  auto next = [&](char c, size_t i) -> size_t {
    if (i > last) return std::string_view::npos;
    const void* p = std::memchr(hay.data() + i, c, last - i + 1);
    return p == nullptr ? std::string_view::npos
                        : static_cast<size_t>(static_cast<const char*>(p) - hay.data());
  };
  size_t nl = next(first, from);
  size_t nu = alpha ? next(upper, from) : std::string_view::npos;
  while (true) {
    size_t i = std::min(nl, nu);
    if (i == std::string_view::npos) return i;
    if (StartsWithNoCase(hay.substr(i + 1), needle.substr(1))) return i;
    if (nl == i) nl = next(first, i + 1);
    if (nu == i) nu = next(upper, i + 1);
  }
}

namespace {
constexpr auto kLowerTable = [] {
  std::array<unsigned char, 256> t{};
  for (unsigned i = 0; i < 256; ++i)
    t[i] = static_cast<unsigned char>(i >= 'A' && i <= 'Z' ? i + 32 : i);
  return t;
}();
}  // namespace

bool NeedleSet::TryAt(const unsigned char* h, size_t size, size_t i, uint64_t* found, size_t* count,
                      size_t limit) const {
  if (!may_start_[h[i]]) return true;
  const unsigned first = kLowerTable[h[i]];
  const unsigned b = kLowerTable[h[i + 1]];
  bool maybe = false;
  if (i + 2 < size) {
    const unsigned k = ((first * 131u + b) * 131u + kLowerTable[h[i + 2]]) & 4095u;
    maybe = (bits_[k >> 6] & (uint64_t{1} << (k & 63))) != 0;
  }
  if (!maybe && has_short_) {
    const unsigned k = (first * 131u + b) & 4095u;
    maybe = (bits_[k >> 6] & (uint64_t{1} << (k & 63))) != 0;
  }
  if (!maybe) return true;
  std::string_view hay(reinterpret_cast<const char*>(h), size);
  for (size_t idx = 0; idx < size_; ++idx) {
    std::string_view n = needles_[idx];
    if (static_cast<unsigned char>(n[0]) != first || static_cast<unsigned char>(n[1]) != b ||
        i + n.size() > size) {
      continue;
    }
    if (!StartsWithNoCase(hay.substr(i + 2), n.substr(2))) continue;
    uint64_t bit = idx < 64 ? uint64_t{1} << idx : 0;
    if (bit != 0 && (*found & bit) != 0) continue;
    *found |= bit;
    if (++*count >= limit) return false;
  }
  return true;
}

size_t NeedleSet::Count(std::string_view hay, size_t limit) const {
  if (hay.size() < 2) return 0;
  uint64_t found = 0;  // one bit per needle (needles past the 64th are not deduplicated)
  size_t count = 0;
  const unsigned char* h = reinterpret_cast<const unsigned char*>(hay.data());
  if (skip_) {
    // Every needle starting at p fits in the text (p + min_size_ <= size) and is visited:
    // from a window start i <= p the shift read at i never passes p (see the constructor),
    // and at i == p it is 0. Positions are tried in the same order as below.
    if (hay.size() < min_size_) return 0;
    const size_t last = hay.size() - min_size_;  // last window start
    size_t i = 0;
    while (i <= last) {
      const size_t j = i + min_size_ - 1;
      const unsigned shift = shift_[Key(static_cast<char>(kLowerTable[h[j - 1]]),
                                        static_cast<char>(kLowerTable[h[j]]))];
      if (shift != 0) {
        i += shift;
        continue;
      }
      if (!TryAt(h, hay.size(), i, &found, &count, limit)) return count;
      ++i;
    }
    return count;
  }
  const size_t end = hay.size() - 1;  // positions followed by at least one byte
  size_t i = 0;
  while (i < end) {
    // Positions whose byte starts no needle, four at a time: most of the text.
    while (i + 4 <= end && !may_start_[h[i]] && !may_start_[h[i + 1]] && !may_start_[h[i + 2]] &&
           !may_start_[h[i + 3]]) {
      i += 4;
    }
    if (!TryAt(h, hay.size(), i, &found, &count, limit)) return count;
    ++i;
  }
  return count;
}

bool IsHan(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FFFF);
}

std::string_view SkipOpeningBrackets(std::string_view s) {
  while (true) {
    size_t lead = LeadingSpace(s);
    s.remove_prefix(lead);
    if (s.empty()) return s;
    const auto first = static_cast<unsigned char>(s[0]);
    if (first < 0x80) {  // ASCII: only '[' and '(' open (spaces are gone)
      if (first != '[' && first != '(') return s;
      s.remove_prefix(1);
      continue;
    }
    CodePoint cp = DecodeAt(s, 0);
    char32_t c = cp.value;
    if (c == '[' || c == '(' || c == 0x3010 /*【*/ || c == 0xFF08 /*（*/ || c == 0xFF3B /*［*/ ||
        c == 0x3014 /*〔*/) {
      s.remove_prefix(cp.length);
      continue;
    }
    return s;
  }
}

size_t MatchLabel(std::string_view s, std::string_view word) {
  if (!StartsWithNoCase(s, word)) return 0;
  size_t i = word.size();
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  if (i < s.size() && s[i] == ':') return i + 1;
  if (s.substr(i, 3) == "\xEF\xBC\x9A") return i + 3;  // '：'
  return 0;
}

}  // namespace autostage::text::internal
