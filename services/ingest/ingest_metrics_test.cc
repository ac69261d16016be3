// IngestMetrics::StrippedParts: one series per (source, format), counting every dropped part.
#include "services/ingest/ingest_metrics.h"

#include <prometheus/registry.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/testing/metric_series.h"
#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

TEST(IngestMetricsTest, StrippedPartsCountsEachDroppedPartBySourceAndFormat) {
  prometheus::Registry registry;
  IngestMetrics metrics(registry);
  metrics.StrippedParts("email", {"quote_gt", "signature", "quote_gt"});
  metrics.StrippedParts("chat", {"auto_reply"});
  metrics.StrippedParts("email", {"signature"});
  metrics.StrippedParts("call", {});
  const std::map<std::string, double> expected = {
      {"email/quote_gt", 2}, {"email/signature", 2}, {"chat/auto_reply", 1}};
  EXPECT_EQ(testing::SeriesByLabels(registry, "autostage_ingest_stripped_parts_total",
                                    {"source", "format"}),
            expected);
}

}  // namespace
}  // namespace autostage::ingest
