// Text output helpers of autostagectl: terminal display width (CJK counts double), tables,
// highlighting matched words in a snippet, relative ages, and JSON string escaping.
//
// Thread safety: pure functions; Table is a plain value.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_FORMAT_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_FORMAT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace autostage::ctl {

// Columns a UTF-8 string takes in a terminal: East Asian wide/fullwidth code points count 2,
// ANSI escape sequences (ESC [ ... m) count 0, everything else 1. Invalid bytes count 1.
int DisplayWidth(absl::string_view text);

// Cuts `text` to at most `width` columns on a code point boundary, adding "…" when cut.
// Not for text holding escape sequences.
std::string Truncate(absl::string_view text, int width);

// How matched words are marked: ANSI bold for a terminal, [[...]] for pipes and files.
enum class Highlight { kAnsi, kBrackets };

// `snippet` with every occurrence of every term marked (ASCII letters compared
// case-insensitively; overlapping occurrences merge into one mark). Newlines become spaces.
std::string HighlightTerms(absl::string_view snippet, const std::vector<std::string>& terms,
                           Highlight style);

// "45s", "12m", "3h", "5d" ago; "now" below one second; "in 3m" for the future (clock skew).
std::string Age(absl::Time then, absl::Time now);

// A JSON string literal (quotes included) for UTF-8 `text`.
std::string JsonQuote(absl::string_view text);

// A table with left-aligned columns padded by display width; the last column is never padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size() - 1; }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_FORMAT_H_
