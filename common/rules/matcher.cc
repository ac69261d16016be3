#include "common/rules/matcher.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/rules/internal/hit_walk.h"

namespace autostage::rules {
namespace {

using internal::ForEachHitOf;
using internal::HitsOf;

int OnMatch(unsigned int id, unsigned long long from, unsigned long long to, unsigned int /*flags*/,
            void* context) {
  static_cast<std::vector<Hit>*>(context)->push_back(
      {id, static_cast<uint32_t>(from), static_cast<uint32_t>(to)});
  return 0;
}

// Leftmost start among matches ending exactly at the end of the scanned window.
struct SomSearch {
  unsigned long long end = 0;
  unsigned long long start = ~0ULL;
};

int OnSomMatch(unsigned int /*id*/, unsigned long long from, unsigned long long to,
               unsigned int /*flags*/, void* context) {
  auto* search = static_cast<SomSearch*>(context);
  if (to == search->end && from < search->start) search->start = from;
  return 0;
}

size_t CodePoints(std::string_view text, size_t begin, size_t end) {
  size_t n = 0;
  for (size_t i = begin; i < end && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Whether `hits` (sorted by pattern, start) holds a hit of `pattern`: one search, where
// HitsOf needs two.
bool HasHit(const std::vector<Hit>& hits, uint32_t pattern) {
  auto it = std::lower_bound(hits.begin(), hits.end(), pattern,
                             [](const Hit& h, uint32_t p) { return h.pattern < p; });
  return it != hits.end() && it->pattern == pattern;
}

// First hit of any of `patterns` inside [range.begin, range.end), or nullptr.
const Hit* HitInside(const std::vector<Hit>& hits, const std::vector<uint32_t>& patterns,
                     text::ByteRange range) {
  for (uint32_t p : patterns) {
    auto [lo, hi] = HitsOf(hits, p);
    for (auto it = lo; it != hi; ++it) {
      if (it->start >= range.begin && it->end <= range.end) return &*it;
    }
  }
  return nullptr;
}

}  // namespace

Matcher::Matcher(std::shared_ptr<const RuleSet> rules, HsScratch scratch,
                 std::unique_ptr<text::GuardAnalyzer> guards)
    : rules_(std::move(rules)), scratch_(std::move(scratch)), guards_(std::move(guards)) {}

absl::StatusOr<std::unique_ptr<Matcher>> Matcher::Create(std::shared_ptr<const RuleSet> rules,
                                                         const text::GuardAnalyzer& guards) {
  if (rules == nullptr) return absl::InvalidArgumentError("Matcher: null rule set");
  HsScratch scratch;
  if (rules->scratch_prototype() != nullptr) {
    hs_scratch_t* raw = nullptr;
    if (hs_clone_scratch(rules->scratch_prototype(), &raw) != HS_SUCCESS) {
      return absl::ResourceExhaustedError("Matcher: cannot clone Vectorscan scratch");
    }
    scratch.reset(raw);
  }
  return std::unique_ptr<Matcher>(
      new Matcher(std::move(rules), std::move(scratch), guards.Clone()));
}

absl::Status Matcher::Scan(const CompiledPipeline& pipeline, std::string_view normalized,
                           std::vector<Hit>* hits) {
  hits->clear();
  if (pipeline.database() == nullptr || normalized.empty()) return absl::OkStatus();
  raw_hits_.clear();
  const hs_error_t rc =
      hs_scan(pipeline.database(), normalized.data(), static_cast<unsigned>(normalized.size()), 0,
              scratch_.get(), &OnMatch, &raw_hits_);
  if (rc != HS_SUCCESS) return absl::InternalError(absl::StrCat("hs_scan failed: ", rc));
  const PatternHot* hot = pipeline.pattern_hot().data();
  for (Hit h : raw_hits_) {
    const PatternHot& p = hot[h.pattern];
    if ((p.flags & kPatternLiteral) != 0) {
      h.start = h.end - p.length;
    } else {
      const Pattern& pattern = pipeline.patterns()[h.pattern];
      size_t window = h.end > kSomWindow ? h.end - kSomWindow : 0;
      while (window < h.end && (static_cast<unsigned char>(normalized[window]) & 0xC0) == 0x80) {
        ++window;
      }
      SomSearch search;
      search.end = h.end - window;
      if (pattern.som_database != nullptr &&
          hs_scan(pattern.som_database.get(), normalized.data() + window,
                  static_cast<unsigned>(h.end - window), 0, scratch_.get(), &OnSomMatch,
                  &search) == HS_SUCCESS &&
          search.start != ~0ULL) {
        h.start = static_cast<uint32_t>(window + search.start);
      } else {
        h.start = static_cast<uint32_t>(window);  // longer than the window: clamped
      }
    }
    if ((p.flags & kPatternLeftBoundary) != 0 && IsWordChar(CodePointBefore(normalized, h.start))) {
      continue;
    }
    if ((p.flags & kPatternRightBoundary) != 0 && IsWordChar(CodePointAt(normalized, h.end))) {
      continue;
    }
    hits->push_back(h);
  }
  std::sort(hits->begin(), hits->end(), [](const Hit& a, const Hit& b) {
    return std::tie(a.pattern, a.start, a.end) < std::tie(b.pattern, b.start, b.end);
  });
  // Regexes report every end of a match: keep the longest per (pattern, start).
  size_t out = 0;
  for (size_t i = 0; i < hits->size(); ++i) {
    if (out > 0 && (*hits)[out - 1].pattern == (*hits)[i].pattern &&
        (*hits)[out - 1].start == (*hits)[i].start) {
      (*hits)[out - 1].end = (*hits)[i].end;
      continue;
    }
    (*hits)[out++] = (*hits)[i];
  }
  hits->resize(out);
  return absl::OkStatus();
}

bool Matcher::PassesFilters(const CompiledPipeline& pipeline, uint32_t r,
                            const SegmentContext& context, std::string* why) const {
  if (why == nullptr) {
    // The packed filter: one bit per accepted source, speaker and direction.
    const uint8_t source = context.source == "email"  ? kFilterEmail
                           : context.source == "call" ? kFilterCall
                           : context.source == "chat" ? kFilterChat
                                                      : 0;
    const uint8_t speaker =
        context.speaker == text::Speaker::kCustomer ? kFilterCustomer : kFilterRep;
    const uint8_t direction = context.direction == "inbound"    ? kFilterInbound
                              : context.direction == "outbound" ? kFilterOutbound
                                                                : 0;
    const RuleFilter& f = pipeline.rule_filters()[r];
    if ((f.bits & source) == 0 || (f.bits & speaker) == 0 || (f.bits & direction) == 0) {
      return false;
    }
    return f.min_call_duration_s < 0 || source != kFilterCall ||
           (context.call_answered && context.call_duration_s >= f.min_call_duration_s);
  }
  const CompiledRule& rule = pipeline.rules()[r];
  const bool source_ok = (context.source == "email" && rule.source_email) ||
                         (context.source == "call" && rule.source_call) ||
                         (context.source == "chat" && rule.source_chat);
  if (!source_ok) {
    if (why != nullptr) *why = "filtered: source " + std::string(context.source);
    return false;
  }
  const bool speaker_ok =
      context.speaker == text::Speaker::kCustomer ? rule.speaker_customer : rule.speaker_rep;
  if (!speaker_ok) {
    if (why != nullptr) {
      *why = "filtered: speaker " + std::string(text::SpeakerName(context.speaker));
    }
    return false;
  }
  const bool direction_ok = (context.direction == "inbound" && rule.direction_inbound) ||
                            (context.direction == "outbound" && rule.direction_outbound);
  if (!direction_ok) {
    if (why != nullptr) *why = "filtered: direction " + std::string(context.direction);
    return false;
  }
  if (rule.rule->min_call_duration_s && context.source == "call" &&
      (!context.call_answered || context.call_duration_s < *rule.rule->min_call_duration_s)) {
    if (why != nullptr) {
      *why = absl::StrCat("filtered: call shorter than ", *rule.rule->min_call_duration_s, " s");
    }
    return false;
  }
  return true;
}

absl::Status Matcher::Evaluate(const CompiledPipeline& pipeline, const SegmentContext& context,
                               std::string_view normalized, std::vector<Firing>* firings,
                               std::vector<RuleTrace>* trace, std::vector<Hit>* hits_out) {
  std::vector<Hit>& hits = hits_out != nullptr ? *hits_out : own_hits_;
  if (absl::Status s = Scan(pipeline, normalized, &hits); !s.ok()) return s;
  if (context.kind == text::SegmentKind::kAttachmentName) {
    EvaluateAttachment(pipeline, context, normalized, hits, firings, trace);
    return absl::OkStatus();
  }
  cache_.Clear();
  candidates_.clear();
  for (size_t i = 0; i < hits.size(); ++i) {
    if (i > 0 && hits[i].pattern == hits[i - 1].pattern) continue;
    const auto& rules = pipeline.RulesAnchoredBy(hits[i].pattern);
    candidates_.insert(candidates_.end(), rules.begin(), rules.end());
  }
  std::sort(candidates_.begin(), candidates_.end());
  candidates_.erase(std::unique(candidates_.begin(), candidates_.end()), candidates_.end());
  std::string why;
  for (uint32_t r : candidates_) {
    if (!PassesFilters(pipeline, r, context, trace != nullptr ? &why : nullptr)) {
      if (trace != nullptr) trace->push_back({r, {}, why, {}, false});
      continue;
    }
    EvaluateRule(pipeline, context, normalized, hits, r, &cache_, firings, trace);
  }
  return absl::OkStatus();
}

void Matcher::Candidates(const CompiledPipeline& pipeline, const SegmentContext& context,
                         std::string_view normalized, const std::vector<Hit>& hits,
                         std::vector<uint32_t>* candidates) const {
  candidates->clear();
  if (context.kind == text::SegmentKind::kAttachmentName) {
    for (uint32_t r : pipeline.attachment_rules()) {
      // The packed filter first: it is cheaper than the globs.
      if (!PassesFilters(pipeline, r, context, nullptr)) continue;
      const CompiledRule& rule = pipeline.rules()[r];
      if (std::any_of(rule.attachment_globs.begin(), rule.attachment_globs.end(),
                      [&](const std::string& g) { return GlobMatch(g, normalized); })) {
        candidates->push_back(r);
      }
    }
    return;
  }
  for (size_t i = 0; i < hits.size(); ++i) {
    if (i > 0 && hits[i].pattern == hits[i - 1].pattern) continue;
    const auto& rules = pipeline.RulesAnchoredBy(hits[i].pattern);
    candidates->insert(candidates->end(), rules.begin(), rules.end());
  }
  std::sort(candidates->begin(), candidates->end());
  candidates->erase(std::unique(candidates->begin(), candidates->end()), candidates->end());
  candidates->erase(
      std::remove_if(candidates->begin(), candidates->end(),
                     [&](uint32_t r) { return !PassesFilters(pipeline, r, context, nullptr); }),
      candidates->end());
}

bool Matcher::EvaluateRule(const CompiledPipeline& pipeline, const SegmentContext& context,
                           std::string_view normalized, const std::vector<Hit>& hits, uint32_t r,
                           SegmentCache* cache, std::vector<Firing>* firings,
                           std::vector<RuleTrace>* trace) {
  if (context.kind == text::SegmentKind::kAttachmentName) {
    return EvaluateAttachmentRule(pipeline, normalized, hits, r, firings, trace);
  }
  const std::vector<Pattern>& patterns = pipeline.patterns();
  const CompiledRule& rule = pipeline.rules()[r];
  // The rule's hits in (pattern, start) order: a segment has few hits and a rule may have many
  // anchor terms (lexicons), so test each hit against the sorted anchor list when that is
  // cheaper than one search of the hits per anchor term.
  anchors_.clear();
  ForEachHitOf(hits, rule.anchors, [&](const Hit& h) {
    anchors_.push_back(h);
    return false;
  });
  std::sort(anchors_.begin(), anchors_.end(),
            [](const Hit& a, const Hit& b) { return a.start < b.start; });
  // Cheap rejections first: a required term absent from the whole segment, or no near term
  // within reach in bytes (a code point is at most 4 bytes), needs no sentence.
  const bool all_present = AllGroupsPresent(hits, rule.all_groups);
  // Likewise the clause is needed only when an excluding term occurs in the segment at all.
  const bool none_present = ForEachHitOf(hits, rule.none_sorted, [](const Hit&) { return true; });
  // The near terms' hits, for NearPossible on each anchor.
  near_hits_.clear();
  if (all_present) {
    ForEachHitOf(hits, rule.near_sorted, [&](const Hit& h) {
      near_hits_.push_back(h);
      return false;
    });
  }
  // Outcome texts are built only for a trace: the hot path allocates for firings only.
  std::string outcome;
  for (const Hit& anchor : anchors_) {
    const text::ByteRange range{anchor.start, anchor.end};
    if (!all_present || !NearPossible(near_hits_, rule, anchor)) {
      if (trace != nullptr) {
        trace->push_back({r, range, "conditions: required term absent", {}, false});
      }
      continue;
    }
    term_ids_.clear();
    term_ids_.push_back(anchor.pattern);
    bool failed = false;
    outcome.clear();
    text::ByteRange sentence{0, normalized.size()};
    if (!rule.all_groups.empty() || !rule.near.empty()) {
      sentence = SentenceAt(normalized, anchor, cache);
    }
    for (const auto& group : rule.all_groups) {
      const Hit* h = HitInside(hits, group, sentence);
      if (h == nullptr) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("all: no ", patterns[group.front()].display, " in the sentence");
        }
        break;
      }
      term_ids_.push_back(h->pattern);
    }
    if (!failed && !rule.near.empty()) {
      const int within = rule.rule->near ? rule.rule->near->within : 0;
      const Hit* found = nullptr;
      for (uint32_t p : rule.near) {
        auto [lo, hi] = HitsOf(hits, p);
        for (auto it = lo; it != hi && found == nullptr; ++it) {
          if (it->start < sentence.begin || it->end > sentence.end) continue;
          size_t gap = 0;
          if (it->end <= anchor.start) {
            gap = CodePoints(normalized, it->end, anchor.start);
          } else if (it->start >= anchor.end) {
            gap = CodePoints(normalized, anchor.end, it->start);
          }
          if (gap <= static_cast<size_t>(within)) found = &*it;
        }
        if (found != nullptr) break;
      }
      if (found == nullptr) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("near: no ", patterns[rule.near.front()].display, " within ",
                                 within, " characters");
        }
      } else {
        term_ids_.push_back(found->pattern);
      }
    }
    if (!failed && none_present) {
      const text::ByteRange clause = ClauseAt(normalized, anchor, rule.any_guard_blocks, cache);
      if (const Hit* h = HitInside(hits, rule.none, clause)) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("none: ", patterns[h->pattern].display, " in the clause");
        }
      }
    }
    const text::GuardFindings* findings = nullptr;
    if (!failed && rule.any_guard_blocks) {
      findings = &AnalyzeAt(normalized, anchor, cache);
      const Guards& g = rule.rule->guards;
      if (findings->negated && g.negation == GuardMode::kBlock) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("guard: negation (", findings->negation_cue, ")");
        }
      } else if (findings->hypothetical && g.hypothetical == GuardMode::kBlock) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("guard: hypothetical (", findings->hypothetical_cue, ")");
        }
      } else if (findings->question && g.question == GuardMode::kBlock) {
        failed = true;
        if (trace != nullptr) {
          outcome = absl::StrCat("guard: question (", findings->question_cue, ")");
        }
      }
    }
    if (trace != nullptr) {
      trace->push_back({r, range, failed ? outcome : "fired",
                        findings != nullptr ? *findings : text::GuardFindings{},
                        findings != nullptr});
    }
    if (!failed) {
      Firing firing{r, range, {}, findings != nullptr ? *findings : text::GuardFindings{}};
      firing.matched_terms.reserve(term_ids_.size());
      for (uint32_t p : term_ids_) firing.matched_terms.push_back(patterns[p].display);
      firings->push_back(std::move(firing));
      return true;
    }
  }
  return false;
}

