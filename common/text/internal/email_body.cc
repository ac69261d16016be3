#include "common/text/internal/email_body.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <iterator>

#include "common/text/internal/email_util.h"

namespace autostage::text::internal {
namespace {

constexpr std::string_view kQuoteGt = "quote_gt";
constexpr std::string_view kOnWrote = "on_wrote";
constexpr std::string_view kOriginal = "original_message";
constexpr std::string_view kOriginalZh = "original_message_zh";
constexpr std::string_view kForwarded = "forwarded";
constexpr std::string_view kOutlookHeader = "outlook_header";
constexpr std::string_view kZhHeader = "zh_header";
constexpr std::string_view kDisclaimer = "disclaimer";
constexpr std::string_view kSignature = "signature";
constexpr std::string_view kSignoff = "signoff";

// How far back from the end a signature may start, in content lines.
constexpr size_t kSignatureWindow = 12;
// Paragraphs longer than this are content, not disclaimers (keeps the trailing scan cheap).
constexpr size_t kMaxDisclaimerBytes = 2048;

struct Line {
  size_t begin;  // content, without "\r\n"
  size_t end;
  size_t tb;  // trimmed content
  size_t te;
  std::string_view drop;  // empty = kept
};

bool IsDashCp(char32_t c) {
  return c == '-' || c == '_' || c == '=' || c == '*' || c == '~' || c == 0x2014 || c == 0x2013 ||
         c == 0x2015 || c == 0x2500 || c == 0x2501 || c == 0x2012 || c == 0xFF0D || c == 0xFE58;
}

// Strips dash-like characters (and spaces) from both ends. Returns the inner text; `dashes`
// counts the stripped dash characters, `non_ascii` says whether one of them was non-ASCII.
std::string_view StripDashes(std::string_view t, size_t* dashes, bool* non_ascii) {
  *dashes = 0;
  *non_ascii = false;
  while (!t.empty()) {
    CodePoint cp = DecodeAt(t, 0);
    if (IsDashCp(cp.value)) {
      ++*dashes;
      *non_ascii |= cp.value >= 0x80;
    } else if (!IsSpace(cp.value)) {
      break;
    }
    t.remove_prefix(cp.length);
  }
  while (!t.empty()) {
    CodePoint cp = DecodeBefore(t, t.size());
    if (IsDashCp(cp.value)) {
      ++*dashes;
      *non_ascii |= cp.value >= 0x80;
    } else if (!IsSpace(cp.value)) {
      break;
    }
    t.remove_suffix(cp.length);
  }
  return t;
}

bool IsDashDash(std::string_view t) { return t == "--"; }

// False when the first code point of `t` can be neither a dash (IsDashCp) nor a space
// (IsSpace), decided from its first byte: then StripDashes stops at once and leaves `t`
// non-empty, so `t` is no separator. Most lines start with a letter or an ideograph: this
// spares them two code-point decodes. Every non-ASCII dash or space is encoded with a lead byte
// 0xC2 (U+00A0), 0xE2 (U+2000..U+2015, U+202F, U+205F, U+2500, U+2501), 0xE3 (U+3000) or 0xEF
// (U+FE58, U+FEFF, U+FF0D); any other non-ASCII byte decodes to something else (or U+FFFD).
bool MayStartSeparator(unsigned char first) {
  if (first < 0x80) {
    return first == '-' || first == '_' || first == '=' || first == '*' || first == '~' ||
           IsSpace(first);
  }
  return first == 0xC2 || first == 0xE2 || first == 0xE3 || first == 0xEF;
}

bool IsSeparator(std::string_view t) {
  if (t.empty() || !MayStartSeparator(static_cast<unsigned char>(t[0])) || IsDashDash(t)) {
    return false;
  }
  size_t dashes;
  bool non_ascii;
  std::string_view inner = StripDashes(t, &dashes, &non_ascii);
  return inner.empty() && (dashes >= 3 || (dashes >= 2 && non_ascii));
}

bool IsGtQuote(std::string_view t) {
  return !t.empty() && (t[0] == '>' || t.substr(0, 3) == "\xEF\xBC\x9E" /* ＞ */);
}

// "-----Original Message-----", "---------- Forwarded message ---------", "----- 原始邮件 -----",
// "Begin forwarded message:". Empty when the line is no such marker.
std::string_view MarkerFormat(std::string_view t) {
  if (StartsWithNoCase(t, "begin forwarded message")) return kForwarded;
  if (t.empty()) return {};
  CodePoint first = DecodeAt(t, 0);
  if (!IsDashCp(first.value)) return {};
  size_t dashes;
  bool non_ascii;
  std::string_view inner = StripDashes(t, &dashes, &non_ascii);
  if (dashes < 2 || inner.empty() || inner.size() > 60) return {};
  static constexpr std::string_view kOriginalWords[] = {"original message", "original mail"};
  static constexpr NeedleSet kOriginalSet(kOriginalWords);
  if (kOriginalSet.FoundIn(inner) || EqualsNoCase(inner, "original")) {
    return kOriginal;
  }
  static constexpr std::string_view kOriginalZhWords[] = {"原始邮件", "原邮件",   "邮件原件",
                                                          "原始郵件", "原始信件", "原郵件"};
  static constexpr NeedleSet kOriginalZhSet(kOriginalZhWords);
  if (kOriginalZhSet.FoundIn(inner)) {
    return kOriginalZh;
  }
  static constexpr std::string_view kForwardedWords[] = {
      "forwarded", "forward message", "转发", "轉寄", "轉發", "转寄"};
  static constexpr NeedleSet kForwardedSet(kForwardedWords);
  if (kForwardedSet.FoundIn(inner)) {
    return kForwarded;
  }
  return {};
}

bool EndsWithWrote(std::string_view t) {
  if (!t.empty() && (t.back() == ' ')) t = Trim(t);
  // Every form below ends with ':' or '：' (EF BC 9A): one byte test rejects most lines.
  if (t.empty() || (t.back() != ':' && t.back() != '\x9A')) return false;
  return EndsWithNoCase(t, "wrote:") || EndsWithNoCase(t, "wrote\xEF\xBC\x9A") ||
         EndsWithNoCase(t, "wrote :") || t.ends_with("写道：") || t.ends_with("写道:") ||
         t.ends_with("寫道：") || t.ends_with("寫道:") || EndsWithNoCase(t, "schrieb:") ||
         EndsWithNoCase(t,
                        "a \xC3\xA9"
                        "crit :") ||
         EndsWithNoCase(t, "escribi\xC3\xB3:");
}

bool StartsAttribution(std::string_view t) {
  return StartsWithNoCase(t, "on ") || t.starts_with("在") || t.starts_with("于") ||
         t.starts_with("於") || StartsWithNoCase(t, "am ") || StartsWithNoCase(t, "le ") ||
         StartsWithNoCase(t, "el ");
}

bool HasDigitOrAt(std::string_view t) {
  for (char c : t) {
    if ((c >= '0' && c <= '9') || c == '@') return true;
  }
  return false;
}

// Header keys of a quoted message's header block.
enum HeaderKey : int { kNoKey = 0, kFrom = 1, kSent = 2, kTo = 4, kCc = 8, kSubject = 16 };

struct HeaderMatch {
  HeaderKey key = kNoKey;
  bool zh = false;
};

HeaderMatch MatchHeaderKey(std::string_view t) {
  while (!t.empty() && (t[0] == '*' || t[0] == ' ')) t.remove_prefix(1);
  // Every key is short: without a colon near the start there is nothing to match.
  std::string_view start = t.substr(0, 20);
  if (start.find(':') == std::string_view::npos &&
      start.find("\xEF\xBC\x9A") == std::string_view::npos) {
    return {};
  }
  struct Entry {
    std::string_view word;
    HeaderKey key;
    bool zh;
  };
  static constexpr Entry kEntries[] = {
      {"from", kFrom, false},       {"sent", kSent, false},    {"date", kSent, false},
      {"to", kTo, false},           {"cc", kCc, false},        {"bcc", kCc, false},
      {"subject", kSubject, false}, {"发件人", kFrom, true},   {"寄件者", kFrom, true},
      {"寄件人", kFrom, true},      {"發件人", kFrom, true},   {"发送时间", kSent, true},
      {"发送日期", kSent, true},    {"發送時間", kSent, true}, {"寄件日期", kSent, true},
      {"时间", kSent, true},        {"日期", kSent, true},     {"時間", kSent, true},
      {"收件人", kTo, true},        {"收件者", kTo, true},     {"抄送", kCc, true},
      {"抄送人", kCc, true},        {"副本", kCc, true},       {"主题", kSubject, true},
      {"主旨", kSubject, true},     {"主題", kSubject, true},  {"标题", kSubject, true},
  };
  static constexpr FirstByteSet kFirstBytes = [] {
    FirstByteSet set;
    for (const Entry& e : kEntries) set.Add(e.word);
    return set;
  }();
  if (!kFirstBytes.MayStart(t)) return {};
  const char first = AsciiLower(t[0]);
  for (const Entry& e : kEntries) {
    if (e.word[0] == first && MatchLabel(t, e.word) > 0) return {e.key, e.zh};
  }
  return {};
}

bool IsSignoffText(std::string_view t) {
  static constexpr std::string_view kSignoffs[] = {"best regards",
                                                   "kind regards",
                                                   "warm regards",
                                                   "warmest regards",
                                                   "best wishes",
                                                   "regards",
                                                   "best",
                                                   "thanks",
                                                   "thank you",
                                                   "many thanks",
                                                   "thanks again",
                                                   "thanks a lot",
                                                   "thanks so much",
                                                   "thank you very much",
                                                   "thanks and regards",
                                                   "thanks & regards",
                                                   "thanks and best regards",
                                                   "cheers",
                                                   "sincerely",
                                                   "yours sincerely",
                                                   "sincerely yours",
                                                   "yours truly",
                                                   "yours faithfully",
                                                   "all the best",
                                                   "br",
                                                   "rgds",
                                                   "respectfully",
                                                   "with thanks",
                                                   "with best regards",
                                                   "talk soon",
                                                   "cordially",
                                                   "thx",
                                                   "best,",
                                                   "regards,",
                                                   "谢谢",
                                                   "多谢",
                                                   "感谢",
                                                   "谢谢您",
                                                   "非常感谢",
                                                   "此致",
                                                   "此致敬礼",
                                                   "敬礼",
                                                   "祝好",
                                                   "顺祝商祺",
                                                   "祝商祺",
                                                   "顺颂商祺",
                                                   "顺颂时祺",
                                                   "商祺",
                                                   "祝工作顺利",
                                                   "祝顺利",
                                                   "致礼",
                                                   "顺祝",
                                                   "以上，谢谢",
                                                   "此致 敬礼",
                                                   "此致，敬礼",
                                                   "many thanks and best regards",
                                                   "thanks & best regards",
                                                   "best regards and thanks",
                                                   "thanks and kind regards",
                                                   "以上,谢谢",
                                                   "谢谢！",
                                                   "謝謝",
                                                   "此致敬禮",
                                                   "敬禮",
                                                   "祝好！"};
  // Most lines are longer than any sign-off: one comparison instead of the list.
  static constexpr size_t kLongest = [] {
    size_t longest = 0;
    for (std::string_view s : kSignoffs) longest = std::max(longest, s.size());
    return longest;
  }();
  // The sign-offs grouped by length (a counting sort at compile time): a line is compared with
  // those of its own length only.
  static constexpr size_t kCount = std::size(kSignoffs);
  struct ByLength {
    unsigned char begin[kLongest + 2] = {};  // order[begin[n], begin[n + 1]): length n
    unsigned char order[kCount] = {};
  };
  static constexpr ByLength kByLength = [] {
    ByLength b;
    for (std::string_view s : kSignoffs) ++b.begin[s.size() + 1];
    for (size_t n = 1; n < kLongest + 2; ++n) b.begin[n] += b.begin[n - 1];
    unsigned char next[kLongest + 1] = {};
    for (size_t n = 0; n <= kLongest; ++n) next[n] = b.begin[n];
    for (size_t i = 0; i < kCount; ++i) b.order[next[kSignoffs[i].size()]++] = i;
    return b;
  }();
  static_assert(kCount < 256);
  if (t.size() <= kLongest) {
    for (size_t k = kByLength.begin[t.size()]; k < kByLength.begin[t.size() + 1]; ++k) {
      if (EqualsNoCase(t, kSignoffs[kByLength.order[k]])) return true;
    }
  }
  return StartsWithNoCase(t, "sent from my") || t.starts_with("发自我的") ||
         t.starts_with("来自我的") || t.starts_with("發自我的");
}

bool IsTrailingPunct(char32_t c) {
  return c == ',' || c == '.' || c == '!' || c == ':' || c == '~' || c == 0xFF0C /*，*/ ||
         c == 0x3002 /*。*/ || c == 0xFF01 /*！*/ || c == 0xFF1A /*：*/ || c == 0xFF5E /*～*/ ||
         c == 0x3001 /*、*/ || IsSpace(c);
}

bool EndsSentence(std::string_view t) {
  if (t.empty()) return false;
  char32_t c = DecodeBefore(t, t.size()).value;
  return c == '.' || c == '!' || c == '?' || c == ';' || c == 0x3002 || c == 0xFF01 ||
         c == 0xFF1F || c == 0xFF1B || c == 0x2026 || c == 0xFF0E;
}

size_t CountWords(std::string_view t) {
  size_t words = 0;
  bool in = false;
  for (char c : t) {
    bool space = c == ' ' || c == '\t';
    if (!space && !in) ++words;
    in = !space;
  }
  return words;
}

bool HasBar(std::string_view t) {
  return t.find('|') != std::string_view::npos || t.find("｜") != std::string_view::npos;
}

// Common Chinese surnames (simplified and traditional forms): a run of 2-4 ideographs is taken
// for a name only when it starts with one, so "已付款" or "合同" on a line of their own are not.
constexpr std::string_view kSurnames =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
    "祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟"
    "艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣"
    "晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉"
    "银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
    "陳張劉楊黃趙吳孫馬鄭謝許韓馮鄧曾蕭葉蘇呂盧鍾譚陸範賈韋鄒閆龍賀顧龔錢嚴溫齊龐顏聶魯嶽歐關"
    "蘭紀單塗駱藍遊鮑饒農車項麥婁竇費衛閔鄔邊樂鄺";

bool IsSurname(char32_t c) {
  char buf[4];
  size_t n = 0;
  if (c < 0x10000 && c >= 0x800) {
    buf[0] = static_cast<char>(0xE0 | (c >> 12));
    buf[1] = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (c & 0x3F));
    n = 3;
  }
  if (n == 0) return false;
  std::string_view needle(buf, n);
  for (size_t at = kSurnames.find(needle); at != std::string_view::npos;
       at = kSurnames.find(needle, at + 1)) {
    if (at % 3 == 0) return true;  // every entry is 3 bytes: stay aligned
  }
  return false;
}

// A person's name: "张伟", "Chen Hao", "陈浩 Chen Hao", "Kelvin Chan 陳家豪", "教务处 黄老师".
bool IsNameTokens(std::string_view t) {
  if (t.empty() || t.size() > 60) return false;
  size_t tokens = 0;
  size_t max_han = 0;
  size_t han_tokens = 0;
  size_t surname_tokens = 0;
  size_t i = 0;
  while (i < t.size()) {
    while (i < t.size()) {  // skip separators
      CodePoint cp = DecodeAt(t, i);
      if (!IsSpace(cp.value)) break;
      i += cp.length;
    }
    if (i >= t.size()) break;
    ++tokens;
    size_t han = 0, latin = 0, bad = 0;
    bool first = true;
    bool upper_first = false;
    while (i < t.size()) {
      CodePoint cp = DecodeAt(t, i);
      char32_t c = cp.value;
      if (IsSpace(c)) break;
      if (IsHan(c) || (c == 0xB7 && han > 0)) {
        if (han == 0 && IsSurname(c)) ++surname_tokens;
        ++han;
      } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 ((c == '.' || c == '-' || c == '\'') && latin > 0)) {
        if (first) upper_first = c >= 'A' && c <= 'Z';
        ++latin;
      } else {
        ++bad;
      }
      first = false;
      i += cp.length;
    }
    if (bad > 0 || (han > 0 && latin > 0)) return false;
    if (latin > 0 && (!upper_first || latin > 20)) return false;
    han_tokens += han > 0;
    max_han = std::max(max_han, han);
  }
  if (tokens == 0 || tokens > 4) return false;
  if (han_tokens > 0 && surname_tokens == 0) return false;
  if (tokens == 1) return max_han == 0 || (max_han >= 2 && max_han <= 4);
  return max_han <= 5;
}

