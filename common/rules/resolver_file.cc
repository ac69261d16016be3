// SnapshotResolver::FromFile: kept apart so the resolver links without the event decoder.
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/event/decode.h"
#include "common/rules/resolver.h"

namespace autostage::rules {

absl::StatusOr<SnapshotResolver> SnapshotResolver::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::vector<v1::Opportunity> snapshots;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto o = event::DecodeOpportunity(line, event::Encoding::kJson);
    if (!o.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", o.status().message()));
    }
    snapshots.push_back(*std::move(o));
  }
  return SnapshotResolver(std::move(snapshots));
}

}  // namespace autostage::rules
