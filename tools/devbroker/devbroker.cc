#include "tools/devbroker/devbroker.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace autostage::devbroker {
namespace {

constexpr int kMaxPartitions = 1024;
constexpr int kMaxRttMs = 600'000;
// Kafka's own limit on topic name length.
constexpr size_t kMaxTopicNameLength = 249;

struct ApiName {
  absl::string_view name;
  int16_t key;
};

// Kafka protocol ApiKeys of the requests the mock (and our services) use. librdkafka keeps its
// RD_KAFKAP_* constants in a private header, so the public numbers are listed here.
constexpr std::array<ApiName, 30> kApiNames = {{
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"SaslHandshake", 17},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"DeleteTopics", 20},
    {"DeleteRecords", 21},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"WriteTxnMarkers", 27},
    {"TxnOffsetCommit", 28},
    {"DescribeConfigs", 32},
    {"AlterConfigs", 33},
    {"SaslAuthenticate", 36},
    {"CreatePartitions", 37},
    {"DeleteGroups", 42},
}};

// Largest ApiKey librdkafka 2.0.2 knows (RD_KAFKAP__NUM - 1); the mock indexes arrays by it.
constexpr int16_t kMaxApiKey = 67;

absl::Status FromKafka(rd_kafka_resp_err_t err, absl::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  if (err == RD_KAFKA_RESP_ERR__UNKNOWN_BROKER || err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", rd_kafka_err2str(err)));
  }
  return absl::InternalError(absl::StrCat(what, ": ", rd_kafka_err2str(err)));
}

// "all" or a broker id.
absl::StatusOr<int32_t> ParseBrokerId(absl::string_view text) {
  if (absl::EqualsIgnoreCase(text, "all")) return kAllBrokers;
  int32_t id = 0;
  if (!absl::SimpleAtoi(text, &id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker id must be a number or 'all', got '", text, "'"));
  }
  return id;
}

}  // namespace

absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view spec) {
  TopicSpec topic;
  absl::string_view name = spec;
  if (size_t colon = spec.rfind(':'); colon != absl::string_view::npos) {
    name = spec.substr(0, colon);
    absl::string_view count = spec.substr(colon + 1);
    if (!absl::SimpleAtoi(count, &topic.partitions) || topic.partitions < 1 ||
        topic.partitions > kMaxPartitions) {
      return absl::InvalidArgumentError(absl::StrCat("topic '", spec,
                                                     "': partition count must be 1..",
                                                     kMaxPartitions, ", got '", count, "'"));
    }
  }
  if (name.empty() || name.size() > kMaxTopicNameLength || name == "." || name == ".." ||
      !std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
               c == '-';
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", spec, "': name must be 1..", kMaxTopicNameLength,
                     " characters of [a-zA-Z0-9._-] (expected NAME:PARTITIONS)"));
  }
  topic.name = std::string(name);
  return topic;
}

absl::StatusOr<int16_t> ParseApiKey(absl::string_view name) {
  int key = 0;
  if (absl::SimpleAtoi(name, &key)) {
    if (key < 0 || key > kMaxApiKey) {
      return absl::InvalidArgumentError(
          absl::StrCat("ApiKey ", key, " is out of range 0..", kMaxApiKey));
    }
    return static_cast<int16_t>(key);
  }
  for (const ApiName& api : kApiNames) {
    if (absl::EqualsIgnoreCase(api.name, name)) return api.key;
  }
  std::vector<absl::string_view> known;
  for (const ApiName& api : kApiNames) known.push_back(api.name);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown Kafka API '", name, "'; use a number or one of: ", absl::StrJoin(known, ", ")));
}

absl::StatusOr<rd_kafka_resp_err_t> ParseErrorCode(absl::string_view name) {
  const struct rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  int number = 0;
  if (absl::SimpleAtoi(name, &number)) {
    for (size_t i = 0; i < count; ++i) {
      if (descs[i].name != nullptr && descs[i].code == number) return descs[i].code;
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown Kafka error code ", number));
  }
  absl::string_view bare = name;
  if (absl::StartsWithIgnoreCase(bare, "RD_KAFKA_RESP_ERR_")) {
    bare.remove_prefix(sizeof("RD_KAFKA_RESP_ERR_") - 1);
  }
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].name != nullptr && absl::EqualsIgnoreCase(descs[i].name, bare)) {
      return descs[i].code;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown Kafka error '", name, "' (expected a name like REBALANCE_IN_PROGRESS or a code)"));
}

