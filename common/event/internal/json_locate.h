// Where a byte of a JSON text lies: the field path of the string that holds it and its offset
// inside the decoded string. Only for error messages (after simdjson rejected the document as
// invalid UTF-8 it reports no position), so it is a small scalar scanner: tolerant of malformed
// input, iterative, and it gives up on nesting deeper than `max_depth`.
//
// Thread safety: pure function.
#ifndef AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_LOCATE_H_
#define AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_LOCATE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace autostage::event::internal {

struct JsonLocation {
  bool in_string = false;   // false: the byte is outside any string (or nesting too deep)
  bool in_key = false;      // the string is an object key; `path` names the object
  std::string path;         // "chat.messages[1].text"
  size_t value_offset = 0;  // bytes of the decoded string value before the byte
};

JsonLocation LocateJsonByte(std::string_view json, size_t offset, size_t max_depth);

}  // namespace autostage::event::internal

#endif  // AUTOSTAGE_COMMON_EVENT_INTERNAL_JSON_LOCATE_H_