bool IsNameLike(std::string_view t) {
  if (IsNameTokens(t)) return true;
  size_t bar = t.find('|');
  size_t fbar = t.find("｜");
  size_t cut = std::min(bar, fbar);
  if (cut == std::string_view::npos || t.size() > 160) return false;
  return IsNameTokens(Trim(t.substr(0, cut)));
}

bool IsOrgLike(std::string_view t) {
  if (t.size() > 100) return false;
  static constexpr std::string_view kOrgWords[] = {
      "公司", "集团", "银行", "学校", "大学",    "学院", "医院", "研究院", "事务所",
      "co.",  "ltd",  "inc",  "llc",  "limited", "gmbh", "corp", "pte"};
  static constexpr NeedleSet kOrgWordsSet(kOrgWords);
  if (!kOrgWordsSet.FoundIn(t)) return false;
  static constexpr std::string_view kSuffixes[] = {
      "公司",    "集团",   "银行",        "学校",   "大学", "学院", "医院",
      "中心",    "研究院", "研究所",      "事务所", "部",   "处",   "科",
      "室",      "组",     "ltd",         "ltd.",   "inc",  "inc.", "llc",
      "limited", "group",  "corporation", "corp.",  "co.",  "gmbh", "pte"};
  std::string_view s = Trim(t);
  // "(Suzhou) Co., Ltd." and "公司（华东区）": look before a closing bracket too.
  while (!s.empty() && (s.back() == ')' || s.ends_with("）"))) {
    size_t open = std::min(s.rfind('('), s.rfind("（"));
    if (open == std::string_view::npos || open == 0) break;
    s = Trim(s.substr(0, open));
  }
  for (std::string_view suf : kSuffixes) {
    if (EndsWithNoCase(s, suf)) return true;
  }
  return false;
}

