#include "common/text/guards.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/handle/handle.h"
#include "common/text/internal/guard_cues.h"

namespace autostage::text {
namespace {

using internal::Cue;
using UTextHandle = Handle<UText, &utext_close>;

// How far SentenceAt looks for a sentence boundary on either side of the match; text without
// any punctuation is cut there so one call stays cheap.
constexpr size_t kMaxSentenceReach = 2048;

inline bool StartsWithAt(std::string_view text, size_t pos, std::string_view s) {
  return pos <= text.size() && text.size() - pos >= s.size() &&
         (s.empty() || std::memcmp(text.data() + pos, s.data(), s.size()) == 0);
}

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Code point at `pos` (text is valid UTF-8: normalized) and its byte length. Inlined: the
// scans call it at every character.
[[gnu::always_inline]] inline char32_t CodePointAt(std::string_view text, size_t pos, size_t* len) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const uint8_t b0 = s[pos];
  size_t n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
  if (pos + n > text.size()) n = 1;
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (s[pos + k] & 0x3F);
  *len = n;
  return cp;
}

size_t PrevCodePointStart(std::string_view text, size_t pos) {
  if (pos == 0) return 0;
  --pos;
  while (pos > 0 && IsContinuation(static_cast<uint8_t>(text[pos]))) --pos;
  return pos;
}

// CJK ideographs, kana, Hangul, CJK punctuation, full-width forms.
bool IsCjk(char32_t cp) { return cp >= 0x2E80 && cp != 0xFEFF; }
bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Byte length of a sentence terminator starting at `pos`, or 0. A '.' ends a sentence only
// when no letter or digit follows ("7.5", "example.com" and "v2.0" do not end one). Switches
// on the lead byte first: this runs at every byte of the sentence scan.
size_t TerminatorLength(std::string_view text, size_t pos) {
  switch (static_cast<uint8_t>(text[pos])) {
    case '!':
    case '?':
    case '\n':
    case '\r':
      return 1;
    case '.':
      return pos + 1 < text.size() && (IsAsciiAlnum(text[pos + 1]) || text[pos + 1] == '_') ? 0 : 1;
    case 0xE3:
      return StartsWithAt(text, pos, "。") ? 3 : 0;
    case 0xEF:
      return StartsWithAt(text, pos, "！") || StartsWithAt(text, pos, "？") ? 3 : 0;
    case 0xE2:
      return StartsWithAt(text, pos, "…") ? 3 : 0;
    default:
      return 0;
  }
}

// Whether a byte can start a sentence terminator (the cases of TerminatorLength): the sentence
// scans test this inline and call TerminatorLength only for these few bytes.
constexpr auto kTerminatorLead = [] {
  std::array<bool, 256> t{};
  for (uint8_t b : {'!', '?', '\n', '\r', '.'}) t[b] = true;
  for (uint8_t b : {0xE2, 0xE3, 0xEF}) t[b] = true;
  return t;
}();

inline bool MayEndSentence(std::string_view text, size_t pos) {
  return kTerminatorLead[static_cast<uint8_t>(text[pos])];
}

#if defined(__SSE2__)
// Bit k set when byte k of the 16 at `p` is in kTerminatorLead (the same eight bytes).
inline unsigned TerminatorLeadMask(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  auto eq = [&](char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
  const __m128i ascii = _mm_or_si128(_mm_or_si128(eq('!'), eq('?')),
                                     _mm_or_si128(_mm_or_si128(eq('\n'), eq('\r')), eq('.')));
  const __m128i lead = _mm_or_si128(_mm_or_si128(eq('\xE2'), eq('\xE3')), eq('\xEF'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(ascii, lead)));
}
#endif

// First position in [q, limit) whose byte may start a terminator, or `limit`. With `simd`, 16
// bytes per step: sentences run to a few hundred bytes between terminators, and the
// sentence scans are most of FindSentence's cost. Both ways find the same position
// (guards_test compares Create() with CreateReference() on random text and the dev corpus).
size_t NextTerminatorLead(std::string_view text, size_t q, size_t limit, bool simd) {
#if defined(__SSE2__)
  if (simd) {
    for (; q + 16 <= limit; q += 16) {
      if (const unsigned mask = TerminatorLeadMask(text.data() + q)) {
        return q + static_cast<size_t>(__builtin_ctz(mask));
      }
    }
  }
#else
  (void)simd;
#endif
  while (q < limit && !MayEndSentence(text, q)) ++q;
  return q;
}

// Last position in [floor, q) whose byte may start a terminator, or npos.
size_t PrevTerminatorLead(std::string_view text, size_t q, size_t floor, bool simd) {
#if defined(__SSE2__)
  if (simd) {
    for (; q >= floor + 16; q -= 16) {
      if (const unsigned mask = TerminatorLeadMask(text.data() + q - 16)) {
        return q - 16 + static_cast<size_t>(31 - __builtin_clz(mask));
      }
    }
  }
#else
  (void)simd;
#endif
  while (q > floor) {
    --q;
    if (MayEndSentence(text, q)) return q;
  }
  return std::string_view::npos;
}

// Closing quotes and brackets that belong to the sentence they close.
size_t CloserLength(std::string_view text, size_t pos) {
  const auto b = static_cast<uint8_t>(text[pos]);
  if (b == '"' || b == '\'' || b == ')') return 1;
  if (b < 0xE2) return 0;
  for (std::string_view t : {"”", "’", "」", "』", "）"}) {
    if (StartsWithAt(text, pos, t)) return t.size();
  }
  return 0;
}

// End of [begin, end) without trailing spaces and closing quotes: the byte after the last
// character that says something ("?" in "签了吗？” ").
size_t TrimmedEnd(std::string_view text, size_t begin, size_t end) {
  while (end > begin) {
    const size_t prev = PrevCodePointStart(text, end);
    if (!IsSpace(text[prev]) && CloserLength(text, prev) != end - prev) break;
    end = prev;
  }
  return end;
}

bool IsQuestionMark(std::string_view ch) { return ch == "?" || ch == "？"; }

bool InList(std::string_view word, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

bool IsAsciiLetter(char32_t cp) { return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'); }
bool IsAsciiDigit(char32_t cp) { return cp >= '0' && cp <= '9'; }

// Letters of Chinese (and other CJK) words: ideographs, kana, Hangul; not CJK punctuation,
// full-width forms or specials.
bool IsCjkLetter(char32_t cp) {
  return cp >= 0x2E80 && !(cp >= 0x3000 && cp <= 0x303F) && !(cp >= 0xFE10 && cp <= 0xFE6F) &&
         !(cp >= 0xFF00 && cp <= 0xFFFF);
}

// Non-ASCII letters of alphabetic words (é, ß, Cyrillic...): below the CJK blocks, outside
// Latin-1 punctuation and the general punctuation / symbol blocks.
bool IsOtherLetter(char32_t cp) { return cp >= 0xC0 && cp < 0x2000 && cp != 0xD7 && cp != 0xF7; }

bool IsAlphaLetter(char32_t cp) { return IsAsciiLetter(cp) || IsOtherLetter(cp); }
bool IsAlphaWordChar(char32_t cp) { return IsAlphaLetter(cp) || IsAsciiDigit(cp) || cp == '_'; }

// Clause punctuation (after normalization ',' ';' ':' are half width; the full-width forms
// are kept for unnormalized input). "、" separates list items, not clauses: a negation
// before a list reaches every item ("不构成任何要约、承诺、报价确认").
bool IsClausePunctuation(char32_t cp) {
  switch (cp) {
    case ',':
    case ';':
    case ':':
    case 0xFF0C:  // ，
    case 0xFF1B:  // ；
    case 0xFF1A:  // ：
    case 0x2014:  // —
    case 0x2013:  // –
    case 0xFF5E:  // ～
      return true;
    default:
      return false;
  }
}

// The set of first code points (BMP) of a lexicon: one bit test rejects a character.
class FirstCharSet {
 public:
  void Add(std::string_view s) {
    size_t len;
    const char32_t cp = CodePointAt(s, 0, &len);
    if (cp < 0x10000) {
      bits_[cp >> 6] |= uint64_t{1} << (cp & 63);
    } else {
      astral_ = true;
    }
  }
  bool Has(char32_t cp) const {
    return cp < 0x10000 ? ((bits_[cp >> 6] >> (cp & 63)) & 1) != 0 : astral_;
  }

 private:
  std::array<uint64_t, 1024> bits_{};
  bool astral_ = false;
};

// Chinese strings matched at a byte position: sorted, with a first-character filter.
class ZhLexicon {
 public:
  struct Entry {
    std::string_view text;
    size_t index = 0;  // into the source list
  };

  void Add(std::string_view s, size_t index) {
    entries_.push_back({s, index});
    first_.Add(s);
  }
  void Finish() {
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.text < b.text; });
    // Entries sharing a first character are adjacent (UTF-8 byte order is code point order).
    firsts_.clear();
    for (size_t k = 0; k < entries_.size(); ++k) {
      size_t len;
      const char32_t cp = CodePointAt(entries_[k].text, 0, &len);
      if (firsts_.empty() || firsts_.back().cp != cp) firsts_.push_back({cp, k, k});
      firsts_.back().end = k + 1;
    }
  }
  bool MayStartWith(char32_t cp) const { return first_.Has(cp); }

  // The entry with the lowest source index among those starting at `pos` and ending at or
  // before `limit`, or nullptr: what a loop over the source list in order finds first.
  const Entry* FirstListed(std::string_view text, size_t pos, size_t limit) const {
    const auto [lo, hi] = Group(text, pos);
    const Entry* best = nullptr;
    for (const Entry* e = lo; e != hi; ++e) {
      if (pos + e->text.size() <= limit && (best == nullptr || e->index < best->index) &&
          StartsWithAt(text, pos, e->text))
        best = e;
    }
    return best;
  }

  // Longest entry starting at `pos` and ending at or before `limit`, or nullptr (the first in
  // sorted order among equally long ones).
  const Entry* Longest(std::string_view text, size_t pos, size_t limit) const {
    const auto [lo, hi] = Group(text, pos);
    const Entry* best = nullptr;
    for (const Entry* e = lo; e != hi; ++e) {
      if (pos + e->text.size() <= limit &&
          (best == nullptr || e->text.size() > best->text.size()) &&
          StartsWithAt(text, pos, e->text))
        best = e;
    }
    return best;
  }

 private:
  // The entries whose first character is the one at `pos` (empty when none).
  [[gnu::always_inline]] std::pair<const Entry*, const Entry*> Group(std::string_view text,
                                                                     size_t pos) const {
    if (pos >= text.size()) return {nullptr, nullptr};
    size_t len;
    const char32_t cp = CodePointAt(text, pos, &len);
    if (!first_.Has(cp)) return {nullptr, nullptr};
    auto group = std::lower_bound(firsts_.begin(), firsts_.end(), cp,
                                  [](const First& f, char32_t c) { return f.cp < c; });
    if (group == firsts_.end() || group->cp != cp) return {nullptr, nullptr};
    return {entries_.data() + group->begin, entries_.data() + group->end};
  }

  // The entries [begin, end) whose first character is `cp`.
  struct First {
    char32_t cp = 0;
    size_t begin = 0;
    size_t end = 0;
  };
  std::vector<First> firsts_;
  std::vector<Entry> entries_;
  FirstCharSet first_;
};

// English phrases (words separated by single spaces) indexed by their first word.
class EnLexicon {
 public:
  struct Entry {
    std::string_view first_word;
    std::string_view phrase;
    size_t index = 0;
  };

  void Add(std::string_view phrase, size_t index) {
    entries_.push_back({phrase.substr(0, phrase.find(' ')), phrase, index});
  }
  void Finish() {
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.first_word < b.first_word; });
    for (const Entry& e : entries_) {
      if (e.first_word.empty()) continue;
      const auto b = static_cast<uint8_t>(e.first_word.front());
      first_bytes_[b >> 6] |= uint64_t{1} << (b & 63);
      lengths_ |= uint64_t{1} << std::min<size_t>(e.first_word.size(), 63);
    }
  }
  std::span<const Entry> StartingWith(std::string_view word) const {
    // Most words start no cue: a first-byte and a length test reject them without a search.
    if (!word.empty()) {
      const auto b = static_cast<uint8_t>(word.front());
      if (((first_bytes_[b >> 6] >> (b & 63)) & 1) == 0 ||
          ((lengths_ >> std::min<size_t>(word.size(), 63)) & 1) == 0)
        return {};
    }
    auto [lo, hi] = std::equal_range(
        entries_.begin(), entries_.end(), Entry{word, {}, 0},
        [](const Entry& a, const Entry& b) { return a.first_word < b.first_word; });
    return {lo, hi};
  }