bool Matcher::AllGroupsPresent(const std::vector<Hit>& hits,
                               const std::vector<std::vector<uint32_t>>& groups) const {
  for (const auto& group : groups) {
    if (std::none_of(group.begin(), group.end(), [&](uint32_t p) { return HasHit(hits, p); })) {
      return false;
    }
  }
  return true;
}

bool Matcher::NearPossible(const std::vector<Hit>& near_hits, const CompiledRule& rule,
                           const Hit& anchor) const {
  if (rule.near.empty()) return true;
  const size_t reach = 4 * static_cast<size_t>(rule.rule->near ? rule.rule->near->within : 0);
  return std::any_of(near_hits.begin(), near_hits.end(), [&](const Hit& h) {
    return h.end + reach >= anchor.start && h.start <= anchor.end + reach;
  });
}

// The analyzer itself bounds how far it looks around a match, so the cost per anchor is bounded.
text::ByteRange Matcher::SentenceAt(std::string_view text, const Hit& anchor, SegmentCache* cache) {
  for (const text::ByteRange& r : cache->sentences) {
    if (r.begin <= anchor.start && anchor.end <= r.end) return r;
  }
  cache->sentences.push_back(guards_->SentenceAt(text, anchor.start, anchor.end));
  return cache->sentences.back();
}

