#include "common/rules/resolver.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace autostage::rules {

std::string NormalizePhone(std::string_view phone) {
  std::string out;
  for (char c : phone) {
    if (c == ' ' || c == '-' || c == '(' || c == ')' || c == '.' || c == '\t') continue;
    out.push_back(c);
  }
  // In place: GCC 12 at -O3 reports a false -Wrestrict on "+" + out.substr(2).
  if (out.rfind("00", 0) == 0) out.replace(0, 2, "+");
  return out;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string> OpportunityContactKeys(const v1::Opportunity& o) {
  std::vector<std::string> keys;
  for (const std::string& e : o.contacts().emails()) keys.push_back("e:" + LowerAscii(e));
  for (const std::string& p : o.contacts().phones()) keys.push_back("p:" + NormalizePhone(p));
  for (const std::string& c : o.contacts().chat_ids()) keys.push_back("c:" + c);
  return keys;
}

std::vector<std::string> ParticipantContactKeys(const v1::Event& event) {
  std::vector<std::string> keys;
  auto add = [&](const v1::Party& party) {
    if (!party.email().empty()) keys.push_back("e:" + LowerAscii(party.email()));
    if (!party.phone().empty()) keys.push_back("p:" + NormalizePhone(party.phone()));
    if (!party.chat_id().empty()) keys.push_back("c:" + party.chat_id());
  };
  add(event.from());
  for (const v1::Party& p : event.to()) add(p);
  for (const v1::Party& p : event.cc()) add(p);
  return keys;
}

SnapshotResolver::SnapshotResolver(std::vector<v1::Opportunity> snapshots) {
  for (v1::Opportunity& o : snapshots) {
    std::string id = o.opportunity_id();
    by_id_[id] = std::move(o);
  }
  for (const auto& [id, o] : by_id_) {
    if (o.status() != "open") continue;
    for (const std::string& key : OpportunityContactKeys(o)) {
      auto& ids = by_contact_[key];
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
}

Resolution ResolutionView::ToResolution() const {
  Resolution r;
  if (opportunity != nullptr) r.opportunity = *opportunity;
  r.reason = reason;
  return r;
}

void OpportunityResolver::ResolveInto(const v1::Event& event, ResolutionView* view) const {
  view->owned = Resolve(event);
  view->opportunity = view->owned.opportunity ? &*view->owned.opportunity : nullptr;
  view->reason = view->owned.reason;
}

const v1::Opportunity* SnapshotResolver::Find(const v1::Event& event, std::string* reason) const {
  if (!event.opportunity_id().empty()) {
    auto it = by_id_.find(event.opportunity_id());
    if (it == by_id_.end()) {
      *reason = "unresolved";
      return nullptr;
    }
    return &it->second;
  }
  std::set<std::string> matches;
  for (const std::string& key : ParticipantContactKeys(event)) {
    auto it = by_contact_.find(key);
    if (it != by_contact_.end()) matches.insert(it->second.begin(), it->second.end());
  }
  if (matches.size() != 1) {
    *reason = matches.empty() ? "unresolved" : "ambiguous_opportunity";
    return nullptr;
  }
  return &by_id_.at(*matches.begin());
}

Resolution SnapshotResolver::Resolve(const v1::Event& event) const {
  Resolution r;
  if (const v1::Opportunity* o = Find(event, &r.reason); o != nullptr) r.opportunity = *o;
  return r;
}

void SnapshotResolver::ResolveInto(const v1::Event& event, ResolutionView* view) const {
  view->reason.clear();
  view->owned = Resolution();
  view->opportunity = Find(event, &view->reason);
}

}  // namespace autostage::rules
