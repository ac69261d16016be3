#include "services/ingest/deduper.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/redis/key.h"
#include "common/status/status_macros.h"

namespace autostage::ingest {
namespace {

// Every failure reads as "Redis unavailable, retry": the caller must neither skip nor drop.
absl::Status AsUnavailable(const absl::Status& status, absl::string_view what) {
  if (absl::IsUnavailable(status)) return status;
  return absl::UnavailableError(absl::StrCat("dedupe ", what, ": ", status.message()));
}

absl::Status CheckIds(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (id.empty()) return absl::InvalidArgumentError("dedupe: empty event_id");
  }
  return absl::OkStatus();
}

}  // namespace

std::string Deduper::KeyOf(absl::string_view event_id) {
  return redis::Key("event-done", event_id);
}

absl::StatusOr<redis::RedisPool::Lease> Deduper::Lease() {
  absl::StatusOr<redis::RedisPool::Lease> lease = pool_.Acquire(options_.acquire_wait);
  if (!lease.ok()) return AsUnavailable(lease.status(), "no Redis connection");
  return lease;
}

absl::StatusOr<bool> Deduper::IsDone(absl::string_view event_id) {
  ASSIGN_OR_RETURN(std::vector<bool> done, IsDoneMany({std::string(event_id)}));
  return done[0];
}

absl::Status Deduper::MarkDone(absl::string_view event_id) {
  return MarkDoneMany({std::string(event_id)});
}

absl::StatusOr<std::vector<bool>> Deduper::IsDoneMany(const std::vector<std::string>& event_ids) {
  RETURN_IF_ERROR(CheckIds(event_ids));
  std::vector<bool> done;
  if (event_ids.empty()) return done;
  std::vector<redis::Args> commands;
  commands.reserve(event_ids.size());
  for (const std::string& id : event_ids) commands.push_back({"EXISTS", KeyOf(id)});
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  absl::StatusOr<std::vector<redis::Reply>> replies = lease->Pipeline(commands);
  if (!replies.ok()) return AsUnavailable(replies.status(), "check");
  done.reserve(replies->size());
  for (const redis::Reply& r : *replies) {
    if (!r.is_integer()) {
      return AsUnavailable(r.is_error()
                               ? r.ToStatus()
                               : absl::InternalError("unexpected EXISTS reply " + r.DebugString()),
                           "check");
    }
    done.push_back(r.integer() > 0);
  }
  return done;
}

absl::Status Deduper::MarkDoneMany(const std::vector<std::string>& event_ids) {
  RETURN_IF_ERROR(CheckIds(event_ids));
  if (event_ids.empty()) return absl::OkStatus();
  const int64_t ttl_s = std::max<int64_t>(1, absl::ToInt64Seconds(options_.ttl));
  std::vector<redis::Args> commands;
  commands.reserve(event_ids.size());
  for (const std::string& id : event_ids) {
    commands.push_back({"SET", KeyOf(id), "1", "NX", "EX", absl::StrCat(ttl_s)});
  }
  ASSIGN_OR_RETURN(redis::RedisPool::Lease lease, Lease());
  absl::StatusOr<std::vector<redis::Reply>> replies = lease->Pipeline(commands);
  if (!replies.ok()) return AsUnavailable(replies.status(), "mark");
  for (const redis::Reply& r : *replies) {
    // "OK" when written, nil when the mark existed already: both mean "marked".
    if (r.is_error()) return AsUnavailable(r.ToStatus(), "mark");
  }
  return absl::OkStatus();
}

}  // namespace autostage::ingest
