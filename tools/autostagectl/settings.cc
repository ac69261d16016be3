#include "tools/autostagectl/settings.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config/config_reader.h"
#include "common/status/status_macros.h"

namespace autostage::ctl {
namespace {

std::string ExpandHome(const std::string& path, const std::string& home) {
  if (absl::StartsWith(path, "~/") && !home.empty()) return home + path.substr(1);
  return path;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<Settings> ResolveSettings(const SettingsInputs& inputs) {
  Settings settings;
  std::string path;
  bool explicit_config = false;
  if (inputs.config_path) {
    path = ExpandHome(*inputs.config_path, inputs.home);
    explicit_config = true;
  } else if (!inputs.home.empty()) {
    path = inputs.home + "/.config/autostage/ctl.yaml";
  }
  std::string file_token;
  std::string file_token_file;
  if (!path.empty() && (explicit_config || std::ifstream(path).good())) {
    ASSIGN_OR_RETURN(config::ConfigReader root, config::ConfigReader::FromFile(path));
    root.Optional("review", &settings.review)
        .Optional("token", &file_token)
        .Optional("token_file", &file_token_file)
        .Optional("tls_ca", &settings.tls_ca)
        .Optional("kafka_bootstrap", &settings.kafka)
        .Optional("pipelines", &settings.pipelines);
    if (!file_token.empty() && !file_token_file.empty()) {
      root.Fail("token_file", "give token or token_file, not both");
    }
    RETURN_IF_ERROR(root.Finish());
    settings.config_file = path;
    settings.tls_ca = ExpandHome(settings.tls_ca, inputs.home);
    settings.pipelines = ExpandHome(settings.pipelines, inputs.home);
  }
  if (inputs.review) settings.review = *inputs.review;
  if (inputs.tls_ca) settings.tls_ca = *inputs.tls_ca;
  if (inputs.kafka) settings.kafka = *inputs.kafka;
  if (inputs.pipelines) settings.pipelines = *inputs.pipelines;

  if (inputs.token && !inputs.token->empty()) {
    settings.token = *inputs.token;
    settings.token_origin = "--token";
  } else if (inputs.env_token && !inputs.env_token->empty()) {
    settings.token = *inputs.env_token;
    settings.token_origin = "AUTOSTAGE_TOKEN";
  } else if (!file_token.empty()) {
    settings.token = file_token;
    settings.token_origin = path;
  } else if (!file_token_file.empty()) {
    const std::string token_path = ExpandHome(file_token_file, inputs.home);
    ASSIGN_OR_RETURN(std::string token, ReadFile(token_path));
    settings.token = std::string(absl::StripAsciiWhitespace(token));
    settings.token_origin = token_path;
  }
  return settings;
}

absl::StatusOr<StageNames> StageNames::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<StageNames> names = Parse(text);
  if (!names.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", names.status().message()));
  }
  return names;
}

absl::StatusOr<StageNames> StageNames::Parse(absl::string_view yaml) {
  StageNames names;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    const YAML::Node pipelines = root["pipelines"];
    if (!pipelines.IsSequence()) {
      return absl::InvalidArgumentError("expected a `pipelines` list");
    }
    for (const YAML::Node& pipeline : pipelines) {
      const std::string id = pipeline["id"].as<std::string>("");
      if (id.empty()) return absl::InvalidArgumentError("a pipeline without id");
      for (const YAML::Node& stage : pipeline["stages"]) {
        const std::string stage_id = stage["id"].as<std::string>("");
        if (stage_id.empty()) {
          return absl::InvalidArgumentError(absl::StrCat("pipeline ", id, ": a stage without id"));
        }
        names.Set(id, stage_id,
                  {.en = stage["en"].as<std::string>(""), .zh = stage["zh"].as<std::string>("")});
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return names;
}

void StageNames::Set(const std::string& pipeline, const std::string& stage, Names names) {
  names_[{pipeline, stage}] = std::move(names);
}

std::string StageNames::Display(const std::string& pipeline, const std::string& stage) const {
  auto it = names_.find({pipeline, stage});
  if (it == names_.end()) return stage;
  const Names& n = it->second;
  if (n.en.empty() && n.zh.empty()) return stage;
  if (n.en.empty()) return n.zh;
  if (n.zh.empty()) return n.en;
  return absl::StrCat(n.en, " ", n.zh);
}

}  // namespace autostage::ctl
