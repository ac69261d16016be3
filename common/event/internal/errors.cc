#include "common/event/internal/errors.h"

#include <algorithm>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace autostage::event::internal {

std::string Path::ToString() const {
  std::vector<const Path*> segments;
  for (const Path* p = this; p != nullptr; p = p->parent) {
    if (p->index >= 0 || !p->name.empty()) segments.push_back(p);
  }
  std::string out;
  std::reverse(segments.begin(), segments.end());
  for (const Path* segment_ptr : segments) {
    const Path& segment = *segment_ptr;
    if (segment.index >= 0) {
      absl::StrAppend(&out, "[", segment.index, "]");
    } else {
      if (!out.empty()) out.push_back('.');
      out.append(segment.name.data(), segment.name.size());
    }
  }
  return out;
}

absl::Status DecodeError(std::string_view reason, std::string_view path, std::string_view detail) {
  absl::Status status(
      absl::StatusCode::kInvalidArgument,
      absl::StrCat(path.empty() ? "message" : absl::string_view(path.data(), path.size()), ": ",
                   absl::string_view(detail.data(), detail.size())));
  status.SetPayload(absl::string_view(kReasonPayloadUrl.data(), kReasonPayloadUrl.size()),
                    absl::Cord(absl::string_view(reason.data(), reason.size())));
  return status;
}

absl::Status DecodeError(std::string_view reason, const Path& path, std::string_view detail) {
  return DecodeError(reason, path.ToString(), detail);
}

std::string Quote(std::string_view value) {
  constexpr size_t kMax = 64;
  bool cut = false;
  if (value.size() > kMax) {
    size_t end = kMax;
    // Back up over continuation bytes so the cut does not split a character.
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    value = value.substr(0, end);
    cut = true;
  }
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(absl::string_view(value.data(), value.size())),
                      cut ? "...\"" : "\"");
}

}  // namespace autostage::event::internal
