// Where autostagectl connects and with which token: flags, then the environment, then the
// config file (YAML, read with common/config ConfigReader: unknown keys are errors).
//
//   # ~/.config/autostage/ctl.yaml
//   review: review.example.internal:7070
//   token_file: ~/.config/autostage/token     # or `token: ...` (keep the file private)
//   tls_ca: /etc/autostage/ca.pem             # TLS to review when set; plaintext otherwise
//   kafka_bootstrap: kafka-1:9092,kafka-2:9092
//   pipelines: /etc/autostage/rules/pipelines.yaml   # stage display names (en, zh)
//
// Token precedence: --token, then $AUTOSTAGE_TOKEN, then token / token_file of the file.
// The default config path is missing → no file, no error; an explicit --config that is
// missing → NotFound.
//
// Also: StageNames, the stage display names of pipelines.yaml.
//
// Thread safety: plain values and pure functions.
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_SETTINGS_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_SETTINGS_H_

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autostage::ctl {

inline constexpr char kDefaultReview[] = "127.0.0.1:7070";
inline constexpr char kDefaultKafka[] = "127.0.0.1:9092";

// What the user gave; nullopt = not given. main.cc fills this from flags and the environment.
struct SettingsInputs {
  std::optional<std::string> config_path;  // --config
  std::optional<std::string> review;       // --review
  std::optional<std::string> token;        // --token
  std::optional<std::string> tls_ca;       // --tls-ca
  std::optional<std::string> kafka;        // --kafka
  std::optional<std::string> pipelines;    // --pipelines
  std::optional<std::string> env_token;    // $AUTOSTAGE_TOKEN
  std::string home;                        // $HOME (for the default config path and "~/")
};

struct Settings {
  std::string review = kDefaultReview;
  std::string token;         // empty: none found anywhere
  std::string token_origin;  // "--token", "AUTOSTAGE_TOKEN", or the config file path
  std::string tls_ca;        // PEM file path; empty = plaintext
  std::string kafka = kDefaultKafka;
  std::string pipelines;    // empty: show stage ids only
  std::string config_file;  // the file read, empty if none
};

// kInvalidArgument (file:line: key ...) for a malformed file or unknown key, kNotFound for an
// explicit --config (or token_file) that cannot be read.
absl::StatusOr<Settings> ResolveSettings(const SettingsInputs& inputs);

// Display names of stages, keyed by (pipeline, stage id).
class StageNames {
 public:
  struct Names {
    std::string en;
    std::string zh;
  };
  // Reads pipelines.yaml (`pipelines: [{id, stages: [{id, zh, en}]}]`; other keys ignored).
  // kNotFound when unreadable, kInvalidArgument when malformed.
  static absl::StatusOr<StageNames> Load(const std::string& path);
  static absl::StatusOr<StageNames> Parse(absl::string_view yaml);

  void Set(const std::string& pipeline, const std::string& stage, Names names);
  // "Proposal 方案制定" when known (either name may be missing), else the id itself.
  std::string Display(const std::string& pipeline, const std::string& stage) const;

 private:
  std::map<std::pair<std::string, std::string>, Names> names_;
};

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_SETTINGS_H_
