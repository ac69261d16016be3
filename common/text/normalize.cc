#include "common/text/normalize.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/text/internal/normalize_table.h"

namespace autostage::text {
namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Decodes one UTF-8 sequence starting at in[i] (a byte >= 0x80). Returns the code point and
// sets `len`; an ill-formed sequence returns -1 with `len` = the maximal ill-formed subpart
// (at least 1), which becomes one U+FFFD (Unicode's "substitution of maximal subparts").
inline int32_t DecodeUtf8(const uint8_t* in, size_t n, size_t i, size_t& len) {
  const uint8_t b0 = in[i];
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  int32_t cp;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    len = 1;
    return -1;
  }
  size_t k = 1;
  for (; k <= need; ++k) {
    if (i + k >= n) break;
    const uint8_t b = in[i + k];
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    cp = (cp << 6) | (b & 0x3F);
  }
  len = k > need ? need + 1 : k;
  return k > need ? cp : -1;
}

// 8 bytes at a time, as one little-endian word: the high bit of each byte that is >= `n`
// (n in 1..128; valid when every byte is < 0x80, so no addition carries into the next byte).
constexpr uint64_t kEachByte = 0x0101010101010101;
constexpr uint64_t kHighBits = 0x8080808080808080;
constexpr uint64_t BytesAtLeast(uint64_t word, uint8_t n) {
  return (word + kEachByte * (0x80 - n)) & kHighBits;
}

// Whether the table maps printable ASCII the way NormalizeAsciiWord does: ' ' is whitespace,
// 'A'..'Z' become 'a'..'z', every other byte 0x21..0x7E stays. (NFKC_Casefold does exactly
// this; checked rather than assumed, so the fast path is off if a table ever differs.)
bool AsciiIsLowercaseOnly(const internal::NormalizeTable& table) {
  for (int b = 0x20; b <= 0x7E; ++b) {
    const int expected = b == ' '                 ? internal::NormalizeTable::kAsciiSpace
                         : (b >= 'A' && b <= 'Z') ? b + ('a' - 'A')
                                                  : b;
    if (table.ascii[b] != expected) return false;
  }
  return true;
}

// The normalized form of 8 input bytes that the byte-at-a-time path would copy unchanged but
// for lower-casing, or false. Accepted: bytes 0x21..0x7E, and single ' ' between two of them
// when `spaces` (the first byte may be a ' ' because the caller has just written a non-space
// byte; the last may not, since the byte after it is unknown). Such a ' ' is a whitespace run
// of one byte the general path turns into one ' ' with no line break and an offset anchor on
// the identity line it is already on (AddAnchor skips it), so copying it is the same result.
bool NormalizeAsciiWord(const uint8_t* in, bool spaces, char* out) {
  uint64_t word;
  std::memcpy(&word, in, sizeof(word));
  if ((word & kHighBits) != 0) return false;  // non-ASCII: the byte path decodes it
  const uint64_t at_least_space = BytesAtLeast(word, 0x20);
  const uint64_t at_least_bang = BytesAtLeast(word, 0x21);
  if ((~at_least_space & kHighBits) != 0 || BytesAtLeast(word, 0x7F) != 0) return false;
  const uint64_t space = at_least_space & ~at_least_bang;
  if (space != 0 && (!spaces || (space & (space << 8)) != 0 || (space >> 63) != 0)) return false;
  const uint64_t upper = BytesAtLeast(word, 'A') & ~BytesAtLeast(word, 'Z' + 1);
  word |= upper >> 2;  // 0x80 >> 2 == 0x20, the case bit
  std::memcpy(out, &word, sizeof(word));
  return true;
}

class TableNormalizer final : public Normalizer {
 public:
  TableNormalizer(internal::NormalizeTable table, bool word_at_a_time)
      : table_(std::move(table)),
        word_at_a_time_(word_at_a_time && std::endian::native == std::endian::little &&
                        AsciiIsLowercaseOnly(table_)) {}

  NormalizedText Normalize(std::string_view input) const override {
    NormalizedText out;
    Run<true>(input, out.text, &out.to_input);
    return out;
  }

  void NormalizeInto(std::string_view input, NormalizedText* out) const override {
    out->to_input.Clear();
    Run<true>(input, out->text, &out->to_input);
  }

  std::string NormalizeString(std::string_view input) const override {
    std::string out;
    Run<false>(input, out, nullptr);
    return out;
  }

