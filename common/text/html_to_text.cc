#include "common/text/html_to_text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace autostage::text {
namespace {

struct NamedEntity {
  std::string_view name;
  std::string_view utf8;
};

// The entities that occur in real mail; unknown names are kept literally, as browsers do.
constexpr NamedEntity kEntities[] = {
    {"AElig", "\xC3\x86"},
    {"Aacute", "\xC3\x81"},
    {"Agrave", "\xC3\x80"},
    {"Auml", "\xC3\x84"},
    {"Ccedil", "\xC3\x87"},
    {"Eacute", "\xC3\x89"},
    {"Ntilde", "\xC3\x91"},
    {"Ouml", "\xC3\x96"},
    {"Uuml", "\xC3\x9C"},
    {"aacute", "\xC3\xA1"},
    {"acute", "\xC2\xB4"},
    {"aelig", "\xC3\xA6"},
    {"agrave", "\xC3\xA0"},
    {"amp", "&"},
    {"apos", "'"},
    {"auml", "\xC3\xA4"},
    {"bdquo", "\xE2\x80\x9E"},
    {"brvbar", "\xC2\xA6"},
    {"bull", "\xE2\x80\xA2"},
    {"ccedil", "\xC3\xA7"},
    {"cent", "\xC2\xA2"},
    {"copy", "\xC2\xA9"},
    {"curren", "\xC2\xA4"},
    {"dagger", "\xE2\x80\xA0"},
    {"deg", "\xC2\xB0"},
    {"divide", "\xC3\xB7"},
    {"eacute", "\xC3\xA9"},
    {"egrave", "\xC3\xA8"},
    {"emsp", "\xE2\x80\x83"},
    {"ensp", "\xE2\x80\x82"},
    {"euml", "\xC3\xAB"},
    {"euro", "\xE2\x82\xAC"},
    {"frac12", "\xC2\xBD"},
    {"frac14", "\xC2\xBC"},
    {"frac34", "\xC2\xBE"},
    {"gt", ">"},
    {"hellip", "\xE2\x80\xA6"},
    {"iacute", "\xC3\xAD"},
    {"iexcl", "\xC2\xA1"},
    {"iquest", "\xC2\xBF"},
    {"laquo", "\xC2\xAB"},
    {"larr", "\xE2\x86\x90"},
    {"ldquo", "\xE2\x80\x9C"},
    {"lsaquo", "\xE2\x80\xB9"},
    {"lsquo", "\xE2\x80\x98"},
    {"lt", "<"},
    {"macr", "\xC2\xAF"},
    {"mdash", "\xE2\x80\x94"},
    {"micro", "\xC2\xB5"},
    {"middot", "\xC2\xB7"},
    {"nbsp", "\xC2\xA0"},
    {"ndash", "\xE2\x80\x93"},
    {"not", "\xC2\xAC"},
    {"ntilde", "\xC3\xB1"},
    {"oacute", "\xC3\xB3"},
    {"ouml", "\xC3\xB6"},
    {"para", "\xC2\xB6"},
    {"permil", "\xE2\x80\xB0"},
    {"plusmn", "\xC2\xB1"},
    {"pound", "\xC2\xA3"},
    {"quot", "\""},
    {"raquo", "\xC2\xBB"},
    {"rarr", "\xE2\x86\x92"},
    {"rdquo", "\xE2\x80\x9D"},
    {"reg", "\xC2\xAE"},
    {"rsaquo", "\xE2\x80\xBA"},
    {"rsquo", "\xE2\x80\x99"},
    {"sbquo", "\xE2\x80\x9A"},
    {"sect", "\xC2\xA7"},
    {"shy", "\xC2\xAD"},
    {"sup2", "\xC2\xB2"},
    {"sup3", "\xC2\xB3"},
    {"szlig", "\xC3\x9F"},
    {"thinsp", "\xE2\x80\x89"},
    {"times", "\xC3\x97"},
    {"trade", "\xE2\x84\xA2"},
    {"uacute", "\xC3\xBA"},
    {"uuml", "\xC3\xBC"},
    {"yen", "\xC2\xA5"},
    {"zwj", "\xE2\x80\x8D"},
    {"zwnj", "\xE2\x80\x8C"},
};

// Entities browsers also accept without the trailing ';'.
bool IsLegacyEntity(std::string_view name) {
  return name == "amp" || name == "lt" || name == "gt" || name == "quot" || name == "nbsp" ||
         name == "copy" || name == "reg";
}

std::string_view LookupEntity(std::string_view name) {
  for (const NamedEntity& e : kEntities) {
    if (e.name == name) return e.utf8;
  }
  return {};
}

// Windows-1252 meanings of the C1 range, which browsers apply to &#128; ... &#159;.
constexpr char32_t kCp1252[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                  0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                  0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                  0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp >= 0x80 && cp <= 0x9F) cp = kCp1252[cp - 0x80];
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && Lower(hay[i + j]) == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

uint32_t HashName(std::string_view name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

// What a tag does to the visible text.
enum class TagKind : uint8_t {
  kInline,
  kBlock,  // line break before and after
  kBreak,  // <br>: a line break
  kCell,   // <td>/<th>: a space between cells
  kSkip,   // <script>, <style>, <title>, ...: the element's content is not visible
  kHead,   // <head>: skipped up to </head> or <body>
  kPre,    // block that keeps whitespace
};

struct TagInfo {
  TagKind kind = TagKind::kInline;
  bool is_void = false;
};

TagInfo Classify(std::string_view n) {
  static constexpr std::string_view kBlocks[] = {
      "address", "article", "aside", "blockquote", "body",    "caption", "center",   "dd",
      "details", "dialog",  "dir",   "div",        "dl",      "dt",      "fieldset", "figcaption",
      "figure",  "footer",  "form",  "h1",         "h2",      "h3",      "h4",       "h5",
      "h6",      "header",  "hr",    "html",       "legend",  "li",      "main",     "menu",
      "nav",     "ol",      "p",     "section",    "summary", "table",   "tbody",    "tfoot",
      "thead",   "tr",      "ul",    "includetail"};
  static constexpr std::string_view kVoid[] = {"area", "base", "col",   "embed",  "img",   "input",
                                               "link", "meta", "param", "source", "track", "wbr"};
  TagInfo info;
  if (n == "br") return {TagKind::kBreak, true};
  if (n == "hr") return {TagKind::kBlock, true};
  if (n == "td" || n == "th") return {TagKind::kCell, false};
  if (n == "pre" || n == "listing" || n == "plaintext" || n == "xmp") return {TagKind::kPre, false};
  if (n == "script" || n == "style" || n == "title" || n == "textarea" || n == "template" ||
      n == "noscript" || n == "iframe" || n == "object" || n == "svg" || n == "math") {
    return {TagKind::kSkip, false};
  }
  if (n == "head") return {TagKind::kHead, false};
  for (std::string_view b : kBlocks) {
    if (n == b) {
      info.kind = TagKind::kBlock;
      return info;
    }
  }
  for (std::string_view v : kVoid) {
    if (n == v) {
      info.is_void = true;
      return info;
    }
  }
  return info;
}

// Quote container format of a start tag, or empty.
std::string_view QuoteFormat(std::string_view name, std::string_view class_id) {
  if (name == "blockquote") return "blockquote";
  if (name == "includetail") return "qq_quote";  // QQ Mail wraps the quoted mail in it
  if (class_id.empty()) return {};
  if (ContainsNoCase(class_id, "gmail_quote")) return "gmail_quote";
  if (ContainsNoCase(class_id, "yahoo_quoted")) return "yahoo_quote";
  if (ContainsNoCase(class_id, "moz-cite-prefix")) return "on_wrote";
  if (ContainsNoCase(class_id, "divrplyfwdmsg")) return "outlook_header";
  if (ContainsNoCase(class_id, "ntes-") || ContainsNoCase(class_id, "netease")) {
    return "netease_quote";
  }
  if (ContainsNoCase(class_id, "foxmail")) return "foxmail_quote";
  if (ContainsNoCase(class_id, "qqmail") || ContainsNoCase(class_id, "isreplycontent") ||
      ContainsNoCase(class_id, "qm_quote")) {
    return "qq_quote";
  }
  if (ContainsNoCase(class_id, "_quote") || ContainsNoCase(class_id, "-quote") ||
      ContainsNoCase(class_id, "quoted")) {
    return "html_quote";
  }
  return {};
}

class Converter {
 public:
  Converter(std::string_view html, size_t max_depth) : in_(html), max_depth_(max_depth) {
    out_.text.reserve(html.size() / 2 + 16);
  }

  HtmlText Run() {
    size_t i = 0;
    while (i < in_.size()) {
      char c = in_[i];
      if (c == '<') {
        i = Tag(i);
      } else if (c == '&') {
        i = Entity(i);
      } else if (IsAsciiSpace(c)) {
        i = Space(i);
      } else {
        size_t j = i + 1;
        while (j < in_.size() && in_[j] != '<' && in_[j] != '&' && !IsAsciiSpace(in_[j])) ++j;
        Emit(in_.substr(i, j - i), i);
        i = j;
      }
    }
    if (quote_count_ > 0) CloseQuote();
    for (const HtmlText::Anchor& a : out_.anchors) out_.to_html.AddAnchor(a.text, a.html);
    out_.to_html.SetEnd(out_.text.size(), in_.size());
    return std::move(out_);
  }

 private:
  struct Open {
    uint32_t name_hash;
    bool quote;
    bool pre;
  };

  void AddAnchor(size_t source) {
    size_t derived = out_.text.size();
    auto& anchors = out_.anchors;
    if (!anchors.empty()) {
      const HtmlText::Anchor& last = anchors.back();
      if (derived >= last.text && source >= last.html &&
          derived - last.text == source - last.html) {
        return;
      }
      if (derived == last.text) {
        anchors.back().html = source;
        return;
      }
    }
    anchors.push_back({derived, source});
  }

  // Appends visible bytes that come from `source` onwards.
  void Emit(std::string_view bytes, size_t source) {
    if (pending_space_) {
      pending_space_ = false;
      if (!out_.text.empty() && out_.text.back() != '\n' && out_.text.back() != ' ') {
        AddAnchor(pending_space_source_);
        out_.text.push_back(' ');
      }
    }
    AddAnchor(source);
    out_.text.append(bytes);
  }

  void Newline(size_t source) {
    pending_space_ = false;
    if (out_.text.empty() || out_.text.back() == '\n') return;
    AddAnchor(source);
    out_.text.push_back('\n');
  }

  size_t Space(size_t i) {
    size_t j = i;
    while (j < in_.size() && IsAsciiSpace(in_[j])) ++j;
    if (pre_depth_ > 0) {
      AddAnchor(i);
      out_.text.append(in_.substr(i, j - i));
    } else if (!pending_space_) {
      pending_space_ = true;
      pending_space_source_ = i;
    }
    return j;
  }

  size_t Entity(size_t i) {
    size_t j = i + 1;
    std::string decoded;
    if (j < in_.size() && in_[j] == '#') {
      ++j;
      bool hex = j < in_.size() && (in_[j] == 'x' || in_[j] == 'X');
      if (hex) ++j;
      size_t digits_begin = j;
      char32_t value = 0;
      while (j < in_.size()) {
        char d = in_[j];
        int v;
        if (IsDigit(d)) {
          v = d - '0';
        } else if (hex && Lower(d) >= 'a' && Lower(d) <= 'f') {
          v = Lower(d) - 'a' + 10;
        } else {
          break;
        }
        if (value <= 0x10FFFF) value = value * (hex ? 16 : 10) + static_cast<char32_t>(v);
        ++j;
      }
      if (j == digits_begin) {
        Emit("&", i);
        return i + 1;
      }
      if (j < in_.size() && in_[j] == ';') ++j;
      AppendUtf8(decoded, value);
    } else {
      while (j < in_.size() && j - i <= 32 && IsAlnum(in_[j])) ++j;
      std::string_view name = in_.substr(i + 1, j - i - 1);
      std::string_view utf8;
      if (j < in_.size() && in_[j] == ';') {
        utf8 = LookupEntity(name);
        if (!utf8.empty()) ++j;
      } else if (IsLegacyEntity(name)) {
        utf8 = LookupEntity(name);
      }
      if (utf8.empty()) {
        Emit("&", i);
        return i + 1;
      }
      decoded.assign(utf8);
    }
    Emit(decoded, i);
    // The bytes after the entity map to the bytes after its ';'.
    AddAnchor(j);
    return j;
  }

  // Finds `</name` (case-insensitive) at or after `from`; npos when absent.
  size_t FindClose(size_t from, std::string_view name) const {
    size_t i = from;
    while (true) {
      const void* p = i < in_.size() ? std::memchr(in_.data() + i, '<', in_.size() - i) : nullptr;
      if (p == nullptr) return std::string_view::npos;
      i = static_cast<const char*>(p) - in_.data();
      if (i + 1 + name.size() < in_.size() && in_[i + 1] == '/') {
        size_t k = 0;
        while (k < name.size() && Lower(in_[i + 2 + k]) == name[k]) ++k;
        if (k == name.size()) return i;
      }
      ++i;
    }
  }

  size_t SkipPast(size_t from, char c) const {
    size_t k = in_.find(c, from);
    return k == std::string_view::npos ? in_.size() : k + 1;
  }

  size_t Tag(size_t i) {
    size_t n = in_.size();
    if (i + 1 >= n) {
      Emit("<", i);
      return n;
    }
    char c = in_[i + 1];
    if (c == '!') {
      if (in_.substr(i, 4) == "<!--") {
        size_t k = in_.find("-->", i + 4);
        return k == std::string_view::npos ? n : k + 3;
      }
      return SkipPast(i + 2, '>');
    }
    if (c == '?') return SkipPast(i + 2, '>');
    bool end_tag = c == '/';
    size_t name_begin = i + (end_tag ? 2 : 1);
    if (name_begin >= n || !IsAlpha(in_[name_begin])) {
      if (end_tag) return SkipPast(i + 2, '>');  // "</ x>" and the like: a bogus comment
      Emit("<", i);
      return i + 1;
    }
    size_t j = name_begin;
    char name_buf[16];
    size_t name_len = 0;
    while (j < n && (IsAlnum(in_[j]) || in_[j] == '-' || in_[j] == ':' || in_[j] == '_')) {
      if (name_len < sizeof(name_buf)) name_buf[name_len] = Lower(in_[j]);
      ++name_len;
      ++j;
    }
    std::string_view name =
        name_len <= sizeof(name_buf) ? std::string_view(name_buf, name_len) : std::string_view();
    // Attributes: only class and id matter (quote containers); values may hold '>'.
    std::string_view class_id_first, class_id_second;
    bool self_closing = false;
    while (j < n && in_[j] != '>') {
      if (IsAsciiSpace(in_[j]) || in_[j] == '/') {
        self_closing = in_[j] == '/';
        ++j;
        continue;
      }
      size_t an = j;
      while (j < n && !IsAsciiSpace(in_[j]) && in_[j] != '=' && in_[j] != '>' && in_[j] != '/') ++j;
      std::string_view attr = in_.substr(an, j - an);
      self_closing = false;
      while (j < n && IsAsciiSpace(in_[j])) ++j;
      if (j < n && in_[j] == '=') {
        ++j;
        while (j < n && IsAsciiSpace(in_[j])) ++j;
        size_t vb = j, ve = j;
        if (j < n && (in_[j] == '"' || in_[j] == '\'')) {
          char q = in_[j];
          size_t k = in_.find(q, j + 1);
          if (k == std::string_view::npos) return n;  // unterminated: rest of input is the tag
          vb = j + 1;
          ve = k;
          j = k + 1;
        } else {
          while (j < n && !IsAsciiSpace(in_[j]) && in_[j] != '>') ++j;
          ve = j;
        }
        if (!end_tag && attr.size() <= 5) {
          char lower[5];
          for (size_t k = 0; k < attr.size(); ++k) lower[k] = Lower(attr[k]);
          std::string_view la(lower, attr.size());
          if (la == "class") class_id_first = in_.substr(vb, ve - vb);
          if (la == "id") class_id_second = in_.substr(vb, ve - vb);
        }
      }
    }
    size_t after = j < n ? j + 1 : n;
    if (j >= n) return n;  // unterminated tag: dropped, as browsers do at end of input

    TagInfo info = Classify(name);
    if (end_tag) {
      EndTag(name, info, i);
      return after;
    }
    switch (info.kind) {
      case TagKind::kSkip: {
        if (self_closing) return after;
        size_t close = FindClose(after, name);
        size_t end = close == std::string_view::npos ? n : SkipPast(close, '>');
        if (name == "script" || name == "style") {
          out_.had_script_or_style = true;
          out_.scripts_and_styles.push_back({i, end});
        }
        return end;
      }
      case TagKind::kHead: {
        size_t close = FindClose(after, "head");
        if (close != std::string_view::npos) return SkipPast(close, '>');
        return after;  // no </head>: treat as an ordinary element
      }
      case TagKind::kBreak:
        pending_space_ = false;
        AddAnchor(i);
        out_.text.push_back('\n');
        return after;
      case TagKind::kBlock:
      case TagKind::kPre:
        Newline(i);
        break;
      case TagKind::kCell:
        if (!out_.text.empty() && out_.text.back() != '\n') {
          pending_space_ = true;
          pending_space_source_ = i;
        }
        break;
      case TagKind::kInline:
        break;
    }
    if (info.is_void || self_closing) return after;
    // Implied end tags: a new <p>, <li>, <tr>, <td> closes an open one of the same kind.
    uint32_t hash = HashName(name);
    if ((name == "p" || name == "li" || name == "tr" || name == "td" || name == "th" ||
         name == "option") &&
        overflow_ == 0 && !stack_.empty() && stack_.back().name_hash == hash) {
      Pop();
    }
    std::string_view quote = QuoteFormat(name, class_id_first);
    if (quote.empty()) quote = QuoteFormat(name, class_id_second);
    if (stack_.size() >= max_depth_) {
      ++overflow_;  // flattened: text kept, nesting forgotten
      return after;
    }
    stack_.push_back({hash, !quote.empty(), info.kind == TagKind::kPre});
    if (info.kind == TagKind::kPre) ++pre_depth_;
    if (!quote.empty()) {
      if (quote_count_ == 0) {
        // A quote begins on its own line.
        Newline(i);
        quote_begin_ = out_.text.size();
        quote_format_ = quote;
      }
      ++quote_count_;
    }
    return after;
  }

  void Pop() {
    const Open& top = stack_.back();
    if (top.pre && pre_depth_ > 0) --pre_depth_;
    if (top.quote && --quote_count_ == 0) CloseQuote();
    stack_.pop_back();
  }

  void CloseQuote() {
    quote_count_ = 0;
    if (out_.text.size() > quote_begin_) {
      out_.quoted.push_back({quote_begin_, out_.text.size(), quote_format_});
    }
  }

  void EndTag(std::string_view name, const TagInfo& info, size_t source) {
    if (info.kind == TagKind::kBlock || info.kind == TagKind::kPre) Newline(source);
    if (info.kind == TagKind::kBreak) {  // </br> is a <br> for browsers
      AddAnchor(source);
      out_.text.push_back('\n');
    }
    if (overflow_ > 0) {
      --overflow_;
      return;
    }
    uint32_t hash = HashName(name);
    // Look a bounded distance down the stack: mismatched end tags are ignored, so the cost per
    // end tag is bounded and the whole pass stays linear.
    size_t limit = std::min<size_t>(stack_.size(), 32);
    for (size_t k = 1; k <= limit; ++k) {
      if (stack_[stack_.size() - k].name_hash == hash) {
        for (size_t m = 0; m < k; ++m) Pop();
        if (quote_count_ == 0 && !out_.quoted.empty() &&
            out_.quoted.back().end == out_.text.size()) {
          // The quote ends its line too.
          Newline(source);
          out_.quoted.back().end = out_.text.size();
        }
        return;
      }
    }
  }

  std::string_view in_;
  size_t max_depth_;
  HtmlText out_;
  std::vector<Open> stack_;
  size_t overflow_ = 0;
  size_t pre_depth_ = 0;
  size_t quote_count_ = 0;
  size_t quote_begin_ = 0;
  std::string_view quote_format_;
  bool pending_space_ = false;
  size_t pending_space_source_ = 0;
};

}  // namespace

HtmlText HtmlToText(std::string_view html, size_t max_depth) {
  return Converter(html, max_depth).Run();
}

OffsetMap MapTextRange(const HtmlText& html_text, size_t begin, size_t end) {
  OffsetMap map;
  const auto& anchors = html_text.anchors;
  map.AddAnchor(0, html_text.to_html.ToSource(begin));
  auto it = std::upper_bound(anchors.begin(), anchors.end(), begin,
                             [](size_t t, const HtmlText::Anchor& a) { return t < a.text; });
  for (; it != anchors.end() && it->text < end; ++it) map.AddAnchor(it->text - begin, it->html);
  map.SetEnd(end - begin, html_text.to_html.ToSource(end));
  return map;
}

}  // namespace autostage::text