// Something only a signature line carries: contact data, a title, an organization, an address.
bool HasSignatureEvidence(std::string_view t) {
  if (HasBar(t) || t.find('@') != std::string_view::npos) return true;
  size_t digits = 0;
  for (char c : t) digits += (c >= '0' && c <= '9');
  if (digits >= 7) return true;
  static constexpr std::string_view kWords[] = {
      "http",    "www.",     "公司",     "集团",      "银行",    "学校",       "大学",
      "学院",    "医院",     "中心",     "部",        "处",      "科技",       "经理",
      "总监",    "主管",     "主任",     "工程师",    "董事",    "校长",       "律师",
      "专员",    "助理",     "老师",     "院长",      "教授",    "秘书",       "co.",
      "ltd",     "inc",      "llc",      "limited",   "gmbh",    "group",      "corp",
      "manager", "director", "head of",  "president", "officer", "ceo",        "cfo",
      "coo",     "cto",      "engineer", "counsel",   "lead",    "specialist", "consultant",
      "sales",   "account",  "founder",  "partner",   "路",      "街",         "市",
      "区",      "省",       "楼",       "层",        "road",    "street",     "floor",
      "suite",   "tel",      "mobile",   "phone",     "fax"};
  static constexpr NeedleSet kWordSet(kWords);
  return kWordSet.FoundIn(t);
}

