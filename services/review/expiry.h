// Expirer: runs ProposalStore::ExpirePending periodically on its own thread, so pending
// proposals nobody decided leave the queues after `max_age` (default 14 days).
//
//   Expirer expirer(store, {.max_age = absl::Hours(24 * 14), .interval = absl::Minutes(1)},
//                   [&](int64_t n) { metrics.expired_total.Increment(n); });
//   expirer.Start();
//   ...
//   expirer.Stop();  // returns after the current run, at once when idle
//
// Ages are measured with the store's injected Clock (tests use FakeClock and RunOnce()); the
// pause between runs is real time. Several instances of the service may each run an Expirer:
// every batch is one Lua script, so a proposal is expired (and counted) exactly once.
//
// Thread safety: Start/Stop from one owning thread; RunOnce and the accessors from any thread.
// The store is borrowed and must outlive the Expirer; the listener is called on the Expirer's
// thread (or RunOnce's caller) and must be thread-safe.
#ifndef AUTOSTAGE_SERVICES_REVIEW_EXPIRY_H_
#define AUTOSTAGE_SERVICES_REVIEW_EXPIRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/review/proposal_store.h"

namespace autostage::review {

struct ExpirerOptions {
  // Pending proposals created longer ago than this expire.
  absl::Duration max_age = absl::Hours(24 * 14);
  // Pause between runs (real time).
  absl::Duration interval = absl::Minutes(1);
  // Proposals per Lua script call (bounds how long Redis is busy with one call).
  int batch_size = 500;
};

class Expirer {
 public:
  // Called after every successful run with the number expired (possibly 0).
  using Listener = std::function<void(int64_t expired)>;

  Expirer(ProposalStore& store, ExpirerOptions options, Listener on_run = nullptr);
  Expirer(const Expirer&) = delete;
  Expirer& operator=(const Expirer&) = delete;
  ~Expirer();  // Stop()s

  // Starts the thread; the first run happens at once. No-op if already started.
  void Start();
  // Wakes and joins the thread. Idempotent.
  void Stop();

  // One run now, on the caller's thread. Errors (Redis down) are counted and returned.
  absl::StatusOr<int64_t> RunOnce();

  const ExpirerOptions& options() const { return options_; }
  int64_t expired_total() const { return expired_total_.load(); }
  int64_t runs_total() const { return runs_total_.load(); }
  int64_t errors_total() const { return errors_total_.load(); }

 private:
  void Loop();

  ProposalStore& store_;
  const ExpirerOptions options_;
  const Listener on_run_;
  std::atomic<int64_t> expired_total_{0};
  std::atomic<int64_t> runs_total_{0};
  std::atomic<int64_t> errors_total_{0};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_EXPIRY_H_
