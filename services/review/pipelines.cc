#include "services/review/pipelines.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace autostage::review {

absl::StatusOr<Pipelines> Pipelines::Parse(absl::string_view yaml) {
  Pipelines out;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node list = root ? root["pipelines"] : YAML::Node();
    if (!list || !list.IsSequence()) {
      return absl::InvalidArgumentError("pipelines file: expected a 'pipelines' list");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const YAML::Node p = list[i];
      const std::string where = absl::StrCat("pipelines[", i, "]: ");
      if (!p.IsMap() || !p["id"] || !p["stages"] || !p["stages"].IsSequence()) {
        return absl::InvalidArgumentError(where + "needs an id and a stages list");
      }
      const std::string id = p["id"].as<std::string>();
      std::vector<std::string> stages;
      std::set<std::string> seen;
      for (const YAML::Node& s : p["stages"]) {
        const std::string stage =
            s.IsMap() ? (s["id"] ? s["id"].as<std::string>() : "") : s.as<std::string>();
        if (stage.empty()) return absl::InvalidArgumentError(where + "a stage without id");
        if (!seen.insert(stage).second) {
          return absl::InvalidArgumentError(absl::StrCat(where, "duplicate stage ", stage));
        }
        stages.push_back(stage);
      }
      if (stages.empty()) return absl::InvalidArgumentError(where + "no stages");
      if (out.Find(id) != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, "duplicate pipeline ", id));
      }
      out.Set(id, std::move(stages));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("pipelines file: ", e.what()));
  }
  return out;
}

absl::StatusOr<Pipelines> Pipelines::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read pipelines file ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Pipelines> parsed = Parse(text.str());
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace autostage::review