 private:
  std::vector<Entry> entries_;
  std::array<uint64_t, 4> first_bytes_{};  // first bytes of the first words
  uint64_t lengths_ = 0;                   // their lengths (63: 63 or more)
};

// Chinese exception phrases ("差不多", "方便的话") indexed by each character they hold, so
// the phrases covering a cue character are found with one lookup.
class ExceptionIndex {
 public:
  explicit ExceptionIndex(std::span<const std::string_view> phrases) {
    for (std::string_view phrase : phrases) {
      for (size_t k = 0; k < phrase.size();) {
        size_t len;
        CodePointAt(phrase, k, &len);
        entries_.push_back({phrase.substr(k, len), phrase, k});
        k += len;
      }
    }
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.ch < b.ch; });
  }

  // End of the longest phrase that covers byte `pos` (it may start before it) and starts at
  // or after `floor`, or 0.
  size_t CoverEnd(std::string_view text, size_t pos, size_t floor) const {
    if (pos >= text.size()) return 0;
    size_t len;
    CodePointAt(text, pos, &len);
    const std::string_view ch = text.substr(pos, len);
    auto [lo, hi] = std::equal_range(entries_.begin(), entries_.end(), Entry{ch, {}, 0},
                                     [](const Entry& a, const Entry& b) { return a.ch < b.ch; });
    size_t best = 0;
    for (auto it = lo; it != hi; ++it) {
      if (it->offset > pos || pos - it->offset < floor) continue;
      if (StartsWithAt(text, pos - it->offset, it->phrase))
        best = std::max(best, pos - it->offset + it->phrase.size());
    }
    return best;
  }

 private:
  struct Entry {
    std::string_view ch;  // one character of the phrase
    std::string_view phrase;
    size_t offset = 0;  // of `ch` in `phrase`
  };
  std::vector<Entry> entries_;
};

