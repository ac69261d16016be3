// HTML -> visible text. Scripts, styles, comments and head dropped; entities decoded; block
// elements (p, div, br, li, tr, h1-h6, blockquote, ...) become line breaks. Gmail
// `gmail_quote`, `<blockquote>` and QQ/Foxmail/Outlook quote containers are reported so the
// email extractor can drop them. Linear time, bounded memory, no recursion.
//
// Thread safety: pure function.
#ifndef AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_
#define AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/text/offset_map.h"

namespace autostage::text {

struct HtmlText {
  std::string text;
  OffsetMap to_html;  // text byte offsets -> byte offsets in the HTML
  // Byte ranges of `text` that came from quoted containers (gmail_quote, blockquote, ...),
  // with the container format name ("gmail_quote", "blockquote", "qq_quote", ...).
  struct QuotedRange {
    size_t begin;
    size_t end;
    std::string format;
  };
  std::vector<QuotedRange> quoted;
  bool had_script_or_style = false;
};

HtmlText HtmlToText(std::string_view html, size_t max_depth = 256);

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_HTML_TO_TEXT_H_
