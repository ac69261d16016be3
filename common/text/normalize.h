// Normalizer: NFKC, case folding, full/half width folding, Traditional -> Simplified Chinese
// and whitespace folding (every run of Unicode whitespace becomes one ' ' or '\n'), with an offset
// map back to the input. Rule terms are normalized by the same object, so matching is done on
// normalized text only.
//
// ICU transliterators are slow, so Create() precomputes a per-code-point table once; the hot
// path is a table lookup per code point (ASCII fast path) and allocates only the output.
//
// Details:
// - Per code point, not per combining sequence: the table holds NFKC_Casefold + T2S of each
//   code point alone, so precomposed text (what zh/en mail and chat carry) is exact, while a
//   decomposed "e" + U+0301 stays two code points (full-string NFKC would compose it to "é").
// - Ideographic punctuation without a compatibility mapping stays: "。" and "、" are kept (the
//   guards know them); "，；：？！（）" become ",;:?!()", "…" becomes "...".
// - Whitespace runs become one ' '; default ignorables (U+200B..U+200D, U+FEFF, soft hyphen)
//   are dropped, also inside a run. A run holding a line break (\n \r \v \f U+0085 U+2028
//   U+2029) becomes one '\n' instead, so guards still end sentences at lines (bullet lists,
//   Chinese lines), except where it looks like hard-wrapped prose: the output before it ends
//   in [a-z0-9,] and the next normalized character is a letter [a-z] ("signed the\ncontract"
//   -> "signed the contract"). Leading and trailing runs stay ' '. Either way the run is one
//   byte, so offsets are the same as for ' '.
// - Invalid UTF-8: each maximal ill-formed subpart becomes one U+FFFD.
// - The offset map anchors every length change; a span inside an expansion ("ﬁ" -> "fi") maps
//   to the whole source character.
// Create() takes ~0.1 s (ICU data load + one batched transliteration of ~3.5k characters).
//
// Thread safety: immutable after Create(); Normalize() may be called concurrently.
#ifndef AUTOSTAGE_COMMON_TEXT_NORMALIZE_H_
#define AUTOSTAGE_COMMON_TEXT_NORMALIZE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/text/offset_map.h"

namespace autostage::text {

struct NormalizedText {
  std::string text;
  OffsetMap to_input;  // normalized byte offsets -> input byte offsets
};

class Normalizer {
 public:
  // Fails (kInternal) only when ICU data is missing.
  static absl::StatusOr<std::unique_ptr<const Normalizer>> Create();
  virtual ~Normalizer() = default;

  // `input` must be valid UTF-8 (the decoder guarantees it); invalid bytes become U+FFFD.
  virtual NormalizedText Normalize(std::string_view input) const = 0;
  // The same into `*out` (overwritten), reusing its buffers' capacity: a caller normalizing
  // many texts in turn allocates only when one is longer than any before. The default calls
  // Normalize().
  virtual void NormalizeInto(std::string_view input, NormalizedText* out) const {
    *out = Normalize(input);
  }
  // Same transformation without the offset map (rule terms, lookups).
  virtual std::string NormalizeString(std::string_view input) const = 0;
};

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_NORMALIZE_H_
