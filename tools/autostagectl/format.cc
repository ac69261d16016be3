#include "tools/autostagectl/format.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace autostage::ctl {
namespace {

// Decodes one code point at text[*i], advancing *i; invalid bytes decode as themselves.
uint32_t NextCodePoint(absl::string_view text, size_t* i) {
  const auto b = static_cast<unsigned char>(text[*i]);
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
  if (*i + extra >= text.size()) extra = 0;  // a truncated sequence: take the byte alone
  uint32_t cp = extra == 0 ? b : b & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    const auto c = static_cast<unsigned char>(text[*i + k]);
    if ((c & 0xC0) != 0x80) {
      extra = 0;
      cp = b;
      break;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += 1 + extra;
  return cp;
}

bool IsWide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
         (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x20000 && cp <= 0x3FFFD);
}

}  // namespace

int DisplayWidth(absl::string_view text) {
  int width = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !absl::ascii_isalpha(static_cast<unsigned char>(text[i]))) ++i;
      ++i;
      continue;
    }
    width += IsWide(NextCodePoint(text, &i)) ? 2 : 1;
  }
  return width;
}

std::string Truncate(absl::string_view text, int width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  std::string out;
  int used = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    const int w = IsWide(NextCodePoint(text, &i)) ? 2 : 1;
    if (used + w > width - 1) break;
    used += w;
    out.append(text.data() + start, i - start);
  }
  return out + "…";
}

std::string HighlightTerms(absl::string_view snippet, const std::vector<std::string>& terms,
                           Highlight style) {
  std::string text(snippet);
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  const std::string lower = absl::AsciiStrToLower(text);
  // Marked byte ranges, merged.
  std::vector<std::pair<size_t, size_t>> marks;
  for (const std::string& term : terms) {
    if (term.empty()) continue;
    const std::string needle = absl::AsciiStrToLower(term);
    for (size_t at = lower.find(needle); at != std::string::npos;
         at = lower.find(needle, at + needle.size())) {
      marks.emplace_back(at, at + needle.size());
    }
  }
  if (marks.empty()) return text;
  std::sort(marks.begin(), marks.end());
  std::vector<std::pair<size_t, size_t>> merged;
  for (const auto& m : marks) {
    if (!merged.empty() && m.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, m.second);
    } else {
      merged.push_back(m);
    }
  }
  const char* open = style == Highlight::kAnsi ? "\x1b[1m" : "[[";
  const char* close = style == Highlight::kAnsi ? "\x1b[0m" : "]]";
  std::string out;
  size_t pos = 0;
  for (const auto& [begin, end] : merged) {
    absl::StrAppend(&out, absl::string_view(text).substr(pos, begin - pos), open,
                    absl::string_view(text).substr(begin, end - begin), close);
    pos = end;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::string Age(absl::Time then, absl::Time now) {
  absl::Duration d = now - then;
  const bool future = d < absl::ZeroDuration();
  if (future) d = -d;
  std::string amount;
  if (d < absl::Seconds(1)) return "now";
  if (d < absl::Minutes(1)) {
    amount = absl::StrCat(absl::ToInt64Seconds(d), "s");
  } else if (d < absl::Hours(1)) {
    amount = absl::StrCat(absl::ToInt64Minutes(d), "m");
  } else if (d < absl::Hours(48)) {
    amount = absl::StrCat(absl::ToInt64Hours(d), "h");
  } else {
    amount = absl::StrCat(absl::ToInt64Hours(d) / 24, "d");
  }
  return future ? absl::StrCat("in ", amount) : absl::StrCat(amount, " ago");
}

std::string JsonQuote(absl::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

void Table::Print(std::ostream& out) const {
  std::vector<int> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - DisplayWidth(row[c]) + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace autostage::ctl