absl::StatusOr<std::unique_ptr<DevBroker>> DevBroker::Start(const DevBrokerOptions& options) {
  if (options.brokers < 1 || options.brokers > kMaxBrokers) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker count must be 1..", kMaxBrokers, ", got ", options.brokers));
  }
  for (const TopicSpec& topic : options.topics) {
    // Re-validate: callers may build TopicSpec by hand rather than through ParseTopicSpec.
    RETURN_IF_ERROR(ParseTopicSpec(absl::StrCat(topic.name, ":", topic.partitions)).status());
  }

  // The mock cluster needs an rd_kafka_t for its bookkeeping only; this one never connects
  // anywhere (no bootstrap.servers).
  Handle<rd_kafka_conf_t, &rd_kafka_conf_destroy> conf(rd_kafka_conf_new());
  char errstr[512] = {};
  // log_level 4 hides the notice that this handle has no bootstrap.servers; the mock logs its
  // own warnings and errors through it.
  for (const auto& [key, value] : {std::pair{"client.id", "devbroker"}, {"log_level", "4"}}) {
    if (rd_kafka_conf_set(conf.get(), key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      return absl::InternalError(absl::StrCat("librdkafka config ", key, ": ", errstr));
    }
  }
  KafkaHandle rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (!rk) return absl::InternalError(absl::StrCat("rd_kafka_new: ", errstr));
  // rd_kafka_new took ownership of conf, but only because it succeeded.
  conf.release();

  MockCluster cluster(rd_kafka_mock_cluster_new(rk.get(), options.brokers));
  if (!cluster) {
    return absl::InternalError(
        "rd_kafka_mock_cluster_new failed (could not bind loopback listeners?)");
  }
  std::unique_ptr<DevBroker> broker(
      new DevBroker(std::move(rk), std::move(cluster), options.brokers));
  for (const TopicSpec& topic : options.topics) {
    RETURN_IF_ERROR(broker->CreateTopic(topic));
  }
  return broker;
}

DevBroker::DevBroker(KafkaHandle rk, MockCluster cluster, int broker_count)
    : rk_(std::move(rk)),
      cluster_(std::move(cluster)),
      broker_count_(broker_count),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(cluster_.get())) {}

DevBroker::~DevBroker() { Stop(); }

void DevBroker::Stop() {
  cluster_.reset();
  rk_.reset();
}

absl::Status DevBroker::CheckRunning() const {
  if (!cluster_) return absl::FailedPreconditionError("devbroker is stopped");
  return absl::OkStatus();
}

absl::Status DevBroker::CheckBrokerId(int32_t id) const {
  RETURN_IF_ERROR(CheckRunning());
  if (id == kAllBrokers || (id >= 1 && id <= broker_count_)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("no broker ", id, ": ids are 1..", broker_count_, " or 'all'"));
}

absl::Status DevBroker::CreateTopic(const TopicSpec& topic) {
  RETURN_IF_ERROR(CheckRunning());
  RETURN_IF_ERROR(ParseTopicSpec(absl::StrCat(topic.name, ":", topic.partitions)).status());
  // Replication is bookkeeping only in the mock; 3 (or fewer brokers) mirrors production.
  const int replication = std::min(broker_count_, 3);
  return FromKafka(
      rd_kafka_mock_topic_create(cluster_.get(), topic.name.c_str(), topic.partitions, replication),
      absl::StrCat("create topic ", topic.name));
}

absl::Status DevBroker::SetBrokerDown(int32_t id) {
  RETURN_IF_ERROR(CheckBrokerId(id));
  return FromKafka(rd_kafka_mock_broker_set_down(cluster_.get(), id),
                   absl::StrCat("set broker ", id, " down"));
}

