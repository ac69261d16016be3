// Cue lexicons of the GuardAnalyzer (guards.h): negation, hypothetical and question cues in
// Chinese and English, plus the phrases that look like cues but are not ("不错", "没问题",
// "not only"). Lexicons hold normalized text (lower case, half-width punctuation).
//
// Thread safety: immutable constant data; safe to share.
#ifndef AUTOSTAGE_COMMON_TEXT_INTERNAL_GUARD_CUES_H_
#define AUTOSTAGE_COMMON_TEXT_INTERNAL_GUARD_CUES_H_

#include <span>
#include <string_view>

namespace autostage::text::internal {

struct Cue {
  std::string_view text;
  int weight = 1;  // negations: 2 = a double negation in one word ("不得不"), cancels itself
};

// Chinese cues are matched on characters (at word starts, see guards.cc), English cues on
// whole ICU words (multi-word cues are written with single spaces).
std::span<const Cue> ZhNegationCues();
std::span<const Cue> EnNegationCues();
// Chinese phrases holding a negation character that do not negate what follows.
std::span<const std::string_view> ZhNegationExceptions();
// English word sequences starting with a negation cue that do not negate ("no problem").
std::span<const std::string_view> EnNegationExceptions();
// Tails right after the match: Chinese "还没"/"不了" negate, "了没"/"没有?" ask.
std::span<const std::string_view> ZhNegatingTails();
std::span<const std::string_view> ZhQuestionTails();

std::span<const Cue> ZhHypotheticalCues();
std::span<const Cue> EnHypotheticalCues();
// Look-alikes, polite request forms ("方便的话") and overviews ("大概情况") that hold a cue.
std::span<const std::string_view> ZhHypotheticalExceptions();
// English phrases starting with a cue that do not suppose ("if possible", "if you could").
std::span<const std::string_view> EnHypotheticalExceptions();
// Cues that also count after the match in the same clause ("签的话", "we'll sign if ...").
std::span<const std::string_view> ZhTrailingHypotheticalCues();
std::span<const std::string_view> EnTrailingHypotheticalCues();

std::span<const std::string_view> ZhQuestionCues();
// Particles that ask only at the end of a clause or right before '?' ("呢?", "嘛?").
std::span<const std::string_view> ZhFinalQuestionParticles();
// English interrogative openings: an auxiliary followed by a subject ("have you", "is it").
std::span<const std::string_view> EnQuestionAuxiliaries();
std::span<const std::string_view> EnQuestionSubjects();
std::span<const std::string_view> EnQuestionWords();  // when, what, ... (followed by an aux)

// Words that start a new clause ("但是", "however", "but").
std::span<const std::string_view> ZhClauseConjunctions();
std::span<const std::string_view> EnClauseConjunctions();

// Single-character adverbs that ICU may glue to a following negation in one word ("并不",
// "也没"): a cue inside a word counts only after one of these.
std::span<const std::string_view> ZhNegationPrefixAdverbs();

}  // namespace autostage::text::internal

#endif  // AUTOSTAGE_COMMON_TEXT_INTERNAL_GUARD_CUES_H_
