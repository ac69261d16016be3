#include "services/review/auth.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace autostage::review {
namespace {

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::string_view KindName(PrincipalKind kind) {
  return kind == PrincipalKind::kHuman ? "human" : "service";
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRep:
      return "rep";
    case Role::kManager:
      return "manager";
    case Role::kAdmin:
      return "admin";
    case Role::kIngest:
      return "ingest";
  }
  return "unknown";
}

std::string Sha256Hex(absl::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  // EVP_Digest is a one-shot call with no context to free; it fails only on allocation failure,
  // in which case the digest stays zero and matches no token.
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("token file: ", e.what()));
  }
  TokenTable table;
  if (!root || root.IsNull()) return table;
  Map by_digest;
  if (!root.IsSequence()) {
    return absl::InvalidArgumentError(
        "token file: expected a list of {sha256, id, kind, role, team}");
  }
  for (size_t i = 0; i < root.size(); ++i) {
    const YAML::Node& entry = root[i];
    const std::string where = absl::StrCat("token file entry ", i, ": ");
    if (!entry.IsMap()) return absl::InvalidArgumentError(where + "expected a map");
    std::string digest, id, kind, role, team;
    try {
      for (const auto& kv : entry) {
        const std::string key = kv.first.as<std::string>();
        const std::string value = kv.second.as<std::string>();
        if (key == "sha256") {
          digest = absl::AsciiStrToLower(value);
        } else if (key == "id") {
          id = value;
        } else if (key == "kind") {
          kind = value;
        } else if (key == "role") {
          role = value;
        } else if (key == "team") {
          team = value;
        } else {
          return absl::InvalidArgumentError(absl::StrCat(where, "unknown key '", key, "'"));
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(where, e.what()));
    }
    if (!IsLowerHex64(digest)) {
      return absl::InvalidArgumentError(where + "sha256 must be 64 hex digits");
    }
    if (id.empty()) return absl::InvalidArgumentError(where + "id is required");
    Principal p;
    p.id = id;
    p.team = team;
    if (kind == "human") {
      p.kind = PrincipalKind::kHuman;
    } else if (kind == "service") {
      p.kind = PrincipalKind::kService;
    } else {
      return absl::InvalidArgumentError(where + "kind must be human or service");
    }
    if (role == "rep") {
      p.role = Role::kRep;
    } else if (role == "manager") {
      p.role = Role::kManager;
    } else if (role == "admin") {
      p.role = Role::kAdmin;
    } else if (role == "ingest") {
      p.role = Role::kIngest;
    } else {
      return absl::InvalidArgumentError(where + "role must be rep, manager, admin or ingest");
    }
    if (p.role == Role::kManager && p.team.empty()) {
      return absl::InvalidArgumentError(where + "a manager needs a team");
    }
    if (p.role == Role::kIngest && p.kind != PrincipalKind::kService) {
      return absl::InvalidArgumentError(where + "an ingest principal must be a service");
    }
    if (!by_digest.emplace(digest, std::move(p)).second) {
      return absl::InvalidArgumentError(where + "duplicate sha256");
    }
  }
  absl::MutexLock lock(&table.state_->mu);
  table.state_->by_digest = std::make_shared<const Map>(std::move(by_digest));
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read token file ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TokenTable> table = Parse(text.str());
  if (table.ok()) {
    absl::MutexLock lock(&table->state_->mu);
    table->state_->path = path;
  }
  return table;
}

absl::Status TokenTable::Reload() {
  const std::string file = path();
  if (file.empty()) {
    return absl::FailedPreconditionError("token table was not loaded from a file");
  }
  absl::StatusOr<TokenTable> fresh = Load(file);
  if (!fresh.ok()) return fresh.status();
  Replace(*fresh);
  return absl::OkStatus();
}

void TokenTable::Replace(const TokenTable& other) {
  std::shared_ptr<const Map> entries = other.Entries();
  absl::MutexLock lock(&state_->mu);
  state_->by_digest = std::move(entries);
  state_->verified.clear();
}

std::shared_ptr<const TokenTable::Map> TokenTable::Entries() const {
  absl::MutexLock lock(&state_->mu);
  return state_->by_digest;
}

std::string TokenTable::path() const {
  absl::MutexLock lock(&state_->mu);
  return state_->path;
}

absl::StatusOr<Principal> TokenTable::Authenticate(absl::string_view authorization) const {
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError(
        "missing bearer token (metadata 'authorization: Bearer <token>')");
  }
  token = absl::StripAsciiWhitespace(token);
  if (token.empty()) return absl::UnauthenticatedError("empty bearer token");
  std::shared_ptr<const Map> entries;
  {
    absl::MutexLock lock(&state_->mu);
    auto known = state_->verified.find(token);
    if (known != state_->verified.end()) return known->second;
    entries = state_->by_digest;
  }
  // Hashed outside the lock; unknown tokens are not remembered (they would grow the memo).
  auto it = entries->find(Sha256Hex(token));
  if (it == entries->end()) return absl::UnauthenticatedError("unknown or revoked token");
  absl::MutexLock lock(&state_->mu);
  // Only if no reload swapped the entries meanwhile: a memo entry must come from the table in
  // force.
  if (state_->by_digest == entries) state_->verified.try_emplace(token, it->second);
  return it->second;
}

bool MaySubmit(const Principal& p) {
  return p.role == Role::kIngest && p.kind == PrincipalKind::kService;
}

bool MayList(const Principal& p) { return p.role != Role::kIngest; }

bool MayView(const Principal& p, const Ownership& o) {
  switch (p.role) {
    case Role::kAdmin:
      return true;
    case Role::kManager:
      return !p.team.empty() && p.team == o.team_id;
    case Role::kRep:
      return !p.id.empty() && p.id == o.owner_id;
    case Role::kIngest:
      return false;
  }
  return false;
}

bool MayDecide(const Principal& p, const Ownership& o) {
  return p.kind == PrincipalKind::kHuman && MayView(p, o);
}

}  // namespace autostage::review
