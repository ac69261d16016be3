#include "common/rules/engine.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>

#include "common/text/extract.h"

namespace autostage::rules {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// ' ', '\n', '\r', '\t'; one comparison for the usual byte above ' '.
inline bool IsSnippetSpace(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b <= ' ' && (b == ' ' || b == '\n' || b == '\r' || b == '\t');
}

// Snippet's word-at-a-time helpers (SWAR over 8 bytes).
inline uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}
constexpr uint64_t kHighBits = 0x8080808080808080ULL;
constexpr uint64_t kLowBits = 0x0101010101010101ULL;
// UTF-8 continuation bytes (10xxxxxx) in `w`: bit 7 set, bit 6 (shifted into bit 7) clear.
inline size_t ContinuationBytes(uint64_t w) {
  return static_cast<size_t>(std::popcount(w & ~(w << 1) & kHighBits));
}
// Whether a byte of `w` is <= ' ' (the classic "has less than 0x21" test: exact on whether
// any byte is, which is all it is used for).
inline bool HasByteAtMostSpace(uint64_t w) { return ((w - kLowBits * 0x21) & ~w & kHighBits) != 0; }

SegmentContext EventContext(const v1::Event& event) {
  SegmentContext context;
  context.source = event.source();
  context.direction = event.direction();
  if (event.source() == "call") {
    context.call_duration_s = event.call().duration_s();
    context.call_answered = event.call().disposition() == "answered";
  }
  return context;
}

// Fills the evidence of `out` (field, snippet, byte range in the field) from the anchor
// [begin, end) in `normalized`, the normalized form of `segment`.
void FillEvidence(const text::Segment& segment, const text::NormalizedText& normalized,
                  size_t begin, size_t end, FiredRule* out) {
  const size_t seg_begin = normalized.to_input.ToSource(begin);
  const size_t seg_end = normalized.to_input.ToSource(end);
  out->field = segment.field;
  out->snippet = Snippet(segment.text, seg_begin, seg_end);
  out->start = static_cast<int64_t>(segment.to_field.ToSource(seg_begin));
  out->end = static_cast<int64_t>(segment.to_field.ToSource(seg_end));
}

// `firing` of `segment`, whose normalized form is `normalized`, with its evidence.
FiredRule ToFiredRule(const text::Segment& segment, const text::NormalizedText& normalized,
                      Firing& firing) {
  FiredRule out;
  out.rule = firing.rule;
  out.matched_terms = std::move(firing.matched_terms);
  FillEvidence(segment, normalized, firing.anchor.begin, firing.anchor.end, &out);
  return out;
}

}  // namespace

