#include "tools/autostagectl/review_commands.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/autostagectl/exit_codes.h"

namespace autostage::ctl {
namespace {

constexpr int kSnippetWidth = 72;

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Only fails for Any with unknown types; ReviewService has none.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", FromProto(t), absl::UTCTimeZone());
}

std::string StatusName(v1::ProposalStatus status) {
  switch (status) {
    case v1::PROPOSAL_STATUS_PENDING:
      return "pending";
    case v1::PROPOSAL_STATUS_CONFIRMED:
      return "confirmed";
    case v1::PROPOSAL_STATUS_REJECTED:
      return "rejected";
    case v1::PROPOSAL_STATUS_SUPERSEDED:
      return "superseded";
    case v1::PROPOSAL_STATUS_EXPIRED:
      return "expired";
    default:
      return "unknown";
  }
}

std::string StageDisplay(const ReviewContext& ctx, const std::string& pipeline,
                         const std::string& stage) {
  if (stage.empty()) return "?";
  return ctx.stages != nullptr ? ctx.stages->Display(pipeline, stage) : stage;
}

std::string Transition(const ReviewContext& ctx, const v1::Proposal& p) {
  return absl::StrCat(StageDisplay(ctx, p.pipeline(), p.from_stage()), " → ",
                      StageDisplay(ctx, p.pipeline(), p.to_stage()));
}

std::string Sources(const v1::Proposal& p) {
  std::set<std::string> sources;
  for (const v1::Evidence& e : p.evidence()) sources.insert(e.source());
  return sources.empty() ? "-" : absl::StrJoin(sources, ",");
}

// When the proposal was made: Proposal.created_at (set by ingest), else when review last
// changed it.
std::string AgeOf(const ReviewContext& ctx, const v1::ReviewedProposal& r) {
  const google::protobuf::Timestamp& created =
      r.proposal().has_created_at() ? r.proposal().created_at() : r.updated_at();
  if (created.seconds() == 0 && created.nanos() == 0) return "-";
  return Age(FromProto(created), ctx.now);
}

std::vector<std::string> Terms(const v1::Evidence& e) {
  return {e.matched_terms().begin(), e.matched_terms().end()};
}

void Authorize(const ReviewContext& ctx, grpc::ClientContext* context, bool unary) {
  context->AddMetadata("authorization", "Bearer " + ctx.token);
  if (unary) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(absl::ToInt64Milliseconds(ctx.timeout)));
  }
}

int NoToken(std::ostream& err) {
  return Fail(err, kExitNoToken,
              "no token: pass --token, set AUTOSTAGE_TOKEN, or put token/token_file in the "
              "config file (~/.config/autostage/ctl.yaml)");
}

grpc::Status GetProposal(const ReviewContext& ctx, const std::string& id,
                         v1::ReviewedProposal* out) {
  grpc::ClientContext context;
  Authorize(ctx, &context, true);
  v1::GetProposalRequest request;
  request.set_proposal_id(id);
  return ctx.stub->GetProposal(&context, request, out);
}

// A FAILED_PRECONDITION from a decision: already decided, or no longer applicable.
int ReportRefusedDecision(const ReviewContext& ctx, const grpc::Status& status,
                          const std::string& id, std::ostream& err) {
  v1::ReviewedProposal current;
  const grpc::Status reread = GetProposal(ctx, id, &current);
  if (reread.ok() && (current.status() == v1::PROPOSAL_STATUS_CONFIRMED ||
                      current.status() == v1::PROPOSAL_STATUS_REJECTED)) {
    std::string message =
        absl::StrCat("proposal ", id, " was already ", StatusName(current.status()), " by ",
                     current.decided_by(), " at ", FormatTime(current.decided_at()));
    if (!current.reason().empty()) absl::StrAppend(&message, " (reason: ", current.reason(), ")");
    return Fail(err, kExitAlreadyDecided, message);
  }
  return Fail(err, kExitStale,
              absl::StrCat("proposal ", id, " no longer applies: ", status.error_message()));
}

