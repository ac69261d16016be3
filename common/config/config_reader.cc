#include "common/config/config_reader.h"

#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace autostage::config {

struct ConfigReader::State {
  struct Map {
    YAML::Node node;  // a mapping, or undefined for a missing/mistyped one (reads nothing)
    std::string path;
    std::set<std::string> read;
  };
  std::string file;
  std::vector<std::string> errors;
  std::deque<Map> maps;  // deque: references stay valid while readers add maps
};

namespace {

std::string KindOf(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", n.Scalar(), "\"");
    default:
      return "nothing";
  }
}

absl::Status Expected(absl::string_view what, const YAML::Node& n) {
  return absl::InvalidArgumentError(absl::StrCat("expected ", what, ", got ", KindOf(n)));
}

template <typename Int>
absl::Status DecodeInt(const YAML::Node& n, Int* out, absl::string_view what) {
  Int value{};
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &value)) return Expected(what, n);
  *out = value;
  return absl::OkStatus();
}

absl::Status Decode(const YAML::Node& n, std::string* out) {
  if (!n.IsScalar()) return Expected("a string", n);
  *out = n.Scalar();
  return absl::OkStatus();
}
absl::Status Decode(const YAML::Node& n, bool* out) {
  // YAML 1.2 core schema booleans only: "yes"/"on" are strings, not silently true.
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") {
      *out = true;
      return absl::OkStatus();
    }
    if (s == "false" || s == "False" || s == "FALSE") {
      *out = false;
      return absl::OkStatus();
    }
  }
  return Expected("true or false", n);
}
absl::Status Decode(const YAML::Node& n, int* out) { return DecodeInt(n, out, "an integer"); }
absl::Status Decode(const YAML::Node& n, int64_t* out) { return DecodeInt(n, out, "an integer"); }
absl::Status Decode(const YAML::Node& n, uint32_t* out) {
  return DecodeInt(n, out, "a non-negative integer");
}
absl::Status Decode(const YAML::Node& n, uint64_t* out) {
  return DecodeInt(n, out, "a non-negative integer");
}
absl::Status Decode(const YAML::Node& n, double* out) {
  double value = 0;
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &value)) return Expected("a number", n);
  *out = value;
  return absl::OkStatus();
}
absl::Status Decode(const YAML::Node& n, absl::Duration* out) {
  if (!n.IsScalar()) return Expected("a duration like 500ms, 30s or 14d", n);
  absl::StatusOr<absl::Duration> d = ParseDuration(n.Scalar());
  if (!d.ok()) return d.status();
  *out = *d;
  return absl::OkStatus();
}
absl::Status Decode(const YAML::Node& n, ByteSize* out) {
  if (!n.IsScalar()) return Expected("a byte size like 1MiB", n);
  absl::StatusOr<uint64_t> bytes = ParseByteSize(n.Scalar());
  if (!bytes.ok()) return bytes.status();
  out->bytes = *bytes;
  return absl::OkStatus();
}
absl::Status Decode(const YAML::Node& n, std::vector<std::string>* out) {
  if (!n.IsSequence()) return Expected("a sequence of strings", n);
  std::vector<std::string> values;
  for (const YAML::Node& item : n) {
    if (!item.IsScalar()) return Expected("a sequence of strings (an item is not)", item);
    values.push_back(item.Scalar());
  }
  *out = std::move(values);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfigReader> ConfigReader::FromString(absl::string_view yaml,
                                                      absl::string_view name) {
  auto state = std::make_shared<State>();
  state->file = std::string(name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // e.mark.line is 0-based; e.msg is the parser's message without position.
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root.IsMap() && !root.IsNull()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":1: expected a mapping at the top level, got ", KindOf(root)));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);  // an empty file is an empty map
  ConfigReader reader(state, 0);
  state->maps.push_back(State::Map{root, "", {}});
  return reader;
}

absl::StatusOr<ConfigReader> ConfigReader::FromFile(const std::string& path) {
  std::string text;
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot read config ", path));
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) return absl::NotFoundError(absl::StrCat("cannot read config ", path));
  }
  return FromString(text, path);
}

std::string ConfigReader::path() const { return state_->maps[map_index_].path; }

std::string ConfigReader::Where(const YAML::Node& node, absl::string_view key) const {
  const State::Map& map = state_->maps[map_index_];
  YAML::Mark mark = YAML::Mark::null_mark();
  if (node.IsDefined()) mark = node.Mark();
  if (mark.is_null() && map.node.IsDefined()) mark = map.node.Mark();
  const std::string line = mark.is_null() ? "" : absl::StrCat(":", mark.line + 1);
  const std::string key_path =
      map.path.empty() ? std::string(key) : absl::StrCat(map.path, ".", key);
  return absl::StrCat(state_->file, line, ": ", key_path);
}

void ConfigReader::Fail(absl::string_view key, absl::string_view message) {
  const YAML::Node& map = state_->maps[map_index_].node;
  // Copy-construct: yaml-cpp's Node::operator= throws when the right side is a missing key.
  const YAML::Node node = map.IsMap() ? map[std::string(key)] : YAML::Node();
  state_->errors.push_back(absl::StrCat(Where(node, key), ": ", message));
}

