// Runs Extract() over the dev corpus (shared/corpus/dev): for every email whose category is
// quoted history, signature/disclaimer or machine-made, no stage keyword that sits only in the
// non-new parts may survive in the segments; machine-made mail must yield nothing; every other
// email must keep some new content and must not be called machine-made.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "autostage/v1/event.pb.h"
#include "common/text/extract.h"
#include "common/text/internal/email_util.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace autostage::text {
namespace {

namespace fs = std::filesystem;

// Stage keywords of the default packs, in the forms the corpus uses.
constexpr std::string_view kStageKeywords[] = {
    "合同",      "盖章",  "签约",           "签署",    "报价",    "付款",         "首付款",
    "采购订单",  "下单",  "验收",           "订单",    "kickoff", "contract",     "signed",
    "quotation", "quote", "purchase order", "invoice", "payment", "countersigned"};

bool IsWordByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Case-insensitive; Latin keywords match whole words only ("po" is not in "report").
bool HasKeyword(std::string_view text, std::string_view keyword) {
  bool latin = IsWordByte(keyword[0]);
  for (size_t at = internal::FindNoCase(text, keyword); at != std::string_view::npos;
       at = internal::FindNoCase(text, keyword, at + 1)) {
    if (!latin) return true;
    size_t end = at + keyword.size();
    bool left = at == 0 || !IsWordByte(text[at - 1]);
    bool right = end >= text.size() || !IsWordByte(text[end]);
    if (left && right) return true;
  }
  return false;
}

std::string ReadCategory(const std::string& line, std::string* event_id) {
  auto field = [&](std::string_view key) {
    // Appended piecewise: GCC 12 -O3 reports a false -Wrestrict on "literal" + std::string.
    std::string pattern = "\"";
    pattern.append(key.data(), key.size());
    pattern += "\": \"";
    size_t at = line.find(pattern);
    if (at == std::string::npos) return std::string();
    size_t begin = at + pattern.size();
    return line.substr(begin, line.find('"', begin) - begin);
  };
  *event_id = field("event_id");
  return field("cat");
}

class ExtractCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* src = std::getenv("AUTOSTAGE_SOURCE_DIR");
    if (src == nullptr) GTEST_SKIP() << "AUTOSTAGE_SOURCE_DIR not set";
    dir_ = fs::path(src) / ".." / "shared" / "corpus" / "dev";
    if (!fs::exists(dir_ / "events.jsonl") || !fs::exists(dir_ / "categories.jsonl")) {
      GTEST_SKIP() << "dev corpus not found at " << dir_;
    }
    std::ifstream cats(dir_ / "categories.jsonl");
    for (std::string line; std::getline(cats, line);) {
      std::string id;
      std::string cat = ReadCategory(line, &id);
      if (!id.empty()) category_[id] = cat;
    }
    std::ifstream events(dir_ / "events.jsonl");
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    for (std::string line; std::getline(events, line);) {
      if (line.empty()) continue;
      v1::Event event;
      auto status = google::protobuf::util::JsonStringToMessage(line, &event, options);
      ASSERT_TRUE(status.ok()) << status.ToString() << "\n" << line.substr(0, 200);
      events_.push_back(std::move(event));
    }
    ASSERT_GT(events_.size(), 100u);
  }

  fs::path dir_;
  std::map<std::string, std::string> category_;
  std::vector<v1::Event> events_;
};

std::string AllSegments(const Extraction& x) {
  std::string all;
  for (const Segment& s : x.segments) all += s.text + "\n";
  return all;
}