void PrintDecision(const ReviewContext& ctx, const v1::ReviewedProposal& r, std::ostream& out) {
  if (ctx.json) {
    out << ToJson(r) << "\n";
    return;
  }
  const v1::Proposal& p = r.proposal();
  out << StatusName(r.status()) << " " << p.proposal_id() << ": " << p.opportunity_id() << " "
      << Transition(ctx, p);
  if (!r.change_id().empty()) out << " (stage change " << r.change_id() << ")";
  if (!r.reason().empty()) out << " (reason: " << r.reason() << ")";
  out << "\n";
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeReviewChannel(const std::string& address,
                                                                 const std::string& tls_ca) {
  if (tls_ca.empty()) return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::ifstream in(tls_ca, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read TLS CA file ", tls_ca));
  std::ostringstream pem;
  pem << in.rdbuf();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pem.str();
  return grpc::CreateChannel(address, grpc::SslCredentials(options));
}

int ReportRpcError(const ReviewContext& ctx, const grpc::Status& status, const std::string& what,
                   std::ostream& err) {
  const std::string detail = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return Fail(err, kExitUnauthenticated,
                  absl::StrCat("review at ", ctx.address,
                               " does not accept this token (UNAUTHENTICATED): check --token, "
                               "AUTOSTAGE_TOKEN or the config file"));
    case grpc::StatusCode::PERMISSION_DENIED:
      return Fail(err, kExitPermissionDenied, absl::StrCat("not allowed: ", detail));
    case grpc::StatusCode::NOT_FOUND:
      return Fail(err, kExitNotFound, absl::StrCat(what, " not found: ", detail));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Fail(err, kExitStale, absl::StrCat(what, ": ", detail));
    case grpc::StatusCode::ABORTED:
      return Fail(err, kExitVersionMoved,
                  absl::StrCat(what, " changed since its version was read: ", detail));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Fail(
          err, kExitUnavailable,
          absl::StrCat("review at ", ctx.address, " is unreachable (",
                       status.error_code() == grpc::StatusCode::UNAVAILABLE ? "UNAVAILABLE"
                                                                            : "DEADLINE_EXCEEDED",
                       detail.empty() ? "" : ": " + detail, ")"));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Fail(err, kExitUsage, absl::StrCat("invalid request: ", detail));
    case grpc::StatusCode::UNIMPLEMENTED:
      return Fail(
          err, kExitUnimplemented,
          absl::StrCat("review at ", ctx.address, " does not implement this call yet: ", detail));
    default:
      return Fail(err, kExitError,
                  absl::StrCat("review call failed (code ", static_cast<int>(status.error_code()),
                               "): ", detail));
  }
}

int Pending(const ReviewContext& ctx, const PendingOptions& options, std::ostream& out,
            std::ostream& err) {
  if (ctx.token.empty()) return NoToken(err);
  if (options.page_size < 1 || options.page_size > 500) {
    return Fail(err, kExitUsage, "--limit must be 1..500");
  }
  v1::ListPendingRequest request;
  request.set_page_size(options.page_size);
  request.set_page_token(options.page_token);
  request.set_order(options.oldest_first ? v1::LIST_ORDER_OLDEST_FIRST
                                         : v1::LIST_ORDER_NEWEST_FIRST);
  request.set_opportunity_id(options.opportunity_id);
  request.set_to_stage(options.to_stage);
  request.set_source(options.source);
  v1::ListPendingResponse all;
  while (true) {
    grpc::ClientContext context;
    Authorize(ctx, &context, true);
    v1::ListPendingResponse page;
    const grpc::Status status = ctx.stub->ListPending(&context, request, &page);
    if (!status.ok()) return ReportRpcError(ctx, status, "pending list", err);
    for (v1::ReviewedProposal& p : *page.mutable_proposals()) *all.add_proposals() = std::move(p);
    all.set_next_page_token(page.next_page_token());
    if (!options.all_pages || page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (ctx.json) {
    out << ToJson(all) << "\n";
    return kExitOk;
  }
  if (all.proposals_size() == 0) {
    out << "no pending proposals\n";
  } else {
    Table table({"ID", "OPPORTUNITY", "FROM → TO", "SOURCE", "AGE", "EVIDENCE"});
    for (const v1::ReviewedProposal& r : all.proposals()) {
      const v1::Proposal& p = r.proposal();
      std::string evidence = "-";
      if (p.evidence_size() > 0) {
        const v1::Evidence& e = p.evidence(0);
        evidence = HighlightTerms(Truncate(e.snippet(), kSnippetWidth), Terms(e), ctx.highlight);
        if (p.evidence_size() > 1) absl::StrAppend(&evidence, "  (+", p.evidence_size() - 1, ")");
      }
      table.Add({p.proposal_id(), p.opportunity_id(), Transition(ctx, p), Sources(p), AgeOf(ctx, r),
                 evidence});
    }
    table.Print(out);
  }
  if (!all.next_page_token().empty()) {
    out << "more: --page-token " << all.next_page_token() << "\n";
  }
  return kExitOk;
}

int Show(const ReviewContext& ctx, const std::string& proposal_id, std::ostream& out,
         std::ostream& err) {
  if (ctx.token.empty()) return NoToken(err);
  v1::ReviewedProposal r;
  const grpc::Status status = GetProposal(ctx, proposal_id, &r);
  if (!status.ok()) return ReportRpcError(ctx, status, "proposal " + proposal_id, err);
  if (ctx.json) {
    out << ToJson(r) << "\n";
    return kExitOk;
  }
  const v1::Proposal& p = r.proposal();
  Table fields({"proposal", p.proposal_id()});
  fields.Add({"status",
              absl::StrCat(StatusName(r.status()), " (version ", r.version(), ", ", r.submissions(),
                           " submission", r.submissions() == 1 ? "" : "s", ")")});
  fields.Add(
      {"opportunity", absl::StrCat(p.opportunity_id(), " (pipeline ", p.pipeline(), ", owner ",
                                   p.owner_id().empty() ? "-" : p.owner_id(), ", team ",
                                   p.team_id().empty() ? "-" : p.team_id(), ")")});
  fields.Add(
      {"stage", absl::StrCat(Transition(ctx, p), "  (", p.from_stage(), " → ", p.to_stage(), ")")});
  fields.Add({"rule", absl::StrFormat("%s (confidence %.2f)", p.rule_id(), p.confidence())});
  fields.Add({"created", absl::StrCat(FormatTime(p.created_at()), " (", AgeOf(ctx, r), ")")});
  fields.Add({"updated", FormatTime(r.updated_at())});
  if (r.status() != v1::PROPOSAL_STATUS_PENDING) {
    fields.Add({"decided", absl::StrCat(r.decided_by().empty() ? "-" : r.decided_by(), " at ",
                                        FormatTime(r.decided_at()))});
  }
  if (!r.reason().empty()) fields.Add({"reason", r.reason()});
  if (!r.change_id().empty()) fields.Add({"stage change", r.change_id()});
  fields.Print(out);
  out << "evidence (" << p.evidence_size() << "):\n";
  for (int i = 0; i < p.evidence_size(); ++i) {
    const v1::Evidence& e = p.evidence(i);
    out << absl::StrFormat("  [%d] %s %s  rule %s  confidence %.2f  at %s  field %s\n", i + 1,
                           e.source(), e.event_id(), e.rule_id(), e.confidence(),
                           FormatTime(e.occurred_at()), e.field().empty() ? "-" : e.field());
    if (e.matched_terms_size() > 0) {
      out << "      matched: " << absl::StrJoin(e.matched_terms(), ", ") << "\n";
    }
    out << "      " << HighlightTerms(e.snippet(), Terms(e), ctx.highlight) << "\n";
  }
  return kExitOk;
}

namespace {

// Shared by Confirm and Reject: resolves the version, sends, maps errors.
template <typename Send>
int Decide(const ReviewContext& ctx, const std::string& proposal_id, std::optional<int64_t> version,
           Send send, std::ostream& out, std::ostream& err) {
  if (!version) {
    v1::ReviewedProposal current;
    const grpc::Status status = GetProposal(ctx, proposal_id, &current);
    if (!status.ok()) return ReportRpcError(ctx, status, "proposal " + proposal_id, err);
    version = current.version();
  }
  grpc::ClientContext context;
  Authorize(ctx, &context, true);
  v1::ReviewedProposal decided;
  const grpc::Status status = send(&context, *version, &decided);
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    return ReportRefusedDecision(ctx, status, proposal_id, err);
  }
  if (!status.ok()) return ReportRpcError(ctx, status, "proposal " + proposal_id, err);
  PrintDecision(ctx, decided, out);
  return kExitOk;
}

}  // namespace

int Confirm(const ReviewContext& ctx, const std::string& proposal_id,
            std::optional<int64_t> version, std::ostream& out, std::ostream& err) {
  if (ctx.token.empty()) return NoToken(err);
  return Decide(
      ctx, proposal_id, version,
      [&](grpc::ClientContext* context, int64_t v, v1::ReviewedProposal* response) {
        v1::ConfirmProposalRequest request;
        request.set_proposal_id(proposal_id);
        request.set_version(v);
        return ctx.stub->ConfirmProposal(context, request, response);
      },
      out, err);
}

int Reject(const ReviewContext& ctx, const std::string& proposal_id, const std::string& reason,
           std::optional<int64_t> version, std::ostream& out, std::ostream& err) {
  if (absl::StripAsciiWhitespace(reason).empty()) {
    return Fail(err, kExitUsage,
                "reject needs --reason TEXT (what was wrong: it measures rule precision)");
  }
  if (ctx.token.empty()) return NoToken(err);
  return Decide(
      ctx, proposal_id, version,
      [&](grpc::ClientContext* context, int64_t v, v1::ReviewedProposal* response) {
        v1::RejectProposalRequest request;
        request.set_proposal_id(proposal_id);
        request.set_version(v);
        request.set_reason(reason);
        return ctx.stub->RejectProposal(context, request, response);
      },
      out, err);
}

int Watch(const ReviewContext& ctx, const WatchOptions& options, grpc::ClientContext* context,
          std::ostream& out, std::ostream& err) {
  if (ctx.token.empty()) return NoToken(err);
  Authorize(ctx, context, false);
  v1::WatchProposalsRequest request;
  request.set_opportunity_id(options.opportunity_id);
  request.set_to_stage(options.to_stage);
  std::unique_ptr<grpc::ClientReaderInterface<v1::ProposalUpdate>> reader =
      ctx.stub->WatchProposals(context, request);
  v1::ProposalUpdate update;
  int received = 0;
  while (reader->Read(&update)) {
    ++received;
    if (ctx.json) {
      out << ToJson(update) << "\n";
    } else {
      const v1::ReviewedProposal& r = update.proposal();
      std::string kind = absl::AsciiStrToLower(v1::ProposalUpdate::Kind_Name(update.kind()));
      if (absl::StartsWith(kind, "kind_")) kind = kind.substr(5);
      out << absl::StrFormat("%-8s %s  %s  %s  %s v%d", kind, r.proposal().proposal_id(),
                             r.proposal().opportunity_id(), Transition(ctx, r.proposal()),
                             StatusName(r.status()), r.version());
      if (!r.decided_by().empty()) out << " by " << r.decided_by();
      out << "\n";
    }
    out.flush();
    if (options.max_updates > 0 && received >= options.max_updates) {
      context->TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) return kExitOk;
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return Fail(err, kExitUnimplemented,
                absl::StrCat("review at ", ctx.address,
                             " does not support watch yet (WatchProposals is UNIMPLEMENTED); "
                             "poll with `autostagectl pending` instead"));
  }
  return ReportRpcError(ctx, status, "watch", err);
}

}  // namespace autostage::ctl
