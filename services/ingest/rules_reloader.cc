#include "services/ingest/rules_reloader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/rules/config.h"
#include "common/rules/sha256.h"
#include "common/status/status_macros.h"

namespace autostage::ingest {
namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<RulesReloader>> RulesReloader::Create(
    RulesReloaderOptions options, std::shared_ptr<const text::Normalizer> normalizer,
    log::Logger log) {
  if (options.paths.empty()) return absl::InvalidArgumentError("rules: no rule paths given");
  if (normalizer == nullptr) return absl::InvalidArgumentError("rules: no normalizer");
  std::unique_ptr<RulesReloader> reloader(
      new RulesReloader(std::move(options), std::move(normalizer), std::move(log)));
  absl::MutexLock reload_lock(&reloader->reload_mu_);
  // A failing fingerprint only means the watcher will try again; the load decides.
  reloader->fingerprint_ = reloader->Fingerprint().value_or("");
  ASSIGN_OR_RETURN(std::shared_ptr<const rules::RuleSet> rules, reloader->Build());
  absl::MutexLock lock(&reloader->mu_);
  reloader->current_ = std::move(rules);
  reloader->generation_ = 1;
  return reloader;
}

RulesReloader::~RulesReloader() { StopWatching(); }

RulesReloader::Snapshot RulesReloader::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return Snapshot{current_, generation_};
}

RulesReloaderStats RulesReloader::stats() const {
  absl::ReaderMutexLock lock(&mu_);
  return RulesReloaderStats{generation_, reloads_ok_, reloads_failed_, last_error_};
}

absl::StatusOr<std::string> RulesReloader::Fingerprint() const {
  // The files LoadRules reads: folders' regular *.yaml/*.yml files in name order, files as
  // given. A missing path or an unreadable file is part of the fingerprint too, so the state
  // "file missing" differs from "file present".
  std::string material;
  for (const std::string& path : options_.paths) {
    std::vector<std::string> files;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          files.push_back(entry.path().string());
        }
      }
      if (ec) return absl::UnavailableError(absl::StrCat(path, ": cannot list: ", ec.message()));
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
    }
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string content;
      if (in) {
        content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      } else {
        content = "\x01<unreadable>";
      }
      absl::StrAppend(&material, file.size(), ":", file, content.size(), ":", content);
    }
  }
  return rules::Sha256Hex(material);
}

absl::StatusOr<std::shared_ptr<const rules::RuleSet>> RulesReloader::Build() const {
  std::vector<std::string> errors;
  for (const rules::Diagnostic& d : rules::Lint(options_.paths)) {
    if (d.severity == rules::Diagnostic::Severity::kError) errors.push_back(d.ToString());
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  // Loaded again rather than taken from Lint: Lint returns diagnostics only. A file changed in
  // between is caught here (or by the next fingerprint).
  rules::LoadResult loaded = rules::LoadRules(options_.paths);
  for (const rules::Diagnostic& d : loaded.diagnostics) {
    if (d.severity == rules::Diagnostic::Severity::kError) errors.push_back(d.ToString());
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return rules::RuleSet::Compile(std::move(loaded.config), normalizer_);
}

absl::Status RulesReloader::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  fingerprint_ = Fingerprint().value_or("");
  return ReloadLocked();
}

absl::StatusOr<bool> RulesReloader::ReloadIfChanged() {
  absl::MutexLock reload_lock(&reload_mu_);
  ASSIGN_OR_RETURN(std::string fingerprint, Fingerprint());
  if (fingerprint == fingerprint_) return false;
  fingerprint_ = std::move(fingerprint);
  RETURN_IF_ERROR(ReloadLocked());
  return true;
}

absl::Status RulesReloader::ReloadLocked() {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const rules::RuleSet>> built = Build();
  if (!built.ok()) {
    const absl::Status error(built.status().code(),
                             absl::StrCat("rules reload failed, keeping the previous rules:\n",
                                          built.status().message()));
    uint64_t generation = 0;
    {
      absl::MutexLock lock(&mu_);
      ++reloads_failed_;
      last_error_ = std::string(built.status().message());
      generation = generation_;
    }
    log_.Error("rules reload failed; previous rules kept",
               {{"error", built.status()}, {"generation", generation}});
    return error;
  }
  uint64_t generation = 0;
  size_t rule_count = (*built)->rule_count();
  {
    absl::MutexLock lock(&mu_);
    current_ = *std::move(built);
    generation = ++generation_;
    ++reloads_ok_;
    last_error_.clear();
  }
  log_.Info("rules reloaded", {{"generation", generation},
                               {"rules", static_cast<int64_t>(rule_count)},
                               {"took", absl::Now() - start}});
  return absl::OkStatus();
}

void RulesReloader::StartWatching() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (watcher_.joinable()) return;
  {
    absl::MutexLock lock(&watch_mu_);
    stop_watching_ = false;
  }
  watcher_ = std::thread([this] { WatchLoop(); });
}

void RulesReloader::StopWatching() {
  absl::MutexLock lifecycle(&lifecycle_mu_);
  if (!watcher_.joinable()) return;
  {
    absl::MutexLock lock(&watch_mu_);
    stop_watching_ = true;
  }
  watcher_.join();
}

void RulesReloader::WatchLoop() {
  const absl::Duration tick =
      std::max(absl::Milliseconds(1), std::min(options_.signal_check, options_.poll_interval));
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  while (true) {
    {
      absl::MutexLock lock(&watch_mu_);
      // Wakes at once on StopWatching (the condition), else after one tick.
      watch_mu_.AwaitWithTimeout(absl::Condition(&stop_watching_), tick);
      if (stop_watching_) return;
    }
    if (reload_requested_.exchange(false, std::memory_order_relaxed)) {
      (void)Reload();  // logged and counted inside
    }
    if (absl::Now() >= next_poll) {
      absl::StatusOr<bool> changed = ReloadIfChanged();
      if (!changed.ok() && !absl::IsInvalidArgument(changed.status())) {
        log_.Warn("rules: cannot check the rule files", {{"error", changed.status()}});
      }
      next_poll = absl::Now() + options_.poll_interval;
    }
  }
}

}  // namespace autostage::ingest
