// Building blocks for decode errors: a field path that costs nothing until an error is
// written, and the one constructor of every decode error (message "<path>: <detail>" plus the
// machine-readable reason as a Status payload, read back by ReasonOf).
//
// Thread safety: pure functions and stack values.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_ERRORS_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_ERRORS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace autostage::event::internal {

// Type URL of the Status payload that carries the reason code.
inline constexpr std::string_view kReasonPayloadUrl = "type.autostage.dev/autostage.event.reason";

// One segment of a field path, linked to its parent on the stack: `Path messages{&chat,
// "messages"}; Path third{&messages, 2};` renders "chat.messages[2]". A path never outlives the
// frames it points into.
struct Path {
  const Path* parent = nullptr;
  std::string_view name;  // empty for an array index
  int64_t index = -1;     // >= 0 for an array element

  Path() = default;
  Path(const Path* parent_path, std::string_view field) : parent(parent_path), name(field) {}
  Path(const Path* parent_path, int64_t element) : parent(parent_path), index(element) {}

  // "" for the root; otherwise "a.b[2].c".
  std::string ToString() const;
};

// kInvalidArgument "<path>: <detail>" carrying `reason` (one of the codes listed in decode.h).
// An empty path renders as "message".
absl::Status DecodeError(std::string_view reason, const Path& path, std::string_view detail);
absl::Status DecodeError(std::string_view reason, std::string_view path, std::string_view detail);

// A value quoted for an error message: at most 64 bytes (cut on a UTF-8 boundary), C-escaped.
std::string Quote(std::string_view value);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_ERRORS_H_
