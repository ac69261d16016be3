// Thin RAII layer over Vectorscan (<hs/hs.h>): owned databases and scratch, and a one-regex
// compile check used by Lint().
//
// Thread safety: a database is immutable and shareable; a scratch belongs to one thread.
#ifndef AUTOSTAGE_COMMON_RULES_VECTORSCAN_H_
#define AUTOSTAGE_COMMON_RULES_VECTORSCAN_H_

#include <hs/hs.h>

#include <optional>
#include <string>

#include "common/handle/handle.h"

namespace autostage::rules {

using HsDatabase = Handle<hs_database_t, &hs_free_database>;
using HsScratch = Handle<hs_scratch_t, &hs_free_scratch>;
using HsCompileError = Handle<hs_compile_error_t, &hs_free_compile_error>;

// Flags every user regex is compiled with (rule `regex:` entries run on normalized text).
inline constexpr unsigned kRegexFlags =
    HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_CASELESS | HS_FLAG_SOM_LEFTMOST;

// Compiles `expression` alone with `flags`; returns the compiler's message when refused.
std::optional<std::string> CheckExpression(const std::string& expression, unsigned flags);

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_VECTORSCAN_H_