bool IsSignatureLike(std::string_view t, bool signoff) {
  if (t.size() > 200) return false;
  if (t.find("。") != std::string_view::npos || t.find("？") != std::string_view::npos ||
      t.find('?') != std::string_view::npos || t.find("；") != std::string_view::npos ||
      t.find("，") != std::string_view::npos) {
    return false;
  }
  if (!signoff && t.find("！") != std::string_view::npos) return false;
  if (!signoff && (t.ends_with(":") || t.ends_with("："))) return false;
  // The word count matters only to a line ending in '!' or '.' or holding ", ": most signature
  // lines do neither, and skip the count.
  const bool bang = !signoff && t.ends_with("!");
  const bool dot = t.ends_with(".");
  const bool comma = t.find(", ") != std::string_view::npos;
  if (!bang && !dot && !comma) return true;
  size_t words = CountWords(t);
  if (bang && words >= 4) return false;
  if (dot && words >= 6 &&
      !(EndsWithNoCase(t, "ltd.") || EndsWithNoCase(t, "inc.") || EndsWithNoCase(t, "co.") ||
        EndsWithNoCase(t, "corp.") || EndsWithNoCase(t, "jr."))) {
    return false;
  }
  if (comma && words >= 10) return false;
  return true;
}

class Splitter {
 public:
  Splitter(std::string_view text, const std::vector<FormatSpan>& quoted)
      : text_(text), quoted_(quoted) {}

