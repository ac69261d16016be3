// UTF-8 checks for the decoder: a fast yes/no answer for the common (valid) case and a scalar
// search for the first invalid byte, used only to write a precise error.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_UTF8_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_UTF8_H_

#include <cstddef>
#include <string_view>

namespace autostage::event::internal {

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF). SIMD-accelerated.
bool IsValidUtf8(std::string_view text);

// Offset of the first byte of the first ill-formed sequence in `text`, or std::string_view::npos
// when `text` is well-formed. Scalar; call it after IsValidUtf8 said no.
size_t FirstInvalidUtf8(std::string_view text);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_UTF8_H_
