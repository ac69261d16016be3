#include "common/rules/engine.h"

#include <utility>

#include "common/text/extract.h"

namespace autostage::rules {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::string Snippet(std::string_view text, size_t begin, size_t end, size_t context) {
  begin = std::min(begin, text.size());
  end = std::min(std::max(begin, end), text.size());
  size_t from = begin;
  for (size_t n = 0; from > 0 && n < context;) {
    --from;
    if (!IsContinuation(text[from])) ++n;
  }
  while (from > 0 && from < text.size() && IsContinuation(text[from])) --from;
  size_t to = end;
  for (size_t n = 0; to < text.size() && n < context;) {
    ++to;
    while (to < text.size() && IsContinuation(text[to])) ++to;
    ++n;
  }
  std::string out;
  if (from > 0) out += "…";
  bool space = false;
  for (size_t i = from; i < to; ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty() && out != "…") out.push_back(' ');
    space = false;
    out.push_back(c);
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
  SegmentContext context;
  context.source = event.source();
  context.direction = event.direction();
  if (event.source() == "call") {
    context.call_duration_s = event.call().duration_s();
    context.call_answered = event.call().disposition() == "answered";
  }
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
    for (Firing& f : firings_) {
      const size_t seg_begin = normalized.to_input.ToSource(f.anchor.begin);
      const size_t seg_end = normalized.to_input.ToSource(f.anchor.end);
      FiredRule out;
      out.rule = f.rule;
      out.matched_terms = std::move(f.matched_terms);
      out.field = segment.field;
      out.snippet = Snippet(segment.text, seg_begin, seg_end);
      out.start = static_cast<int64_t>(segment.to_field.ToSource(seg_begin));
      out.end = static_cast<int64_t>(segment.to_field.ToSource(seg_end));
      fired->push_back(std::move(out));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Decision> Engine::Process(const v1::Event& event,
                                         const OpportunityResolver& resolver, Trace* trace) {
  Resolution resolution = resolver.Resolve(event);
  Decision d;
  d.event_id = event.event_id();
  if (resolution.opportunity) d.opportunity_id = resolution.opportunity->opportunity_id();
  d.reason = Precheck(event, resolution, matcher_->rule_set());
  if (trace != nullptr) trace->resolution = resolution;
  if (!d.reason.empty()) return d;
  const v1::Opportunity& opportunity = *resolution.opportunity;
  const CompiledPipeline& pipeline = *matcher_->rule_set().FindPipeline(opportunity.pipeline());
  text::Extraction extraction = text::Extract(event);
  if (!extraction.nothing_reason.empty()) {
    d.reason = "machine_made:" + extraction.nothing_reason;
    if (trace != nullptr) {
      trace->extracted = true;
      trace->extraction = std::move(extraction);
    }
    return d;
  }
  std::vector<FiredRule> fired;
  if (trace != nullptr) trace->pipeline = &pipeline;
  if (absl::Status s = Match(event, pipeline, extraction, &fired, trace); !s.ok()) return s;
  Decision decision = Decide(event, opportunity, pipeline, fired);
  if (trace != nullptr) {
    trace->extracted = true;
    trace->extraction = std::move(extraction);
    trace->fired = std::move(fired);
  }
  return decision;
}

}  // namespace autostage::rules
