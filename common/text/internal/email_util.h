// Small byte-level helpers shared by the email, chat and call extractors: UTF-8 stepping,
// whitespace trimming that knows U+00A0 / U+3000, ASCII case-insensitive comparisons. They
// accept invalid UTF-8 (a bad byte is one code point U+FFFD) and never allocate.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_EMAIL_UTIL_H_

#include <cstddef>
#include <initializer_list>
#include <span>
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
bool ContainsAnyNoCase(std::string_view hay, std::initializer_list<std::string_view> needles);
// How many distinct `needles` (lower case) occur in `hay`, counting stops at `limit`. One pass.
size_t CountNoCase(std::string_view hay, std::span<const std::string_view> needles, size_t limit);

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