  BodySplit Run() {
    BuildLines();
    MarkHtmlQuoted();
    size_t cut = ScanHistory();
    StripTrailing(cut);
    return Collect();
  }

 private:
  std::string_view Trimmed(size_t i) const {
    return text_.substr(lines_[i].tb, lines_[i].te - lines_[i].tb);
  }
  bool Blank(size_t i) const { return lines_[i].tb == lines_[i].te; }

  void BuildLines() {
    // One allocation: a line per '\n' plus the last one.
    lines_.reserve(static_cast<size_t>(std::count(text_.begin(), text_.end(), '\n')) + 1);
    size_t pos = 0;
    while (pos < text_.size()) {
      const void* nl = std::memchr(text_.data() + pos, '\n', text_.size() - pos);
      size_t next = nl == nullptr ? text_.size() : static_cast<const char*>(nl) - text_.data();
      size_t end = next;
      if (end > pos && text_[end - 1] == '\r') --end;
      std::string_view raw = text_.substr(pos, end - pos);
      size_t lead = LeadingSpace(raw);
      size_t trail = lead == raw.size() ? 0 : TrailingSpace(raw);
      lines_.push_back({pos, end, pos + lead, end - trail, {}});
      pos = next + 1;
    }
  }

  void MarkHtmlQuoted() {
    size_t q = 0;
    for (Line& line : lines_) {
      if (line.tb == line.te) continue;
      while (q < quoted_.size() && quoted_[q].end <= line.tb) ++q;
      if (q == quoted_.size()) return;
      if (quoted_[q].begin <= line.tb) line.drop = quoted_[q].format;
    }
  }

