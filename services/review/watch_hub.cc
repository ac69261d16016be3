#include "services/review/watch_hub.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace autostage::review {
namespace {

v1::ProposalUpdate::Kind KindOf(const std::string& kind) {
  if (kind == "new") return v1::ProposalUpdate::KIND_NEW;
  if (kind == "merged") return v1::ProposalUpdate::KIND_MERGED;
  if (kind == "decided") return v1::ProposalUpdate::KIND_DECIDED;
  if (kind == "superseded") return v1::ProposalUpdate::KIND_SUPERSEDED;
  if (kind == "expired") return v1::ProposalUpdate::KIND_EXPIRED;
  return v1::ProposalUpdate::KIND_UNSPECIFIED;
}

v1::ProposalStatus StatusOf(const std::string& s) {
  if (s == "pending") return v1::PROPOSAL_STATUS_PENDING;
  if (s == "confirmed") return v1::PROPOSAL_STATUS_CONFIRMED;
  if (s == "rejected") return v1::PROPOSAL_STATUS_REJECTED;
  if (s == "superseded") return v1::PROPOSAL_STATUS_SUPERSEDED;
  if (s == "expired") return v1::PROPOSAL_STATUS_EXPIRED;
  return v1::PROPOSAL_STATUS_UNSPECIFIED;
}

// Sets the C1 field `key` of `e` (unknown fields are ignored).
void SetField(UpdateEntry& e, absl::string_view key, std::string value) {
  if (key == "kind") {
    e.kind = std::move(value);
  } else if (key == "proposal_id") {
    e.proposal_id = std::move(value);
  } else if (key == "opportunity_id") {
    e.opportunity_id = std::move(value);
  } else if (key == "owner_id") {
    e.owner_id = std::move(value);
  } else if (key == "team_id") {
    e.team_id = std::move(value);
  } else if (key == "status") {
    e.status = std::move(value);
  } else if (key == "version") {
    if (!absl::SimpleAtoi(value, &e.version)) e.version = 0;
  } else if (key == "to_stage") {
    e.to_stage = std::move(value);
  } else if (key == "source") {
    e.source = std::move(value);
  }
}

// The C1 fields of one update, in the order a batch entry lists them.
constexpr absl::string_view kBatchFields[] = {"kind",     "proposal_id", "opportunity_id",
                                              "owner_id", "team_id",     "status",
                                              "version",  "to_stage",    "source"};

// Reads the MessagePack that Redis's cmsgpack.pack writes for a flat Lua array of strings
// and integers: the array header, then each element as a string (integers in decimal).
// False when `data` is anything else.
class MsgpackReader {
 public:
  explicit MsgpackReader(absl::string_view data) : data_(data) {}

  bool ArrayHeader(uint64_t& n) {
    uint8_t b = 0;
    if (!Byte(b)) return false;
    if ((b & 0xf0) == 0x90) {
      n = b & 0x0f;
      return true;
    }
    if (b == 0xdc) return Uint(2, n);
    if (b == 0xdd) return Uint(4, n);
    return false;
  }

  bool Element(std::string& out) {
    uint8_t b = 0;
    if (!Byte(b)) return false;
    uint64_t len = 0;
    if ((b & 0xe0) == 0xa0) {
      len = b & 0x1f;
    } else if (b >= 0xd9 && b <= 0xdb) {  // str8 / str16 (raw16) / str32 (raw32)
      if (!Uint(size_t{1} << (b - 0xd9), len)) return false;
    } else if (b < 0x80) {  // positive fixint
      out = absl::StrCat(b);
      return true;
    } else if (b >= 0xe0) {  // negative fixint
      out = absl::StrCat(static_cast<int8_t>(b));
      return true;
    } else if (b >= 0xcc && b <= 0xcf) {  // uint 8..64
      uint64_t v = 0;
      if (!Uint(size_t{1} << (b - 0xcc), v)) return false;
      out = absl::StrCat(v);
      return true;
    } else if (b >= 0xd0 && b <= 0xd3) {  // int 8..64
      const size_t width = size_t{1} << (b - 0xd0);
      uint64_t v = 0;
      if (!Uint(width, v)) return false;
      const int shift = static_cast<int>(64 - 8 * width);
      out = absl::StrCat(static_cast<int64_t>(v << shift) >> shift);
      return true;
    } else {
      return false;
    }
    if (data_.size() - at_ < len) return false;
    out.assign(data_.data() + at_, len);
    at_ += len;
    return true;
  }

  bool done() const { return at_ == data_.size(); }

