// Test fakes of the text interfaces, so the rules tests pin down the rules logic alone:
//   FakeNormalizer: ASCII lower-casing and whitespace-run folding, with an offset map.
//   FakeGuardAnalyzer: clauses end at , ， ; ； and sentence ends; sentences at . 。 ! ！ ? ？ and
//   newlines. Cues: negation 没/未/不/"not " before the match in the clause; hypothetical
//   如果/"if " before the match in the sentence; question: the clause ends with ?/？ or holds 吗.
//
// Thread safety: FakeNormalizer is immutable; FakeGuardAnalyzer is stateless.
#ifndef AUTOSTAGE_COMMON_RULES_INTERNAL_FAKES_H_
#define AUTOSTAGE_COMMON_RULES_INTERNAL_FAKES_H_

#include <memory>
#include <string>
#include <string_view>

#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::rules::testing {

class FakeNormalizer : public text::Normalizer {
 public:
  text::NormalizedText Normalize(std::string_view input) const override {
    text::NormalizedText out;
    bool in_space = false;
    for (size_t i = 0; i < input.size(); ++i) {
      const char c = input[i];
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
        if (!in_space) {
          out.to_input.AddAnchor(out.text.size(), i);
          out.text.push_back(' ');
        }
        in_space = true;
        continue;
      }
      if (in_space) out.to_input.AddAnchor(out.text.size(), i);
      in_space = false;
      out.text.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    out.to_input.SetEnd(out.text.size(), input.size());
    return out;
  }
  std::string NormalizeString(std::string_view input) const override {
    return Normalize(input).text;
  }
};

class FakeGuardAnalyzer : public text::GuardAnalyzer {
 public:
  std::unique_ptr<text::GuardAnalyzer> Clone() const override {
    return std::make_unique<FakeGuardAnalyzer>();
  }
  text::GuardFindings Analyze(std::string_view text, size_t begin, size_t end) override {
    text::GuardFindings f;
    f.clause = ClauseAt(text, begin, end);
    f.sentence = SentenceAt(text, begin, end);
    const std::string_view before = text.substr(f.clause.begin, begin - f.clause.begin);
    for (std::string_view cue : {"没", "未", "不", "not "}) {
      if (before.find(cue) != std::string_view::npos) {
        f.negated = true;
        f.negation_cue = std::string(cue);
        break;
      }
    }
    const std::string_view sentence_before =
        text.substr(f.sentence.begin, begin - f.sentence.begin);
    for (std::string_view cue : {"如果", "if "}) {
      if (sentence_before.find(cue) != std::string_view::npos) {
        f.hypothetical = true;
        f.hypothetical_cue = std::string(cue);
        break;
      }
    }
    const std::string_view clause = text.substr(f.clause.begin, f.clause.end - f.clause.begin);
    const size_t after_clause = f.clause.end;
    if (clause.find("吗") != std::string_view::npos) {
      f.question = true;
      f.question_cue = "吗";
    } else if (text.substr(after_clause).rfind("?", 0) == 0 ||
               text.substr(after_clause).rfind("？", 0) == 0) {
      f.question = true;
      f.question_cue = "?";
    }
    return f;
  }
  text::ByteRange ClauseAt(std::string_view text, size_t begin, size_t end) override {
    return Around(text, begin, end, true);
  }
  text::ByteRange SentenceAt(std::string_view text, size_t begin, size_t end) override {
    return Around(text, begin, end, false);
  }

 private:
  static bool IsEnd(std::string_view text, size_t i, bool clause, size_t* length) {
    static constexpr std::string_view kSentence[] = {".", "!", "?", "\n", "。", "！", "？"};
    static constexpr std::string_view kClause[] = {",", ";", "，", "；"};
    for (std::string_view d : kSentence) {
      if (text.substr(i, d.size()) == d) {
        *length = d.size();
        return true;
      }
    }
    if (clause) {
      for (std::string_view d : kClause) {
        if (text.substr(i, d.size()) == d) {
          *length = d.size();
          return true;
        }
      }
    }
    return false;
  }
  static text::ByteRange Around(std::string_view text, size_t begin, size_t end, bool clause) {
    text::ByteRange r{0, text.size()};
    for (size_t i = 0; i < begin; ++i) {
      size_t n = 0;
      if (IsEnd(text, i, clause, &n)) r.begin = i + n;
    }
    for (size_t i = end; i < text.size(); ++i) {
      size_t n = 0;
      if (IsEnd(text, i, clause, &n)) {
        r.end = i;
        break;
      }
    }
    return r;
  }
};

}  // namespace autostage::rules::testing

#endif  // AUTOSTAGE_COMMON_RULES_INTERNAL_FAKES_H_