// Lookup structures over the cue lexicons, built once by Create() and shared (immutable) by
// every clone.
struct Lexicons {
  ZhLexicon zh_negation;      // index into ZhNegationCues()
  ZhLexicon zh_hypothetical;  // index into ZhHypotheticalCues()
  // Everything that makes a run of Chinese worth segmenting: negation, hypothetical and
  // trailing cues, clause conjunctions. A run without any of them needs no word breaks.
  ZhLexicon zh_trigger;
  FirstCharSet zh_question_first;  // first characters of question cues, tails, 不/没/么
  ZhLexicon zh_question;           // index into ZhQuestionCues()
  FirstCharSet zh_question_tail_first;
  // Trailing hypothetical cues and clause conjunctions: the strings whose word breaks matter
  // after the match (see Prepare).
  ZhLexicon zh_structural;
  std::array<bool, 256> zh_negating_tail_lead{};  // first bytes of ZhNegatingTails()
  EnLexicon en_negation;
  EnLexicon en_negation_exceptions;
  EnLexicon en_hypothetical;
  EnLexicon en_hypothetical_exceptions;
  ExceptionIndex zh_negation_exceptions{internal::ZhNegationExceptions()};
  ExceptionIndex zh_hypothetical_exceptions{internal::ZhHypotheticalExceptions()};
};

std::shared_ptr<const Lexicons> BuildLexicons() {
  auto lex = std::make_shared<Lexicons>();
  const auto zh_negation = internal::ZhNegationCues();
  for (size_t k = 0; k < zh_negation.size(); ++k) {
    lex->zh_negation.Add(zh_negation[k].text, k);
    lex->zh_trigger.Add(zh_negation[k].text, k);
  }
  const auto zh_hypothetical = internal::ZhHypotheticalCues();
  for (size_t k = 0; k < zh_hypothetical.size(); ++k) {
    lex->zh_hypothetical.Add(zh_hypothetical[k].text, k);
    lex->zh_trigger.Add(zh_hypothetical[k].text, k);
  }
  for (std::string_view s : internal::ZhTrailingHypotheticalCues()) {
    lex->zh_trigger.Add(s, 0);
    lex->zh_structural.Add(s, 0);
  }
  for (std::string_view s : internal::ZhClauseConjunctions()) {
    lex->zh_trigger.Add(s, 0);
    lex->zh_structural.Add(s, 0);
  }
  lex->zh_negation.Finish();
  lex->zh_hypothetical.Finish();
  lex->zh_trigger.Finish();
  lex->zh_structural.Finish();
  const auto zh_question = internal::ZhQuestionCues();
  for (size_t k = 0; k < zh_question.size(); ++k) {
    lex->zh_question_first.Add(zh_question[k]);
    lex->zh_question.Add(zh_question[k], k);
  }
  lex->zh_question.Finish();
  for (std::string_view s : internal::ZhQuestionTails()) {
    lex->zh_question_first.Add(s);
    lex->zh_question_tail_first.Add(s);
  }
  for (std::string_view s : internal::ZhNegatingTails()) {
    if (!s.empty()) lex->zh_negating_tail_lead[static_cast<uint8_t>(s.front())] = true;
  }
  for (std::string_view s : {"不", "没", "么"}) lex->zh_question_first.Add(s);

  const auto en_negation = internal::EnNegationCues();
  for (size_t k = 0; k < en_negation.size(); ++k) lex->en_negation.Add(en_negation[k].text, k);
  const auto en_neg_exceptions = internal::EnNegationExceptions();
  for (size_t k = 0; k < en_neg_exceptions.size(); ++k)
    lex->en_negation_exceptions.Add(en_neg_exceptions[k], k);
  const auto en_hypothetical = internal::EnHypotheticalCues();
  for (size_t k = 0; k < en_hypothetical.size(); ++k)
    lex->en_hypothetical.Add(en_hypothetical[k].text, k);
  const auto en_hyp_exceptions = internal::EnHypotheticalExceptions();
  for (size_t k = 0; k < en_hyp_exceptions.size(); ++k)
    lex->en_hypothetical_exceptions.Add(en_hyp_exceptions[k], k);
  lex->en_negation.Finish();
  lex->en_negation_exceptions.Finish();
  lex->en_hypothetical.Finish();
  lex->en_hypothetical_exceptions.Finish();
  return lex;
}

// "预算大概50万", "大概需要50个账号": "大概" before an amount estimates it. A number within a
// few characters of `pos` (same clause) that is not a date or time ("大概3月份签" still
// supposes) makes it an estimate.
bool IsEstimateAfter(std::string_view text, size_t pos, size_t limit) {
  constexpr std::u32string_view kNumerals = U"零一二两三四五六七八九十百千万几半";
  constexpr std::u32string_view kTimeUnits = U"月号日周天点年时分秒星礼";
  for (int seen = 0; pos < limit && seen < 6;) {
    size_t len;
    const char32_t cp = CodePointAt(text, pos, &len);
    if (cp == ' ') {
      pos += len;
      continue;
    }
    if (IsAsciiDigit(cp) || kNumerals.find(cp) != std::u32string_view::npos) {
      while (pos < limit) {
        const char32_t c = CodePointAt(text, pos, &len);
        if (!IsAsciiDigit(c) && kNumerals.find(c) == std::u32string_view::npos && c != '.' &&
            c != ',' && c != ' ')
          return kTimeUnits.find(c) == std::u32string_view::npos;
        pos += len;
      }
      return true;
    }
    if (IsClausePunctuation(cp) || TerminatorLength(text, pos) > 0) return false;
    ++seen;
    pos += len;
  }
  return false;
}

// A word: [begin, end) of the sentence. Chinese words come from ICU (dictionary
// segmentation); a run of Chinese without any cue is kept as one opaque token and never
// segmented. Alphabetic words come from a byte scan following UAX #29 for the cases that
// matter here ("don't", "7.5", "1,000" are one word).
struct Token {
  size_t begin = 0;
  size_t end = 0;
  bool zh = false;
  bool opaque = false;
  bool curly = false;  // an alphabetic word holding "’" (EnWord rewrites it)
};

