#include "tools/autostagectl/internal/topic_reader.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/kafka_types.h"

namespace autostage::ctl::internal {
namespace {

using PartitionList =
    Handle<rd_kafka_topic_partition_list_t, &rd_kafka_topic_partition_list_destroy>;
using Metadata = Handle<const rd_kafka_metadata_t, &rd_kafka_metadata_destroy>;

int Ms(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<std::unique_ptr<TopicReader>> TopicReader::Open(const std::string& bootstrap,
                                                               absl::Duration timeout) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  // group.id only because librdkafka consumers want one; assign() never joins the group and
  // nothing is ever committed.
  const std::pair<const char*, std::string> settings[] = {{"bootstrap.servers", bootstrap},
                                                          {"group.id", "autostagectl-reader"},
                                                          {"enable.auto.commit", "false"},
                                                          {"enable.auto.offset.store", "false"},
                                                          {"enable.partition.eof", "true"},
                                                          {"auto.offset.reset", "earliest"},
                                                          {"log_level", "0"}};
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka setting ", name, ": ", errstr));
    }
  }
  // rd_kafka_new takes ownership of conf only when it succeeds.
  KafkaHandle kafka(rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr));
  if (!kafka) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", errstr));
  }
  rd_kafka_poll_set_consumer(kafka.get());
  return std::unique_ptr<TopicReader>(new TopicReader(std::move(kafka), timeout));
}

TopicReader::~TopicReader() {
  if (kafka_) rd_kafka_consumer_close(kafka_.get());
}

absl::StatusOr<std::vector<PartitionWindow>> TopicReader::Windows(const std::string& topic) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(kafka_.get(), 1, nullptr, &raw, Ms(timeout_));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka metadata: ", rd_kafka_err2str(err)));
  }
  Metadata metadata(raw);
  std::vector<PartitionWindow> windows;
  bool found = false;
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const rd_kafka_metadata_topic_t& mt = metadata->topics[t];
    if (topic != mt.topic || mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    found = true;
    for (int p = 0; p < mt.partition_cnt; ++p) {
      PartitionWindow w;
      w.partition = mt.partitions[p].id;
      err = rd_kafka_query_watermark_offsets(kafka_.get(), topic.c_str(), w.partition, &w.begin,
                                             &w.end, Ms(timeout_));
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka::KafkaStatus(err, absl::StrCat("watermarks of ", topic, "/", w.partition));
      }
      windows.push_back(w);
    }
  }
  if (!found) return absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
  std::sort(windows.begin(), windows.end(), [](const PartitionWindow& a, const PartitionWindow& b) {
    return a.partition < b.partition;
  });
  return windows;
}

absl::StatusOr<int64_t> TopicReader::OffsetForTime(const std::string& topic, int32_t partition,
                                                   absl::Time time) {
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset =
      absl::ToUnixMillis(time);
  const rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(kafka_.get(), list.get(), Ms(timeout_));
  // Brokers without a time index (the dev broker) answer with an error or -1: "don't know".
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return list->elems[0].offset;
}

absl::StatusOr<std::vector<kafka::Message>> TopicReader::Read(
    const std::string& topic, const std::vector<PartitionWindow>& windows) {
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(windows.size())));
  std::map<int32_t, int64_t> ends;  // partitions still being read → window end
  for (const PartitionWindow& w : windows) {
    if (w.begin >= w.end) continue;
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), w.partition)->offset = w.begin;
    ends[w.partition] = w.end;
  }
  std::vector<kafka::Message> messages;
  if (ends.empty()) return messages;
  rd_kafka_resp_err_t err = rd_kafka_assign(kafka_.get(), list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::KafkaStatus(err, "assign");
  // The deadline moves with progress: a long window is fine as long as data keeps arriving.
  absl::Time deadline = absl::Now() + timeout_;
  absl::Status failure;
  while (!ends.empty()) {
    if (absl::Now() > deadline) {
      failure = absl::DeadlineExceededError(
          absl::StrCat("reading ", topic, ": no progress within ", absl::FormatDuration(timeout_),
                       " (", ends.size(), " partition(s) not read to the end)"));
      break;
    }
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(kafka_.get(), 100);
    if (raw == nullptr) continue;
    kafka::Message m(raw);
    if (m.topic() != topic) continue;
    auto it = ends.find(m.partition());
    if (m.is_partition_eof()) {
      if (it != ends.end() && m.offset() >= it->second) ends.erase(it);
      continue;
    }
    if (!m.ok()) {
      absl::Status status = m.status();
      if (absl::IsUnavailable(status)) continue;  // librdkafka retries transport errors itself
      failure = status;
      break;
    }
    if (it == ends.end() || m.offset() >= it->second) continue;
    deadline = absl::Now() + timeout_;
    const bool last = m.offset() + 1 >= it->second;
    messages.push_back(std::move(m));
    if (last) ends.erase(it);
  }
  rd_kafka_assign(kafka_.get(), nullptr);
  if (!failure.ok()) return failure;
  std::stable_sort(messages.begin(), messages.end(),
                   [](const kafka::Message& a, const kafka::Message& b) {
                     return a.partition() != b.partition() ? a.partition() < b.partition()
                                                           : a.offset() < b.offset();
                   });
  return messages;
}

}  // namespace autostage::ctl::internal