absl::Status DevBroker::SetBrokerUp(int32_t id) {
  RETURN_IF_ERROR(CheckBrokerId(id));
  return FromKafka(rd_kafka_mock_broker_set_up(cluster_.get(), id),
                   absl::StrCat("set broker ", id, " up"));
}

absl::Status DevBroker::SetRtt(int32_t id, int rtt_ms) {
  RETURN_IF_ERROR(CheckBrokerId(id));
  if (rtt_ms < 0 || rtt_ms > kMaxRttMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("rtt must be 0..", kMaxRttMs, " ms, got ", rtt_ms));
  }
  return FromKafka(rd_kafka_mock_broker_set_rtt(cluster_.get(), id, rtt_ms),
                   absl::StrCat("set rtt of broker ", id));
}

absl::Status DevBroker::PushRequestErrors(int16_t api_key,
                                          const std::vector<rd_kafka_resp_err_t>& errors) {
  RETURN_IF_ERROR(CheckRunning());
  if (api_key < 0 || api_key > kMaxApiKey) {
    return absl::InvalidArgumentError(absl::StrCat("ApiKey ", api_key, " is out of range"));
  }
  if (errors.empty()) return absl::InvalidArgumentError("no errors to push");
  rd_kafka_mock_push_request_errors_array(cluster_.get(), api_key, errors.size(), errors.data());
  return absl::OkStatus();
}

absl::Status DevBroker::ClearRequestErrors(int16_t api_key) {
  RETURN_IF_ERROR(CheckRunning());
  if (api_key < 0 || api_key > kMaxApiKey) {
    return absl::InvalidArgumentError(absl::StrCat("ApiKey ", api_key, " is out of range"));
  }
  rd_kafka_mock_clear_request_errors(cluster_.get(), api_key);
  return absl::OkStatus();
}

absl::Status DevBroker::ExecuteCommand(absl::string_view line) {
  std::vector<absl::string_view> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
  if (words.empty()) return absl::InvalidArgumentError("empty command");
  const absl::string_view verb = words[0];
  const size_t args = words.size() - 1;
  auto usage = [&](absl::string_view form) {
    return absl::InvalidArgumentError(absl::StrCat("usage: ", form, " (got '", line, "')"));
  };

  if (verb == "down" || verb == "up") {
    if (args != 1) return usage(absl::StrCat(verb, " BROKER_ID|all"));
    ASSIGN_OR_RETURN(int32_t id, ParseBrokerId(words[1]));
    return verb == "down" ? SetBrokerDown(id) : SetBrokerUp(id);
  }
  if (verb == "rtt") {
    if (args != 2) return usage("rtt BROKER_ID|all MILLISECONDS");
    ASSIGN_OR_RETURN(int32_t id, ParseBrokerId(words[1]));
    int rtt_ms = 0;
    if (!absl::SimpleAtoi(words[2], &rtt_ms)) return usage("rtt BROKER_ID|all MILLISECONDS");
    return SetRtt(id, rtt_ms);
  }
  if (verb == "errors") {
    if (args < 2) return usage("errors API ERROR [ERROR...]");
    ASSIGN_OR_RETURN(int16_t api_key, ParseApiKey(words[1]));
    std::vector<rd_kafka_resp_err_t> errors;
    for (size_t i = 2; i < words.size(); ++i) {
      ASSIGN_OR_RETURN(rd_kafka_resp_err_t err, ParseErrorCode(words[i]));
      errors.push_back(err);
    }
    return PushRequestErrors(api_key, errors);
  }
  if (verb == "clear") {
    if (args != 1) return usage("clear API");
    ASSIGN_OR_RETURN(int16_t api_key, ParseApiKey(words[1]));
    return ClearRequestErrors(api_key);
  }
  if (verb == "topic") {
    if (args != 1) return usage("topic NAME:PARTITIONS");
    ASSIGN_OR_RETURN(TopicSpec topic, ParseTopicSpec(words[1]));
    return CreateTopic(topic);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown command '", verb, "' (expected down, up, rtt, errors, clear or topic)"));
}

}  // namespace autostage::devbroker
