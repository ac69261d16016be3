// libFuzzer target: HtmlToText on arbitrary bytes. Checks the invariants the extractor relies
// on: offsets stay inside the HTML and never go backwards, quoted ranges lie inside the text,
// and the output stays linear in the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/text/html_to_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view html(reinterpret_cast<const char*>(data), size);
  size_t depth = size > 0 ? 1 + data[0] % 64 : 256;
  autostage::text::HtmlText t = autostage::text::HtmlToText(html, depth);
  if (t.text.size() > 4 * size + 16) std::abort();
  size_t previous = 0;
  for (size_t i = 0; i <= t.text.size(); ++i) {
    size_t source = t.to_html.ToSource(i);
    if (source > html.size() || source < previous) std::abort();
    previous = source;
  }
  size_t last_end = 0;
  for (const auto& q : t.quoted) {
    if (q.begin > q.end || q.end > t.text.size() || q.begin < last_end) std::abort();
    last_end = q.end;
    autostage::text::OffsetMap sub = autostage::text::MapTextRange(t, q.begin, q.end);
    if (sub.ToSource(q.end - q.begin) > html.size()) std::abort();
  }
  for (const auto& r : t.scripts_and_styles) {
    if (r.begin > r.end || r.end > html.size()) std::abort();
  }
  return 0;
}
