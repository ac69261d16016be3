#include "common/kafka/producer.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace autostage::kafka {
namespace {

int ToTimeoutMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), 1 << 30));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaConfig& config,
                                                           absl::Duration close_timeout) {
  KafkaConfig effective = config;
  effective.emplace("enable.idempotence", "true");  // only if the caller did not set it
  ASSIGN_OR_RETURN(internal::ConfHandle conf, internal::BuildConf(effective));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::OnDelivery);
  std::unique_ptr<Producer> producer(new Producer());
  rd_kafka_conf_set_opaque(conf.get(), producer.get());  // stable: the Producer is on the heap
  producer->close_timeout_ = close_timeout;

  char errstr[512];
  producer->kafka_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr)));
  if (!producer->kafka_) {
    // rd_kafka_new failed: the conf is still ours, and `conf` destroys it.
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", errstr));
  }
  conf.release();  // rd_kafka_new succeeded and owns the conf now
  Producer* raw = producer.get();
  producer->poller_ = std::thread([raw] {
    while (!raw->stop_.load(std::memory_order_relaxed)) rd_kafka_poll(raw->kafka_.get(), 100);
  });
  return producer;
}

Producer::~Producer() {
  if (kafka_) {
    rd_kafka_flush(kafka_.get(), ToTimeoutMs(close_timeout_));
    // Anything left can no longer be delivered: purge it so each callback runs (kCancelled)
    // and its heap state is freed, then serve those reports.
    rd_kafka_purge(kafka_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(kafka_.get(), 1000);
  }
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  while (kafka_ && rd_kafka_outq_len(kafka_.get()) > 0 && rd_kafka_poll(kafka_.get(), 100) > 0) {
  }
}

void Producer::OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  // _private is the per-message opaque set in Produce: our callback, or null.
  std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(message->_private));
  if (callback && *callback) {
    DeliveryReport report;
    report.topic = message->rkt != nullptr ? rd_kafka_topic_name(message->rkt) : "";
    report.partition = message->partition;
    report.offset = message->offset;
    report.status = KafkaStatus(message->err, absl::StrCat("deliver to ", report.topic));
    (*callback)(report);
  }
  absl::MutexLock lock(&self->mu_);
  --self->pending_;
}

absl::Status Producer::Produce(absl::string_view topic, absl::string_view key,
                               absl::string_view value, const std::vector<Header>& headers,
                               DeliveryCallback on_delivery) {
  internal::HeadersHandle hdrs(rd_kafka_headers_new(headers.size()));
  for (const Header& h : headers) {
    rd_kafka_header_add(hdrs.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                        h.value.data(), static_cast<ssize_t>(h.value.size()));
  }
  std::unique_ptr<DeliveryCallback> callback;
  if (on_delivery) callback = std::make_unique<DeliveryCallback>(std::move(on_delivery));
  const std::string topic_name(topic);
  {
    // Counted before producev: the report may be served on the poll thread before it returns.
    absl::MutexLock lock(&mu_);
    ++pending_;
  }
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      kafka_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_HEADERS(hdrs.get()), RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Not queued: headers and callback are still ours and are freed here.
    absl::MutexLock lock(&mu_);
    --pending_;
    return KafkaStatus(err, absl::StrCat("produce to ", topic));
  }
  hdrs.release();      // librdkafka owns the headers now
  callback.release();  // freed by OnDelivery
  return absl::OkStatus();
}

absl::Status Producer::Flush(absl::Time deadline) {
  const rd_kafka_resp_err_t err = rd_kafka_flush(kafka_.get(), ToTimeoutMs(deadline - absl::Now()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return KafkaStatus(err, "kafka flush");
  }
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return pending_ == 0; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("kafka flush: ", pending_, " messages outstanding"));
  }
  return absl::OkStatus();
}

int Producer::outstanding() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

}  // namespace autostage::kafka
