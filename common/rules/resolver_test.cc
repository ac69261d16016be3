#include "common/rules/resolver.h"

#include <gtest/gtest.h>

namespace autostage::rules {
namespace {

v1::Opportunity Opp(const std::string& id, const std::string& status,
                    std::vector<std::string> emails, std::vector<std::string> phones,
                    std::vector<std::string> chats) {
  v1::Opportunity o;
  o.set_opportunity_id(id);
  o.set_pipeline("b2b");
  o.set_stage("proposal");
  o.set_status(status);
  for (auto& e : emails) o.mutable_contacts()->add_emails(e);
  for (auto& p : phones) o.mutable_contacts()->add_phones(p);
  for (auto& c : chats) o.mutable_contacts()->add_chat_ids(c);
  return o;
}

SnapshotResolver MakeResolver() {
  return SnapshotResolver({
      Opp("o1", "open", {"Wang.Li@Acme.com"}, {"+8613912345678"}, {"wxid_wang"}),
      Opp("o2", "open", {"buyer@beta.cn", "shared@gamma.com"}, {"+442079460000"}, {}),
      Opp("o3", "open", {"shared@gamma.com"}, {}, {}),
      Opp("o4", "won", {"closed@delta.com"}, {}, {"wxid_closed"}),
      Opp("o5", "lost", {"buyer@beta.cn"}, {}, {}),
  });
}

v1::Event Event() {
  v1::Event e;
  e.set_event_id("e1");
  e.set_source("email");
  e.set_direction("inbound");
  return e;
}

TEST(ResolverTest, ByOpportunityIdWhateverTheStatus) {
  SnapshotResolver r = MakeResolver();
  v1::Event e = Event();
  e.set_opportunity_id("o4");
  Resolution res = r.Resolve(e);
  ASSERT_TRUE(res.opportunity.has_value());
  EXPECT_EQ(res.opportunity->opportunity_id(), "o4");
  e.set_opportunity_id("nope");
  res = r.Resolve(e);
  EXPECT_FALSE(res.opportunity.has_value());
  EXPECT_EQ(res.reason, "unresolved");
}

TEST(ResolverTest, EmailIsCaseInsensitive) {
  SnapshotResolver r = MakeResolver();
  v1::Event e = Event();
  e.mutable_from()->set_email("WANG.LI@acme.COM");
  Resolution res = r.Resolve(e);
  ASSERT_TRUE(res.opportunity.has_value());
  EXPECT_EQ(res.opportunity->opportunity_id(), "o1");
}

TEST(ResolverTest, PhoneFormatsNormalized) {
  SnapshotResolver r = MakeResolver();
  for (const char* phone : {"+86 139-1234-5678", "0086 (139) 1234 5678", "+8613912345678"}) {
    v1::Event e = Event();
    e.mutable_from()->set_phone(phone);
    Resolution res = r.Resolve(e);
    ASSERT_TRUE(res.opportunity.has_value()) << phone;
    EXPECT_EQ(res.opportunity->opportunity_id(), "o1");
  }
  EXPECT_EQ(NormalizePhone("0044 20-7946-0000"), "+442079460000");
}

TEST(ResolverTest, ChatIdsExactAndCcCounts) {
  SnapshotResolver r = MakeResolver();
  v1::Event e = Event();
  e.mutable_from()->set_chat_id("WXID_WANG");
  EXPECT_EQ(r.Resolve(e).reason, "unresolved");
  e.mutable_from()->set_chat_id("wxid_wang");
  EXPECT_TRUE(r.Resolve(e).opportunity.has_value());

  v1::Event cc = Event();
  cc.mutable_from()->set_email("rep@ours.com");
  cc.add_to()->set_email("someone@else.com");
  cc.add_cc()->set_phone("+44 20 7946 0000");
  Resolution res = r.Resolve(cc);
  ASSERT_TRUE(res.opportunity.has_value());
  EXPECT_EQ(res.opportunity->opportunity_id(), "o2");
}

TEST(ResolverTest, AmbiguousWhenSeveralOpenMatch) {
  SnapshotResolver r = MakeResolver();
  v1::Event e = Event();
  e.mutable_from()->set_email("shared@gamma.com");
  Resolution res = r.Resolve(e);
  EXPECT_FALSE(res.opportunity.has_value());
  EXPECT_EQ(res.reason, "ambiguous_opportunity");
  // Two participants of two different open opportunities are ambiguous too.
  v1::Event two = Event();
  two.mutable_from()->set_email("wang.li@acme.com");
  two.add_to()->set_email("buyer@beta.cn");
  EXPECT_EQ(r.Resolve(two).reason, "ambiguous_opportunity");
}

TEST(ResolverTest, ClosedOpportunitiesIgnoredForParticipants) {
  SnapshotResolver r = MakeResolver();
  v1::Event e = Event();
  e.mutable_from()->set_email("closed@delta.com");
  EXPECT_EQ(r.Resolve(e).reason, "unresolved");
  // buyer@beta.cn is on open o2 and lost o5: only o2 counts.
  v1::Event b = Event();
  b.mutable_from()->set_email("buyer@beta.cn");
  Resolution res = r.Resolve(b);
  ASSERT_TRUE(res.opportunity.has_value());
  EXPECT_EQ(res.opportunity->opportunity_id(), "o2");
}

TEST(ResolverTest, LaterSnapshotReplacesEarlier) {
  SnapshotResolver r(
      {Opp("o1", "open", {"a@x.com"}, {}, {}), Opp("o1", "won", {"a@x.com"}, {}, {})});
  v1::Event e = Event();
  e.mutable_from()->set_email("a@x.com");
  EXPECT_EQ(r.Resolve(e).reason, "unresolved");
  EXPECT_EQ(r.size(), 1u);
}

}  // namespace
// ResolveInto answers what Resolve answers, pointing at the resolver's snapshot (no copy);
// the base class's default (used by resolvers that only copy) keeps its own copy.
class CopyingResolver : public OpportunityResolver {
 public:
  explicit CopyingResolver(const SnapshotResolver& inner) : inner_(inner) {}
  Resolution Resolve(const v1::Event& event) const override { return inner_.Resolve(event); }