// A run of Chinese letters and the byte range its cues span (npos / 0 when none): any cue,
// and hypothetical cues alone.
struct Run {
  size_t begin = 0;
  size_t end = 0;
  size_t first = std::string_view::npos;
  size_t last = 0;
  size_t first_hyp = std::string_view::npos;
  size_t last_hyp = 0;
  bool structural = false;  // holds a trailing hypothetical cue or a clause conjunction
};

// ICU segments a Chinese run only within this many bytes (8 characters) of its first and last
// cue: enough context for the dictionary to see the word a cue character belongs to.
constexpr size_t kSegmentMargin = 24;

class IcuGuardAnalyzer final : public GuardAnalyzer {
 public:
  // `reference`: take the general path everywhere (byte-at-a-time sentence scans, question
  // cues in list order, every cue-bearing run of the clause segmented); tests check that the
  // fast paths give the same findings.
  IcuGuardAnalyzer(std::shared_ptr<const Lexicons> lexicons,
                   std::unique_ptr<icu::BreakIterator> words, bool reference)
      : lex_(std::move(lexicons)), words_(std::move(words)), reference_(reference) {}

  std::unique_ptr<GuardAnalyzer> Clone() const override {
    return std::make_unique<IcuGuardAnalyzer>(
        lex_, std::unique_ptr<icu::BreakIterator>(words_->clone()), reference_);
  }

  ByteRange SentenceAt(std::string_view text, size_t begin, size_t end) override {
    Clamp(text, begin, end);
    return FindSentence(text, begin, end);
  }

  ByteRange ClauseAt(std::string_view text, size_t begin, size_t end) override {
    Clamp(text, begin, end);
    const ByteRange sentence = FindSentence(text, begin, end);
    Prepare(text, sentence, begin, end);
    return ClauseOf(text, sentence, begin, end);
  }

  GuardFindings Analyze(std::string_view text, size_t mb, size_t me) override {
    Clamp(text, mb, me);
    GuardFindings f;
    f.sentence = FindSentence(text, mb, me);
    Prepare(text, f.sentence, mb, me);
    f.clause = ClauseOf(text, f.sentence, mb, me);
    DetectNegation(text, f, mb, me);
    DetectHypothetical(text, f, mb, me);
    DetectQuestion(text, f);
    return f;
  }

 private:
  static void Clamp(std::string_view text, size_t& begin, size_t& end) {
    end = std::min(end, text.size());
    begin = std::min(begin, end);
  }

  ByteRange FindSentence(std::string_view text, size_t begin, size_t end) const {
    ByteRange s{0, text.size()};
    const size_t floor = begin > kMaxSentenceReach ? begin - kMaxSentenceReach : 0;
    bool found = false;
    for (size_t q = begin; q > floor;) {
      q = PrevTerminatorLead(text, q, floor, !reference_);
      if (q == std::string_view::npos) break;
      const size_t len = TerminatorLength(text, q);
      if (len > 0 && q + len <= begin) {
        s.begin = q + len;
        found = true;
        break;
      }
    }
    if (!found) {
      s.begin = floor;
      while (s.begin < begin && IsContinuation(static_cast<uint8_t>(text[s.begin]))) ++s.begin;
    }
    while (s.begin < begin && IsSpace(text[s.begin])) ++s.begin;

    const size_t ceiling = std::min(text.size(), end + kMaxSentenceReach);
    s.end = ceiling;
    for (size_t q = end; q < ceiling;) {
      q = NextTerminatorLead(text, q, ceiling, !reference_);
      if (q >= ceiling) break;
      size_t len = TerminatorLength(text, q);
      if (len == 0) {
        ++q;
        continue;
      }
      // Absorb a run of terminators ("?!", "...") and closing quotes.
      q += len;
      while (q < text.size()) {
        len = TerminatorLength(text, q);
        if (len == 0) len = CloserLength(text, q);
        if (len == 0) break;
        q += len;
      }
      s.end = q;
      break;
    }
    while (s.end < text.size() && s.end > end && IsContinuation(static_cast<uint8_t>(text[s.end])))
      ++s.end;
    return s;
  }

  // What one byte scan of a sentence finds, independent of the match: alphabetic words, runs
  // of Chinese letters with their cues, clause starts (punctuation, spaces between Chinese,
  // English conjunctions), the first "再"; and the ICU word breaks of the run windows segmented
  // so far. Anchors of one sentence (several rules, several terms) reuse it: only the match
  // edges and the windows to segment depend on the anchor.
  struct SentenceScan {
    // Valid for the text whose bytes [begin, end) equal `bytes`: everything above depends
    // only on them (the scan never reads outside the sentence).
    size_t begin = 0;
    size_t end = 0;
    std::string bytes;
    std::vector<Token> alpha;  // alphabetic words, in order
    std::vector<Run> runs;
    std::vector<size_t> clause_starts;  // unsorted
    size_t first_zai = std::string_view::npos;
    // ICU words of the windows [lo, hi) segmented so far: tokens[token_begin, token_end) and
    // the Chinese conjunctions among them, conjunctions[conj_begin, conj_end).
    struct Window {
      size_t lo = 0;
      size_t hi = 0;
      size_t token_begin = 0;
      size_t token_end = 0;
      size_t conj_begin = 0;
      size_t conj_end = 0;
    };
    std::vector<Window> windows;
    std::vector<Token> window_tokens;
    std::vector<size_t> window_conjunctions;
  };

  // The scan of sentence `s` of `text`, from the cache when the same sentence bytes were
  // scanned recently (anchors of one segment are evaluated rule by rule, so a few entries
  // serve them all).
  SentenceScan& ScanSentence(std::string_view text, ByteRange s) {
    const std::string_view bytes = text.substr(s.begin, s.end - s.begin);
    for (SentenceScan& scan : scans_) {
      if (scan.begin == s.begin && scan.end == s.end && scan.bytes == bytes) return scan;
    }
    SentenceScan& scan = scans_[next_scan_];
    next_scan_ = (next_scan_ + 1) % scans_.size();
    scan.begin = s.begin;
    scan.end = s.end;
    scan.bytes.assign(bytes.data(), bytes.size());
    scan.alpha.clear();
    scan.runs.clear();
    scan.clause_starts.clear();
    scan.windows.clear();
    scan.window_tokens.clear();
    scan.window_conjunctions.clear();
    scan.clause_starts.push_back(s.begin);
    const size_t zai = bytes.find("再");
    scan.first_zai = zai == std::string_view::npos ? zai : s.begin + zai;
    size_t pos = s.begin;
    while (pos < s.end) {
      const auto b = static_cast<uint8_t>(text[pos]);
      if (b < 0x80) {
        if (IsAlphaWordChar(b)) {
          pos = ScanAlphaWord(text, pos, s.end, scan);
          continue;
        }
        if (IsClausePunctuation(b)) {
          scan.clause_starts.push_back(pos + 1);
        } else if (IsSpace(static_cast<char>(b))) {
          size_t after = pos + 1;
          while (after < s.end && IsSpace(text[after])) ++after;
          // Chinese chat separates clauses with spaces: "我就问问价格 暂时不买哈".
          // IsCjk holds from U+2E80 on: characters of three or more bytes on both sides
          // (a byte >= 0x80 ends the one before, a lead byte >= 0xE0 starts the one after).
          if (pos > s.begin && after < s.end && static_cast<uint8_t>(text[pos - 1]) >= 0x80 &&
              static_cast<uint8_t>(text[after]) >= 0xE0) {
            size_t len;
            const char32_t before = CodePointAt(text, PrevCodePointStart(text, pos), &len);
            const char32_t next = CodePointAt(text, after, &len);
            if (IsCjk(before) && IsCjk(next)) scan.clause_starts.push_back(after);
          }
          pos = after;
          continue;
        }
        ++pos;
        continue;
      }
      size_t len;
      const char32_t cp = CodePointAt(text, pos, &len);
      if (IsCjkLetter(cp)) {
        pos = ScanCjkRun(text, pos, s.end, scan);
      } else if (IsOtherLetter(cp)) {
        pos = ScanAlphaWord(text, pos, s.end, scan);
      } else {
        if (IsClausePunctuation(cp)) scan.clause_starts.push_back(pos + len);
        pos += len;
      }
    }
    return scan;
  }

