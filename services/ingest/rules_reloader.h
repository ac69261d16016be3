// RulesReloader: the rule set ingest judges with, reloaded while the service runs (on SIGHUP
// and when the rule files change) without ever running a broken one.
//
// Reload() lints the files (rules::Lint: config errors and regexes Vectorscan refuses, each
// with file:line), loads and compiles them; only when all of that succeeded is the new
// RuleSet swapped in and the generation incremented. On any error the old rules stay, the
// error is logged and counted, and Reload() returns kInvalidArgument whose message lists
// every error as "file:line: message".
//
// Change detection: a fingerprint (SHA-256 over the names and contents of the rule files, the
// same files LoadRules reads) is taken at every load attempt; ReloadIfChanged() reloads when
// it differs. The watcher thread (StartWatching) calls it every `poll_interval` and also
// serves RequestReload(). Content, not mtime, so a rewrite within one mtime tick is still
// seen and a `touch` alone does not reload. A half-written file fails to load and is retried
// once it changes again (the failed content's fingerprint is remembered, so a bad file is
// reported once, not every poll).
//
// SIGHUP: a signal handler may only call RequestReload() (an atomic store, async-signal-safe);
// the watcher thread performs the reload within `signal_check` (it must be running). A thread
// that waits for signals with sigwait() may call Reload() directly instead.
//
// Thread safety: all methods are thread-safe. Current() is cheap (a reader lock and a
// shared_ptr copy): take one snapshot per event and rebuild per-thread Engines when its
// generation changes. Reloads are serialized.
#ifndef AUTOSTAGE_SERVICES_INGEST_RULES_RELOADER_H_
#define AUTOSTAGE_SERVICES_INGEST_RULES_RELOADER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/log/log.h"
#include "common/rules/rule_set.h"
#include "common/text/normalize.h"

namespace autostage::ingest {

struct RulesReloaderOptions {
  // Rule files and folders, as rules::LoadRules takes them (folders: their *.yaml / *.yml).
  std::vector<std::string> paths;
  // How often the watcher compares fingerprints.
  absl::Duration poll_interval = absl::Seconds(2);
  // How often the watcher looks at RequestReload()'s flag.
  absl::Duration signal_check = absl::Milliseconds(100);
};

struct RulesReloaderStats {
  uint64_t generation = 0;  // 1 after the initial load, +1 per successful reload
  int64_t reloads_ok = 0;   // successful reloads (the initial load not counted)
  int64_t reloads_failed = 0;
  std::string last_error;  // of the last failed reload; "" when the last attempt succeeded
};

class RulesReloader {
 public:
  struct Snapshot {
    std::shared_ptr<const rules::RuleSet> rules;
    uint64_t generation = 0;
  };

  // Loads the initial rule set; kInvalidArgument (every "file:line: message") when it does not
  // lint or compile: the service must not start without rules. `normalizer` is shared with the
  // compiled rule sets.
  static absl::StatusOr<std::unique_ptr<RulesReloader>> Create(
      RulesReloaderOptions options, std::shared_ptr<const text::Normalizer> normalizer,
      log::Logger log);
  // Stops the watcher.
  ~RulesReloader();
  RulesReloader(const RulesReloader&) = delete;
  RulesReloader& operator=(const RulesReloader&) = delete;

  Snapshot Current() const;

  // Lints, loads and compiles the files now (see the top); OK when swapped in.
  absl::Status Reload();
  // Reloads when the fingerprint changed since the last attempt. Returns whether it reloaded
  // successfully (false: unchanged); the reload's error otherwise, or the file read error.
  absl::StatusOr<bool> ReloadIfChanged();
  // Async-signal-safe: asks the watcher thread to Reload() soon.
  void RequestReload() { reload_requested_.store(true, std::memory_order_relaxed); }

  // Starts/stops the watcher thread (idempotent).
  void StartWatching();
  void StopWatching();

  RulesReloaderStats stats() const;

 private:
  RulesReloader(RulesReloaderOptions options, std::shared_ptr<const text::Normalizer> normalizer,
                log::Logger log)
      : options_(std::move(options)), normalizer_(std::move(normalizer)), log_(std::move(log)) {}

  // SHA-256 hex over the rule files' names and contents.
  absl::StatusOr<std::string> Fingerprint() const;
  // Lint + load + compile; the new rule set or every error.
  absl::StatusOr<std::shared_ptr<const rules::RuleSet>> Build() const;
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);
  void WatchLoop();

  const RulesReloaderOptions options_;
  const std::shared_ptr<const text::Normalizer> normalizer_;
  const log::Logger log_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const rules::RuleSet> current_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reloads_ok_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reloads_failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);

  // Serializes reloads (watcher, signal thread, callers); held across lint and compile.
  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::string fingerprint_ ABSL_GUARDED_BY(reload_mu_);

  std::atomic<bool> reload_requested_{false};
  absl::Mutex watch_mu_;
  bool stop_watching_ ABSL_GUARDED_BY(watch_mu_) = false;
  std::thread watcher_;  // started/joined under lifecycle_mu_
  absl::Mutex lifecycle_mu_;
};

}  // namespace autostage::ingest

#endif  // AUTOSTAGE_SERVICES_INGEST_RULES_RELOADER_H_
