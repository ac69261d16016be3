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
// Reload: a table loaded from a file can re-read it (SIGHUP). The new entries replace the old
// ones in one swap, so a revoked token is refused by every call that starts after Reload()
// returns; a file that does not parse leaves the old table in force and Reload() says why.
//
// Verified tokens: Authenticate remembers the principal of each token it has verified (only
// tokens that are in the table, so at most one entry per table entry), so a caller's repeated
// calls hash the token once (SHA-256 through OpenSSL's EVP was ~4 % of the server's CPU per
// confirm). The memo belongs to the entries it was verified against: Reload and Replace drop it
// with them, so a revoked token is refused as before.
//
// Thread safety: Authenticate, size and Reload may be called concurrently from any threads.
#ifndef AUTOSTAGE_SERVICES_REVIEW_AUTH_H_
#define AUTOSTAGE_SERVICES_REVIEW_AUTH_H_

#include <memory>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

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

  TokenTable() : state_(std::make_unique<State>()) {}
  TokenTable(TokenTable&&) noexcept = default;
  TokenTable& operator=(TokenTable&&) noexcept = default;

  // Re-reads the file this table was loaded from and swaps the entries in. On any error
  // (unreadable file, a malformed entry: the codes of Load) the old entries stay in force.
  // FailedPrecondition for a table made by Parse (no file to re-read).
  absl::Status Reload();
  // Replaces the entries with those of `other` (e.g. a table parsed elsewhere).
  void Replace(const TokenTable& other);

  // The principal of an `authorization` metadata value ("Bearer <token>"). Unauthenticated when
  // the value is empty, not a bearer token, or the token is unknown.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization) const;

  size_t size() const { return Entries()->size(); }
  // The file Load read; empty for a parsed table.
  std::string path() const;

 private:
  using Map = std::unordered_map<std::string, Principal>;
  // Heap-allocated so the table stays movable (StatusOr<TokenTable>) while holding a mutex.
  struct State {
    mutable absl::Mutex mu;
    std::shared_ptr<const Map> by_digest ABSL_GUARDED_BY(mu) = std::make_shared<const Map>();
    std::string path ABSL_GUARDED_BY(mu);
    // Token (as presented, without "Bearer ") -> its principal in `by_digest`; cleared whenever
    // `by_digest` is replaced.
    absl::flat_hash_map<std::string, Principal> verified ABSL_GUARDED_BY(mu);
  };
  // A snapshot: callers keep using it even if a reload swaps in a new map meanwhile.
  std::shared_ptr<const Map> Entries() const;

  std::unique_ptr<State> state_;
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