  // The tokens and clause starts of sentence `s` for the match [mb, me): the sentence scan
  // (cached), then ICU segments only the runs that can matter: those in the match's clause
  // that hold any cue (negation, hypothetical, conjunction), and those earlier in the sentence
  // that hold a hypothetical cue. Runs after the match's clause stay opaque.
  void Prepare(std::string_view text, ByteRange s, size_t mb, size_t me) {
    mb_ = mb;
    me_ = me;
    SentenceScan& scan = ScanSentence(text, s);
    tokens_.clear();
    clause_starts_.assign(scan.clause_starts.begin(), scan.clause_starts.end());
    // Alphabetic words and Chinese runs do not overlap and both come in text order: merged
    // as the runs are walked, the tokens come out sorted.
    size_t next_alpha = 0;
    auto push_alpha_before = [&](size_t limit) __attribute__((always_inline)) {
      while (next_alpha < scan.alpha.size() && scan.alpha[next_alpha].begin < limit) {
        PushToken(scan.alpha[next_alpha++]);
      }
    };
    if (reference_) push_alpha_before(std::string_view::npos);  // all first, sorted below
    // "等领导定了再签": with a "再" before the match, the waiting words ("了", "等") matter
    // too, so runs before the match are segmented whole.
    const bool wait =
        scan.first_zai != std::string_view::npos && scan.first_zai + std::strlen("再") <= mb;
    // The match's clause as far as the scan knows (Chinese conjunctions may split it more).
    size_t clause_begin = s.begin;
    size_t clause_end = s.end;
    const size_t last = me > mb ? me - 1 : mb;
    for (size_t start : clause_starts_) {
      if (start <= mb) clause_begin = std::max(clause_begin, start);
      if (start > last) clause_end = std::min(clause_end, start);
    }
    for (const Run& r : scan.runs) {
      push_alpha_before(r.begin);
      size_t first = std::string_view::npos;
      size_t end = 0;
      if (r.begin >= clause_begin && r.begin < clause_end) {
        // Words of a run matter only where a cue can start: negation and hypothetical cues
        // count before the match only, question cues are plain strings, and the waiting words
        // of "等…再" count only with a "再" before the match (`wait`, below). So a run whose
        // triggers all start after the match matters only through clause conjunctions (they
        // end the clause) and trailing hypothetical cues ("签的话"); without either, its
        // words change no finding and it stays opaque.
        if (reference_ || r.first < me || r.structural) {
          first = r.first;
          end = r.last;
        }
      } else if (r.begin < clause_begin) {
        first = r.first_hyp;
        end = r.last_hyp;
      }
      if (wait && r.begin < mb && r.begin < clause_end) {
        first = r.begin;
        end = r.end;
      }
      if (first == std::string_view::npos) {
        PushToken({r.begin, r.end, true, true});
        continue;
      }
      size_t lo = first > r.begin + kSegmentMargin ? first - kSegmentMargin : r.begin;
      while (lo < first && IsContinuation(static_cast<uint8_t>(text[lo]))) ++lo;
      size_t hi = std::min(r.end, std::max(end, first) + kSegmentMargin);
      while (hi < r.end && IsContinuation(static_cast<uint8_t>(text[hi]))) ++hi;
      if (lo > r.begin) PushToken({r.begin, lo, true, true});
      Segment(text, lo, hi, scan);
      if (hi < r.end) PushToken({hi, r.end, true, true});
    }
    push_alpha_before(std::string_view::npos);
    if (reference_ && !scan.runs.empty()) {
      std::sort(tokens_.begin(), tokens_.end(),
                [](const Token& a, const Token& b) { return a.begin < b.begin; });
    }
    std::sort(clause_starts_.begin(), clause_starts_.end());
    clause_starts_.erase(std::unique(clause_starts_.begin(), clause_starts_.end()),
                         clause_starts_.end());
  }

  // Adds a token, split at the match edges so cue scans can stop exactly at the match.
  void PushToken(Token t) {
    for (size_t cut : {mb_, me_}) {
      if (cut > t.begin && cut < t.end) {
        Token head = t;
        head.end = cut;
        tokens_.push_back(head);
        t.begin = cut;
      }
    }
    tokens_.push_back(t);
  }

  // An alphabetic word starting at `pos`; returns its end.
  size_t ScanAlphaWord(std::string_view text, size_t pos, size_t limit, SentenceScan& scan) {
    size_t e = pos;
    char32_t prev = 0;
    bool curly = false;
    while (e < limit) {
      // ASCII letters, digits and '_' continue the word: no decoding needed.
      if (const auto b = static_cast<uint8_t>(text[e]);
          !reference_ && b < 0x80 && IsAlphaWordChar(b)) {
        prev = b;
        ++e;
        continue;
      }
      size_t len;
      const char32_t cp = CodePointAt(text, e, &len);
      if (IsAlphaWordChar(cp)) {
        prev = cp;
        e += len;
        continue;
      }
      if (e + len >= limit) break;
      size_t next_len;
      const char32_t next = CodePointAt(text, e + len, &next_len);
      bool join = false;
      if (cp == '\'' || cp == 0x2019 || cp == ':') {
        join = IsAlphaLetter(prev) && IsAlphaLetter(next);
      } else if (cp == '.') {
        join = (IsAlphaLetter(prev) && IsAlphaLetter(next)) ||
               (IsAsciiDigit(prev) && IsAsciiDigit(next));
      } else if (cp == ',' || cp == ';') {
        join = IsAsciiDigit(prev) && IsAsciiDigit(next);
      }
      if (!join) break;
      curly |= cp == 0x2019;
      e += len;
    }
    scan.alpha.push_back({pos, e, false, false, curly});
    if (InList(text.substr(pos, e - pos), internal::EnClauseConjunctions())) {
      scan.clause_starts.push_back(pos);
    }
    return e;
  }

