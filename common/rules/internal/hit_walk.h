// Walks over a segment's hits (sorted by pattern, then start) restricted to a sorted set of
// pattern ids: the matcher's inner loop for a rule's anchors, near terms and excluded terms.
//
// Thread safety: pure functions.
#ifndef AUTOSTAGE_COMMON_RULES_INTERNAL_HIT_WALK_H_
#define AUTOSTAGE_COMMON_RULES_INTERNAL_HIT_WALK_H_

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/rules/matcher.h"

namespace autostage::rules::internal {

// Hits of `pattern` in `hits` (sorted by pattern, start).
inline std::pair<std::vector<Hit>::const_iterator, std::vector<Hit>::const_iterator> HitsOf(
    const std::vector<Hit>& hits, uint32_t pattern) {
  auto lo = std::lower_bound(hits.begin(), hits.end(), pattern,
                             [](const Hit& h, uint32_t p) { return h.pattern < p; });
  // A pattern has few hits in a segment: walk them rather than search a second time.
  auto hi = lo;
  while (hi != hits.end() && hi->pattern == pattern) ++hi;
  return {lo, hi};
}

// How ForEachHitOf walks; kAuto picks by size, the others exist for the test that checks the
// three visit the same hits in the same order.
enum class HitWalk { kAuto, kPerTerm, kPerHit, kMerge };

// Calls `f(hit)` for every hit of `hits` (sorted by pattern, start) whose pattern is in `terms`
// (sorted, unique), in the order of `hits`, until `f` returns true; returns whether it did.
// kAuto picks the cheapest walk by size: a search of the hits per term when the terms are few
// (a 10,000-rule pack has one anchor per rule), a search of the terms per hit when the hits are
// few, else one merge of the two sorted lists (a lexicon of 20 terms against a segment's 50
// hits, where a search per term costs 20 binary searches).
template <typename F>
bool ForEachHitOf(const std::vector<Hit>& hits, const std::vector<uint32_t>& terms, F&& f,
                  HitWalk walk = HitWalk::kAuto) {
  if (terms.empty() || hits.empty()) return false;
  if (walk == HitWalk::kAuto) {
    walk = terms.size() * 8 <= hits.size()   ? HitWalk::kPerTerm
           : hits.size() * 8 <= terms.size() ? HitWalk::kPerHit
                                             : HitWalk::kMerge;
  }
  if (walk == HitWalk::kPerTerm) {
    for (uint32_t p : terms) {
      auto [lo, hi] = HitsOf(hits, p);
      for (auto it = lo; it != hi; ++it) {
        if (f(*it)) return true;
      }
    }
    return false;
  }
  if (walk == HitWalk::kPerHit) {
    for (const Hit& h : hits) {
      if (std::binary_search(terms.begin(), terms.end(), h.pattern) && f(h)) return true;
    }
    return false;
  }
  auto t = terms.begin();
  for (const Hit& h : hits) {
    while (*t < h.pattern) {
      if (++t == terms.end()) return false;
    }
    if (*t == h.pattern && f(h)) return true;
  }
  return false;
}

}  // namespace autostage::rules::internal

#endif  // AUTOSTAGE_COMMON_RULES_INTERNAL_HIT_WALK_H_