 private:
  bool Byte(uint8_t& b) {
    if (at_ >= data_.size()) return false;
    b = static_cast<uint8_t>(data_[at_++]);
    return true;
  }
  bool Uint(size_t width, uint64_t& v) {
    if (data_.size() - at_ < width) return false;
    v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | static_cast<uint8_t>(data_[at_++]);
    return true;
  }

  absl::string_view data_;
  size_t at_ = 0;
};

// A batch entry's `updates` value: the updates it lists, appended to `out` with stream id
// `id`. A malformed value yields none (the entry is skipped, as an unreadable one is).
void ParseBatch(const std::string& id, absl::string_view packed, std::vector<UpdateEntry>& out) {
  MsgpackReader reader(packed);
  uint64_t n = 0;
  constexpr size_t kFields = std::size(kBatchFields);
  if (!reader.ArrayHeader(n) || n % kFields != 0) return;
  std::vector<UpdateEntry> parsed(n / kFields);
  for (UpdateEntry& e : parsed) {
    e.id = id;
    for (absl::string_view key : kBatchFields) {
      std::string value;
      if (!reader.Element(value)) return;
      SetField(e, key, std::move(value));
    }
  }
  if (!reader.done()) return;
  std::move(parsed.begin(), parsed.end(), std::back_inserter(out));
}

}  // namespace

std::vector<UpdateEntry> ParseUpdates(const redis::Reply& r) {
  std::vector<UpdateEntry> out;
  if (r.size() < 2) return out;
  const std::string& id = r[0].str();
  const redis::Reply& fields = r[1];
  UpdateEntry single;
  single.id = id;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str() == "updates") {
      ParseBatch(id, fields[i + 1].str(), out);
      return out;
    }
    SetField(single, fields[i].str(), fields[i + 1].str());
  }
  out.push_back(std::move(single));
  return out;
}

bool WatchFilter::Matches(const UpdateEntry& e) const {
  switch (scope) {
    case Scope::kOwner:
      if (scope_id.empty() || e.owner_id != scope_id) return false;
      break;
    case Scope::kTeam:
      if (scope_id.empty() || e.team_id != scope_id) return false;
      break;
    case Scope::kAll:
      break;
  }
  if (!opportunity_id.empty() && e.opportunity_id != opportunity_id) return false;
  if (!to_stage.empty() && e.to_stage != to_stage) return false;
  return true;
}

v1::ProposalUpdate MakeUpdate(const UpdateEntry& e,
                              const absl::StatusOr<v1::ReviewedProposal>& loaded) {
  v1::ProposalUpdate update;
  update.set_kind(KindOf(e.kind));
  v1::ReviewedProposal* p = update.mutable_proposal();
  if (loaded.ok()) {
    *p = *loaded;
  } else {
    // The proposal could not be read (Redis hiccup, or it is gone): the entry still says what
    // happened, which is what a watcher needs to refresh its view.
    p->mutable_proposal()->set_proposal_id(e.proposal_id);
    p->mutable_proposal()->set_opportunity_id(e.opportunity_id);
    p->mutable_proposal()->set_to_stage(e.to_stage);
    p->mutable_proposal()->set_owner_id(e.owner_id);
    p->mutable_proposal()->set_team_id(e.team_id);
    p->set_status(StatusOf(e.status));
    p->set_version(e.version);
  }
  return update;
}

absl::StatusOr<v1::ProposalUpdate> Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || !closed_.ok(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (!closed_.ok()) return closed_;
  if (queue_.empty()) return absl::DeadlineExceededError("no update yet");
  v1::ProposalUpdate out = *queue_.front();
  queue_.pop_front();
  return out;
}

Subscription::PushResult Subscription::Push(std::shared_ptr<const v1::ProposalUpdate> update) {
  absl::MutexLock lock(&mu_);
  if (!closed_.ok()) return PushResult::kClosed;
  if (queue_.size() >= capacity_) {
    queue_.clear();
    closed_ = absl::ResourceExhaustedError(
        absl::StrCat("watcher fell more than ", capacity_,
                     " updates behind and was dropped; reconnect and re-list"));
    return PushResult::kDropped;
  }
  queue_.push_back(std::move(update));
  return PushResult::kQueued;
}

void Subscription::Close(absl::Status why) {
  absl::MutexLock lock(&mu_);
  if (closed_.ok()) closed_ = std::move(why);
}

bool Subscription::closed() const {
  absl::MutexLock lock(&mu_);
  return !closed_.ok();
}