  // Records the run of Chinese letters starting at `pos` and where its cues are; returns its
  // end.
  size_t ScanCjkRun(std::string_view text, size_t pos, size_t limit, SentenceScan& scan) {
    Run r{pos, pos};
    while (r.end < limit) {
      size_t len;
      const char32_t cp = CodePointAt(text, r.end, &len);
      if (!IsCjkLetter(cp)) break;
      if (lex_->zh_trigger.MayStartWith(cp)) {
        if (const auto* hit = lex_->zh_trigger.Longest(text, r.end, limit)) {
          r.first = std::min(r.first, r.end);
          r.last = std::max(r.last, r.end + hit->text.size());
          // Hypothetical cues and structural strings are triggers too: where no trigger
          // starts, neither does one of them.
          if (lex_->zh_hypothetical.MayStartWith(cp)) {
            if (const auto* hyp = lex_->zh_hypothetical.Longest(text, r.end, limit)) {
              r.first_hyp = std::min(r.first_hyp, r.end);
              r.last_hyp = std::max(r.last_hyp, r.end + hyp->text.size());
            }
          }
          if (!r.structural && lex_->zh_structural.MayStartWith(cp) &&
              lex_->zh_structural.Longest(text, r.end, limit) != nullptr)
            r.structural = true;
        }
      }
      r.end += len;
    }
    scan.runs.push_back(r);
    return r.end;
  }

  // ICU word boundaries over [begin, end) (Chinese letters only), computed once per window of
  // a scanned sentence and replayed for later anchors.
  void Segment(std::string_view text, size_t begin, size_t end, SentenceScan& scan) {
    const SentenceScan::Window* window = nullptr;
    for (const SentenceScan::Window& w : scan.windows) {
      if (w.lo == begin && w.hi == end) {
        window = &w;
        break;
      }
    }
    if (window == nullptr) window = &SegmentWindow(text, begin, end, scan);
    for (size_t k = window->token_begin; k < window->token_end; ++k) {
      PushToken(scan.window_tokens[k]);
    }
    clause_starts_.insert(clause_starts_.end(),
                          scan.window_conjunctions.begin() + window->conj_begin,
                          scan.window_conjunctions.begin() + window->conj_end);
  }

  const SentenceScan::Window& SegmentWindow(std::string_view text, size_t begin, size_t end,
                                            SentenceScan& scan) {
    SentenceScan::Window& w = scan.windows.emplace_back();
    w.lo = begin;
    w.hi = end;
    w.token_begin = scan.window_tokens.size();
    w.conj_begin = scan.window_conjunctions.size();
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(utext_.get(), text.data() + begin, static_cast<int64_t>(end - begin),
                               &status);
    if (utext_.get() == nullptr) utext_.reset(ut);
    if (U_SUCCESS(status)) words_->setText(ut, status);
    if (U_FAILURE(status)) {
      scan.window_tokens.push_back({begin, end, true, false});
    } else {
      int32_t p = words_->first();
      for (int32_t q = words_->next(); q != icu::BreakIterator::DONE; p = q, q = words_->next()) {
        const Token t{begin + static_cast<size_t>(p), begin + static_cast<size_t>(q), true, false};
        scan.window_tokens.push_back(t);
        if (InList(TokenText(text, t), internal::ZhClauseConjunctions())) {
          scan.window_conjunctions.push_back(t.begin);
        }
      }
    }
    w.token_end = scan.window_tokens.size();
    w.conj_end = scan.window_conjunctions.size();
    return w;
  }

  static std::string_view TokenText(std::string_view text, const Token& t) {
    return text.substr(t.begin, t.end - t.begin);
  }

  ByteRange ClauseOf(std::string_view text, ByteRange sentence, size_t mb, size_t me) const {
    ByteRange c{sentence.begin, sentence.end};
    const size_t last = me > mb ? me - 1 : mb;
    for (size_t k = 0; k < clause_starts_.size(); ++k) {
      if (clause_starts_[k] <= mb) c.begin = clause_starts_[k];
      if (clause_starts_[k] > last) {
        c.end = clause_starts_[k];
        break;
      }
    }
    while (c.begin < mb && IsSpace(text[c.begin])) ++c.begin;
    while (c.end > std::max(me, c.begin) && IsSpace(text[c.end - 1])) --c.end;
    return c;
  }

  // English word of a token for cue lookups: the typographic apostrophe becomes '.
  std::string_view EnWord(std::string_view text, const Token& t) {
    std::string_view w = TokenText(text, t);
    // The scan marked the words holding "’"; ICU tokens (Chinese) never hold it.
    if (!reference_ && !t.curly) return w;
    if (w.find("’") == std::string_view::npos) return w;
    // A copying loop rather than std::string::replace: GCC 12 at -O3 reports a false
    // -Wrestrict inside replace().
    constexpr std::string_view kCurly = "’";
    word_buf_.clear();
    for (size_t i = 0; i < w.size();) {
      if (w.substr(i, kCurly.size()) == kCurly) {
        word_buf_.push_back('\'');
        i += kCurly.size();
      } else {
        word_buf_.push_back(w[i++]);
      }
    }
    return word_buf_;
  }

  // Matches a phrase of space-separated English words at token `k`, each token ending at or
  // before `limit`, only whitespace between them. Returns the index after the last token
  // consumed, or 0.
  size_t MatchEnPhrase(std::string_view text, size_t k, std::string_view phrase, size_t limit) {
    size_t idx = k;
    while (true) {
      const size_t space = phrase.find(' ');
      const std::string_view part = phrase.substr(0, space);
      if (idx >= tokens_.size() || tokens_[idx].zh || tokens_[idx].end > limit) return 0;
      if (EnWord(text, tokens_[idx]) != part) return 0;
      if (space == std::string_view::npos) return idx + 1;
      phrase.remove_prefix(space + 1);
      if (idx + 1 >= tokens_.size()) return 0;
      for (size_t q = tokens_[idx].end; q < tokens_[idx + 1].begin; ++q) {
        if (!IsSpace(text[q])) return 0;
      }
      ++idx;
    }
  }

  // Longest phrase of `lexicon` at token k (index after it in *end), or nullptr.
  const EnLexicon::Entry* MatchEn(std::string_view text, size_t k, const EnLexicon& lexicon,
                                  size_t limit, size_t* end) {
    const EnLexicon::Entry* best = nullptr;
    size_t best_end = 0;
    for (const EnLexicon::Entry& entry : lexicon.StartingWith(EnWord(text, tokens_[k]))) {
      const size_t e = MatchEnPhrase(text, k, entry.phrase, limit);
      if (e > best_end) {
        best = &entry;
        best_end = e;
      }
    }
    *end = best_end;
    return best;
  }

