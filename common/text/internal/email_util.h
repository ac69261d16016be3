// Small byte-level helpers shared by the email, chat and call extractors: UTF-8 stepping,
// whitespace trimming that knows U+00A0 / U+3000, ASCII case-insensitive comparisons. They
// accept invalid UTF-8 (a bad byte is one code point U+FFFD) and never allocate.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace autostage::text::internal {

struct CodePoint {
  char32_t value;
  size_t length;  // bytes, >= 1
};

// The code point starting at s[i] (i < s.size()).
CodePoint DecodeAt(std::string_view s, size_t i);
// The code point ending at s[end] (0 < end <= s.size()).
CodePoint DecodeBefore(std::string_view s, size_t end);

// ASCII whitespace, U+00A0, U+2000..U+200B, U+3000, U+FEFF.
bool IsSpace(char32_t c);
// Leading / trailing whitespace byte counts and the trimmed view.
size_t LeadingSpace(std::string_view s);
size_t TrailingSpace(std::string_view s);
std::string_view Trim(std::string_view s);

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `needle` must be lower case (non-ASCII bytes compare exactly).
bool StartsWithNoCase(std::string_view s, std::string_view needle);
bool EndsWithNoCase(std::string_view s, std::string_view needle);
bool EqualsNoCase(std::string_view s, std::string_view needle);
size_t FindNoCase(std::string_view hay, std::string_view needle, size_t from = 0);
inline bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  return FindNoCase(hay, needle) != std::string_view::npos;
}
// A fixed list of lower-case needles (2..64 bytes each) searched for in one pass, ASCII
// case-insensitively, with a table of the needles' first bytes and a bitmap of their first
// three bytes (two for a two-byte needle) as filters: most positions of Chinese or English text
// start no needle, so the scan costs about a table lookup per byte, and a Chinese needle is
// tried only where its whole first character is. When every needle is at least
// kMinSkipNeedle bytes long, the scan also skips ahead (Wu-Manber): a window as long as the
// shortest needle ends in a two-byte block, and a table says how far the window may move
// before some needle could contain that block; in text unlike the needles it moves by about
// the length of the shortest needle, so the cost falls to a fraction of a lookup per byte.
// Declare lists as `static constexpr` so the tables are built at compile time.
class NeedleSet {
 public:
  static constexpr size_t kMaxNeedle = 64;

  constexpr NeedleSet(const std::string_view* needles, size_t size)
      : needles_(needles), size_(size) {
    for (size_t i = 0; i < size; ++i) {
      std::string_view n = needles[i];
      if (n.size() < 2 || n.size() > kMaxNeedle) throw "NeedleSet: needle must be 2..64 bytes";
      for (char c : n) {
        if (c >= 'A' && c <= 'Z') throw "NeedleSet: needles must be lower case";
      }
      min_size_ = i == 0 ? n.size() : std::min(min_size_, n.size());
      unsigned k = n.size() == 2 ? Key(n[0], n[1]) : Key3(n[0], n[1], n[2]);
      bits_[k >> 6] |= uint64_t{1} << (k & 63);
      has_short_ |= n.size() == 2;
      const auto first = static_cast<unsigned char>(n[0]);
      may_start_[first] = true;
      if (first >= 'a' && first <= 'z') may_start_[first - 'a' + 'A'] = true;
    }
    if (size == 0 || min_size_ < kMinSkipNeedle) return;
    // shift_[Key(block)]: how far a window of min_size_ bytes ending in `block` may move
    // without passing the start of a needle: min_size_ - 1 - q over every needle whose first
    // min_size_ bytes hold the block at q - 1, q (min_size_ - 1 when none does). Hash
    // collisions only lower a shift, which is safe.
    for (unsigned char& s : shift_) s = static_cast<unsigned char>(min_size_ - 1);
    for (size_t i = 0; i < size; ++i) {
      std::string_view n = needles[i];
      for (size_t q = 1; q < min_size_; ++q) {
        unsigned char& s = shift_[Key(n[q - 1], n[q])];
        s = std::min(s, static_cast<unsigned char>(min_size_ - 1 - q));
      }
    }
    skip_ = true;
  }
  template <size_t N>
  constexpr explicit NeedleSet(const std::string_view (&needles)[N]) : NeedleSet(needles, N) {}

  // Number of distinct needles found in `hay`, stopping at `limit`.
  size_t Count(std::string_view hay, size_t limit) const;
  bool FoundIn(std::string_view hay) const { return Count(hay, 1) > 0; }

 private:
  static constexpr unsigned Key(char a, char b) {
    return (static_cast<unsigned>(static_cast<unsigned char>(a)) * 131u +
            static_cast<unsigned char>(b)) &
           4095u;
  }
  static constexpr unsigned Key3(char a, char b, char c) {
    return ((static_cast<unsigned>(static_cast<unsigned char>(a)) * 131u +
             static_cast<unsigned char>(b)) *
                131u +
            static_cast<unsigned char>(c)) &
           4095u;
  }

  const std::string_view* needles_;
  size_t size_;
  // Below this length the window moves by too little to beat the plain per-byte filter.
  static constexpr size_t kMinSkipNeedle = 4;

  // Tries the needles that may start at hay[i]; false when `limit` is reached.
  bool TryAt(const unsigned char* h, size_t size, size_t i, uint64_t* found, size_t* count,
             size_t limit) const;

  uint64_t bits_[64] = {};          // first three bytes hashed by Key3 (first two by Key if 2 long)
  size_t min_size_ = 0;             // of the shortest needle
  bool skip_ = false;               // shift_ is built
  unsigned char shift_[4096] = {};  // by Key of the block ending a window (see the constructor)
  bool has_short_ = false;          // some needle is two bytes long
  bool may_start_[256] = {};        // first bytes, both cases: most positions fail this one test
};

// The first bytes (both ASCII cases) of a list of lower-case words. A string whose first byte
// is not in the set starts (ASCII case-insensitively) with none of the words, so a caller that
// tries a list of StartsWithNoCase / MatchLabel prefixes skips the whole list with one lookup.
// Declare as `static constexpr` so the table is built at compile time.
class FirstByteSet {
 public:
  constexpr FirstByteSet() = default;
  template <size_t N>
  constexpr explicit FirstByteSet(const std::string_view (&words)[N]) {
    for (std::string_view w : words) Add(w);
  }
  constexpr void Add(std::string_view word) {
    if (word.empty()) throw "FirstByteSet: empty word";
    const auto first = static_cast<unsigned char>(word[0]);
    if (first >= 'A' && first <= 'Z') throw "FirstByteSet: words must be lower case";
    may_start_[first] = true;
    if (first >= 'a' && first <= 'z') may_start_[first - 'a' + 'A'] = true;
  }
  // False when `s` starts with no word of the set (always false for an empty `s`).
  bool MayStart(std::string_view s) const {
    return !s.empty() && may_start_[static_cast<unsigned char>(s[0])];
  }

 private:
  bool may_start_[256] = {};
};

// True when `c` is a CJK ideograph (the common blocks).
bool IsHan(char32_t c);

// Strips leading brackets and whitespace: "【自动回复】x" -> "自动回复】x", "[Auto] x" -> "Auto]
// x".
std::string_view SkipOpeningBrackets(std::string_view s);

// If `s` starts (case-insensitively) with `word` followed by optional spaces and ':' or '：',
// returns the number of bytes up to and including the colon; else 0.
size_t MatchLabel(std::string_view s, std::string_view word);

}  // namespace autostage::text::internal

#endif  // AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_
