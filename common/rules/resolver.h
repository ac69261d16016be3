// OpportunityResolver: which opportunity an event is about (spec/events.md: by
// `opportunity_id`, else by participants against OPEN opportunities' contacts).
//
// SnapshotResolver resolves against an in-memory set of snapshots (a JSON-lines file for the
// tools); the services resolve over Redis with crmstate::OpportunityStateStore, same rules.
// Participants are `from`, `to` and `cc`: emails compared case-insensitively, phones normalized to
// E.164 (spaces, dashes, dots and parentheses stripped, a leading "00" becomes "+"), chat ids
// exactly.
//
// Thread safety: Resolve() is const and safe concurrently once built.
#ifndef AUTOSTAGE_COMMON_RULES_RESOLVER_H_
#define AUTOSTAGE_COMMON_RULES_RESOLVER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "autostage/v1/event.pb.h"
#include "autostage/v1/opportunity.pb.h"

namespace autostage::rules {

struct Resolution {
  std::optional<v1::Opportunity> opportunity;
  // Empty when resolved; else "unresolved" (no id match / no participant match) or
  // "ambiguous_opportunity" (participants match several open opportunities).
  std::string reason;
};

// A resolution that need not copy the snapshot (the engine's hot path). `opportunity` points
// either into the resolver's own storage (valid while that resolver lives and is not changed)
// or into `owned`; it is neither copyable nor movable so that the second case stays valid.
struct ResolutionView {
  ResolutionView() = default;
  ResolutionView(const ResolutionView&) = delete;
  ResolutionView& operator=(const ResolutionView&) = delete;

  const v1::Opportunity* opportunity = nullptr;  // null when unresolved
  std::string reason;                            // as Resolution::reason
  Resolution owned;                              // storage for resolvers that only copy
  // The same answer as a Resolution (copies the snapshot; for traces).
  Resolution ToResolution() const;
};

class OpportunityResolver {
 public:
  virtual ~OpportunityResolver() = default;
  virtual Resolution Resolve(const v1::Event& event) const = 0;
  // The same answer as Resolve(), into `*view` (overwritten). The default calls Resolve() and
  // keeps the copy in `view->owned`; resolvers holding snapshots in memory override it to
  // point at them instead.
  virtual void ResolveInto(const v1::Event& event, ResolutionView* view) const;
};

// "+86 139-6214 5587" -> "+8613962145587"; "0044 20 7946 0000" -> "+442079460000".
std::string NormalizePhone(std::string_view phone);
std::string LowerAscii(std::string_view s);

// Contact keys, the one definition of "same contact" shared by SnapshotResolver and the
// Redis-backed resolver (common/crmstate): "e:" + LowerAscii(email), "p:" +
// NormalizePhone(phone), "c:" + chat id (exact).
// Every contact of the snapshot, whatever its status (callers index open ones only).
std::vector<std::string> OpportunityContactKeys(const v1::Opportunity& opportunity);
// Every participant of the event (`from`, then `to`, then `cc`); empty fields give no key.
std::vector<std::string> ParticipantContactKeys(const v1::Event& event);

class SnapshotResolver : public OpportunityResolver {
 public:
  // Later snapshots of the same opportunity_id replace earlier ones.
  explicit SnapshotResolver(std::vector<v1::Opportunity> snapshots);
  // Reads JSON lines (DecodeOpportunity); blank lines skipped. kNotFound when unreadable,
  // kInvalidArgument naming the line when a snapshot does not decode.
  static absl::StatusOr<SnapshotResolver> FromFile(const std::string& path);

  Resolution Resolve(const v1::Event& event) const override;
  // Points into this resolver's snapshots: no copy.
  void ResolveInto(const v1::Event& event, ResolutionView* view) const override;
  size_t size() const { return by_id_.size(); }

 private:
  // The snapshot `event` resolves to, or null with `*reason` set.
  const v1::Opportunity* Find(const v1::Event& event, std::string* reason) const;

  std::map<std::string, v1::Opportunity, std::less<>> by_id_;
  // Contact key ("e:" email, "p:" phone, "c:" chat id) -> open opportunity ids.
  std::map<std::string, std::vector<std::string>, std::less<>> by_contact_;
};

}  // namespace autostage::rules

#endif  // AUTOSTAGE_COMMON_RULES_RESOLVER_H_