  // "要不要", "签没签": X不X / X没X asks, it does not negate.
  static bool IsAnotA(std::string_view text, size_t pos, size_t floor, size_t limit) {
    if (!StartsWithAt(text, pos, "不") && !StartsWithAt(text, pos, "没")) return false;
    if (pos <= floor) return false;
    const size_t prev = PrevCodePointStart(text, pos);
    size_t prev_len, next_len;
    const char32_t a = CodePointAt(text, prev, &prev_len);
    const size_t next = pos + 3;
    if (next >= limit) return false;
    const char32_t b = CodePointAt(text, next, &next_len);
    return a == b && IsCjk(a) && a != U'不' && a != U'没';
  }

  // Byte positions inside a Chinese token where a cue may start: the token start, and after a
  // single adverb that ICU glued to the cue ("并不", "也没"). Inside other words ("特别",
  // "差不多") a cue character is not a cue.
  template <typename Fn>
  void ForZhCueStarts(std::string_view text, const Token& t, Fn&& fn) const {
    fn(t.begin);
    const std::string_view word = TokenText(text, t);
    if (word.size() <= 3) return;
    for (std::string_view adverb : internal::ZhNegationPrefixAdverbs()) {
      if (word.size() > adverb.size() && word.starts_with(adverb)) fn(t.begin + adverb.size());
    }
  }

  void DetectNegation(std::string_view text, GuardFindings& f, size_t mb, size_t me) {
    int weight = 0;
    std::string cues;
    auto add = [&](std::string_view cue, int w) {
      weight += w;
      if (!cues.empty()) cues += "+";
      cues += cue;
    };
    const auto zh_cues = internal::ZhNegationCues();
    const auto en_cues = internal::EnNegationCues();
    size_t skip_until = 0;  // bytes consumed by a cue or an exception
    for (size_t k = FirstTokenAt(f.clause.begin); k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (t.end > mb) break;
      if (t.opaque || t.begin < skip_until) continue;
      if (t.zh) {
        ForZhCueStarts(text, t, [&](size_t pos) {
          if (pos < skip_until) return;
          const auto* hit = lex_->zh_negation.Longest(text, pos, mb);
          if (hit == nullptr) return;
          const Cue& cue = zh_cues[hit->index];
          // An exception counts only when it ends before the match: in "不同意" with the
          // match "同意", "不同" is not the word that was written.
          const size_t exception = lex_->zh_negation_exceptions.CoverEnd(text, pos, f.clause.begin);
          if (exception > pos + cue.text.size() && exception <= mb) {
            skip_until = exception;
            return;
          }
          if (IsAnotA(text, pos, f.clause.begin, f.clause.end)) return;
          add(cue.text, cue.weight);
          skip_until = pos + cue.text.size();
        });
        continue;
      }
      size_t end;
      if (MatchEn(text, k, lex_->en_negation_exceptions, mb, &end) != nullptr) {
        skip_until = tokens_[end - 1].end;
        continue;
      }
      if (const auto* hit = MatchEn(text, k, lex_->en_negation, mb, &end)) {
        const Cue& cue = en_cues[hit->index];
        // "neither ... nor" is one negation.
        if (cue.text == "nor" && cues.find("neither") != std::string::npos) continue;
        add(cue.text, cue.weight);
        skip_until = tokens_[end - 1].end;
        continue;
      }
      const std::string_view w = EnWord(text, t);
      if (w.size() > 3 && w.ends_with("n't")) add(TokenText(text, t), 1);
    }
    // A short negating tail right after the match: "签不了", "盖章还没".
    if (me < f.clause.end &&
        (reference_ || lex_->zh_negating_tail_lead[static_cast<uint8_t>(text[me])])) {
      for (std::string_view tail : internal::ZhNegatingTails()) {
        if (StartsWithAt(text, me, tail) && me + tail.size() <= f.clause.end) {
          add(tail, 1);
          break;
        }
      }
    }
    if (weight % 2 == 1) {
      f.negated = true;
      f.negation_cue = std::move(cues);
    }
  }

  // Index of the first token starting at or after `pos`.
  size_t FirstTokenAt(size_t pos) const {
    return static_cast<size_t>(
        std::lower_bound(tokens_.begin(), tokens_.end(), pos,
                         [](const Token& t, size_t p) { return t.begin < p; }) -
        tokens_.begin());
  }

  void DetectHypothetical(std::string_view text, GuardFindings& f, size_t mb, size_t me) {
    auto found = [&](std::string_view cue) {
      f.hypothetical = true;
      f.hypothetical_cue = std::string(cue);
    };
    const auto zh_cues = internal::ZhHypotheticalCues();
    const auto en_cues = internal::EnHypotheticalCues();
    size_t skip_until = 0;
    bool saw_wait = false;  // "等" / "之后" / "以后" / "...了" earlier in the sentence
    for (size_t k = 0; k < tokens_.size() && !f.hypothetical; ++k) {
      const Token& t = tokens_[k];
      if (t.end > mb) break;
      if (t.opaque || t.begin < skip_until) continue;
      const std::string_view word = TokenText(text, t);
      if (t.zh) {
        // "等领导定了再签": a later action waits for a condition.
        if (saw_wait && word.starts_with("再") && !word.starts_with("再次")) {
          found("等…再");
          break;
        }
        if (word == "等" || word == "等到" || word == "之后" || word == "以后" ||
            word.ends_with("了") || word.ends_with("完") || word.ends_with("后"))
          saw_wait = true;
        ForZhCueStarts(text, t, [&](size_t pos) {
          if (f.hypothetical || pos < skip_until) return;
          const auto* hit = lex_->zh_hypothetical.Longest(text, pos, mb);
          if (hit == nullptr) return;
          if (lex_->zh_hypothetical_exceptions.CoverEnd(text, pos, f.sentence.begin) > pos) return;
          const std::string_view cue = zh_cues[hit->index].text;
          if (cue == "大概" && IsEstimateAfter(text, pos + cue.size(), f.sentence.end)) return;
          found(cue);
        });
        continue;
      }
      size_t end;
      if (MatchEn(text, k, lex_->en_hypothetical_exceptions, f.sentence.end, &end) != nullptr) {
        skip_until = tokens_[end - 1].end;
        continue;
      }
      const auto* hit = MatchEn(text, k, lex_->en_hypothetical, mb, &end);
      if (hit == nullptr) continue;
      const std::string_view cue = en_cues[hit->index].text;
      const std::string_view next_word =
          k + 1 < tokens_.size() ? EnWord(text, tokens_[k + 1]) : std::string_view();
      // "may 5" is a date; "could you" / "would you" ask (question), they do not suppose.
      if (cue == "may" && !next_word.empty() && IsAsciiDigit(next_word.front())) continue;
      if ((cue == "could" || cue == "would") && next_word == "you") continue;
      found(cue);
    }
    if (f.hypothetical) return;
    // Conditions after the match in its clause: "签合同的话", "we'll sign if the price works".
    for (size_t k = FirstTokenAt(me); k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (t.end > f.clause.end) break;
      if (t.opaque || t.begin < skip_until) continue;
      if (t.zh) {
        for (std::string_view cue : internal::ZhTrailingHypotheticalCues()) {
          if (TokenText(text, t).starts_with(cue) &&
              lex_->zh_hypothetical_exceptions.CoverEnd(text, t.begin, f.clause.begin) <= t.begin)
            return found(cue);
        }
        continue;
      }
      size_t end;
      if (MatchEn(text, k, lex_->en_hypothetical_exceptions, f.sentence.end, &end) != nullptr) {
        skip_until = tokens_[end - 1].end;
        continue;
      }
      for (std::string_view cue : internal::EnTrailingHypotheticalCues()) {
        if (MatchEnPhrase(text, k, cue, f.clause.end) > 0) return found(cue);
      }
    }
  }

