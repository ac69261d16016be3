#include "common/event/internal/wire_check.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/event/internal/errors.h"
#include "common/event/internal/utf8.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace autostage::event::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;

// Our schema nests at most four messages deep; anything deeper cannot be one of our fields.
constexpr int kMaxNesting = 16;

absl::Status Malformed(const Path& path) {
  return DecodeError("malformed_protobuf", path, "malformed protobuf wire data");
}

// Walks the message occupying bytes[begin, end) of the whole input `bytes`.
absl::Status CheckMessage(std::string_view bytes, size_t begin, size_t end,
                          const Descriptor& descriptor, const Path& path, int depth,
                          bool* has_unknown_fields) {
  if (depth > kMaxNesting) return Malformed(path);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  google::protobuf::io::CodedInputStream input(data + begin, static_cast<int>(end - begin));
  input.SetRecursionLimit(kMaxNesting);
  // Occurrences seen so far of each field, so repeated elements get their index in the path.
  std::vector<int64_t> seen(static_cast<size_t>(descriptor.field_count()), 0);
  while (true) {
    const uint32_t tag = input.ReadTag();
    if (tag == 0) break;
    const FieldDescriptor* field = descriptor.FindFieldByNumber(static_cast<int>(tag >> 3));
    const bool length_delimited =
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    const bool interesting = field != nullptr && length_delimited &&
                             (field->type() == FieldDescriptor::TYPE_STRING ||
                              field->type() == FieldDescriptor::TYPE_MESSAGE);
    if (!interesting) {
      if (field == nullptr || WireFormatLite::GetTagWireType(tag) !=
                                  WireFormatLite::WireTypeForFieldType(
                                      static_cast<WireFormatLite::FieldType>(field->type()))) {
        // Not in the schema, or a wire type the parser will not accept for the field (packed
        // repeated scalars are length-delimited too: our schema has none).
        *has_unknown_fields = true;
      }
      if (!WireFormatLite::SkipField(&input, tag)) return Malformed(path);
      continue;
    }
    uint32_t length = 0;
    if (!input.ReadVarint32(&length)) return Malformed(path);
    const size_t start = begin + static_cast<size_t>(input.CurrentPosition());
    if (length > end - start) return Malformed(path);
    const int64_t index = seen[static_cast<size_t>(field->index())]++;
    const Path named(&path, field->name());
    const Path element(&named, index);
    const Path& field_path = field->is_repeated() ? element : named;
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      const std::string_view value = bytes.substr(start, length);
      if (!IsValidUtf8(value)) {
        const size_t at = FirstInvalidUtf8(value);
        return DecodeError(
            "invalid_utf8", field_path,
            absl::StrCat("invalid UTF-8 at byte ", at, " (message byte ", start + at, ")"));
      }
    } else {
      absl::Status nested = CheckMessage(bytes, start, start + length, *field->message_type(),
                                         field_path, depth + 1, has_unknown_fields);
      if (!nested.ok()) return nested;
    }
    if (!input.Skip(static_cast<int>(length))) return Malformed(path);
  }
  // ReadTag() returns 0 both at the end and on a bad varint or the reserved tag 0.
  if (static_cast<size_t>(input.CurrentPosition()) != end - begin) return Malformed(path);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckProtobufStrings(std::string_view bytes, const Descriptor& descriptor,
                                  bool* has_unknown_fields) {
  *has_unknown_fields = false;
  return CheckMessage(bytes, 0, bytes.size(), descriptor, Path(), 0, has_unknown_fields);
}

}  // namespace autostage::event::internal