TEST_F(ExtractCorpusTest, NonNewPartsLoseTheirStageKeywords) {
  int checked = 0;
  for (const v1::Event& event : events_) {
    const std::string& cat = category_[event.event_id()];
    if (cat != "quoted_history" && cat != "signature_disclaimer" && cat != "auto_reply") continue;
    Extraction x = Extract(event);
    ++checked;
    if (cat == "auto_reply") {
      if (event.source() == "email") {
        EXPECT_FALSE(x.nothing_reason.empty()) << event.event_id();
        EXPECT_TRUE(x.segments.empty()) << event.event_id();
      }
      // Whatever the source, no customer words of a machine-made message survive.
      for (const Segment& s : x.segments) {
        EXPECT_NE(s.speaker, Speaker::kCustomer) << event.event_id() << ": " << s.text;
      }
      continue;
    }
    std::string kept = AllSegments(x);
    EXPECT_FALSE(kept.empty()) << event.event_id() << " lost its new content";
    for (std::string_view kw : kStageKeywords) {
      EXPECT_FALSE(HasKeyword(kept, kw))
          << event.event_id() << " (" << cat << ") keeps \"" << kw << "\" in:\n"
          << kept;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST_F(ExtractCorpusTest, PeopleWrittenEmailsKeepNewContent) {
  for (const v1::Event& event : events_) {
    if (event.source() != "email" || category_[event.event_id()] == "auto_reply") continue;
    Extraction x = Extract(event);
    EXPECT_EQ(x.nothing_reason, "") << event.event_id();
    bool body = false;
    for (const Segment& s : x.segments) body |= s.kind == SegmentKind::kBody;
    EXPECT_TRUE(body) << event.event_id();
  }
}

TEST_F(ExtractCorpusTest, PositiveEmailsKeepTheirEvidence) {
  // A positive email must keep at least one stage keyword (in a body, subject or attachment
  // segment): over-stripping would turn it into a miss.
  std::ifstream expected(dir_ / "expected.jsonl");
  std::set<std::string> positive;
  for (std::string line; std::getline(expected, line);) {
    if (line.find("\"to_stage\": null") != std::string::npos) continue;
    size_t at = line.find("\"event_id\": \"");
    if (at == std::string::npos) continue;
    at += 13;
    positive.insert(line.substr(at, line.find('"', at) - at));
  }
  int checked = 0;
  for (const v1::Event& event : events_) {
    if (event.source() != "email" || positive.count(event.event_id()) == 0) continue;
    ++checked;
    std::string kept = AllSegments(Extract(event));
    bool any = false;
    for (std::string_view kw : kStageKeywords) any |= HasKeyword(kept, kw);
    static constexpr std::string_view kMore[] = {
        "需求", "预算",    "方案", "已付",   "开通",   "到厂",   "安装",     "proposal", "paid",
        "PO",   "budget",  "need", "的价格", "要了",   "price",  "redlines", "legal",    "上线",
        "报價", "kickoff", "培训", "付好了", "placed", "review", "onboard",  "seats",    "签字"};
    for (std::string_view kw : kMore) any |= HasKeyword(kept, kw);
    EXPECT_TRUE(any) << event.event_id() << " kept:\n" << kept;
  }
  EXPECT_GE(checked, 30);
}

// Everything Extract() says about an event, offsets mapped back for every byte of each segment.
std::string Describe(const Extraction& x) {
  std::string out = "reason=" + x.nothing_reason + "\n";
  for (const Segment& s : x.segments) {
    out += std::string(SpeakerName(s.speaker)) + " " + std::string(SegmentKindName(s.kind)) + " " +
           s.field + " [" + s.text + "]";
    for (size_t i = 0; i <= s.text.size(); ++i) {
      // Two appends, not " " + to_string(...): GCC 12 -O3 reports a false -Wrestrict there.
      out += ' ';
      out += std::to_string(s.to_field.ToSource(i));
    }
    out += "\n";
  }
  for (const DroppedPart& d : x.dropped) {
    out += d.field + " " + std::to_string(d.begin) + ".." + std::to_string(d.end) + " " +
           std::string(d.format) + "\n";
  }
  return out;
}

TEST_F(ExtractCorpusTest, ExtractIntoAReusedExtractionMatchesExtract) {
  // Forwards, then backwards, so that segments are reused across every kind of event.
  Extraction reused;
  for (int round = 0; round < 2; ++round) {
    for (size_t k = 0; k < events_.size(); ++k) {
      const v1::Event& event = events_[round == 0 ? k : events_.size() - 1 - k];
      ExtractInto(event, {}, &reused);
      ASSERT_EQ(Describe(reused), Describe(Extract(event))) << event.event_id();
    }
  }
}

}  // namespace
}  // namespace autostage::text
