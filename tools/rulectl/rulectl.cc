#include "tools/rulectl/rulectl.h"

#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/event/decode.h"
#include "common/rules/config.h"
#include "common/rules/engine.h"
#include "common/rules/resolver.h"
#include "common/rules/rule_set.h"
#include "common/text/guards.h"
#include "common/text/normalize.h"

namespace autostage::rulectl {
namespace {

using rules::Decision;
using rules::Engine;

struct Loaded {
  std::shared_ptr<const rules::RuleSet> rules;
  std::unique_ptr<text::GuardAnalyzer> guards;
  std::unique_ptr<Engine> engine;
};

absl::StatusOr<Loaded> LoadEngine(const std::string& rules_dir) {
  auto config = rules::LoadRulesDir(rules_dir);
  if (!config.ok()) return config.status();
  auto normalizer = text::Normalizer::Create();
  if (!normalizer.ok()) return normalizer.status();
  std::shared_ptr<const text::Normalizer> shared_normalizer(*std::move(normalizer));
  auto set = rules::RuleSet::Compile(*std::move(config), std::move(shared_normalizer));
  if (!set.ok()) return set.status();
  auto guards = text::GuardAnalyzer::Create();
  if (!guards.ok()) return guards.status();
  auto engine = Engine::Create(*set, **guards);
  if (!engine.ok()) return engine.status();
  return Loaded{*std::move(set), *std::move(guards), *std::move(engine)};
}

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
    in = &file;
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(*in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

bool Blank(const std::string& line) { return line.find_first_not_of(" \t") == std::string::npos; }

void JsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20) {
          *out += absl::StrFormat("\\u%04x", c);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

std::string Json(std::string_view s) {
  std::string out;
  JsonString(&out, s);
  return out;
}

std::string Number(double v) { return absl::StrFormat("%.4g", v); }

std::string DecisionJson(const Decision& d) {
  std::string out = "{\"event_id\":" + Json(d.event_id) + ",\"opportunity_id\":";
  out += d.opportunity_id.empty() ? "null" : Json(d.opportunity_id);
  out += ",\"proposal\":";
  if (!d.proposal) {
    out += "null";
  } else {
    const v1::Proposal& p = *d.proposal;
    out += "{\"proposal_id\":" + Json(p.proposal_id()) + ",\"from_stage\":" + Json(p.from_stage()) +
           ",\"to_stage\":" + Json(p.to_stage()) + ",\"rule_id\":" + Json(p.rule_id()) +
           ",\"confidence\":" + Number(p.confidence()) + ",\"evidence\":[";
    for (int i = 0; i < p.evidence_size(); ++i) {
      const v1::Evidence& e = p.evidence(i);
      if (i > 0) out += ",";
      out += "{\"field\":" + Json(e.field()) + ",\"snippet\":" + Json(e.snippet()) +
             ",\"start\":" + std::to_string(e.start()) + ",\"end\":" + std::to_string(e.end()) +
             "}";
    }
    out += "]}";
  }
  out += ",\"reason\":" + Json(d.reason) + "}";
  return out;
}

// One decoded-and-decided input line.
struct Outcome {
  int line = 0;
  std::string error;  // decode error
  v1::Event event;
  Decision decision;
};

absl::StatusOr<std::vector<Outcome>> Decide(Loaded& loaded, const std::string& opportunities,
                                            const std::string& events) {
  auto resolver = rules::SnapshotResolver::FromFile(opportunities);
  if (!resolver.ok()) return resolver.status();
  auto lines = ReadLines(events);
  if (!lines.ok()) return lines.status();
  std::vector<Outcome> outcomes;
  for (size_t i = 0; i < lines->size(); ++i) {
    const std::string& line = (*lines)[i];
    if (Blank(line)) continue;
    Outcome o;
    o.line = static_cast<int>(i + 1);
    auto event = event::DecodeEvent(line, event::Encoding::kJson);
    if (!event.ok()) {
      o.error = std::string(event.status().message());
      outcomes.push_back(std::move(o));
      continue;
    }
    o.event = *std::move(event);
    auto decision = loaded.engine->Process(o.event, *resolver);
    if (!decision.ok()) return decision.status();
    o.decision = *std::move(decision);
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

struct Counts {
  int tp = 0, fp = 0, fn = 0;
  double Precision() const { return tp + fp == 0 ? 1.0 : static_cast<double>(tp) / (tp + fp); }
  double Recall() const { return tp + fn == 0 ? 1.0 : static_cast<double>(tp) / (tp + fn); }
  double F1() const {
    const double p = Precision(), r = Recall();
    return p + r == 0 ? 0 : 2 * p * r / (p + r);
  }
};

std::string CountsJson(const Counts& c) {
  return absl::StrFormat(
      "{\"precision\":%.4f,\"recall\":%.4f,\"f1\":%.4f,\"tp\":%d,\"fp\":%d,\"fn\":%d}",
      c.Precision(), c.Recall(), c.F1(), c.tp, c.fp, c.fn);
}

std::string CountsText(const std::string& name, const Counts& c) {
  return absl::StrFormat("  %-18s precision %.3f  recall %.3f  f1 %.3f  (tp %d, fp %d, fn %d)\n",
                         name, c.Precision(), c.Recall(), c.F1(), c.tp, c.fp, c.fn);
}

}  // namespace

int Lint(const std::vector<std::string>& paths, std::ostream& out) {
  int errors = 0;
  for (const rules::Diagnostic& d : rules::Lint(paths)) {
    out << d.ToString() << "\n";
    if (d.severity == rules::Diagnostic::Severity::kError) ++errors;
  }
  if (errors == 0) out << "ok\n";
  return errors == 0 ? 0 : 1;
}

int Run(const std::string& rules_dir, const std::string& opportunities, const std::string& events,
        std::ostream& out, std::ostream& err) {
  auto loaded = LoadEngine(rules_dir);
  if (!loaded.ok()) {
    err << "rulectl: " << loaded.status().message() << "\n";
    return 1;
  }
  auto outcomes = Decide(*loaded, opportunities, events);
  if (!outcomes.ok()) {
    err << "rulectl: " << outcomes.status().message() << "\n";
    return 1;
  }
  for (const Outcome& o : *outcomes) {
    if (!o.error.empty()) {
      out << "{\"line\":" << o.line << ",\"error\":" << Json(o.error) << "}\n";
    } else {
      out << DecisionJson(o.decision) << "\n";
    }
  }
  return 0;
}

int Eval(const std::string& rules_dir, const std::string& corpus_dir, const EvalOptions& options,
         std::ostream& out, std::ostream& err) {
  auto loaded = LoadEngine(rules_dir);
  if (!loaded.ok()) {
    err << "rulectl: " << loaded.status().message() << "\n";
    return 2;
  }
  auto outcomes =
      Decide(*loaded, corpus_dir + "/opportunities.jsonl", corpus_dir + "/events.jsonl");
  if (!outcomes.ok()) {
    err << "rulectl: " << outcomes.status().message() << "\n";
    return 2;
  }
  auto expected_lines = ReadLines(corpus_dir + "/expected.jsonl");
  if (!expected_lines.ok()) {
    err << "rulectl: " << expected_lines.status().message() << "\n";
    return 2;
  }
  std::map<std::string, std::string> expected;  // event_id -> stage ("" = null)
  simdjson::dom::parser parser;
  for (size_t i = 0; i < expected_lines->size(); ++i) {
    const std::string& line = (*expected_lines)[i];
    if (Blank(line)) continue;
    simdjson::dom::element doc;
    std::string_view id;
    if (parser.parse(line).get(doc) || doc["event_id"].get(id)) {
      err << "rulectl: " << corpus_dir << "/expected.jsonl:" << i + 1 << ": malformed\n";
      return 2;
    }
    std::string_view stage;
    simdjson::dom::element to_stage;
    if (!doc["to_stage"].get(to_stage) && !to_stage.is_null() && !to_stage.get(stage)) {
      expected[std::string(id)] = std::string(stage);
    } else {
      expected[std::string(id)] = "";
    }
  }

  Counts overall;
  std::map<std::string, Counts> per_stage, per_source;
  std::string misses_text, false_text, misses_json, false_json;
  int miss_count = 0, false_count = 0;
  for (const Outcome& o : *outcomes) {
    const std::string id = o.error.empty() ? o.event.event_id() : absl::StrCat("line ", o.line);
    auto it = expected.find(id);
    if (it == expected.end()) continue;  // not labeled
    const std::string& want = it->second;
    const std::string got = o.decision.proposal ? o.decision.proposal->to_stage() : "";
    const std::string source = o.error.empty() ? o.event.source() : "undecodable";
    std::string rule, snippet;
    if (o.decision.proposal) {
      rule = o.decision.proposal->rule_id();
      if (o.decision.proposal->evidence_size() > 0) {
        snippet = o.decision.proposal->evidence(0).snippet();
      }
    }
    const std::string reason = o.error.empty() ? o.decision.reason : "decode_error: " + o.error;
    if (!want.empty() && want == got) {
      ++overall.tp;
      ++per_stage[want].tp;
      ++per_source[source].tp;
      continue;
    }
    if (!got.empty()) {  // a proposal that is not the expected one
      ++overall.fp;
      ++per_stage[got].fp;
      ++per_source[source].fp;
      ++false_count;
      false_text += absl::StrFormat("  %s  proposed %s (expected %s) by %s: %s\n", id, got,
                                    want.empty() ? "null" : want, rule, snippet);
      if (!false_json.empty()) false_json += ",";
      false_json += "{\"event_id\":" + Json(id) + ",\"proposed\":" + Json(got) +
                    ",\"expected\":" + (want.empty() ? "null" : Json(want)) +
                    ",\"rule_id\":" + Json(rule) + ",\"snippet\":" + Json(snippet) + "}";
    }
    if (!want.empty()) {
      ++overall.fn;
      ++per_stage[want].fn;
      ++per_source[source].fn;
      ++miss_count;
      misses_text += absl::StrFormat("  %s  expected %s, got %s (%s)%s\n", id, want,
                                     got.empty() ? "nothing" : got, reason,
                                     got.empty() ? "" : " by " + rule + ": " + snippet);
      if (!misses_json.empty()) misses_json += ",";
      misses_json += "{\"event_id\":" + Json(id) + ",\"expected\":" + Json(want) +
                     ",\"proposed\":" + (got.empty() ? "null" : Json(got)) +
                     ",\"reason\":" + Json(reason) +
                     ",\"rule_id\":" + (rule.empty() ? "null" : Json(rule)) +
                     ",\"snippet\":" + Json(snippet) + "}";
    }
  }

  if (options.json) {
    out << "{\"overall\":" << CountsJson(overall) << ",\"per_stage\":{";
    bool first = true;
    for (const auto& [k, c] : per_stage) {
      out << (first ? "" : ",") << Json(k) << ":" << CountsJson(c);
      first = false;
    }
    out << "},\"per_source\":{";
    first = true;
    for (const auto& [k, c] : per_source) {
      out << (first ? "" : ",") << Json(k) << ":" << CountsJson(c);
      first = false;
    }
    out << "},\"misses\":[" << misses_json << "],\"false_proposals\":[" << false_json << "]}\n";
  } else {
    out << "overall\n" << CountsText("all", overall) << "per stage\n";
    for (const auto& [k, c] : per_stage) out << CountsText(k, c);
    out << "per source\n";
    for (const auto& [k, c] : per_source) out << CountsText(k, c);
    out << "misses (" << miss_count << ")\n" << misses_text;
    out << "false proposals (" << false_count << ")\n" << false_text;
  }
  int rc = 0;
  if (options.min_precision && overall.Precision() < *options.min_precision) {
    err << absl::StrFormat("rulectl: precision %.4f below %.4f\n", overall.Precision(),
                           *options.min_precision);
    rc = 1;
  }
  if (options.min_recall && overall.Recall() < *options.min_recall) {
    err << absl::StrFormat("rulectl: recall %.4f below %.4f\n", overall.Recall(),
                           *options.min_recall);
    rc = 1;
  }
  return rc;
}

int Explain(const std::string& rules_dir, const std::string& opportunities,
            const std::string& event_file, std::ostream& out, std::ostream& err) {
  auto loaded = LoadEngine(rules_dir);
  if (!loaded.ok()) {
    err << "rulectl: " << loaded.status().message() << "\n";
    return 1;
  }
  auto resolver = rules::SnapshotResolver::FromFile(opportunities);
  if (!resolver.ok()) {
    err << "rulectl: " << resolver.status().message() << "\n";
    return 1;
  }
  auto lines = ReadLines(event_file);
  if (!lines.ok()) {
    err << "rulectl: " << lines.status().message() << "\n";
    return 1;
  }
  std::string text;
  for (const std::string& l : *lines) {
    if (!Blank(l)) {
      text = l;
      break;
    }
  }
  auto event = event::DecodeEvent(text, event::Encoding::kJson);
  if (!event.ok()) {
    out << "event does not decode: " << event.status().message() << "\n";
    return 0;
  }
  rules::Trace trace;
  auto decision = loaded->engine->Process(*event, *resolver, &trace);
  if (!decision.ok()) {
    err << "rulectl: " << decision.status().message() << "\n";
    return 1;
  }
  out << "event " << event->event_id() << " (" << event->source() << ", " << event->direction()
      << ")\n";
  if (trace.resolution.opportunity) {
    const v1::Opportunity& o = *trace.resolution.opportunity;
    out << "opportunity " << o.opportunity_id() << ": pipeline " << o.pipeline() << ", stage "
        << o.stage() << ", " << o.status()
        << (event->opportunity_id().empty() ? " (resolved from participants)" : "") << "\n";
  } else {
    out << "opportunity: none (" << trace.resolution.reason << ")\n";
  }
  if (trace.extracted) {
    if (!trace.extraction.nothing_reason.empty()) {
      out << "extraction: nothing counts (" << trace.extraction.nothing_reason << ")\n";
    }
    for (const text::DroppedPart& d : trace.extraction.dropped) {
      out << "dropped " << d.field << " [" << d.begin << "," << d.end << ") " << d.format << "\n";
    }
    for (const rules::SegmentTrace& st : trace.segments) {
      const text::Segment& s = trace.extraction.segments[st.segment];
      out << "segment " << st.segment << " " << s.field << " (" << text::SegmentKindName(s.kind)
          << ", " << text::SpeakerName(s.speaker) << ")\n";
      out << "  text:       " << Json(s.text) << "\n";
      out << "  normalized: " << Json(st.normalized) << "\n";
      const rules::CompiledPipeline* p = trace.pipeline;
      for (const rules::Hit& h : st.hits) {
        out << "  hit [" << h.start << "," << h.end << ") "
            << Json(p->patterns()[h.pattern].display) << "\n";
      }
      for (const rules::RuleTrace& r : st.rules) {
        const rules::CompiledRule& rule = p->rules()[r.rule];
        out << "  rule " << rule.rule->id << " (" << rule.rule->stage << ") at [" << r.anchor.begin
            << "," << r.anchor.end << "): " << r.outcome << "\n";
        if (r.guards_ran) {
          const text::GuardFindings& g = r.guards;
          out << "    guards: clause [" << g.clause.begin << "," << g.clause.end << ") sentence ["
              << g.sentence.begin << "," << g.sentence.end << ")"
              << " negated=" << g.negated << (g.negated ? " (" + g.negation_cue + ")" : "")
              << " hypothetical=" << g.hypothetical
              << (g.hypothetical ? " (" + g.hypothetical_cue + ")" : "")
              << " question=" << g.question << (g.question ? " (" + g.question_cue + ")" : "")
              << "\n";
        }
      }
    }
  }
  out << "decision: " << decision->reason;
  if (decision->proposal) {
    out << " " << decision->proposal->from_stage() << " -> " << decision->proposal->to_stage()
        << " by " << decision->proposal->rule_id();
  }
  out << "\n" << DecisionJson(*decision) << "\n";
  return 0;
}

}  // namespace autostage::rulectl
