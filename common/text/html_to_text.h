// HTML -> visible text. Scripts, styles, comments and head dropped; entities decoded (named,
// decimal, hex); block elements (p, div, br, li, tr, h1-h6, blockquote, ...) become line
// breaks; runs of whitespace collapse to one space (except inside <pre>). Gmail `gmail_quote`,
// `<blockquote>` and QQ/Foxmail/NetEase/Yahoo/Thunderbird quote containers are reported so the
// email extractor can drop them.
//
// Cost: one forward pass, no recursion; time and memory are linear in the input. Open elements
// are tracked on a stack of at most `max_depth` entries: deeper elements are flattened (their
// text is kept, their nesting forgotten), so 100,000 nested tags cost no more than 100,000
// flat ones.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_
#define AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/text/offset_map.h"

namespace autostage::text {

struct HtmlText {
  std::string text;
  OffsetMap to_html;  // text byte offsets -> byte offsets in the HTML
  // Byte ranges of `text` that came from quoted containers (gmail_quote, blockquote, ...),
  // with the container format name ("gmail_quote", "blockquote", "qq_quote", ...). Sorted,
  // non-overlapping.
  struct QuotedRange {
    size_t begin;
    size_t end;
    std::string_view format;  // a string literal (valid forever)
  };
  std::vector<QuotedRange> quoted;
  bool had_script_or_style = false;
  // Byte ranges of the HTML removed as <script>/<style> elements (with their tags).
  struct HtmlRange {
    size_t begin;
    size_t end;
  };
  std::vector<HtmlRange> scripts_and_styles;
  // The anchors of `to_html` (text offset, html offset), sorted by text offset, kept so that a
  // sub-range of `text` can be mapped in time proportional to its own anchors (MapTextRange).
  struct Anchor {
    size_t text;
    size_t html;
  };
  std::vector<Anchor> anchors;
};

HtmlText HtmlToText(std::string_view html, size_t max_depth = 256);

// Offset map for the substring text[begin, end): its byte offsets -> byte offsets in the HTML.
OffsetMap MapTextRange(const HtmlText& html_text, size_t begin, size_t end);

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_