text::ByteRange Matcher::ClauseAt(std::string_view text, const Hit& anchor, bool analyze,
                                  SegmentCache* cache) {
  for (const text::ByteRange& r : cache->clauses) {
    if (r.begin <= anchor.start && anchor.end <= r.end) return r;
  }
  // Analyze finds the same clause (same sentence, same preparation) on its way: for a rule with
  // guards, one sentence scan then serves the clause and, once cached, the guard check.
  cache->clauses.push_back(analyze ? AnalyzeAt(text, anchor, cache).clause
                                   : guards_->ClauseAt(text, anchor.start, anchor.end));
  return cache->clauses.back();
}

const text::GuardFindings& Matcher::AnalyzeAt(std::string_view text, const Hit& anchor,
                                              SegmentCache* cache) {
  for (const auto& [begin, end, findings] : cache->findings) {
    if (begin == anchor.start && end == anchor.end) return findings;
  }
  cache->findings.emplace_back(anchor.start, anchor.end,
                               guards_->Analyze(text, anchor.start, anchor.end));
  return std::get<2>(cache->findings.back());
}

void Matcher::EvaluateAttachment(const CompiledPipeline& pipeline, const SegmentContext& context,
                                 std::string_view normalized, const std::vector<Hit>& hits,
                                 std::vector<Firing>* firings, std::vector<RuleTrace>* trace) {
  std::string why;
  for (uint32_t r : pipeline.attachment_rules()) {
    const CompiledRule& rule = pipeline.rules()[r];
    if (std::none_of(rule.attachment_globs.begin(), rule.attachment_globs.end(),
                     [&](const std::string& g) { return GlobMatch(g, normalized); })) {
      continue;
    }
    if (!PassesFilters(pipeline, r, context, trace != nullptr ? &why : nullptr)) {
      if (trace != nullptr) trace->push_back({r, {0, normalized.size()}, why, {}, false});
      continue;
    }
    EvaluateAttachmentRule(pipeline, normalized, hits, r, firings, trace);
  }
}

bool Matcher::EvaluateAttachmentRule(const CompiledPipeline& pipeline, std::string_view normalized,
                                     const std::vector<Hit>& hits, uint32_t r,
                                     std::vector<Firing>* firings, std::vector<RuleTrace>* trace) {
  const CompiledRule& rule = pipeline.rules()[r];
  const auto glob = std::find_if(rule.attachment_globs.begin(), rule.attachment_globs.end(),
                                 [&](const std::string& g) { return GlobMatch(g, normalized); });
  if (glob == rule.attachment_globs.end()) return false;
  const text::ByteRange range{0, normalized.size()};
  if (const Hit* h = HitInside(hits, rule.none, range)) {
    if (trace != nullptr) {
      trace->push_back(
          {r, range, absl::StrCat("none: ", pipeline.patterns()[h->pattern].display), {}, false});
    }
    return false;
  }
  const size_t index = rule.attachment_index[glob - rule.attachment_globs.begin()];
  if (trace != nullptr) trace->push_back({r, range, "fired", {}, false});
  firings->push_back({r, range, {rule.rule->attachments[index]}, {}});
  return true;
}

}  // namespace autostage::rules