YAML::Node ConfigReader::Take(absl::string_view key) {
  State::Map& map = state_->maps[map_index_];
  if (!map.node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  map.read.insert(std::string(key));
  const YAML::Node& node = map.node;  // const operator[] never inserts
  return node[std::string(key)];
}

bool ConfigReader::Has(absl::string_view key) const {
  const YAML::Node& map = state_->maps[map_index_].node;
  return map.IsMap() && map[std::string(key)].IsDefined();
}

template <typename T>
void ConfigReader::Read(absl::string_view key, T* out, bool required) {
  const bool live = state_->maps[map_index_].node.IsMap();
  YAML::Node node = Take(key);
  if (!node.IsDefined() || node.IsNull()) {
    if (required && live) Fail(key, "required key is missing");
    return;
  }
  absl::Status s = Decode(node, out);
  if (!s.ok()) state_->errors.push_back(absl::StrCat(Where(node, key), ": ", s.message()));
}

template <typename T>
ConfigReader& ConfigReader::Required(absl::string_view key, T* out) {
  Read(key, out, /*required=*/true);
  return *this;
}

template <typename T>
ConfigReader& ConfigReader::Optional(absl::string_view key, T* out) {
  Read(key, out, /*required=*/false);
  return *this;
}

#define AUTOSTAGE_CONFIG_INSTANTIATE(T)                                             \
  template ConfigReader& ConfigReader::Required<T>(absl::string_view key, T * out); \
  template ConfigReader& ConfigReader::Optional<T>(absl::string_view key, T * out)
AUTOSTAGE_CONFIG_INSTANTIATE(std::string);
AUTOSTAGE_CONFIG_INSTANTIATE(bool);
AUTOSTAGE_CONFIG_INSTANTIATE(int);
AUTOSTAGE_CONFIG_INSTANTIATE(int64_t);
AUTOSTAGE_CONFIG_INSTANTIATE(uint32_t);
AUTOSTAGE_CONFIG_INSTANTIATE(uint64_t);
AUTOSTAGE_CONFIG_INSTANTIATE(double);
AUTOSTAGE_CONFIG_INSTANTIATE(absl::Duration);
AUTOSTAGE_CONFIG_INSTANTIATE(ByteSize);
AUTOSTAGE_CONFIG_INSTANTIATE(std::vector<std::string>);
#undef AUTOSTAGE_CONFIG_INSTANTIATE

ConfigReader ConfigReader::AddMap(const YAML::Node& node, std::string path) {
  state_->maps.push_back(State::Map{node, std::move(path), {}});
  return ConfigReader(state_, state_->maps.size() - 1);
}

std::optional<ConfigReader> ConfigReader::OptionalChild(absl::string_view key) {
  const bool live = state_->maps[map_index_].node.IsMap();
  const std::string child_path = path().empty() ? std::string(key) : absl::StrCat(path(), ".", key);
  YAML::Node node = Take(key);
  if (!node.IsDefined() || node.IsNull()) {
    if (!live) return AddMap(YAML::Node(YAML::NodeType::Undefined), child_path);
    return std::nullopt;
  }
  if (!node.IsMap()) {
    state_->errors.push_back(
        absl::StrCat(Where(node, key), ": ", Expected("a mapping", node).message()));
    return AddMap(YAML::Node(YAML::NodeType::Undefined), child_path);
  }
  return AddMap(node, child_path);
}

ConfigReader ConfigReader::Child(absl::string_view key) {
  std::optional<ConfigReader> child = OptionalChild(key);
  if (child.has_value()) return *child;
  Fail(key, "required section is missing");
  const std::string child_path = path().empty() ? std::string(key) : absl::StrCat(path(), ".", key);
  return AddMap(YAML::Node(YAML::NodeType::Undefined), child_path);
}

std::vector<ConfigReader> ConfigReader::Items(absl::string_view key) {
  std::vector<ConfigReader> items;
  YAML::Node node = Take(key);
  if (!node.IsDefined() || node.IsNull()) return items;
  if (!node.IsSequence()) {
    state_->errors.push_back(
        absl::StrCat(Where(node, key), ": ", Expected("a sequence", node).message()));
    return items;
  }
  const std::string base = path().empty() ? std::string(key) : absl::StrCat(path(), ".", key);
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string item_path = absl::StrCat(base, "[", i, "]");
    if (!item.IsMap()) {
      const YAML::Mark mark = item.Mark();
      state_->errors.push_back(absl::StrCat(state_->file, ":", mark.line + 1, ": ", item_path, ": ",
                                            Expected("a mapping", item).message()));
      continue;
    }
    items.push_back(AddMap(item, item_path));
  }
  return items;
}

absl::Status ConfigReader::Finish() const {
  std::vector<std::string> problems = state_->errors;
  for (const State::Map& map : state_->maps) {
    if (!map.node.IsMap()) continue;
    for (const auto& entry : map.node) {
      const std::string key =
          entry.first.IsScalar() ? entry.first.Scalar() : std::string("<non-scalar key>");
      if (map.read.count(key) != 0) continue;
      const std::string key_path = map.path.empty() ? key : absl::StrCat(map.path, ".", key);
      problems.push_back(absl::StrCat(state_->file, ":", entry.first.Mark().line + 1, ": ",
                                      key_path, ": unknown key"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace autostage::config