  size_t NextContent(size_t i) const {
    while (i < lines_.size() && (Blank(i) || !lines_[i].drop.empty())) ++i;
    return i;
  }

  // Lines of an "On ... wrote:" attribution starting at i: 0, 1 or 2.
  size_t AttributionLines(size_t i) const {
    std::string_view t = Trimmed(i);
    if (t.size() > 600) return 0;
    // Real attributions carry a date or an address: "On Monday our lawyer wrote:" is content.
    if (EndsWithWrote(t)) return HasDigitOrAt(t) ? 1 : 0;
    if (StartsAttribution(t) && t.size() <= 300 && i + 1 < lines_.size()) {
      std::string_view next = Trimmed(i + 1);
      if (next.size() <= 300 && EndsWithWrote(next) && (HasDigitOrAt(t) || HasDigitOrAt(next))) {
        return 2;
      }
    }
    return 0;
  }

  // Format of a header block starting at line i, or empty.
  std::string_view HeaderBlock(size_t i) const {
    HeaderMatch first = MatchHeaderKey(Trimmed(i));
    if (first.key == kNoKey) return {};
    int keys = 0;
    bool zh = false;
    bool from_has_address = false;
    for (size_t j = i; j < lines_.size() && j < i + 10; ++j) {
      if (Blank(j)) break;
      HeaderMatch m = MatchHeaderKey(Trimmed(j));
      if (m.key == kNoKey) {
        // A wrapped "To:" list continues on the next line; allow one such line.
        if (j + 1 < lines_.size() && !Blank(j + 1) &&
            MatchHeaderKey(Trimmed(j + 1)).key != kNoKey && j > i) {
          continue;
        }
        break;
      }
      if (m.key == kFrom) {
        zh = m.zh;
        std::string_view from = Trimmed(j);
        from_has_address =
            from.find('@') != std::string_view::npos || from.find('<') != std::string_view::npos;
      }
      keys |= m.key;
    }
    // "From: our plant / To: your warehouse / Date: April 3" in a delivery note is no header
    // block: a quoted header names a mail address or a subject.
    if (!(keys & kFrom) || !(from_has_address || (keys & kSubject))) return {};
    int distinct = __builtin_popcount(static_cast<unsigned>(keys));
    bool after_separator = false;
    for (size_t k = i; k > 0; --k) {
      if (Blank(k - 1)) continue;
      after_separator = IsSeparator(Trimmed(k - 1));
      break;
    }
    if (distinct >= 3 || (distinct >= 2 && after_separator)) return zh ? kZhHeader : kOutlookHeader;
    return {};
  }

  // Drops "> " lines and attribution lines; returns the index of the first line of quoted
  // history that runs to the end (lines_.size() when none).
  size_t ScanHistory() {
    for (size_t i = 0; i < lines_.size(); ++i) {
      if (Blank(i) || !lines_[i].drop.empty()) continue;
      std::string_view t = Trimmed(i);
      if (IsGtQuote(t)) {
        lines_[i].drop = kQuoteGt;
        continue;
      }
      std::string_view format = MarkerFormat(t);
      if (format.empty()) {
        size_t attribution = AttributionLines(i);
        if (attribution > 0) {
          size_t next = NextContent(i + attribution);
          if (next < lines_.size() && IsGtQuote(Trimmed(next))) {
            for (size_t k = i; k < i + attribution; ++k) lines_[k].drop = kOnWrote;
            i += attribution - 1;
            continue;
          }
          format = kOnWrote;
        }
      }
      if (format.empty()) format = HeaderBlock(i);
      if (format.empty()) continue;
      // Include a separator line ("______", "———") just above the cut.
      size_t start = i;
      for (size_t k = i; k > 0; --k) {
        if (Blank(k - 1)) continue;
        if (lines_[k - 1].drop.empty() && IsSeparator(Trimmed(k - 1))) start = k - 1;
        break;
      }
      for (size_t k = start; k < lines_.size(); ++k) lines_[k].drop = format;
      return start;
    }
    return lines_.size();
  }

  // Content lines before `cut`: kept, non-blank, not separators.
  struct Content {
    size_t line;
    bool para_start;  // a blank, separator or dropped line precedes it
    bool sep_before;  // a separator line precedes it
  };

