// ConfigReader: reads a YAML file into a typed struct, strictly.
//
//   ASSIGN_OR_RETURN(ConfigReader root, ConfigReader::FromFile(path));
//   RedisOptions redis;
//   ConfigReader r = root.Child("redis");
//   r.Required("host", &redis.host).Optional("port", &redis.port)
//    .Optional("command_timeout", &redis.command_timeout);     // "500ms"
//   for (ConfigReader item : root.Items("topics")) item.Required("name", &name);
//   RETURN_IF_ERROR(root.Finish());
//
// Getters never throw and never stop early: each records its error (missing key, wrong type,
// bad unit) and the reader carries on, so Finish() reports every problem at once. Finish() also
// fails on every key that no getter read: a misspelt key is an error, not a silent default.
// Messages carry file:line and the key path:
//   "ingest.yaml:12: redis.port: expected an integer, got \"abc\""
//   "ingest.yaml:14: redis.pasword: unknown key"
//
// Supported field types: std::string, bool, int, int64_t, uint32_t, uint64_t, double,
// absl::Duration ("500ms", "30s", "14d"), ByteSize ("1MiB"), std::vector<std::string>.
//
// Errors (Finish, FromFile, FromString): kInvalidArgument for malformed YAML or any recorded
// problem, kNotFound when the file cannot be read.
//
// Thread safety: none; a reader and the readers derived from it (Child, Items) share state.
// Use them from one thread, during startup.
#ifndef AUTOSTAGE_COMMON_CONFIG_CONFIG_READER_H_
#define AUTOSTAGE_COMMON_CONFIG_CONFIG_READER_H_

#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/units.h"

namespace autostage::config {

class ConfigReader {
 public:
  static absl::StatusOr<ConfigReader> FromFile(const std::string& path);
  // `name` stands in for the file name in messages.
  static absl::StatusOr<ConfigReader> FromString(absl::string_view yaml,
                                                 absl::string_view name = "<config>");

  // Reads `key` into *out. Missing (or null) → an error is recorded and *out is unchanged;
  // the error points at the first line of this mapping.
  template <typename T>
  ConfigReader& Required(absl::string_view key, T* out);
  // Reads `key` into *out if present and not null; otherwise *out keeps its default.
  template <typename T>
  ConfigReader& Optional(absl::string_view key, T* out);

  bool Has(absl::string_view key) const;

  // A nested mapping. Missing → (Child) an error is recorded / (OptionalChild) nullopt. A
  // reader of a missing or mistyped mapping reads nothing and reports nothing more.
  ConfigReader Child(absl::string_view key);
  std::optional<ConfigReader> OptionalChild(absl::string_view key);
  // A sequence of mappings; missing → empty. Each item reader's path is "key[i]".
  std::vector<ConfigReader> Items(absl::string_view key);

  // Records a validation error about `key` of this mapping ("must be 1..65535"), with its line.
  void Fail(absl::string_view key, absl::string_view message);

  // OK, or kInvalidArgument listing every recorded error and every unread key, across this
  // reader and all readers derived from the same document. Call once, on the root, after
  // all getters.
  absl::Status Finish() const;

  // Dotted path of this mapping ("" for the root, "redis", "topics[2]").
  std::string path() const;

 private:
  struct State;
  ConfigReader(std::shared_ptr<State> state, size_t map_index)
      : state_(std::move(state)), map_index_(map_index) {}

  // Finds `key` in this mapping and marks it read; an undefined node when missing.
  YAML::Node Take(absl::string_view key);
  std::string Where(const YAML::Node& node, absl::string_view key) const;
  ConfigReader AddMap(const YAML::Node& node, std::string path);
  template <typename T>
  void Read(absl::string_view key, T* out, bool required);

  std::shared_ptr<State> state_;
  size_t map_index_;
};

}  // namespace autostage::config

#endif  // AUTOSTAGE_COMMON_CONFIG_CONFIG_READER_H_
