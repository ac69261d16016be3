#include "common/text/extract.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace autostage::text {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

v1::Event Email(std::string_view direction, std::string_view subject, std::string_view text) {
  v1::Event e;
  e.set_event_id("e1");
  e.set_source("email");
  e.set_direction(std::string(direction));
  e.mutable_from()->set_email("buyer@customer.com");
  e.mutable_email()->set_subject(std::string(subject));
  e.mutable_email()->set_text(std::string(text));
  return e;
}

v1::Event HtmlEmail(std::string_view subject, std::string_view html) {
  v1::Event e;
  e.set_source("email");
  e.set_direction("inbound");
  e.mutable_from()->set_email("buyer@customer.com");
  e.mutable_email()->set_subject(std::string(subject));
  e.mutable_email()->set_html(std::string(html));
  return e;
}

std::string Bodies(const Extraction& x) {
  std::string all;
  for (const Segment& s : x.segments) {
    if (s.kind == SegmentKind::kBody) all += s.text + "|";
  }
  return all;
}

std::string Formats(const Extraction& x) {
  std::string all;
  for (const DroppedPart& d : x.dropped) all.append(d.format).append(",");
  return all;
}

// Every segment's offsets point at the same bytes in the original field.
void ExpectOffsetsMapBack(const v1::Event& e, const Extraction& x) {
  for (const Segment& s : x.segments) {
    std::string_view field;
    if (s.field == "email.text") field = e.email().text();
    if (s.field == "email.subject") field = e.email().subject();
    if (s.field == "call.notes") field = e.call().notes();
    if (s.field.starts_with("chat.messages[")) {
      field = e.chat().messages(std::stoi(s.field.substr(14))).text();
    }
    if (s.field.starts_with("call.transcript[")) {
      field = e.call().transcript(std::stoi(s.field.substr(16))).text();
    }
    if (s.field.starts_with("email.attachments[")) {
      field = e.email().attachments(std::stoi(s.field.substr(18))).filename();
    }
    if (field.empty()) continue;  // html is checked separately
    size_t b = s.to_field.ToSource(0), end = s.to_field.ToSource(s.text.size());
    ASSERT_LE(end, field.size()) << s.field;
    EXPECT_EQ(field.substr(b, end - b), s.text) << s.field;
  }
}

// ---- email ----

TEST(ExtractEmailTest, SpeakerFollowsDirection) {
  EXPECT_EQ(Extract(Email("inbound", "Hi", "合同已盖章。")).segments[0].speaker,
            Speaker::kCustomer);
  EXPECT_EQ(Extract(Email("outbound", "Hi", "报价单见附件。")).segments[0].speaker, Speaker::kRep);
  EXPECT_EQ(Extract(Email("internal", "Hi", "准备合同。")).segments[0].speaker, Speaker::kRep);
}

TEST(ExtractEmailTest, SubjectIsASegmentUnlessReply) {
  Extraction fresh = Extract(Email("inbound", " 合同已盖章 ", "见附件。"));
  ASSERT_EQ(fresh.segments[0].kind, SegmentKind::kSubject);
  EXPECT_EQ(fresh.segments[0].text, "合同已盖章");
  EXPECT_EQ(fresh.segments[0].field, "email.subject");
  for (std::string_view subject :
       {"Re: signed contract", "RE: FW: PO", "回复：合同已盖章", "答复: 答复: 报价", "Fwd: quote",
        "转发: 合同", "Re[2]: PO", "[EXTERNAL] RE: PO", "RE：合同"}) {
    Extraction x = Extract(Email("inbound", subject, "ok"));
    for (const Segment& s : x.segments) EXPECT_NE(s.kind, SegmentKind::kSubject) << subject;
    EXPECT_THAT(Formats(x), HasSubstr("reply_subject")) << subject;
  }
  // "Request for quote" is no reply prefix.
  Extraction req = Extract(Email("inbound", "Request for quote", "x"));
  EXPECT_EQ(req.segments[0].kind, SegmentKind::kSubject);
  Extraction tagged = Extract(Email("inbound", "[EXTERNAL] Signed contract", "x"));
  EXPECT_EQ(tagged.segments[0].kind, SegmentKind::kSubject);
}

