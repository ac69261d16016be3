#include "common/event/internal/json_locate.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"

namespace autostage::event::internal {
namespace {

struct Frame {
  bool array = false;
  bool expect_key = true;  // objects: the next string is a key
  size_t index = 0;        // arrays: element index
  std::string_view key;    // objects: the current key, raw (escapes not decoded)
};

std::string RenderPath(const std::vector<Frame>& frames, bool include_last_key) {
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& frame = frames[i];
    const bool last = i + 1 == frames.size();
    if (frame.array) {
      absl::StrAppend(&out, "[", frame.index, "]");
    } else if (!last || include_last_key) {
      if (!out.empty()) out.push_back('.');
      out.append(frame.key.data(), frame.key.size());
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads \uXXXX at json[pos] (pos at the backslash); -1 when malformed.
int64_t ReadUnicodeEscape(std::string_view json, size_t pos) {
  if (json.size() - pos < 6 || json[pos] != '\\' || json[pos + 1] != 'u') return -1;
  int64_t value = 0;
  for (size_t k = 2; k < 6; ++k) {
    const int digit = HexValue(json[pos + k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

JsonLocation LocateJsonByte(std::string_view json, size_t offset, size_t max_depth) {
  JsonLocation location;
  std::vector<Frame> frames;
  size_t i = 0;
  while (i < json.size() && i <= offset) {
    const char c = json[i];
    switch (c) {
      case '{':
      case '[':
        if (frames.size() >= max_depth) return location;
        frames.push_back(Frame{.array = c == '['});
        ++i;
        break;
      case '}':
      case ']':
        if (!frames.empty()) frames.pop_back();
        ++i;
        break;
      case ',':
        if (!frames.empty()) {
          if (frames.back().array) {
            ++frames.back().index;
          } else {
            frames.back().expect_key = true;
          }
        }
        ++i;
        break;
      case '"': {
        const bool is_key = !frames.empty() && !frames.back().array && frames.back().expect_key;
        const size_t begin = i + 1;
        size_t decoded = 0;
        size_t j = begin;
        while (j < json.size() && json[j] != '"') {
          if (j == offset) break;
          if (json[j] == '\\' && j + 1 < json.size()) {
            const int64_t unit = ReadUnicodeEscape(json, j);
            if (unit < 0) {
              decoded += 1;
              j += 2;
            } else if (unit >= 0xD800 && unit <= 0xDBFF &&
                       ReadUnicodeEscape(json, j + 6) >= 0xDC00 &&
                       ReadUnicodeEscape(json, j + 6) <= 0xDFFF) {
              decoded += 4;
              j += 12;
            } else {
              decoded += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
              j += 6;
            }
          } else {
            ++decoded;
            ++j;
          }
        }
        if (j == offset || (j > offset && offset >= begin)) {
          location.in_string = true;
          location.in_key = is_key;
          location.value_offset = decoded;
          if (is_key) {
            location.path = RenderPath(frames, /*include_last_key=*/false);
          } else {
            location.path = RenderPath(frames, /*include_last_key=*/true);
          }
          return location;
        }
        if (is_key) {
          frames.back().key = json.substr(begin, j - begin);
          frames.back().expect_key = false;
        }
        i = j + 1;
        break;
      }
      default:
        ++i;
        break;
    }
  }
  return location;
}

}  // namespace autostage::event::internal
