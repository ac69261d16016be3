// Authentication and authorization of review callers (DESIGN.md invariant 5).
//
// A TokenTable maps bearer tokens to Principals. It is loaded from a YAML token file that holds
// only SHA-256 digests of the tokens, never the tokens themselves:
//
//   - sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//     id: alice           # the CRM user id (matches Opportunity.owner_id for reps)
//     kind: human         # human | service
//     role: rep           # rep | manager | admin | ingest
//     team: east          # required for managers; Opportunity.team_id
//
// The policy functions below are the whole authorization table; the service calls them and
// turns a `false` into PERMISSION_DENIED.
//
// Thread safety: a TokenTable is immutable after loading; share it read-only.
#ifndef AUTOSTAGE_SERVICES_REVIEW_AUTH_H_
#define AUTOSTAGE_SERVICES_REVIEW_AUTH_H_

#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace autostage::review {

enum class PrincipalKind { kHuman, kService };
enum class Role { kRep, kManager, kAdmin, kIngest };

struct Principal {
  std::string id;
  PrincipalKind kind = PrincipalKind::kHuman;
  Role role = Role::kRep;
  std::string team;
};

absl::string_view KindName(PrincipalKind kind);
absl::string_view RoleName(Role role);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::string_view data);

class TokenTable {
 public:
  // Parses the YAML text of a token file. InvalidArgument naming the entry (0-based index) for
  // a malformed digest, unknown kind/role/key, a missing id, a manager without team, an ingest
  // principal that is not a service, or a duplicate digest.
  static absl::StatusOr<TokenTable> Parse(absl::string_view yaml);
  // Reads and parses a token file; NotFound if it cannot be read.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The principal of an `authorization` metadata value ("Bearer <token>"). Unauthenticated when
  // the value is empty, not a bearer token, or the token is unknown.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

  size_t size() const { return by_digest_.size(); }

 private:
  std::unordered_map<std::string, Principal> by_digest_;
};

// The opportunity facts authorization depends on.
struct Ownership {
  std::string owner_id;
  std::string team_id;
};

// Only ingest service principals submit proposals.
bool MaySubmit(const Principal& p);
// Reps see their own opportunities, managers their team's, admins all. Ingest sees nothing.
bool MayView(const Principal& p, const Ownership& o);
// Deciding (confirm/reject) additionally needs a human.
bool MayDecide(const Principal& p, const Ownership& o);
// Listing at all (the list is then scoped by ScopeOf in the store).
bool MayList(const Principal& p);

}  // namespace autostage::review

#endif  // AUTOSTAGE_SERVICES_REVIEW_AUTH_H_