TEST(ExtractEmailTest, AttachmentNamesAreSegments) {
  v1::Event e = Email("inbound", "PO", "见附件。");
  e.mutable_email()->add_attachments()->set_filename("PO_2025-0331.pdf");
  e.mutable_email()->add_attachments()->set_filename("  ");
  e.mutable_email()->add_attachments()->set_filename("合同_已盖章.pdf");
  Extraction x = Extract(e);
  std::vector<std::string> names;
  for (const Segment& s : x.segments) {
    if (s.kind == SegmentKind::kAttachmentName) names.push_back(s.field + "=" + s.text);
  }
  EXPECT_THAT(names, ::testing::ElementsAre("email.attachments[0].filename=PO_2025-0331.pdf",
                                            "email.attachments[2].filename=合同_已盖章.pdf"));
  ExpectOffsetsMapBack(e, x);
}

TEST(ExtractEmailTest, QuotedHistoryAndSignatureDropped) {
  v1::Event e = Email("inbound", "回复: 合同安排",
                      "王经理：\r\n样机视频看了，下周去展厅。\r\n\r\n孙立军\r\n\r\n"
                      "-----原始邮件-----\r\n发件人: 王磊\r\n发送时间: 2025年3月12日\r\n"
                      "主题: 合同安排\r\n\r\n等贵司确认报价后我就把合同草稿发过去。\r\n");
  Extraction x = Extract(e);
  EXPECT_THAT(Bodies(x), Not(HasSubstr("合同")));
  EXPECT_THAT(Bodies(x), HasSubstr("样机视频看了"));
  EXPECT_THAT(Formats(x), HasSubstr("original_message_zh"));
  ExpectOffsetsMapBack(e, x);
  // Dropped ranges point at the original bytes too.
  for (const DroppedPart& d : x.dropped) {
    if (d.format == "original_message_zh") {
      EXPECT_THAT(e.email().text().substr(d.begin, d.end - d.begin), HasSubstr("原始邮件"));
    }
  }
}

TEST(ExtractEmailTest, InlineReplyOffsets) {
  v1::Event e = Email("inbound", "x",
                      "On Mon, Mar 3, 2025 Bob <b@x.com> wrote:\n> Is the price OK?\n"
                      "The price works for us.\n> Payment terms?\nNet 60.\n");
  Extraction x = Extract(e);
  EXPECT_EQ(Bodies(x), "The price works for us.|Net 60.|");
  ExpectOffsetsMapBack(e, x);
}

// ---- machine-made ----

TEST(ExtractEmailTest, AutoSubmittedYieldsNothing) {
  v1::Event e = Email("inbound", "Contract", "The contract is signed.");
  e.mutable_email()->set_auto_submitted(true);
  Extraction x = Extract(e);
  EXPECT_EQ(x.nothing_reason, "auto_reply");
  EXPECT_THAT(x.segments, IsEmpty());
}

TEST(ExtractEmailTest, AutoReplySubjectsAndBodies) {
  for (std::string_view subject :
       {"Automatic reply: Contract draft", "Auto: PO", "Out of Office: Proposal",
        "自动回复: 合同盖章", "【自动回复】Re: 合同草稿", "自动答复：报价", "[Auto Reply] x"}) {
    EXPECT_EQ(Extract(Email("inbound", subject, "PO attached")).nothing_reason, "auto_reply")
        << subject;
  }
  for (std::string_view body :
       {"I am out of the office until Monday. For the contract contact Linda.",
        "您好，我目前不在办公室，合同事宜请联系采购部。", "此邮件为自动回复，报价请联系张三。"}) {
    EXPECT_EQ(Extract(Email("inbound", "Contract", body)).nothing_reason, "auto_reply") << body;
  }
  // A person writing about an auto-reply feature is no auto-reply.
  EXPECT_EQ(Extract(Email("inbound", "Autopilot module", "We signed the contract.")).nothing_reason,
            "");
}

