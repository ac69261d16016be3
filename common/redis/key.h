// Key(): builds Redis keys with the opportunity (or other owner) id as a hash tag, so that all
// keys of one owner map to one Redis Cluster slot and a Lua script may touch them together:
//
//   Key("proposal", opp_id)               → "autostage:{opp-1}:proposal"
//   Key("proposal", opp_id, "CLOSED_WON")  → "autostage:{opp-1}:proposal:CLOSED_WON"
//
// The id is used verbatim. An id containing '}' still yields unique keys (and the same slot for
// the same id), only a coarser slot spread; an empty id is refused by callers' validation.
#ifndef AUTOSTAGE_COMMON_REDIS_KEY_H_
#define AUTOSTAGE_COMMON_REDIS_KEY_H_

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace autostage::redis {

inline constexpr absl::string_view kKeyPrefix = "autostage";

template <typename... Parts>
std::string Key(absl::string_view kind, absl::string_view tag, const Parts&... parts) {
  std::string key = absl::StrCat(kKeyPrefix, ":{", tag, "}:", kind);
  (absl::StrAppend(&key, ":", parts), ...);
  return key;
}

}  // namespace autostage::redis

#endif  // AUTOSTAGE_COMMON_REDIS_KEY_H_