WatchHub::WatchHub(redis::RedisOptions redis, Loader loader, WatchHubOptions options,
                   DropHook on_drop)
    : redis_(std::move(redis)),
      loader_(std::move(loader)),
      options_(std::move(options)),
      on_drop_(std::move(on_drop)) {}

void WatchHub::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void WatchHub::Stop() {
  std::vector<std::weak_ptr<Subscription>> subs;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    subs.swap(subscribers_);
  }
  for (const std::weak_ptr<Subscription>& weak : subs) {
    if (std::shared_ptr<Subscription> sub = weak.lock()) {
      sub->Close(absl::UnavailableError("the review server is shutting down; reconnect"));
    }
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::shared_ptr<Subscription>> WatchHub::Subscribe(WatchFilter filter) {
  auto sub = std::make_shared<Subscription>(std::move(filter), options_.queue_capacity);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the review server is shutting down");
  // Forget watchers that went away, so the list does not grow with closed streams.
  subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                    [](const std::weak_ptr<Subscription>& w) {
                                      std::shared_ptr<Subscription> s = w.lock();
                                      return s == nullptr || s->closed();
                                    }),
                     subscribers_.end());
  subscribers_.push_back(sub);
  return sub;
}

int WatchHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const std::weak_ptr<Subscription>& w : subscribers_) {
    std::shared_ptr<Subscription> s = w.lock();
    n += s != nullptr && !s->closed();
  }
  return n;
}

std::string WatchHub::last_id() const {
  absl::MutexLock lock(&mu_);
  return last_id_;
}

int64_t WatchHub::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

bool WatchHub::Backoff(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
  return !stopping_;
}

void WatchHub::Run() {
  redis::RedisOptions options = redis_;
  // The blocking read must not time out on the client side before the server answers.
  options.command_timeout = std::max(options.command_timeout, options_.block + absl::Seconds(1));
  redis::RedisClient client(options);
  const std::string block_ms = absl::StrCat(absl::ToInt64Milliseconds(options_.block));
  std::string last = last_id();
  absl::Duration backoff = options_.retry_min;
  auto failed = [&] {
    {
      absl::MutexLock lock(&mu_);
      ++errors_;
    }
    const bool go_on = Backoff(backoff);
    backoff = std::min(backoff * 2, options_.retry_max);
    return go_on;
  };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (last.empty()) {
      // Start after the newest entry: watchers see what happens from now on.
      absl::StatusOr<redis::Reply> newest =
          client.Command("XREVRANGE", options_.stream_key, "+", "-", "COUNT", "1");
      if (!newest.ok()) {
        if (!failed()) return;
        continue;
      }
      last = newest->size() > 0 ? (*newest)[0][0].str() : "0-0";
      absl::MutexLock lock(&mu_);
      last_id_ = last;
    }
    absl::StatusOr<redis::Reply> read = client.Command(
        "XREAD", "COUNT", options_.batch, "BLOCK", block_ms, "STREAMS", options_.stream_key, last);
    if (!read.ok()) {
      if (!failed()) return;
      continue;
    }
    backoff = options_.retry_min;
    // Reply: [[key, [entry, ...]]], or nil when BLOCK timed out.
    if (read->size() == 0 || (*read)[0].size() < 2) continue;
    for (const redis::Reply& raw : (*read)[0][1].elements()) {
      if (raw.size() < 2 || raw[0].str().empty()) continue;
      last = raw[0].str();
      for (const UpdateEntry& entry : ParseUpdates(raw)) Dispatch(entry);
    }
    absl::MutexLock lock(&mu_);
    last_id_ = last;
  }
}

void WatchHub::Dispatch(const UpdateEntry& entry) {
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    absl::MutexLock lock(&mu_);
    for (const std::weak_ptr<Subscription>& w : subscribers_) {
      std::shared_ptr<Subscription> s = w.lock();
      if (s != nullptr && s->filter().Matches(entry)) targets.push_back(std::move(s));
    }
  }
  if (targets.empty()) return;
  // One load per update, whatever the number of watchers.
  auto update = std::make_shared<const v1::ProposalUpdate>(MakeUpdate(
      entry, loader_ ? loader_(entry.proposal_id)
                     : absl::StatusOr<v1::ReviewedProposal>(absl::NotFoundError("no loader"))));
  for (const std::shared_ptr<Subscription>& s : targets) {
    if (s->Push(update) == Subscription::PushResult::kDropped && on_drop_) on_drop_();
  }
}

}  // namespace autostage::review
