// OffsetMap: maps byte offsets of a derived text (visible text of HTML, a normalized string)
// back to byte offsets of the text it was derived from, so evidence can point at the exact
// span of the original field.
//
// Representation: sorted anchors (derived_offset, source_offset); between two anchors the
// mapping is the identity shifted by the anchor, clamped so it never passes the next anchor's
// source offset. A run of copied bytes costs one anchor; each replaced character one anchor.
//
// Thread safety: immutable after construction; concurrent reads are safe.
#ifndef AUTOSTAGE_COMMON_TEXT_OFFSET_MAP_H_
#define AUTOSTAGE_COMMON_TEXT_OFFSET_MAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace autostage::text {

class OffsetMap {
 public:
  // The empty map is the identity.
  OffsetMap() = default;

  // Derived byte `derived` comes from source byte `source` (and following bytes map 1:1 until
  // the next anchor). Anchors must be added in non-decreasing derived order.
  void AddAnchor(size_t derived, size_t source);

  // Records the end: derived length maps to source length. Optional; improves clamping.
  void SetEnd(size_t derived_length, size_t source_length);

  // Source offset of a derived offset (for a range end, pass the end offset).
  size_t ToSource(size_t derived) const;

  // Composition: `outer` maps A -> B and `this` maps B -> C; the result maps A -> C.
  OffsetMap Then(const OffsetMap& to_source) const;

  // Shifts every source offset by `delta` (a segment cut out of a larger field).
  void ShiftSource(size_t delta);

  // Back to the identity, keeping the capacity (for reuse).
  void Clear() {
    anchors_.clear();
    has_end_ = false;
    end_derived_ = 0;
    end_source_ = 0;
  }

  bool empty() const { return anchors_.empty(); }
  size_t anchor_count() const { return anchors_.size(); }

 private:
  struct Anchor {
    uint32_t derived;
    uint32_t source;
  };
  std::vector<Anchor> anchors_;
  bool has_end_ = false;
  size_t end_derived_ = 0;
  size_t end_source_ = 0;
};

}  // namespace autostage::text

#endif  // AUTOSTAGE_COMMON_TEXT_OFFSET_MAP_H_