 private:
  // One pass over the input. Invariant: out.size() - o >= n - i (room to copy the remaining
  // input unchanged), so the ASCII loop writes without checks; only replacements longer than
  // their input grow the buffer.
  template <bool kMap>
  void Run(std::string_view input, std::string& out, OffsetMap* map) const {
    const auto* in = reinterpret_cast<const uint8_t*>(input.data());
    const size_t n = input.size();
    out.resize(n);
    char* dst = out.data();
    size_t o = 0;
    size_t i = 0;
    bool space = false;  // the output ends with a folded whitespace run
    const uint8_t* ascii = table_.ascii;

    auto grow = [&](size_t extra) {
      const size_t need = o + extra + (n - i);
      if (need > out.size()) {
        out.resize(std::max(need, out.size() * 2));
        dst = out.data();
      }
    };

    while (i < n) {
      const uint8_t b = in[i];
      if (b < 0x80) {
        const uint8_t m = ascii[b];
        if (m != internal::NormalizeTable::kAsciiSpace) {
          dst[o++] = static_cast<char>(m);
          ++i;
          space = false;
          // Runs of printable ASCII are most of English text: a tight loop for them, 8 bytes
          // at a time where NormalizeAsciiWord accepts them (single spaces between words
          // included once the offset map has an anchor: before that, the general path would
          // add one at the first space), else byte by byte for up to 8 bytes.
          for (;;) {
            if (word_at_a_time_) {
              while (n - i >= 8 && NormalizeAsciiWord(in + i, !kMap || !map->empty(), dst + o)) {
                i += 8;
                o += 8;
              }
            }
            const size_t stop = std::min(n, i + 8);
            while (i < stop && in[i] < 0x80 &&
                   ascii[in[i]] != internal::NormalizeTable::kAsciiSpace) {
              dst[o++] = static_cast<char>(ascii[in[i]]);
              ++i;
            }
            if (i != stop || i == n) break;
          }
          continue;
        }
        // A whitespace run (ASCII or not) becomes one space; ignorable code points (zero
        // width space, BOM...) inside the run are dropped with it.
        i = SkipWhitespace(in, n, i, space, dst, o);
        if constexpr (kMap) map->AddAnchor(o, i);
        continue;
      }
      // Well-formed three-byte sequences (Han, kana, full-width forms, CJK punctuation) are
      // most of Chinese text: decoded inline, and copied byte by byte when unchanged. Lead
      // bytes E1..EC and EE..EF accept any continuation byte as the second byte (E0 and ED
      // restrict it), so two continuation bytes are a well-formed sequence.
      if (b >= 0xE1 && b <= 0xEF && b != 0xED && n - i >= 3 && (in[i + 1] & 0xC0) == 0x80 &&
          (in[i + 2] & 0xC0) == 0x80) {
        const auto cp3 = static_cast<char32_t>(((b & 0x0F) << 12) | ((in[i + 1] & 0x3F) << 6) |
                                               (in[i + 2] & 0x3F));
        if (table_.Lookup(cp3) == internal::NormalizeTable::kIdentity) {
          dst[o] = static_cast<char>(b);
          dst[o + 1] = static_cast<char>(in[i + 1]);
          dst[o + 2] = static_cast<char>(in[i + 2]);
          o += 3;
          i += 3;
          space = false;
          continue;
        }
      }
      size_t len;
      const int32_t cp = DecodeUtf8(in, n, i, len);
      if (cp < 0) {
        grow(kReplacementChar.size());
        std::memcpy(dst + o, kReplacementChar.data(), kReplacementChar.size());
        o += kReplacementChar.size();
        i += len;
        space = false;
        if constexpr (kMap) map->AddAnchor(o, i);
        continue;
      }
      const uint32_t entry = table_.Lookup(static_cast<char32_t>(cp));
      if (entry == internal::NormalizeTable::kIdentity) {
        std::memcpy(dst + o, in + i, len);  // len <= remaining room by the invariant
        o += len;
        i += len;
        space = false;
        continue;
      }
      if (entry == internal::NormalizeTable::kWhitespace) {
        i = SkipWhitespace(in, n, i, space, dst, o);
        if constexpr (kMap) map->AddAnchor(o, i);
        continue;
      }
      std::string_view rep = table_.Replacement(entry);
      i += len;
      if (rep.empty()) {  // dropped (default ignorable); `space` is unchanged
        if constexpr (kMap) map->AddAnchor(o, i);
        continue;
      }
      if (space && rep.front() == ' ') rep.remove_prefix(1);  // keep one space per run
      if (rep.size() > len) grow(rep.size());
      std::memcpy(dst + o, rep.data(), rep.size());
      o += rep.size();
      space = !rep.empty() ? rep.back() == ' ' : space;
      if constexpr (kMap) {
        if (rep.size() != len) map->AddAnchor(o, i);
      }
    }
    out.resize(o);
    if constexpr (kMap) map->SetEnd(o, n);
  }

