#include "services/review/expiry.h"

#include <utility>

namespace autostage::review {

Expirer::Expirer(ProposalStore& store, ExpirerOptions options, Listener on_run)
    : store_(store), options_(options), on_run_(std::move(on_run)) {}

Expirer::~Expirer() { Stop(); }

void Expirer::Start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Expirer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int64_t> Expirer::RunOnce() {
  absl::StatusOr<int64_t> expired = store_.ExpirePending(options_.max_age, options_.batch_size);
  ++runs_total_;
  if (!expired.ok()) {
    ++errors_total_;
    return expired.status();
  }
  expired_total_ += *expired;
  if (on_run_) on_run_(*expired);
  return expired;
}

void Expirer::Loop() {
  for (;;) {
    // Errors are counted; the next run retries (a Redis outage must not stop expiry for good).
    (void)RunOnce();
    absl::MutexLock lock(&mu_);
    const bool stopping = mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
    if (stopping) return;
  }
}

}  // namespace autostage::review
