// Small byte-level helpers shared by the email, chat and call extractors: UTF-8 stepping,
// whitespace trimming that knows U+00A0 / U+3000, ASCII case-insensitive comparisons. They
// accept invalid UTF-8 (a bad byte is one code point U+FFFD) and never allocate.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_

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
// tried only where its whole first character is. Declare lists as `static constexpr` so the
// tables are built at compile time.
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
      unsigned k = n.size() == 2 ? Key(n[0], n[1]) : Key3(n[0], n[1], n[2]);
      bits_[k >> 6] |= uint64_t{1} << (k & 63);
      has_short_ |= n.size() == 2;
      const auto first = static_cast<unsigned char>(n[0]);
      may_start_[first] = true;
      if (first >= 'a' && first <= 'z') may_start_[first - 'a' + 'A'] = true;
    }
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
  uint64_t bits_[64] = {};    // first three bytes hashed by Key3 (first two by Key if 2 long)
  bool has_short_ = false;    // some needle is two bytes long
  bool may_start_[256] = {};  // first bytes, both cases: most positions fail this one test
};

// Ad-hoc form of NeedleSet::FoundIn (the bitmap is built per call).
bool ContainsAnyNoCase(std::string_view hay, std::initializer_list<std::string_view> needles);

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
