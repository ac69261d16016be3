// Pipelines: the ordered stage ids of each pipeline, which review needs to tell "forward" from
// "already reached" (stale) and to find the proposals a confirmation leaves behind.
//
// Loaded from the same pipelines.yaml the rule engine reads (deploy/rules/pipelines.yaml):
// only `pipelines[].id` and `pipelines[].stages[].id` are used here; the other keys belong to
// the rule configuration's schema and are left to its validator.
//
// Thread safety: immutable after loading.
#ifndef AUTOSTAGE_SERVICES_REVIEW_PIPELINES_H_
#define AUTOSTAGE_SERVICES_REVIEW_PIPELINES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autostage::review {

class Pipelines {
 public:
  Pipelines() = default;
  // Parses pipelines.yaml text. InvalidArgument for a missing `pipelines` list, a pipeline
  // without id or stages, or a duplicate pipeline or stage id.
  static absl::StatusOr<Pipelines> Parse(absl::string_view yaml);
  static absl::StatusOr<Pipelines> Load(const std::string& path);

  // Adds (or replaces) one pipeline; for tests and callers building pipelines in code.
  void Set(std::string id, std::vector<std::string> stages) {
    stages_[std::move(id)] = std::move(stages);
  }
  // Stage ids in order, or nullptr for an unknown pipeline.
  const std::vector<std::string>* Find(const std::string& id) const {
    auto it = stages_.find(id);
    return it == stages_.end() ? nullptr : &it->second;
  }
  size_t size() const { return stages_.size(); }
  // Every pipeline id → its stage ids in order (review's decide script receives them all).
  const std::map<std::string, std::vector<std::string>>& all() const { return stages_; }

 private:
  std::map<std::string, std::vector<std::string>> stages_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_PIPELINES_H_