 private:
  const SnapshotResolver& inner_;
};

TEST(ResolverTest, ResolveIntoAnswersAsResolve) {
  SnapshotResolver r = MakeResolver();
  CopyingResolver copying(r);
  std::vector<v1::Event> events;
  for (const char* id : {"o1", "o4", "nope"}) {
    events.push_back(Event());
    events.back().set_opportunity_id(id);
  }
  for (const char* email : {"wang.li@acme.com", "shared@gamma.com", "closed@delta.com",
                            "buyer@beta.cn", "nobody@x.com"}) {
    events.push_back(Event());
    events.back().mutable_from()->set_email(email);
  }
  const OpportunityResolver* resolvers[] = {&r, &copying};
  for (const OpportunityResolver* resolver : resolvers) {
    ResolutionView view;
    for (const v1::Event& e : events) {
      SCOPED_TRACE(e.ShortDebugString());
      resolver->ResolveInto(e, &view);  // reused: every answer overwrites the previous one
      const Resolution want = r.Resolve(e);
      EXPECT_EQ(view.reason, want.reason);
      ASSERT_EQ(view.opportunity != nullptr, want.opportunity.has_value());
      if (view.opportunity == nullptr) continue;
      EXPECT_EQ(view.opportunity->SerializeAsString(), want.opportunity->SerializeAsString());
      const Resolution copy = view.ToResolution();
      ASSERT_TRUE(copy.opportunity.has_value());
      EXPECT_EQ(copy.opportunity->opportunity_id(), want.opportunity->opportunity_id());
      if (resolver == &r) {
        EXPECT_FALSE(view.owned.opportunity.has_value());
        EXPECT_EQ(view.opportunity->opportunity_id(), e.opportunity_id().empty()
                                                          ? view.opportunity->opportunity_id()
                                                          : e.opportunity_id());
      } else {
        EXPECT_EQ(view.opportunity, &*view.owned.opportunity);
      }
    }
  }
}

}  // namespace autostage::rules
