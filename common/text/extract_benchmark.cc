// Extract() throughput on typical events: a Chinese reply with quoted history, signature and
// disclaimer; an English HTML reply with a Gmail quote; a WeCom chat; an answered call.
// Reports bytes/s of the event's text fields.
#include <string>

#include "benchmark/benchmark.h"
#include "common/text/extract.h"

namespace autostage::text {
namespace {

constexpr char kReplyZh[] =
    "王经理：\n\n方案和报价V2我们周一开会评审过了，价格原则上可以接受。请把合同草稿发过来，"
    "我们走一下法务审核。另外付款方式希望按年付，首年合同签订后付款。\n\n谢谢！\n\n杨帆\n"
    "行政与IT采购 | 南京紫峰物流有限公司\n电话：025-5863 1172\n\n"
    "本邮件及其附件含有南京紫峰物流有限公司的保密信息，仅限于发送给上面地址中列出的个人或群组。"
    "禁止任何其他人以任何形式使用本邮件中的信息。\n\n"
    "------------------ 原始邮件 ------------------\n发件人: "
    "\"张伟\"<zhang.wei@ruiheng-tech.com>;\n"
    "发送时间: 2025年3月21日(星期五) 上午10:05\n收件人: \"杨帆\"<yangfan@zifeng.com>;\n"
    "主题: 报价单V2\n\n杨经理您好：\n\n根据周一的沟通，用户数调整为 "
    "800，附件是更新后的报价单（V2），"
    "主要变化是审批流和移动端的授权数量，单价没有变化。\n\n张伟\n锐衡科技有限公司\n";

constexpr char kHtmlEn[] =
    "<div dir=\"ltr\">Hi Hao,<div><br></div><div>We've gone through the proposal with our ops "
    "and finance teams. The price works for us &amp; legal can start next week.</div><div><br>"
    "</div><div>Best,</div><div>Raj</div></div><br><div class=\"gmail_quote\"><div "
    "class=\"gmail_attr\">On Thu, Mar 6, 2025 at 4:12 PM Chen Hao &lt;chen.hao@ruiheng-tech.com"
    "&gt; wrote:<br></div><blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\">"
    "<div dir=\"ltr\">Hi Raj,<br><br>Once you confirm the quotation I'll send over the contract "
    "draft.<br><br>Best regards,<br>Chen Hao</div></blockquote></div>";

v1::Event Email(const char* subject, const char* text, bool html) {
  v1::Event e;
  e.set_source("email");
  e.set_direction("inbound");
  e.mutable_from()->set_email("buyer@customer.com");
  e.mutable_email()->set_subject(subject);
  if (html) {
    e.mutable_email()->set_html(text);
  } else {
    e.mutable_email()->set_text(text);
  }
  return e;
}

void Run(benchmark::State& state, const v1::Event& event, size_t bytes) {
  for (auto _ : state) {
    Extraction x = Extract(event);
    benchmark::DoNotOptimize(x);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_EmailReplyZh(benchmark::State& state) {
  Run(state, Email("答复: 报价单V2", kReplyZh, false), sizeof(kReplyZh) - 1);
}
BENCHMARK(BM_EmailReplyZh);

void BM_EmailHtmlGmail(benchmark::State& state) {
  Run(state, Email("Re: proposal", kHtmlEn, true), sizeof(kHtmlEn) - 1);
}
BENCHMARK(BM_EmailHtmlGmail);

void BM_Chat(benchmark::State& state) {
  v1::Event e;
  e.set_source("chat");
  e.set_direction("inbound");
  size_t bytes = 0;
  for (const char* text : {"王经理 合同我们盖好章了", "[文件: 合同-双方盖章版.pdf]",
                           "[语音转文字] 原件今天寄出，麻烦查收", "好的 收到 👍"}) {
    auto* m = e.mutable_chat()->add_messages();
    m->set_sender("customer");
    m->set_text(text);
    bytes += m->text().size();
  }
  Run(state, e, bytes);
}
BENCHMARK(BM_Chat);

void BM_Call(benchmark::State& state) {
  v1::Event e;
  e.set_source("call");
  e.set_direction("outbound");
  e.mutable_call()->set_disposition("answered");
  e.mutable_call()->set_notes("客户接受价格，要求付款分两期（60%/40%），确认后盖章。");
  size_t bytes = e.call().notes().size();
  for (int i = 0; i < 6; ++i) {
    auto* t = e.mutable_call()->add_transcript();
    t->set_speaker(i % 2 ? "customer" : "rep");
    t->set_text("价格我们这边可以接受，付款方式希望分两期，确认后我们就盖章。");
    bytes += t->text().size();
  }
  Run(state, e, bytes);
}
BENCHMARK(BM_Call);

}  // namespace
}  // namespace autostage::text

BENCHMARK_MAIN();