  void StripTrailing(size_t cut) {
    std::vector<Content> content;
    content.reserve(cut);
    bool gap = true, sep = false;
    for (size_t i = 0; i < cut; ++i) {
      if (Blank(i) || !lines_[i].drop.empty()) {
        gap = true;
        continue;
      }
      if (IsSeparator(Trimmed(i))) {
        gap = true;
        sep = true;
        continue;
      }
      content.push_back({i, gap, sep});
      gap = false;
      sep = false;
    }
    size_t m = content.size();

    // Disclaimers: trailing paragraphs, from the end.
    for (int rounds = 0; rounds < 4 && m > 1; ++rounds) {
      size_t ps = m - 1;
      while (ps > 0 && !content[ps].para_start) --ps;
      if (ps == 0) break;  // never the whole text
      size_t b = lines_[content[ps].line].tb, e = lines_[content[m - 1].line].te;
      if (e - b > kMaxDisclaimerBytes ||
          !IsDisclaimerParagraph(text_.substr(b, e - b), content[ps].sep_before)) {
        break;
      }
      DropFrom(content, ps, cut, kDisclaimer);
      m = ps;
    }

    // Signature / sign-off: the earliest start whose whole tail looks like a signature.
    if (m < 2) return;
    size_t lo = m > kSignatureWindow ? m - kSignatureWindow : 1;
    // signoff[x - lo + 1]: line x is a sign-off (index 0 is line lo - 1).
    bool signoff[kSignatureWindow + 2];
    for (size_t x = lo - 1; x < m; ++x)
      signoff[x - lo + 1] = IsSignoffLine(Trimmed(content[x].line));
    bool tail_ok[kSignatureWindow + 1];        // lines x..m-1 all signature-like
    bool tail_one_para[kSignatureWindow + 1];  // no paragraph break after line x
    tail_ok[m - lo] = true;
    tail_one_para[m - lo] = true;
    for (size_t x = m; x-- > lo;) {
      tail_ok[x - lo] =
          tail_ok[x - lo + 1] && IsSignatureLike(Trimmed(content[x].line), signoff[x - lo + 1]);
      tail_one_para[x - lo] =
          tail_one_para[x - lo + 1] && (x + 1 == m || !content[x + 1].para_start);
    }
    // Evidence is costly to look for: computed lazily, once per line.
    signed char evidence[kSignatureWindow + 1];
    std::fill(std::begin(evidence), std::end(evidence), -1);
    auto tail_evidence = [&](size_t from) {
      for (size_t y = from; y < m; ++y) {
        signed char& e = evidence[y - lo];
        if (e < 0) e = HasSignatureEvidence(Trimmed(content[y].line)) ? 1 : 0;
        if (e == 1) return true;
      }
      return false;
    };
    for (size_t x = lo; x < m; ++x) {
      std::string_view t = Trimmed(content[x].line);
      if (IsDashDash(t) && m - x <= 25) {
        DropFrom(content, x, cut, kSignature);
        return;
      }
      if (signoff[x - lo + 1] && tail_ok[x - lo + 1] && m - x - 1 <= 10) {
        bool next_ok = x + 1 == m;
        if (!next_ok) {
          std::string_view n = Trimmed(content[x + 1].line);
          next_ok = IsNameLike(n) || signoff[x - lo + 2] || IsDashDash(n) || IsOrgLike(n);
        }
        if (next_ok) {
          DropFrom(content, x, cut, kSignoff);
          return;
        }
      }
      // A name/organization block without a sign-off must be one paragraph: spreading it over
      // several would let a short content line pass for a name.
      if (tail_ok[x - lo] && tail_one_para[x - lo] && m - x <= 8 &&
          (IsNameLike(t) || IsOrgLike(t))) {
        std::string_view prev = Trimmed(content[x - 1].line);
        bool starts_block = content[x].para_start || EndsSentence(prev) || signoff[x - lo];
        bool evidence = HasBar(t) || (m - x >= 2 && tail_evidence(x));
        if (starts_block && evidence) {
          // "Linda\n\nLinda Xu | Purchasing": the lone first name belongs to the block.
          size_t start = x;
          if (x >= 2 && content[x].para_start && content[x - 1].para_start && IsNameTokens(prev) &&
              t.starts_with(prev)) {
            start = x - 1;
          }
          DropFrom(content, start, cut, kSignature);
          return;
        }
      }
    }
  }

  // Drops from content line x (and a separator just above it) up to `cut`, keeping earlier
  // drops' formats.
  void DropFrom(const std::vector<Content>& content, size_t x, size_t cut,
                std::string_view format) {
    size_t start = content[x].line;
    size_t floor = x > 0 ? content[x - 1].line + 1 : 0;
    for (size_t k = start; k > floor; --k) {
      if (Blank(k - 1)) continue;
      if (lines_[k - 1].drop.empty() && IsSeparator(Trimmed(k - 1)))
        start = k - 1;
      else
        break;
    }
    for (size_t k = start; k < cut; ++k) {
      if (lines_[k].drop.empty()) lines_[k].drop = format;
    }
  }

