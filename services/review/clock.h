// Clock: the time source of the review service, injected so tests control it.
// Thread safety: implementations must be safe to call from several threads.
#ifndef AUTOSTAGE_SERVICES_REVIEW_CLOCK_H_
#define AUTOSTAGE_SERVICES_REVIEW_CLOCK_H_

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace autostage::review {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class SystemClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// A clock that moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_CLOCK_H_