TEST(ExtractEmailTest, Bounces) {
  v1::Event a = Email("inbound", "Undeliverable: contract", "Delivery has failed.");
  EXPECT_EQ(Extract(a).nothing_reason, "bounce");
  v1::Event b = Email("inbound", "合同", "x");
  b.mutable_from()->set_email("MAILER-DAEMON@mx.customer.com");
  EXPECT_EQ(Extract(b).nothing_reason, "bounce");
  v1::Event c = Email("inbound", "退信：合同草稿", "无法送达");
  EXPECT_EQ(Extract(c).nothing_reason, "bounce");
  v1::Event d = Email("inbound", "Delivery Status Notification (Failure)", "x");
  EXPECT_EQ(Extract(d).nothing_reason, "bounce");
}

TEST(ExtractEmailTest, Newsletters) {
  v1::Event a = Email("inbound", "3月动态：签约机构突破200家", "本月新增签约 36 家");
  (*a.mutable_attributes())["precedence"] = "bulk";
  EXPECT_EQ(Extract(a).nothing_reason, "newsletter");
  v1::Event b = Email("inbound", "News", "Signed 36 new partners.\n\nUnsubscribe here.");
  b.mutable_from()->set_email("newsletter@vendor.com");
  EXPECT_EQ(Extract(b).nothing_reason, "newsletter");
  v1::Event c = Email("inbound", "News", "x");
  (*c.mutable_attributes())["List-Unsubscribe"] = "<mailto:u@x.com>";
  EXPECT_EQ(Extract(c).nothing_reason, "newsletter");
  // A person's mail that mentions unsubscribing is not a newsletter.
  v1::Event d = Email("inbound", "Re: list", "Please unsubscribe me; the contract is signed.");
  EXPECT_EQ(Extract(d).nothing_reason, "");
}

TEST(ExtractEmailTest, CalendarInvitationsAndReplies) {
  v1::Event a = Email("inbound", "方案评审", "邀请您参加会议");
  auto* ics = a.mutable_email()->add_attachments();
  ics->set_filename("invite.ics");
  ics->set_content_type("text/calendar");
  EXPECT_EQ(Extract(a).nothing_reason, "calendar");
  for (std::string_view subject :
       {"Invitation: Contract review @ Thu", "Accepted: Kickoff", "Declined: PO sync",
        "邀请：锐衡CRM 方案与报价评审", "已接受: 合同评审"}) {
    EXPECT_EQ(Extract(Email("inbound", subject, "x")).nothing_reason, "calendar") << subject;
  }
}

// ---- HTML ----

TEST(ExtractEmailTest, HtmlGmailQuoteDroppedAndOffsetsIntoHtml) {
  std::string html =
      "<html><head><style>.x{}</style></head><body><div>Thursday works &amp; the price is "
      "fine.</div><div><br></div><div>Sarah</div><div class=\"gmail_quote\">On Thu, Chen "
      "wrote:<blockquote>send the signed contract</blockquote></div><script>x()</script>"
      "</body></html>";
  v1::Event e = HtmlEmail("Re: demo", html);
  Extraction x = Extract(e);
  ASSERT_EQ(x.nothing_reason, "");
  std::string bodies = Bodies(x);
  EXPECT_THAT(bodies, HasSubstr("Thursday works & the price is fine."));
  EXPECT_THAT(bodies, Not(HasSubstr("contract")));
  EXPECT_THAT(Formats(x), HasSubstr("gmail_quote"));
  EXPECT_THAT(Formats(x), HasSubstr("html_script_style"));
  for (const Segment& s : x.segments) {
    if (s.field != "email.html") continue;
    size_t at = s.text.find("price");
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(html.substr(s.to_field.ToSource(at), 5), "price");
    size_t amp = s.text.find('&');
    EXPECT_EQ(html.substr(s.to_field.ToSource(amp), 5), "&amp;");
  }
}

TEST(ExtractEmailTest, HtmlQqQuoteDropped) {
  v1::Event e = HtmlEmail("回复：kickoff",
                          "<div>下周一的会我参加。</div><div><br></div><div>邵军</div>"
                          "<div>------------------&nbsp;原始邮件&nbsp;------------------</div>"
                          "<div><b>发件人:</b>&nbsp;\"李婷\"</div><div>合同我们已盖章寄出。</div>");
  Extraction x = Extract(e);
  EXPECT_THAT(Bodies(x), HasSubstr("下周一的会我参加"));
  EXPECT_THAT(Bodies(x), Not(HasSubstr("合同")));
}