  BodySplit Collect() const {
    BodySplit out;
    size_t i = 0;
    while (i < lines_.size()) {
      std::string_view drop = lines_[i].drop;
      size_t j = i;
      while (j + 1 < lines_.size() && lines_[j + 1].drop == drop) ++j;
      size_t b = lines_[i].begin, e = lines_[j].end;
      if (drop.empty()) {
        std::string_view s = text_.substr(b, e - b);
        size_t lead = LeadingSpace(s);
        if (lead < s.size()) out.kept.push_back({b + lead, e - TrailingSpace(s)});
      } else {
        // Blank lines between two drops of the same format do not split the dropped part.
        if (!out.dropped.empty() && out.dropped.back().format == drop &&
            Trim(text_.substr(out.dropped.back().end, b - out.dropped.back().end)).empty()) {
          out.dropped.back().end = e;
        } else {
          out.dropped.push_back({b, e, drop});
        }
      }
      i = j + 1;
    }
    return out;
  }

  std::string_view text_;
  const std::vector<FormatSpan>& quoted_;
  std::vector<Line> lines_;
};

}  // namespace

bool IsSignoffLine(std::string_view trimmed) {
  if (trimmed.empty() || trimmed.size() > 60) return false;
  std::string_view t = trimmed;
  while (!t.empty()) {
    CodePoint cp = DecodeBefore(t, t.size());
    if (!IsTrailingPunct(cp.value)) break;
    t.remove_suffix(cp.length);
  }
  return !t.empty() && IsSignoffText(t);
}

bool IsDisclaimerParagraph(std::string_view p, bool after_separator) {
  static constexpr std::string_view kOpeners[] = {
      "this e-mail", "this email", "this message", "this communication",
      "the information contained", "the information in this", "confidentiality", "confidential",
      "disclaimer", "important notice", "legal notice", "privileged", "本邮件", "此邮件",
      "本电子邮件", "本郵件", "该邮件", "本信息", "免责声明", "保密声明", "保密提示", "重要提示",
      "声明", "注意：本", "本函",
      // Traditional forms (HK/TW mail clients):
      // extraction runs before normalization.
      "本電郵", "本電子郵件", "此郵件", "該郵件", "免責聲明", "保密聲明"};
  static constexpr std::string_view kCues[] = {"confidential",
                                               "privileged",
                                               "intended recipient",
                                               "intended only",
                                               "intended solely",
                                               "not the intended",
                                               "notify the sender",
                                               "delete this",
                                               "delete the message",
                                               "disclaimer",
                                               "unauthorized",
                                               "unauthorised",
                                               "prohibited",
                                               "no contract",
                                               "not constitute",
                                               "does not create",
                                               "legally binding",
                                               "virus",
                                               "保密",
                                               "机密",
                                               "機密",
                                               "指定收件人",
                                               "收件人以外",
                                               "仅供",
                                               "仅限于",
                                               "不构成",
                                               "不代表",
                                               "法律效力",
                                               "法律承诺",
                                               "免责",
                                               "删除本邮件",
                                               "误收",
                                               "错收",
                                               "禁止任何",
                                               "未经授权",
                                               "不得使用",
                                               "不得复制",
                                               "僅供",
                                               "僅限於",
                                               "不構成",
                                               "法律承諾",
                                               "刪除本郵件",
                                               "禁止任何",
                                               "未經授權",
                                               "誤收"};
  std::string_view head = SkipOpeningBrackets(p);
  bool opener = false;
  for (std::string_view o : kOpeners) {
    if (StartsWithNoCase(head, o)) {
      opener = true;
      break;
    }
  }
  static constexpr NeedleSet kCueSet(kCues);
  size_t cues = kCueSet.Count(p, 3);
  // Without an opener or a separator above it, only a paragraph dense with legal cues is a
  // disclaimer: "我们已盖章的合同属于机密文件，仅供贵司内部使用。" is content.
  return (opener && cues >= 1) || cues >= 3 || (after_separator && (opener || cues >= 1));
}

bool IsSeparatorLine(std::string_view trimmed) { return IsSeparator(trimmed); }

BodySplit SplitEmailBody(std::string_view text, const std::vector<FormatSpan>& quoted) {
  return Splitter(text, quoted).Run();
}

}  // namespace autostage::text::internal