std::string Snippet(std::string_view text, size_t begin, size_t end, size_t context) {
  begin = std::min(begin, text.size());
  end = std::min(std::max(begin, end), text.size());
  // Back `context` code points (leading bytes) from `begin`. Whole words of 8 bytes go while
  // their leading bytes do not complete the count: the byte loop would not stop inside them.
  size_t from = begin;
  size_t n = 0;
  while (from >= 8 && n < context) {
    const size_t leading = 8 - ContinuationBytes(Load8(text.data() + from - 8));
    if (n + leading >= context) break;
    n += leading;
    from -= 8;
  }
  for (; from > 0 && n < context;) {
    --from;
    if (!IsContinuation(text[from])) ++n;
  }
  while (from > 0 && from < text.size() && IsContinuation(text[from])) --from;
  // Forward: `to` stops at the context-th leading byte after `end` (the end of the text when
  // there are fewer), the same word-at-a-time skip first.
  size_t to = text.size();
  if (context == 0) to = end;
  for (size_t q = end + 1, m = 0; context > 0 && q < text.size();) {
    if (q + 8 <= text.size()) {
      const size_t leading = 8 - ContinuationBytes(Load8(text.data() + q));
      if (m + leading < context) {
        m += leading;
        q += 8;
        continue;
      }
    }
    if (!IsContinuation(text[q]) && ++m == context) {
      to = q;
      break;
    }
    ++q;
  }
  std::string out;
  out.reserve(to - from + 8);
  if (from > 0) out += "…";
  // Runs of non-whitespace bytes are appended whole; a whitespace run between two of them
  // becomes one ' ' (leading and trailing runs vanish). A word of 8 bytes without one byte
  // <= ' ' holds no whitespace and is skipped whole.
  bool content = false;
  for (size_t i = from; i < to;) {
    size_t j = i;
    while (j + 8 <= to && !HasByteAtMostSpace(Load8(text.data() + j))) j += 8;
    while (j < to && !IsSnippetSpace(text[j])) ++j;
    if (j > i) {
      if (content && i > from) out.push_back(' ');
      out.append(text.data() + i, j - i);
      content = true;
    }
    while (j < to && IsSnippetSpace(text[j])) ++j;
    i = j;
  }
  if (to < text.size()) out += "…";
  return out;
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(std::shared_ptr<const RuleSet> rules,
                                                       const text::GuardAnalyzer& guards) {
  auto matcher = Matcher::Create(std::move(rules), guards);
  if (!matcher.ok()) return matcher.status();
  return std::unique_ptr<Engine>(new Engine(*std::move(matcher)));
}

absl::Status Engine::Match(const v1::Event& event, const CompiledPipeline& pipeline,
                           const text::Extraction& extraction, std::vector<FiredRule>* fired,
                           Trace* trace) {
  const text::Normalizer& normalizer = matcher_->rule_set().normalizer();
  SegmentContext context = EventContext(event);
  for (size_t i = 0; i < extraction.segments.size(); ++i) {
    const text::Segment& segment = extraction.segments[i];
    context.speaker = segment.speaker;
    context.kind = segment.kind;
    text::NormalizedText normalized = normalizer.Normalize(segment.text);
    firings_.clear();
    SegmentTrace* st = nullptr;
    if (trace != nullptr) {
      trace->segments.push_back({i, normalized.text, {}, {}});
      st = &trace->segments.back();
    }
    if (absl::Status s = matcher_->Evaluate(pipeline, context, normalized.text, &firings_,
                                            st != nullptr ? &st->rules : nullptr,
                                            st != nullptr ? &st->hits : nullptr);
        !s.ok()) {
      return s;
    }
    for (Firing& f : firings_) fired->push_back(ToFiredRule(segment, normalized, f));
  }
  return absl::OkStatus();
}

absl::Status Engine::MatchStaged(const v1::Event& event, const v1::Opportunity& opportunity,
                                 const CompiledPipeline& pipeline,
                                 const text::Extraction& extraction,
                                 std::vector<FiredRule>* fired) {
  segment_count_ = extraction.segments.size();
  if (segments_.size() < segment_count_) segments_.resize(segment_count_);
  const SegmentContext event_context = EventContext(event);
  for (size_t i = 0; i < segment_count_; ++i) {
    const text::Segment& segment = extraction.segments[i];
    SegmentState& state = segments_[i];
    state.prepared = false;
    state.context = event_context;
    state.context.speaker = segment.speaker;
    state.context.kind = segment.kind;
    state.stage_mask = pipeline.StageMask(
        event_context.source, segment.speaker == text::Speaker::kRep, event_context.direction,
        segment.kind == text::SegmentKind::kAttachmentName);
  }
  const Pipeline& p = pipeline.pipeline();
  const int last = static_cast<int>(p.stages.size()) - 1;
  const int current = p.StageIndex(opportunity.stage());
  const int reachable = p.max_skip ? std::min(last, current + 1 + *p.max_skip) : last;
  pending_.clear();
  const size_t first = fired->size();
  // Proposable stages, furthest first: the first that fires is the decision.
  for (int stage = reachable; stage > current; --stage) {
    auto any = EvaluateStage(pipeline, extraction, stage, /*first_only=*/false, fired);
    if (!any.ok()) return any.status();
    if (*any) {
      // Decide proposes this stage with the first kMaxEvidence of these firings, strongest
      // first (ties in event order): only theirs need evidence.
      std::vector<size_t>& order = evidence_order_;
      order.clear();
      for (size_t i = first; i < fired->size(); ++i) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return pipeline.rules()[(*fired)[a].rule].rule->confidence >
               pipeline.rules()[(*fired)[b].rule].rule->confidence;
      });
      for (size_t k = 0; k < order.size() && k < kMaxEvidence; ++k) {
        const PendingEvidence& e = pending_[order[k] - first];
        FillEvidence(extraction.segments[e.segment], segments_[e.segment].normalized, e.begin,
                     e.end, &(*fired)[order[k]]);
      }
      return absl::OkStatus();
    }
  }
  // Nothing to propose; one firing anywhere else names the reason (its evidence is not used).
  for (int stage = last; stage > reachable; --stage) {
    auto any = EvaluateStage(pipeline, extraction, stage, /*first_only=*/true, fired);
    if (!any.ok()) return any.status();
    if (*any) return absl::OkStatus();
  }
  for (int stage = current; stage >= 0; --stage) {
    auto any = EvaluateStage(pipeline, extraction, stage, /*first_only=*/true, fired);
    if (!any.ok()) return any.status();
    if (*any) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> Engine::EvaluateStage(const CompiledPipeline& pipeline,
                                           const text::Extraction& extraction, int stage,
                                           bool first_only, std::vector<FiredRule>* fired) {
  const uint64_t bit = StageBit(stage);
  bool any = false;
  for (size_t i = 0; i < segment_count_; ++i) {
    SegmentState& state = segments_[i];
    if ((state.stage_mask & bit) == 0) continue;
    const text::Segment& segment = extraction.segments[i];
    if (!state.prepared) {
      matcher_->rule_set().normalizer().NormalizeInto(segment.text, &state.normalized);
      if (absl::Status s = matcher_->Scan(pipeline, state.normalized.text, &state.hits); !s.ok()) {
        return s;
      }
      matcher_->Candidates(pipeline, state.context, state.normalized.text, state.hits,
                           &state.candidates);
      state.cache.Clear();
      state.prepared = true;
    }
    for (uint32_t r : state.candidates) {
      if (pipeline.rules()[r].stage_index != stage) continue;
      firings_.clear();
      if (!matcher_->EvaluateRule(pipeline, state.context, state.normalized.text, state.hits, r,
                                  &state.cache, &firings_)) {
        continue;
      }
      // Evidence is filled later, for the firings the decision keeps (MatchStaged).
      FiredRule& out = fired->emplace_back();
      out.rule = firings_.front().rule;
      out.matched_terms = std::move(firings_.front().matched_terms);
      pending_.push_back({i, firings_.front().anchor.begin, firings_.front().anchor.end});
      any = true;
      if (first_only) return true;
    }
  }
  return any;
}

absl::StatusOr<Decision> Engine::Process(const v1::Event& event,
                                         const OpportunityResolver& resolver, Trace* trace) {
  // A view, not a Resolution: SnapshotResolver's answer is then not a copy of the snapshot.
  ResolutionView resolution;
  resolver.ResolveInto(event, &resolution);
  Decision d;
  d.event_id = event.event_id();
  if (resolution.opportunity != nullptr)
    d.opportunity_id = resolution.opportunity->opportunity_id();
  d.reason = Precheck(event, resolution, matcher_->rule_set());
  if (trace != nullptr) trace->resolution = resolution.ToResolution();
  if (!d.reason.empty()) return d;
  const v1::Opportunity& opportunity = *resolution.opportunity;
  const CompiledPipeline& pipeline = *matcher_->rule_set().FindPipeline(opportunity.pipeline());
  // extraction_ keeps its segments' buffers across events (text::ExtractInto).
  text::ExtractInto(event, {}, &extraction_);
  text::Extraction& extraction = extraction_;
  d.dropped_formats.reserve(extraction.dropped.size());
  for (const text::DroppedPart& part : extraction.dropped) d.dropped_formats.push_back(part.format);
  if (!extraction.nothing_reason.empty()) {
    d.reason = "machine_made:" + extraction.nothing_reason;
    if (trace != nullptr) {
      trace->extracted = true;
      trace->extraction = std::move(extraction);
    }
    return d;
  }
  if (trace != nullptr) {
    // Explain shows every rule: evaluate them all (same decision, see the top of engine.h).
    trace->pipeline = &pipeline;
    std::vector<FiredRule> fired;
    if (absl::Status s = Match(event, pipeline, extraction, &fired, trace); !s.ok()) return s;
    Decision decision = Decide(event, opportunity, pipeline, fired);
    decision.dropped_formats = std::move(d.dropped_formats);
    trace->extracted = true;
    trace->extraction = std::move(extraction);
    trace->fired = std::move(fired);
    return decision;
  }
  // fired_ keeps its capacity across events; Decide moves the evidence strings out of it.
  fired_.clear();
  if (absl::Status s = MatchStaged(event, opportunity, pipeline, extraction, &fired_); !s.ok()) {
    return s;
  }
  Decision decision = Decide(event, opportunity, pipeline, std::move(fired_));
  decision.dropped_formats = std::move(d.dropped_formats);
  return decision;
}

}  // namespace autostage::rules
