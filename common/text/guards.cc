#include "common/text/guards.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/utext.h>

#include <algorithm>
#include <cstdint>
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

bool StartsWithAt(std::string_view text, size_t pos, std::string_view s) {
  return pos <= text.size() && text.size() - pos >= s.size() && text.compare(pos, s.size(), s) == 0;
}

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Code point at `pos` (text is valid UTF-8: normalized) and its byte length.
char32_t CodePointAt(std::string_view text, size_t pos, size_t* len) {
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
// when no letter or digit follows ("7.5", "example.com" and "v2.0" do not end one).
size_t TerminatorLength(std::string_view text, size_t pos) {
  const char c = text[pos];
  switch (c) {
    case '!':
    case '?':
    case '\n':
    case '\r':
      return 1;
    case '.':
      return pos + 1 < text.size() && (IsAsciiAlnum(text[pos + 1]) || text[pos + 1] == '_') ? 0 : 1;
    default:
      break;
  }
  for (std::string_view t : {"。", "！", "？", "…"}) {
    if (StartsWithAt(text, pos, t)) return t.size();
  }
  return 0;
}

// Closing quotes and brackets that belong to the sentence they close.
size_t CloserLength(std::string_view text, size_t pos) {
  for (std::string_view t : {"\"", "'", ")", "”", "’", "」", "』", "）"}) {
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

bool IsClausePunctuation(std::string_view token) {
  for (std::string_view t : {",", ";", ":", "、", "，", "；", "：", "—", "–", "～"}) {
    if (token == t) return true;
  }
  return false;
}

bool InList(std::string_view word, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

struct Token {
  size_t begin = 0;
  size_t end = 0;
  int status = 0;  // ICU word rule status
  bool word() const { return status >= UBRK_WORD_NONE_LIMIT; }
};

class IcuGuardAnalyzer final : public GuardAnalyzer {
 public:
  explicit IcuGuardAnalyzer(std::unique_ptr<icu::BreakIterator> words) : words_(std::move(words)) {}

  std::unique_ptr<GuardAnalyzer> Clone() const override {
    return std::make_unique<IcuGuardAnalyzer>(std::unique_ptr<icu::BreakIterator>(words_->clone()));
  }

  ByteRange SentenceAt(std::string_view text, size_t begin, size_t end) override {
    Clamp(text, begin, end);
    return FindSentence(text, begin, end);
  }

  ByteRange ClauseAt(std::string_view text, size_t begin, size_t end) override {
    Clamp(text, begin, end);
    const ByteRange sentence = FindSentence(text, begin, end);
    Tokenize(text, sentence, begin, end);
    FindClauses(text, sentence);
    return ClauseOf(text, sentence, begin, end);
  }

  GuardFindings Analyze(std::string_view text, size_t mb, size_t me) override {
    Clamp(text, mb, me);
    GuardFindings f;
    f.sentence = FindSentence(text, mb, me);
    Tokenize(text, f.sentence, mb, me);
    FindClauses(text, f.sentence);
    f.clause = ClauseOf(text, f.sentence, mb, me);
    DetectNegation(text, f, mb, me);
    DetectHypothetical(text, f, mb, me);
    DetectQuestion(text, f, mb, me);
    return f;
  }

 private:
  static void Clamp(std::string_view text, size_t& begin, size_t& end) {
    end = std::min(end, text.size());
    begin = std::min(begin, end);
  }

  static ByteRange FindSentence(std::string_view text, size_t begin, size_t end) {
    ByteRange s{0, text.size()};
    const size_t floor = begin > kMaxSentenceReach ? begin - kMaxSentenceReach : 0;
    bool found = false;
    for (size_t q = begin; q > floor;) {
      --q;
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

  // ICU word boundaries over the sentence, with forced boundaries at the match edges.
  void Tokenize(std::string_view text, ByteRange sentence, size_t mb, size_t me) {
    tokens_.clear();
    UErrorCode status = U_ZERO_ERROR;
    UText* ut = utext_openUTF8(utext_.get(), text.data() + sentence.begin,
                               static_cast<int64_t>(sentence.end - sentence.begin), &status);
    if (utext_.get() == nullptr) utext_.reset(ut);
    if (U_FAILURE(status)) return;
    words_->setText(ut, status);
    if (U_FAILURE(status)) return;
    int32_t p = words_->first();
    for (int32_t q = words_->next(); q != icu::BreakIterator::DONE; p = q, q = words_->next()) {
      Token t{sentence.begin + static_cast<size_t>(p), sentence.begin + static_cast<size_t>(q),
              words_->getRuleStatus()};
      for (size_t cut : {mb, me}) {
        if (cut > t.begin && cut < t.end) {
          tokens_.push_back({t.begin, cut, t.status});
          t.begin = cut;
        }
      }
      tokens_.push_back(t);
    }
  }

  std::string_view TokenText(std::string_view text, const Token& t) const {
    return text.substr(t.begin, t.end - t.begin);
  }

  bool IsZhToken(std::string_view text, const Token& t) const {
    size_t len;
    return t.word() && IsCjk(CodePointAt(text, t.begin, &len));
  }

  void FindClauses(std::string_view text, ByteRange sentence) {
    clause_starts_.clear();
    clause_starts_.push_back(sentence.begin);
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      const std::string_view word = TokenText(text, t);
      size_t start = 0;
      if (!t.word()) {
        if (IsClausePunctuation(word)) {
          start = t.end;
        } else if (IsSpace(word.front()) && k > 0 && k + 1 < tokens_.size()) {
          // Chinese chat separates clauses with spaces: "我就问问价格 暂时不买哈".
          size_t len;
          const char32_t before = CodePointAt(text, PrevCodePointStart(text, t.begin), &len);
          const char32_t after = CodePointAt(text, t.end, &len);
          if (IsCjk(before) && IsCjk(after)) start = t.end;
        }
      } else if (InList(word, internal::ZhClauseConjunctions()) ||
                 InList(word, internal::EnClauseConjunctions())) {
        start = t.begin;
      }
      if (start > clause_starts_.back()) clause_starts_.push_back(start);
    }
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
    if (w.find("’") == std::string_view::npos) return w;
    word_buf_.assign(w);
    for (size_t at = word_buf_.find("’"); at != std::string::npos; at = word_buf_.find("’", at))
      word_buf_.replace(at, std::string_view("’").size(), "'");
    return word_buf_;
  }

  // Matches a phrase of space-separated English words at word token `k`, each token ending at
  // or before `limit`. Returns the number of tokens consumed (last index + 1) or 0.
  size_t MatchEnPhrase(std::string_view text, size_t k, std::string_view phrase, size_t limit) {
    size_t idx = k;
    while (true) {
      const size_t space = phrase.find(' ');
      const std::string_view part = phrase.substr(0, space);
      if (idx >= tokens_.size() || !tokens_[idx].word() || tokens_[idx].end > limit) return 0;
      if (EnWord(text, tokens_[idx]) != part) return 0;
      if (space == std::string_view::npos) return idx + 1;
      phrase.remove_prefix(space + 1);
      // Only whitespace may separate the words of a phrase.
      size_t next = idx + 1;
      while (next < tokens_.size() && !tokens_[next].word() && IsSpace(text[tokens_[next].begin]))
        ++next;
      idx = next;
    }
  }

  // Longest English cue of `cues` at word token k (end index in *end), or nullptr.
  const Cue* MatchEnCue(std::string_view text, size_t k, std::span<const Cue> cues, size_t limit,
                        size_t* end) {
    const Cue* best = nullptr;
    size_t best_end = 0;
    for (const Cue& cue : cues) {
      const size_t e = MatchEnPhrase(text, k, cue.text, limit);
      if (e > best_end) {
        best = &cue;
        best_end = e;
      }
    }
    *end = best_end;
    return best;
  }

  size_t MatchEnList(std::string_view text, size_t k, std::span<const std::string_view> list,
                     size_t limit) {
    size_t best = 0;
    for (std::string_view phrase : list)
      best = std::max(best, MatchEnPhrase(text, k, phrase, limit));
    return best;
  }

  // Longest Chinese cue starting at byte `pos` and ending at or before `limit`.
  static const Cue* MatchZhCue(std::string_view text, size_t pos, std::span<const Cue> cues,
                               size_t limit) {
    const Cue* best = nullptr;
    for (const Cue& cue : cues) {
      if (pos + cue.text.size() <= limit && StartsWithAt(text, pos, cue.text) &&
          (best == nullptr || cue.text.size() > best->text.size()))
        best = &cue;
    }
    return best;
  }

  // End of the longest exception phrase that covers byte `pos` (it may start before it:
  // "差不多"), or 0. `floor` is the earliest byte an exception may start at.
  static size_t ExceptionEnd(std::string_view text, size_t pos, size_t floor,
                             std::span<const std::string_view> exceptions) {
    size_t best = 0;
    for (std::string_view e : exceptions) {
      for (size_t k = 0; k < e.size(); ++k) {
        if (IsContinuation(static_cast<uint8_t>(e[k])) || k > pos || pos - k < floor) continue;
        if (StartsWithAt(text, pos - k, e)) best = std::max(best, pos - k + e.size());
      }
    }
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
    size_t skip_until = 0;  // bytes consumed by a cue or an exception
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (t.begin < f.clause.begin || t.end > mb || !t.word() || t.begin < skip_until) continue;
      if (IsZhToken(text, t)) {
        ForZhCueStarts(text, t, [&](size_t pos) {
          if (pos < skip_until) return;
          const Cue* cue = MatchZhCue(text, pos, internal::ZhNegationCues(), mb);
          if (cue == nullptr) return;
          // An exception counts only when it ends before the match: in "不同意" with the
          // match "同意", "不同" is not the word that was written.
          const size_t exception =
              ExceptionEnd(text, pos, f.clause.begin, internal::ZhNegationExceptions());
          if (exception > pos + cue->text.size() && exception <= mb) {
            skip_until = exception;
            return;
          }
          if (IsAnotA(text, pos, f.clause.begin, f.clause.end)) return;
          add(cue->text, cue->weight);
          skip_until = pos + cue->text.size();
        });
        continue;
      }
      const size_t exception = MatchEnList(text, k, internal::EnNegationExceptions(), mb);
      if (exception > 0) {
        skip_until = tokens_[exception - 1].end;
        continue;
      }
      size_t end;
      if (const Cue* cue = MatchEnCue(text, k, internal::EnNegationCues(), mb, &end)) {
        // "neither ... nor" is one negation.
        if (cue->text == "nor" && cues.find("neither") != std::string::npos) continue;
        add(cue->text, cue->weight);
        skip_until = tokens_[end - 1].end;
        continue;
      }
      const std::string_view w = EnWord(text, t);
      if (w.size() > 3 && w.ends_with("n't")) add(TokenText(text, t), 1);
    }
    // A short negating tail right after the match: "签不了", "盖章还没".
    for (std::string_view tail : internal::ZhNegatingTails()) {
      if (me < f.clause.end && StartsWithAt(text, me, tail) && me + tail.size() <= f.clause.end) {
        add(tail, 1);
        break;
      }
    }
    if (weight % 2 == 1) {
      f.negated = true;
      f.negation_cue = std::move(cues);
    }
  }

  void DetectHypothetical(std::string_view text, GuardFindings& f, size_t mb, size_t me) {
    auto found = [&](std::string_view cue) {
      f.hypothetical = true;
      f.hypothetical_cue = std::string(cue);
    };
    size_t skip_until = 0;
    bool saw_wait = false;  // "等" / "之后" / "以后" / "...了" earlier in the sentence
    for (size_t k = 0; k < tokens_.size() && !f.hypothetical; ++k) {
      const Token& t = tokens_[k];
      if (t.end > mb || !t.word() || t.begin < skip_until) continue;
      const std::string_view word = TokenText(text, t);
      if (IsZhToken(text, t)) {
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
          const Cue* cue = MatchZhCue(text, pos, internal::ZhHypotheticalCues(), mb);
          if (cue == nullptr) return;
          if (ExceptionEnd(text, pos, f.sentence.begin, internal::ZhHypotheticalExceptions()) > pos)
            return;
          found(cue->text);
        });
        continue;
      }
      size_t end;
      const Cue* cue = MatchEnCue(text, k, internal::EnHypotheticalCues(), mb, &end);
      if (cue == nullptr) continue;
      const size_t next = NextWordToken(k);
      const std::string_view next_word =
          next < tokens_.size() ? EnWord(text, tokens_[next]) : std::string_view();
      // "may 5" is a date; "could you" / "would you" ask (question), they do not suppose.
      if (cue->text == "may" && !next_word.empty() && next_word.front() >= '0' &&
          next_word.front() <= '9')
        continue;
      if ((cue->text == "could" || cue->text == "would") && next_word == "you") continue;
      found(cue->text);
    }
    if (f.hypothetical) return;
    // Conditions after the match in its clause: "签合同的话", "we'll sign if the price works".
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (t.begin < me || t.end > f.clause.end || !t.word()) continue;
      if (IsZhToken(text, t)) {
        for (std::string_view cue : internal::ZhTrailingHypotheticalCues()) {
          if (TokenText(text, t).starts_with(cue)) return found(cue);
        }
        continue;
      }
      for (std::string_view cue : internal::EnTrailingHypotheticalCues()) {
        if (MatchEnPhrase(text, k, cue, f.clause.end) > 0) return found(cue);
      }
    }
  }

  size_t NextWordToken(size_t k) const {
    for (++k; k < tokens_.size(); ++k) {
      if (tokens_[k].word()) return k;
    }
    return k;
  }

  // Question cue of the clause [begin, end), or empty.
  std::string_view ClauseQuestionCue(std::string_view text, ByteRange c) {
    const size_t last = TrimmedEnd(text, c.begin, c.end);
    if (last > c.begin) {
      const size_t prev = PrevCodePointStart(text, last);
      const std::string_view ch = text.substr(prev, last - prev);
      if (IsQuestionMark(ch)) return ch;
    }
    for (size_t k = 0; k < tokens_.size(); ++k) {
      const Token& t = tokens_[k];
      if (t.begin < c.begin || t.end > c.end || !t.word()) continue;
      if (IsZhToken(text, t)) {
        for (size_t pos = t.begin; pos < t.end;) {
          for (std::string_view cue : internal::ZhQuestionCues()) {
            if (pos + cue.size() <= c.end && StartsWithAt(text, pos, cue)) return cue;
          }
          for (std::string_view tail : internal::ZhQuestionTails()) {
            if (!StartsWithAt(text, pos, tail)) continue;
            const size_t after = pos + tail.size();
            if (after >= last || StartsWithAt(text, after, "呢") ||
                StartsWithAt(text, after, "啊") || StartsWithAt(text, after, "呀"))
              return tail;
          }
          if (IsAnotA(text, pos, c.begin, c.end))
            return text.substr(PrevCodePointStart(text, pos), 9);
          // "么" asks unless it is part of 什么/怎么/那么/这么/多么/要么.
          if (StartsWithAt(text, pos, "么") && pos > c.begin) {
            const size_t prev = PrevCodePointStart(text, pos);
            const std::string_view before = text.substr(prev, pos - prev);
            if (before != "什" && before != "怎" && before != "那" && before != "这" &&
                before != "多" && before != "要" && before != "为")
              return "么";
          }
          size_t len;
          CodePointAt(text, pos, &len);
          pos += len;
        }
        continue;
      }
    }
    // Chinese particles that ask only right before the final '?': "呢?", "嘛?".
    // (Covered by the '?' check above; kept for the cue text.)
    // English interrogative opening: auxiliary + subject, or wh-word + auxiliary.
    size_t first = tokens_.size();
    for (size_t k = 0; k < tokens_.size(); ++k) {
      if (tokens_[k].begin >= c.begin && tokens_[k].word()) {
        first = k;
        break;
      }
    }
    if (first < tokens_.size() && tokens_[first].end <= c.end && !IsZhToken(text, tokens_[first])) {
      const size_t second = NextWordToken(first);
      if (second < tokens_.size() && tokens_[second].end <= c.end) {
        const std::string_view w1 = EnWord(text, tokens_[first]);
        const std::string w1_copy(w1);
        const std::string_view w2 = EnWord(text, tokens_[second]);
        const bool aux_subject = InList(w1_copy, internal::EnQuestionAuxiliaries()) &&
                                 InList(w2, internal::EnQuestionSubjects());
        const bool wh_aux = InList(w1_copy, internal::EnQuestionWords()) &&
                            InList(w2, internal::EnQuestionAuxiliaries());
        if (aux_subject || wh_aux) {
          return text.substr(tokens_[first].begin, tokens_[second].end - tokens_[first].begin);
        }
      }
    }
    return {};
  }

  void DetectQuestion(std::string_view text, GuardFindings& f, size_t mb, size_t me) {
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
    (void)mb;
    (void)me;
    if (!cue.empty()) {
      f.question = true;
      f.question_cue = std::string(cue);
    }
  }

  std::unique_ptr<icu::BreakIterator> words_;
  UTextHandle utext_;
  std::vector<Token> tokens_;
  std::vector<size_t> clause_starts_;
  std::string word_buf_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GuardAnalyzer>> GuardAnalyzer::Create() {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<icu::BreakIterator> words(
      icu::BreakIterator::createWordInstance(icu::Locale("zh", "CN"), status));
  if (U_FAILURE(status) || words == nullptr) {
    return absl::InternalError(
        absl::StrCat("ICU word break iterator unavailable: ", u_errorName(status)));
  }
  return std::make_unique<IcuGuardAnalyzer>(std::move(words));
}

}  // namespace autostage::text
