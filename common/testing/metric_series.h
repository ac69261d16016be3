// Test-only: reads the series of one metric family out of a prometheus::Registry, for tests
// that assert what a component counted. Header-only so that a test needs nothing beyond the
// prometheus-cpp::core it already links for its registry.
//
//   // {"email/signature" → 2, "chat/auto_reply" → 1}
//   SeriesByLabels(registry, "autostage_ingest_stripped_parts_total", {"source", "format"});
//
// Thread safety: Registry::Collect is thread-safe; these functions keep no state.
#ifndef AUTOSTAGE_COMMON_TESTING_METRIC_SERIES_H_
#define AUTOSTAGE_COMMON_TESTING_METRIC_SERIES_H_

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace autostage::testing {

struct MetricSeries {
  std::map<std::string, std::string> labels;
  // A counter's or gauge's value, a histogram's sample count (0 for other types).
  double value = 0;
};

// Every series of the family `name` (none when the family is absent).
inline std::vector<MetricSeries> CollectSeries(prometheus::Registry& registry,
                                               const std::string& name) {
  std::vector<MetricSeries> out;
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      MetricSeries series;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        series.labels[label.name] = label.value;
      }
      switch (family.type) {
        case prometheus::MetricType::Counter:
          series.value = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          series.value = metric.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          series.value = static_cast<double>(metric.histogram.sample_count);
          break;
        default:
          break;
      }
      out.push_back(std::move(series));
    }
  }
  return out;
}

// The series of the family `name` keyed by the values of `label_names` joined with '/' (a
// label the series lacks counts as empty).
inline std::map<std::string, double> SeriesByLabels(prometheus::Registry& registry,
                                                    const std::string& name,
                                                    const std::vector<std::string>& label_names) {
  std::map<std::string, double> out;
  for (MetricSeries& series : CollectSeries(registry, name)) {
    std::string key;
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) key += '/';
      key += series.labels[label_names[i]];
    }
    out[key] = series.value;
  }
  return out;
}

}  // namespace autostage::testing

#endif  // AUTOSTAGE_COMMON_TESTING_METRIC_SERIES_H_
