#include "common/text/internal/guard_cues.h"

#include <string_view>

namespace autostage::text::internal {
namespace {

using SV = std::string_view;

constexpr Cue kZhNegation[] = {
    {"不得不", 2}, {"不能不", 2}, {"不会不", 2}, {"不可不", 2}, {"还没有"}, {"还没"},   {"还未"},
    {"尚未"},      {"暂时不"},    {"暂时没"},    {"暂不"},      {"暂未"},   {"不同意"}, {"没有"},
    {"没"},        {"未"},        {"无需"},      {"无须"},      {"无法"},   {"无意"},   {"不用"},
    {"不必"},      {"不要"},      {"不"},        {"先别"},      {"别"},     {"甭"},     {"勿"},
    {"拒绝"},      {"放弃"},      {"搁置"},      {"婉拒"},
};

constexpr Cue kEnNegation[] = {
    {"not yet"},  {"yet to"},    {"no longer"}, {"hold off"}, {"holding off"}, {"on hold"},
    {"not"},      {"no"},        {"never"},     {"none"},     {"nobody"},      {"nothing"},
    {"neither"},  {"nor"},       {"without"},   {"cannot"},   {"unable"},      {"unwilling"},
    {"refuse"},   {"refused"},   {"refuses"},   {"decline"},  {"declined"},    {"declines"},
    {"reject"},   {"rejected"},  {"rejects"},   {"cancel"},   {"cancelled"},   {"canceled"},
    {"postpone"}, {"postponed"}, {"dont"},      {"didnt"},    {"doesnt"},      {"havent"},
    {"hasnt"},    {"cant"},      {"wont"},      {"isnt"},     {"arent"},       {"wasnt"},
};

constexpr SV kZhNegationExceptions[] = {
    "不错",     "不过",   "不少",     "不但",     "不仅",       "不久",   "不断",     "不管",
    "不论",     "不如",   "不好意思", "不客气",   "不然",       "要不然", "不同",     "不一定",
    "不确定",   "不知道", "说不定",   "差不多",   "不一样",     "不得了", "了不起",   "不停",
    "不见不散", "没问题", "没关系",   "没事",     "没什么问题", "别的",   "别人",     "别家",
    "特别",     "分别",   "区别",     "级别",     "类别",       "个别",   "识别",     "性别",
    "告别",     "未来",   "无论",     "毫无疑问", "不用担心",   "别担心", "不要担心", "不必担心",
    "别着急",   "不着急", "不急",     "不用谢",   "不用客气",   "无缝",   "无线",     "无锡",
    "未必",     "非不",
};

constexpr SV kEnNegationExceptions[] = {
    "no problem",         "no problems",    "not a problem",   "no worries",    "no doubt",
    "not only",           "not just",       "no later than",   "no matter",     "nothing else",
    "not to mention",     "don't hesitate", "do not hesitate", "dont hesitate", "don't worry",
    "never mind",         "no issue",       "no issues",       "without delay", "without any issue",
    "without any issues", "without issues", "no objection",    "no objections", "not bad",
};

constexpr SV kZhNegatingTails[] = {"还没有", "还没", "还未", "不了", "不成", "不下来", "没成"};
constexpr SV kZhQuestionTails[] = {"好了没有", "好了没", "完了没有", "完了没", "了没有", "了没"};

constexpr Cue kZhHypothetical[] = {
    {"如果"},   {"假如"},   {"要是"},   {"万一"},   {"倘若"},   {"若是"},   {"如若"},   {"若"},
    {"一旦"},   {"假设"},   {"假使"},   {"的话"},   {"只要"},   {"除非"},   {"以防"},   {"可能"},
    {"也许"},   {"或许"},   {"说不定"}, {"大概"},   {"考虑"},   {"不确定"}, {"不一定"}, {"不知道"},
    {"是否"},   {"准备"},   {"想要"},   {"希望"},   {"争取"},   {"有望"},   {"预计"},   {"将会"},
    {"看情况"}, {"视情况"}, {"到时候"}, {"回头再"}, {"以后再"}, {"之后再"}, {"再说"},
};

constexpr Cue kEnHypothetical[] = {
    {"in case"},   {"as long as"},   {"thinking about"}, {"thinking of"},
    {"hope to"},   {"hoping to"},    {"intend to"},      {"intending to"},
    {"expect to"}, {"expecting to"}, {"going to"},       {"not sure"},
    {"if"},        {"unless"},       {"whether"},        {"assuming"},
    {"assume"},    {"suppose"},      {"supposing"},      {"provided"},
    {"might"},     {"may"},          {"maybe"},          {"perhaps"},
    {"possibly"},  {"potentially"},  {"would"},          {"could"},
    {"consider"},  {"considering"},  {"once"},
};

// Besides look-alikes ("若干", "主要是"): polite request forms ("方便的话请发报价") and
// "大概" naming an overview ("大概情况:") are not conditions.
constexpr SV kZhHypotheticalExceptions[] = {
    "若干",       "主要是",   "需要是",   "重要是",   "准备好",   "计划书",       "可能性",
    "方便的话",   "可以的话", "有空的话", "如果方便", "若方便",   "如果可以的话", "大概情况",
    "大概的情况", "大概意思", "大概内容", "大概流程", "大概需求", "大概方案",     "大概介绍"};
// Polite request forms that start with "if" ("if possible, please send the quote"): the
// words they consume are not cues either ("could" in "if you could send").
constexpr SV kEnHypotheticalExceptions[] = {"if possible",
                                            "if you could",
                                            "if you can",
                                            "if you would",
                                            "if convenient",
                                            "if you don't mind",
                                            "if you do not mind",
                                            "if you have time",
                                            "if you get a chance",
                                            "if you have questions",
                                            "if you have any questions"};
constexpr SV kZhTrailingHypothetical[] = {"的话", "再说"};
constexpr SV kEnTrailingHypothetical[] = {"if",         "unless",  "provided",
                                          "as long as", "in case", "once"};

constexpr SV kZhQuestion[] = {"是否",     "有没有", "能否",   "可否",     "能不能",
                              "可不可以", "是不是", "要不要", "会不会",   "行不行",
                              "好不好",   "对不对", "何时",   "什么时候", "多久",
                              "怎么样",   "哪天",   "几号",   "吗"};
constexpr SV kZhFinalParticles[] = {"呢", "嘛"};

constexpr SV kEnAuxiliaries[] = {"have",  "has",  "had",   "did",    "do",  "does",
                                 "is",    "are",  "was",   "were",   "can", "could",
                                 "would", "will", "shall", "should", "may", "any"};
constexpr SV kEnSubjects[] = {"you",   "we",     "they",    "it",       "he",       "she",
                              "the",   "this",   "that",    "there",    "your",     "our",
                              "their", "u",      "i",       "everyone", "anyone",   "someone",
                              "all",   "update", "updates", "news",     "progress", "feedback"};
constexpr SV kEnQuestionWords[] = {"when", "what", "where", "why", "how", "who", "which"};

constexpr SV kZhConjunctions[] = {"但",   "但是", "不过", "可是", "然而", "只是", "所以",
                                  "因此", "于是", "然后", "而且", "并且", "另外", "此外"};
constexpr SV kEnConjunctions[] = {"but", "however",   "although", "though",
                                  "so",  "meanwhile", "then",     "whereas"};

constexpr SV kZhPrefixAdverbs[] = {
    "也",   "都",   "并",   "从",   "决",   "绝",   "永",   "毫",   "还",   "就",   "又",
    "却",   "仍",   "暂",   "先",   "可",   "再",   "真",   "且",   "亦",   "均",   "全",
    "一直", "始终", "根本", "完全", "千万", "确实", "目前", "暂时", "现在", "今天", "还是"};

}  // namespace

std::span<const Cue> ZhNegationCues() { return kZhNegation; }
std::span<const Cue> EnNegationCues() { return kEnNegation; }
std::span<const std::string_view> ZhNegationExceptions() { return kZhNegationExceptions; }
std::span<const std::string_view> EnNegationExceptions() { return kEnNegationExceptions; }
std::span<const std::string_view> ZhNegatingTails() { return kZhNegatingTails; }
std::span<const std::string_view> ZhQuestionTails() { return kZhQuestionTails; }
std::span<const Cue> ZhHypotheticalCues() { return kZhHypothetical; }
std::span<const Cue> EnHypotheticalCues() { return kEnHypothetical; }
std::span<const std::string_view> ZhHypotheticalExceptions() { return kZhHypotheticalExceptions; }
std::span<const std::string_view> EnHypotheticalExceptions() { return kEnHypotheticalExceptions; }
std::span<const std::string_view> ZhTrailingHypotheticalCues() { return kZhTrailingHypothetical; }
std::span<const std::string_view> EnTrailingHypotheticalCues() { return kEnTrailingHypothetical; }
std::span<const std::string_view> ZhQuestionCues() { return kZhQuestion; }
std::span<const std::string_view> ZhFinalQuestionParticles() { return kZhFinalParticles; }
std::span<const std::string_view> EnQuestionAuxiliaries() { return kEnAuxiliaries; }
std::span<const std::string_view> EnQuestionSubjects() { return kEnSubjects; }
std::span<const std::string_view> EnQuestionWords() { return kEnQuestionWords; }
std::span<const std::string_view> ZhClauseConjunctions() { return kZhConjunctions; }
std::span<const std::string_view> EnClauseConjunctions() { return kEnConjunctions; }
std::span<const std::string_view> ZhNegationPrefixAdverbs() { return kZhPrefixAdverbs; }

}  // namespace autostage::text::internal
