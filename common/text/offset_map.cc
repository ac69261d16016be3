#include "common/text/offset_map.h"

#include <algorithm>

namespace autostage::text {

void OffsetMap::AddAnchor(size_t derived, size_t source) {
  if (!anchors_.empty()) {
    // Sources never go backwards: a caller that reports an earlier source for a later derived
    // offset (e.g. a pending space in HTML whose tag run ended later) is clamped, so ToSource
    // stays monotonic and evidence ranges stay well-formed.
    const size_t floor = anchors_.back().derived == derived
                             ? (anchors_.size() >= 2 ? anchors_[anchors_.size() - 2].source : 0)
                             : anchors_.back().source;
    source = std::max(source, floor);
    const Anchor& last = anchors_.back();
    // Skip anchors the identity run already implies.
    if (derived >= last.derived && source >= last.source &&
        derived - last.derived == source - last.source) {
      return;
    }
    if (derived == last.derived) {
      anchors_.back().source = static_cast<uint32_t>(source);
      return;
    }
  }
  anchors_.push_back({static_cast<uint32_t>(derived), static_cast<uint32_t>(source)});
}

void OffsetMap::SetEnd(size_t derived_length, size_t source_length) {
  has_end_ = true;
  end_derived_ = derived_length;
  end_source_ = source_length;
}

size_t OffsetMap::ToSource(size_t derived) const {
  if (has_end_ && derived >= end_derived_) return end_source_;
  if (anchors_.empty()) return derived;
  auto it = std::upper_bound(anchors_.begin(), anchors_.end(), derived,
                             [](size_t d, const Anchor& a) { return d < a.derived; });
  if (it == anchors_.begin()) {
    // Before the first anchor: identity, clamped like any run (an expansion at the start).
    size_t mapped = std::min<size_t>(derived, it->source);
    if (has_end_) mapped = std::min(mapped, end_source_);
    return mapped;
  }
  const Anchor& a = *(it - 1);
  size_t mapped = a.source + (derived - a.derived);
  if (it != anchors_.end()) mapped = std::min<size_t>(mapped, it->source);
  if (has_end_) mapped = std::min(mapped, end_source_);
  return mapped;
}

OffsetMap OffsetMap::Then(const OffsetMap& to_source) const {
  OffsetMap out;
  if (anchors_.empty()) {
    out = to_source;
    return out;
  }
  // Before its first anchor this map is the identity: make that run explicit so the inner
  // map's anchors inside it survive composition too.
  std::vector<Anchor> outer;
  outer.reserve(anchors_.size() + 1);
  if (anchors_.front().derived != 0) outer.push_back({0, 0});
  outer.insert(outer.end(), anchors_.begin(), anchors_.end());
  for (const Anchor& a : outer)
    out.anchors_.push_back({a.derived, static_cast<uint32_t>(to_source.ToSource(a.source))});
  // Anchors of the inner map inside each run must also survive composition.
  for (const auto& b : to_source.anchors_) {
    // Find derived offsets of this map whose source is b.derived: only exact identity runs.
    auto it = std::upper_bound(outer.begin(), outer.end(), b.derived,
                               [](size_t s, const Anchor& a) { return s < a.source; });
    if (it == outer.begin()) continue;
    const Anchor& a = *(it - 1);
    size_t derived = a.derived + (b.derived - a.source);
    if (it != outer.end() && derived >= it->derived) continue;
    out.anchors_.push_back({static_cast<uint32_t>(derived), b.source});
  }
  std::sort(out.anchors_.begin(), out.anchors_.end(),
            [](const Anchor& x, const Anchor& y) { return x.derived < y.derived; });
  out.anchors_.erase(
      std::unique(out.anchors_.begin(), out.anchors_.end(),
                  [](const Anchor& x, const Anchor& y) { return x.derived == y.derived; }),
      out.anchors_.end());
  if (has_end_) out.SetEnd(end_derived_, to_source.ToSource(end_source_));
  return out;
}

void OffsetMap::ShiftSource(size_t delta) {
  if (anchors_.empty() || anchors_.front().derived != 0) {
    anchors_.insert(anchors_.begin(), Anchor{0, 0});
  }
  for (Anchor& a : anchors_) a.source += static_cast<uint32_t>(delta);
  if (has_end_) end_source_ += delta;
}

}  // namespace autostage::text
