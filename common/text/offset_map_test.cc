#include "common/text/offset_map.h"

#include "gtest/gtest.h"

namespace autostage::text {
namespace {

TEST(OffsetMapTest, EmptyMapIsIdentity) {
  OffsetMap map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.ToSource(0), 0u);
  EXPECT_EQ(map.ToSource(17), 17u);
}

TEST(OffsetMapTest, SourcesNeverGoBackwards) {
  // Found by fuzz_html_to_text: a later derived offset reported with an earlier source.
  OffsetMap map;
  map.AddAnchor(0, 0);
  map.AddAnchor(10, 60);
  map.AddAnchor(12, 50);  // backwards: clamped to 60
  map.AddAnchor(12, 40);  // same derived offset, still not before the previous anchor
  map.SetEnd(20, 100);
  size_t previous = 0;
  for (size_t i = 0; i <= 20; ++i) {
    EXPECT_GE(map.ToSource(i), previous) << "at " << i;
    previous = map.ToSource(i);
  }
  EXPECT_EQ(map.ToSource(12), 60u);
}

TEST(OffsetMapTest, AnchorsShiftFollowingBytes) {
  // derived "p合同" from source "ＰＯ合同"-like: 3 source bytes became 1 at offset 0.
  OffsetMap map;
  map.AddAnchor(1, 3);
  map.SetEnd(7, 9);
  EXPECT_EQ(map.ToSource(0), 0u);
  EXPECT_EQ(map.ToSource(1), 3u);
  EXPECT_EQ(map.ToSource(4), 6u);
  EXPECT_EQ(map.ToSource(7), 9u);
  EXPECT_EQ(map.ToSource(100), 9u);
}

TEST(OffsetMapTest, IdentityAnchorsAreSkipped) {
  OffsetMap map;
  map.AddAnchor(2, 5);
  map.AddAnchor(4, 7);  // implied by the previous anchor
  EXPECT_EQ(map.anchor_count(), 1u);
  map.AddAnchor(4, 9);  // same derived offset: the later source wins
  EXPECT_EQ(map.anchor_count(), 2u);
  EXPECT_EQ(map.ToSource(4), 9u);
}

TEST(OffsetMapTest, ClampsInsideAnExpansion) {
  // One source character (3 bytes at 0) became 6 derived bytes; then identity.
  OffsetMap map;
  map.AddAnchor(0, 0);
  map.AddAnchor(6, 3);
  EXPECT_EQ(map.ToSource(2), 2u);
  EXPECT_EQ(map.ToSource(5), 3u);  // clamped at the next anchor's source
  EXPECT_EQ(map.ToSource(6), 3u);
  EXPECT_EQ(map.ToSource(8), 5u);
}

TEST(OffsetMapTest, ClampsAnExpansionAtTheStart) {
  // The first source character (3 bytes) became 33 derived bytes: no anchor before it.
  OffsetMap map;
  map.AddAnchor(33, 3);
  map.SetEnd(40, 10);
  EXPECT_EQ(map.ToSource(0), 0u);
  EXPECT_EQ(map.ToSource(2), 2u);
  EXPECT_EQ(map.ToSource(20), 3u);
  EXPECT_EQ(map.ToSource(33), 3u);
  EXPECT_EQ(map.ToSource(35), 5u);
}

TEST(OffsetMapTest, ComposesTwoMaps) {
  // inner: B -> C, B[0..) = C[4..) (a segment cut out at 4)
  OffsetMap inner;
  inner.ShiftSource(4);
  // outer: A -> B, A dropped 2 bytes at 3.
  OffsetMap outer;
  outer.AddAnchor(3, 5);
  const OffsetMap composed = outer.Then(inner);
  EXPECT_EQ(composed.ToSource(0), 4u);
  EXPECT_EQ(composed.ToSource(2), 6u);
  EXPECT_EQ(composed.ToSource(3), 9u);
  EXPECT_EQ(composed.ToSource(10), 16u);
}

TEST(OffsetMapTest, ComposeKeepsInnerAnchors) {
  OffsetMap inner;  // B -> C: C had 2 extra bytes at B offset 5
  inner.AddAnchor(5, 7);
  OffsetMap outer;  // A -> B identity with an explicit anchor
  outer.AddAnchor(0, 0);
  const OffsetMap composed = outer.Then(inner);
  EXPECT_EQ(composed.ToSource(4), 4u);
  EXPECT_EQ(composed.ToSource(5), 7u);
  EXPECT_EQ(composed.ToSource(9), 11u);
}

TEST(OffsetMapTest, ShiftSourceMovesEverything) {
  OffsetMap map;
  map.AddAnchor(2, 4);
  map.SetEnd(10, 12);
  map.ShiftSource(100);
  EXPECT_EQ(map.ToSource(0), 100u);
  EXPECT_EQ(map.ToSource(1), 101u);
  EXPECT_EQ(map.ToSource(2), 104u);
  EXPECT_EQ(map.ToSource(10), 112u);
}

}  // namespace
}  // namespace autostage::text