TEST(ExtractEmailTest, HtmlOnlyWhenTextIsBlank) {
  v1::Event e = HtmlEmail("x", "<p>PO attached</p>");
  e.mutable_email()->set_text("  \n");
  Extraction x = Extract(e);
  ASSERT_FALSE(x.segments.empty());
  EXPECT_EQ(x.segments.back().field, "email.html");
}

TEST(ExtractEmailTest, EmptyEmojiAndHugeBodies) {
  EXPECT_EQ(Bodies(Extract(Email("inbound", "", ""))), "");
  EXPECT_EQ(Bodies(Extract(Email("inbound", "", "\xF0\x9F\x91\x8D"))), "\xF0\x9F\x91\x8D|");
  std::string huge(1 << 20, 'a');
  // No wall-clock bounds here (machines are noisy): a quadratic path over these inputs would
  // run for many minutes and hit the test's CTest timeout.
  Extraction x = Extract(Email("inbound", "x", huge));
  EXPECT_EQ(Bodies(x).size(), huge.size() + 1);
  std::string bomb;
  for (int i = 0; i < 100000; ++i) bomb += "<div>";
  bomb += "PO";
  Extraction y = Extract(HtmlEmail("x", bomb));
  EXPECT_EQ(Bodies(y), "PO|");
}

// ---- call ----

v1::Event Call(std::string_view disposition) {
  v1::Event e;
  e.set_source("call");
  e.set_direction("outbound");
  e.mutable_call()->set_disposition(std::string(disposition));
  e.mutable_call()->set_notes("客户确认已盖章。");
  auto* t1 = e.mutable_call()->add_transcript();
  t1->set_speaker("rep");
  t1->set_text("合同收到了吗？");
  auto* t2 = e.mutable_call()->add_transcript();
  t2->set_speaker("customer");
  t2->set_text(" 收到了，已经盖章。 ");
  return e;
}

TEST(ExtractCallTest, UnansweredCallsYieldNothing) {
  for (std::string_view d : {"no_answer", "busy", "voicemail", "failed", ""}) {
    Extraction x = Extract(Call(d));
    EXPECT_EQ(x.nothing_reason, "call_not_answered") << d;
    EXPECT_THAT(x.segments, IsEmpty());
  }
}

TEST(ExtractCallTest, TurnsKeepSpeakersAndNotesCountAsCustomer) {
  v1::Event e = Call("answered");
  Extraction x = Extract(e);
  ASSERT_EQ(x.segments.size(), 3u);
  EXPECT_EQ(x.segments[0].speaker, Speaker::kRep);
  EXPECT_EQ(x.segments[0].field, "call.transcript[0].text");
  EXPECT_EQ(x.segments[1].speaker, Speaker::kCustomer);
  EXPECT_EQ(x.segments[1].text, "收到了，已经盖章。");
  EXPECT_EQ(x.segments[2].field, "call.notes");
  EXPECT_EQ(x.segments[2].speaker, Speaker::kCustomer);
  EXPECT_EQ(x.nothing_reason, "");
  ExpectOffsetsMapBack(e, x);
}

// ---- chat ----

v1::Event Chat(std::initializer_list<std::pair<std::string_view, std::string_view>> messages) {
  v1::Event e;
  e.set_source("chat");
  e.set_direction("inbound");
  e.mutable_chat()->set_channel("wecom");
  for (const auto& [sender, text] : messages) {
    auto* m = e.mutable_chat()->add_messages();
    m->set_sender(std::string(sender));
    m->set_text(std::string(text));
  }
  return e;
}

TEST(ExtractChatTest, SendersKept) {
  v1::Event e = Chat({{"customer", "合同已盖章"}, {"rep", "收到，谢谢"}});
  Extraction x = Extract(e);
  ASSERT_EQ(x.segments.size(), 2u);
  EXPECT_EQ(x.segments[0].speaker, Speaker::kCustomer);
  EXPECT_EQ(x.segments[1].speaker, Speaker::kRep);
  EXPECT_EQ(x.segments[1].field, "chat.messages[1].text");
}

