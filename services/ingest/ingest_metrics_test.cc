// IngestMetrics::StrippedParts: one series per (source, format), counting every dropped part.
#include "services/ingest/ingest_metrics.h"

#include <prometheus/registry.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace autostage::ingest {
namespace {

std::map<std::string, double> StrippedSeries(prometheus::Registry& registry) {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "autostage_ingest_stripped_parts_total") continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::string source;
      std::string format;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "source") source = label.value;
        if (label.name == "format") format = label.value;
      }
      out[source + "/" + format] = metric.counter.value;
    }
  }
  return out;
}

TEST(IngestMetricsTest, StrippedPartsCountsEachDroppedPartBySourceAndFormat) {
  prometheus::Registry registry;
  IngestMetrics metrics(registry);
  metrics.StrippedParts("email", {"quote_gt", "signature", "quote_gt"});
  metrics.StrippedParts("chat", {"auto_reply"});
  metrics.StrippedParts("email", {"signature"});
  metrics.StrippedParts("call", {});
  const std::map<std::string, double> expected = {
      {"email/quote_gt", 2}, {"email/signature", 2}, {"chat/auto_reply", 1}};
  EXPECT_EQ(StrippedSeries(registry), expected);
}

}  // namespace
}  // namespace autostage::ingest
