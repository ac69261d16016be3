// The rep commands of autostagectl over autostage.v1.ReviewService: pending, show, confirm,
// reject, watch. Each writes its result to `out`, one error line to `err`, and returns the exit
// code (exit_codes.h). Tests call them in-process against a real review server; main.cc only
// parses flags and builds the stub.
//
// gRPC errors map to exit codes by what the user should do (docs/reps.md). A
// FAILED_PRECONDITION from confirm/reject is told apart by reading the proposal again:
// confirmed/rejected → kExitAlreadyDecided, superseded/expired/still pending (the opportunity
// moved) → kExitStale.
//
// Thread safety: a ReviewContext is read-only during a call; calls are independent (the stub
// is thread-safe).
#ifndef AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_COMMANDS_H_
#define AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_COMMANDS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "autostage/v1/review.grpc.pb.h"
#include "tools/autostagectl/format.h"
#include "tools/autostagectl/settings.h"

namespace autostage::ctl {

struct ReviewContext {
  v1::ReviewService::StubInterface* stub = nullptr;  // borrowed
  std::string address;                               // for messages only
  std::string token;                                 // empty → kExitNoToken before any call
  absl::Duration timeout = absl::Seconds(10);        // per unary call
  const StageNames* stages = nullptr;                // may be null: ids only
  absl::Time now = absl::UnixEpoch();                // for ages
  bool json = false;
  Highlight highlight = Highlight::kBrackets;
};

// A channel to review: TLS with the CA file when `tls_ca` is set, plaintext otherwise.
// kNotFound when the CA file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeReviewChannel(const std::string& address,
                                                                 const std::string& tls_ca);

struct PendingOptions {
  std::string opportunity_id;
  std::string to_stage;
  std::string source;
  bool oldest_first = false;
  int page_size = 50;
  std::string page_token;
  bool all_pages = false;  // follow next_page_token to the end
};
// Text: a table (ID, OPPORTUNITY, FROM → TO, SOURCE, AGE, EVIDENCE) and, when more pages
// exist, a "more: --page-token T" line. JSON: {"proposals":[ReviewedProposal...],
// "next_page_token":"..."}.
int Pending(const ReviewContext& ctx, const PendingOptions& options, std::ostream& out,
            std::ostream& err);

// Every field and every piece of evidence. JSON: the ReviewedProposal.
int Show(const ReviewContext& ctx, const std::string& proposal_id, std::ostream& out,
         std::ostream& err);

// Reads the current version first unless `version` is given. JSON: the decided proposal.
int Confirm(const ReviewContext& ctx, const std::string& proposal_id,
            std::optional<int64_t> version, std::ostream& out, std::ostream& err);
// `reason` must not be blank (kExitUsage, nothing is sent).
int Reject(const ReviewContext& ctx, const std::string& proposal_id, const std::string& reason,
           std::optional<int64_t> version, std::ostream& out, std::ostream& err);

struct WatchOptions {
  std::string opportunity_id;
  std::string to_stage;
  int max_updates = 0;  // stop after this many (0: until the stream ends or is cancelled)
};
// One line per update (JSON: one ProposalUpdate object per line), flushed as it arrives.
// `context` lets the caller cancel (Ctrl-C): cancellation ends the watch with kExitOk.
int Watch(const ReviewContext& ctx, const WatchOptions& options, grpc::ClientContext* context,
          std::ostream& out, std::ostream& err);

// The exit code and one-line message for a failed call. `what` names the call's object
// ("proposal p-1"), for NOT_FOUND and the like.
int ReportRpcError(const ReviewContext& ctx, const grpc::Status& status, const std::string& what,
                   std::ostream& err);

}  // namespace autostage::ctl

#endif  // AUTOSTAGE_TOOLS_AUTOSTAGECTL_REVIEW_COMMANDS_H_