TEST(ExtractChatTest, RecalledMessagesDropped) {
  v1::Event e = Chat({{"customer", "王总撤回了一条消息"},
                      {"customer", "Alex recalled a message"},
                      {"customer", "我们撤回了之前的报价异议，价格可以接受"}});
  Extraction x = Extract(e);
  ASSERT_EQ(x.segments.size(), 1u);
  EXPECT_THAT(x.segments[0].text, HasSubstr("价格可以接受"));
  EXPECT_EQ(Formats(x), "recalled_message,recalled_message,");
  EXPECT_EQ(Extract(Chat({{"customer", "张三撤回了一条消息"}})).nothing_reason, "recalled_message");
}

TEST(ExtractChatTest, VoiceToTextCountsWithoutTheTag) {
  v1::Event e = Chat({{"customer", "[语音转文字] 合同我们今天盖章"}});
  Extraction x = Extract(e);
  ASSERT_EQ(x.segments.size(), 1u);
  EXPECT_EQ(x.segments[0].text, "合同我们今天盖章");
  EXPECT_EQ(x.segments[0].speaker, Speaker::kCustomer);
  ExpectOffsetsMapBack(e, x);
}

TEST(ExtractChatTest, FilePlaceholdersYieldAttachmentNames) {
  v1::Event e = Chat({{"customer", "[文件: 合同-双方盖章版.pdf]"},
                      {"rep", "[文件] 穗达电子-SMT线体方案及报价单.pdf"},
                      {"customer", "发你了 [File: signed_PO.pdf] 请查收"},
                      {"customer", "【文件】报价单 V2.xlsx"},
                      {"customer", "[文件：合同.docx]"},
                      {"customer", "[图片]"},
                      {"customer", "[文件]"}});
  Extraction x = Extract(e);
  std::vector<std::string> names;
  for (const Segment& s : x.segments) {
    if (s.kind == SegmentKind::kAttachmentName) {
      names.push_back(std::string(SpeakerName(s.speaker)) + ":" + s.text);
    }
  }
  EXPECT_THAT(names, ::testing::ElementsAre("customer:合同-双方盖章版.pdf",
                                            "rep:穗达电子-SMT线体方案及报价单.pdf",
                                            "customer:signed_PO.pdf", "customer:报价单 V2.xlsx",
                                            "customer:合同.docx"));
  // The message bodies stay too.
  EXPECT_THAT(Bodies(x), HasSubstr("发你了 [File: signed_PO.pdf] 请查收"));
  ExpectOffsetsMapBack(e, x);
}

TEST(ExtractChatTest, AutoRepliesDropped) {
  v1::Event e = Chat({{"rep", "王经理早，合同文本准备好了"},
                      {"customer", "【自动回复】您好，我正在出差，合同相关事宜请联系赵工。"},
                      {"customer", "[自动回复]稍后联系您"},
                      {"customer", "您好，我现在有事不在，一会再和您联系。"}});
  Extraction x = Extract(e);
  ASSERT_EQ(x.segments.size(), 1u);
  EXPECT_EQ(x.segments[0].speaker, Speaker::kRep);
  EXPECT_EQ(Formats(x), "auto_reply,auto_reply,auto_reply,");
  EXPECT_EQ(Extract(Chat({{"customer", "【自动回复】出差中"}})).nothing_reason, "auto_reply");
  // Talking about auto-replies is no auto-reply.
  EXPECT_EQ(Extract(Chat({{"customer", "你们系统支持自动回复功能吗"}})).segments.size(), 1u);
}

TEST(ExtractChatTest, EmptyAndEmojiMessages) {
  Extraction x = Extract(Chat({{"customer", ""}, {"customer", "  "}, {"customer", "👍🎉"}}));
  ASSERT_EQ(x.segments.size(), 1u);
  EXPECT_EQ(x.segments[0].text, "👍🎉");
  EXPECT_EQ(x.nothing_reason, "");
}

TEST(ExtractTest, UnknownSourceYieldsNothing) {
  v1::Event e;
  e.set_source("fax");
  Extraction x = Extract(e);
  EXPECT_THAT(x.segments, IsEmpty());
}

}  // namespace
}  // namespace autostage::text