  // Consumes the whitespace run at in[i] (plus dropped code points inside it), writes one ' '
  // unless the output already ends with a folded run, and returns the new input position.
  // A run holding a line break becomes '\n' instead when the break looks structural (see
  // LineBreakIsStructural), so guards still see lines as sentences.
  size_t SkipWhitespace(const uint8_t* in, size_t n, size_t i, bool& space, char* dst,
                        size_t& o) const {
    if (!space) dst[o++] = ' ';  // a run is at least one byte of input: room is guaranteed
    space = true;
    bool line_break = false;
    while (i < n) {
      const uint8_t b = in[i];
      if (b < 0x80) {
        if (table_.ascii[b] != internal::NormalizeTable::kAsciiSpace) break;
        line_break |= b == '\n' || b == '\r' || b == '\v' || b == '\f';
        ++i;
        continue;
      }
      size_t len;
      const int32_t cp = DecodeUtf8(in, n, i, len);
      if (cp < 0) break;
      const uint32_t entry = table_.Lookup(static_cast<char32_t>(cp));
      const bool dropped = entry > internal::NormalizeTable::kWhitespace && (entry & 0xFF) == 0;
      if (entry != internal::NormalizeTable::kWhitespace && !dropped) break;
      line_break |= cp == 0x85 || cp == 0x2028 || cp == 0x2029;
      i += len;
    }
    if (line_break && dst[o - 1] == ' ' && LineBreakIsStructural(in, n, i, dst, o - 1)) {
      dst[o - 1] = '\n';
    }
    return i;
  }

  // A line break separates lines that are not one wrapped sentence: it is kept unless the
  // output before it ends in a letter, digit or ',' and the (normalized) next character is a
  // letter (hard-wrapped prose: "we have signed the\ncontract"). Bullets, numbered items and
  // Chinese lines keep their breaks. Decided on normalized characters only, so normalizing
  // twice gives the same text. `run` is the output position of the folded run.
  bool LineBreakIsStructural(const uint8_t* in, size_t n, size_t i, const char* dst,
                             size_t run) const {
    if (run == 0 || i >= n) return false;  // leading / trailing whitespace
    const char prev = dst[run - 1];
    const bool prose_before =
        (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || prev == ',';
    if (!prose_before) return true;
    char next;
    if (in[i] < 0x80) {
      next = static_cast<char>(table_.ascii[in[i]]);
    } else {
      size_t len;
      const int32_t cp = DecodeUtf8(in, n, i, len);
      if (cp < 0) return true;
      const uint32_t entry = table_.Lookup(static_cast<char32_t>(cp));
      if (entry == internal::NormalizeTable::kIdentity ||
          entry == internal::NormalizeTable::kWhitespace)
        return true;
      const std::string_view rep = table_.Replacement(entry);
      if (rep.empty()) return true;
      next = rep.front();
    }
    return !(next >= 'a' && next <= 'z');
  }

  const internal::NormalizeTable table_;
  const bool word_at_a_time_;  // the 8-byte ASCII path (NormalizeAsciiWord) is on
};

}  // namespace

absl::StatusOr<std::unique_ptr<const Normalizer>> Normalizer::Create() {
  return internal::CreateTableNormalizer(/*word_at_a_time=*/true);
}

namespace internal {

absl::StatusOr<std::unique_ptr<const Normalizer>> CreateTableNormalizer(bool word_at_a_time) {
  absl::StatusOr<NormalizeTable> table = BuildNormalizeTable();
  if (!table.ok()) return table.status();
  return std::make_unique<const TableNormalizer>(*std::move(table), word_at_a_time);
}

}  // namespace internal

}  // namespace autostage::text
