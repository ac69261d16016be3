// Guards: is a matched phrase negated, hypothetical/conditional, or asked as a question?
// Works on normalized text (see normalize.h) in Chinese and English, scoped to the clause that
// holds the match; run only around matches, never over whole texts.
//
//   negation:     还没/尚未/暂不/不/没有/没/未/无需/别/先别/not/no/never/haven't/don't/won't ...
//                 in the clause before the match (or a short negating tail after it: "签了没");
//                 double negation ("不是不签", "not unwilling") cancels.
//   hypothetical: 如果/假如/要是/万一/若/一旦.../if/unless/whether/in case/might/may consider...
//                 anywhere earlier in the same sentence ("如果价格合适，我们就签"). Not cues:
//                 a stated plan (计划/打算/plan to: a need, not a supposition), "大概" before
//                 an amount or naming an overview ("预算大概50万", "大概情况:"), polite request
//                 forms ("方便的话请发报价", "可以的话", "if possible", "if you could send").
//   question:     the clause/sentence ends with ?/？, or holds 吗/么/是否/有没有/能否/…了没,
//                 X不X ("要不要"), "have you", "did you", "is it" ...; a '?' ending the sentence
//                 is not charged to the match's clause when a later clause asks on its own
//                 ("合同已经盖章寄出了，您收到了吗？"). Rules decide whether questions block.
//
// Sentences end at 。!?！？… \n and at '.' not followed by a letter or digit ("7.5" does not
// end one); the normalizer keeps a line break as '\n' between lines (bullet lists, Chinese
// lines) and folds it into ' ' inside hard-wrapped prose (normalize.h). Clauses end at
// , ; : — (and full-width forms), before 但/但是/不过/可是/所以/but/however/so ..., and at a
// space between two Chinese characters (chat style). "、" separates list items, not clauses,
// so a negation reaches every item: "不构成任何要约、承诺、报价确认".
//
// Cost: sentence and clause boundaries come from a byte scan of the punctuation; English
// words from a byte scan (UAX #29 rules for "don't", "7.5", "1,000"). ICU's word
// BreakIterator (it segments Chinese, so "不错" and "不过" are not negations) runs only over
// runs of Chinese letters that hold a cue string, within 8 characters of the cues, and only
// for runs in the match's clause (or earlier in the sentence, for hypothetical cues): most
// calls segment at most one short run, many none. Buffers are reused across calls.
//
// Thread safety: a GuardAnalyzer is NOT thread-safe (it owns an ICU iterator and scratch
// buffers); make one per thread with Clone() (clones share the immutable cue indexes).
#ifndef AUTOSTAGE_COMMON_TEXT_GUARDS_H_
#define AUTOSTAGE_COMMON_TEXT_GUARDS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace autostage::text {

struct ByteRange {
  size_t begin = 0;
  size_t end = 0;
};

struct GuardFindings {
  ByteRange clause;    // the clause holding the match (normalized text offsets)
  ByteRange sentence;  // the sentence holding the match
  bool negated = false;
  bool hypothetical = false;
  bool question = false;
  // The cue words that decided each flag (empty when the flag is false), for `explain`.
  std::string negation_cue;
  std::string hypothetical_cue;
  std::string question_cue;
};

class GuardAnalyzer {
 public:
  static absl::StatusOr<std::unique_ptr<GuardAnalyzer>> Create();
  // The same analysis on the general path only (no SIMD sentence scans, question cues tried in
  // list order, every cue-bearing Chinese run of the clause segmented). Slower; for tests that
  // check Create()'s fast paths find exactly the same.
  static absl::StatusOr<std::unique_ptr<GuardAnalyzer>> CreateReference();
  virtual ~GuardAnalyzer() = default;
  virtual std::unique_ptr<GuardAnalyzer> Clone() const = 0;

  // `text` is normalized text; [match_begin, match_end) a match inside it.
  virtual GuardFindings Analyze(std::string_view text, size_t match_begin, size_t match_end) = 0;
  // Clause / sentence holding a byte range, without guard analysis.
  virtual ByteRange ClauseAt(std::string_view text, size_t begin, size_t end) = 0;
  virtual ByteRange SentenceAt(std::string_view text, size_t begin, size_t end) = 0;
};

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_GUARDS_H_