  // Question cue of the clause [begin, end), or empty. Chinese cues are plain character
  // sequences, so this scans characters and needs no word breaks.
  std::string_view ClauseQuestionCue(std::string_view text, ByteRange c) {
    const size_t last = TrimmedEnd(text, c.begin, c.end);
    if (last > c.begin) {
      const size_t prev = PrevCodePointStart(text, last);
      const std::string_view ch = text.substr(prev, last - prev);
      if (IsQuestionMark(ch)) return ch;
    }
    for (size_t pos = c.begin; pos < c.end;) {
      // Every cue here starts with a Chinese character: ASCII bytes are passed over.
      if (!reference_ && static_cast<uint8_t>(text[pos]) < 0x80) {
        ++pos;
        continue;
      }
      size_t len;
      const char32_t cp = CodePointAt(text, pos, &len);
      if (lex_->zh_question_first.Has(cp) && IsCjkLetter(cp)) {
        if (reference_) {
          for (std::string_view cue : internal::ZhQuestionCues()) {
            if (pos + cue.size() <= c.end && StartsWithAt(text, pos, cue)) return cue;
          }
        } else if (const auto* hit = lex_->zh_question.FirstListed(text, pos, c.end)) {
          return hit->text;
        }
        for (std::string_view tail : internal::ZhQuestionTails()) {
          if (!reference_ && !lex_->zh_question_tail_first.Has(cp)) break;
          if (!StartsWithAt(text, pos, tail)) continue;
          const size_t after = pos + tail.size();
          if (after >= last || StartsWithAt(text, after, "呢") || StartsWithAt(text, after, "啊") ||
              StartsWithAt(text, after, "呀"))
            return tail;
        }
        if (IsAnotA(text, pos, c.begin, c.end))
          return text.substr(PrevCodePointStart(text, pos), 9);
        // "么" asks unless it is part of 什么/怎么/那么/这么/多么/要么.
        if (cp == U'么' && pos > c.begin) {
          const size_t prev = PrevCodePointStart(text, pos);
          const std::string_view before = text.substr(prev, pos - prev);
          if (before != "什" && before != "怎" && before != "那" && before != "这" &&
              before != "多" && before != "要" && before != "为")
            return "么";
        }
      }
      pos += len;
    }
    // English interrogative opening: auxiliary + subject, or wh-word + auxiliary.
    const size_t first = FirstTokenAt(c.begin);
    if (first < tokens_.size() && tokens_[first].end <= c.end && !tokens_[first].zh) {
      const size_t second = first + 1;
      if (second < tokens_.size() && tokens_[second].end <= c.end) {
        const std::string w1(EnWord(text, tokens_[first]));
        const std::string_view w2 = EnWord(text, tokens_[second]);
        const bool aux_subject = InList(w1, internal::EnQuestionAuxiliaries()) &&
                                 InList(w2, internal::EnQuestionSubjects());
        const bool wh_aux = InList(w1, internal::EnQuestionWords()) &&
                            InList(w2, internal::EnQuestionAuxiliaries());
        if (aux_subject || wh_aux) {
          return text.substr(tokens_[first].begin, tokens_[second].end - tokens_[first].begin);
        }
      }
    }
    return {};
  }

  void DetectQuestion(std::string_view text, GuardFindings& f) {
    std::string_view cue = ClauseQuestionCue(text, f.clause);
    if (cue.empty()) {
      // A '?' ending the sentence asks about the match's clause too, unless a later clause
      // carries its own question ("合同已经盖章寄出了，您收到了吗？").
      const size_t last = TrimmedEnd(text, f.sentence.begin, f.sentence.end);
      const size_t prev = PrevCodePointStart(text, last);
      const std::string_view end_char = text.substr(prev, last - prev);
      if (last > f.clause.end && IsQuestionMark(end_char)) {
        bool later_owns_it = false;
        for (size_t k = 0; k < clause_starts_.size(); ++k) {
          const size_t start = clause_starts_[k];
          if (start < f.clause.end) continue;
          const size_t stop =
              k + 1 < clause_starts_.size() ? clause_starts_[k + 1] : f.sentence.end;
          // Only a cue other than the trailing '?' itself counts.
          const std::string_view own = ClauseQuestionCue(text, {start, std::min(stop, prev)});
          if (!own.empty()) {
            later_owns_it = true;
            break;
          }
        }
        if (!later_owns_it) cue = end_char;
      }
    }
    if (!cue.empty()) {
      f.question = true;
      f.question_cue = std::string(cue);
    }
  }

  std::shared_ptr<const Lexicons> lex_;
  std::unique_ptr<icu::BreakIterator> words_;
  UTextHandle utext_;
  // Per-call scratch, reused across calls.
  std::vector<Token> tokens_;
  std::vector<size_t> clause_starts_;
  // Recently scanned sentences, replaced round robin.
  std::array<SentenceScan, 4> scans_;
  size_t next_scan_ = 0;
  std::string word_buf_;
  size_t mb_ = 0;
  size_t me_ = 0;
  bool reference_ = false;
};

}  // namespace

namespace {

absl::StatusOr<std::unique_ptr<GuardAnalyzer>> CreateAnalyzer(bool reference) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> words(
      icu::BreakIterator::createWordInstance(icu::Locale("zh", "CN"), status));
  if (U_FAILURE(status) || words == nullptr) {
    return absl::InternalError(
        absl::StrCat("ICU word break iterator unavailable: ", u_errorName(status)));
  }
  return std::make_unique<IcuGuardAnalyzer>(BuildLexicons(), std::move(words), reference);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GuardAnalyzer>> GuardAnalyzer::Create() {
  return CreateAnalyzer(/*reference=*/false);
}

absl::StatusOr<std::unique_ptr<GuardAnalyzer>> GuardAnalyzer::CreateReference() {
  return CreateAnalyzer(/*reference=*/true);
}

}  // namespace autostage::text
