#include "tools/autostagectl/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/autostagectl/exit_codes.h"
#include "tools/autostagectl/kafka_commands.h"
#include "tools/autostagectl/review_commands.h"
#include "tools/autostagectl/settings.h"

namespace autostage::ctl {
namespace {

// Flags shared by every command; unset optionals mean "not given" (settings.h precedence).
struct GlobalFlags {
  std::string config, review, token, tls_ca, kafka, pipelines;
  bool json = false;
  double timeout_s = 10;
};

void Optional(CLI::App& app, const std::string& name, std::string* value, const std::string& help) {
  app.add_option(name, *value, help);
}

}  // namespace

int RunCli(const std::vector<std::string>& args, const CliEnvironment& env, std::ostream& out,
           std::ostream& err) {
  CLI::App app{"autostagectl: review stage proposals (reps) and operate the pipeline (ops)",
               "autostagectl"};
  app.require_subcommand(1);
  app.fallthrough();
  // A flag given twice takes the last value, so scripts can override a wrapper's defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  GlobalFlags g;
  Optional(app, "--config", &g.config, "config file (default ~/.config/autostage/ctl.yaml)");
  Optional(app, "--review", &g.review, "review gRPC address host:port");
  Optional(app, "--token", &g.token, "bearer token (else $AUTOSTAGE_TOKEN, else the config)");
  Optional(app, "--tls-ca", &g.tls_ca, "PEM CA file: use TLS to review");
  Optional(app, "--kafka", &g.kafka, "Kafka bootstrap servers (ops commands)");
  Optional(app, "--pipelines", &g.pipelines, "pipelines.yaml for stage display names");
  app.add_flag("--json", g.json, "machine-readable output");
  app.add_option("--timeout", g.timeout_s, "seconds per call / without Kafka progress")
      ->check(CLI::PositiveNumber);

  // Rep commands.
  PendingOptions pending;
  std::string order = "newest";
  CLI::App* pending_cmd = app.add_subcommand("pending", "pending proposals in your scope");
  pending_cmd->add_option("--opportunity", pending.opportunity_id, "only this opportunity");
  pending_cmd->add_option("--stage", pending.to_stage, "only proposals to this stage id");
  pending_cmd->add_option("--source", pending.source, "only with evidence from email|call|chat")
      ->check(CLI::IsMember({"email", "call", "chat"}));
  pending_cmd->add_option("--order", order, "newest (default) or oldest first")
      ->check(CLI::IsMember({"newest", "oldest"}));
  pending_cmd->add_option("--limit", pending.page_size, "page size (1..500, default 50)");
  pending_cmd->add_option("--page-token", pending.page_token, "continue from a previous page");
  pending_cmd->add_flag("--all", pending.all_pages, "fetch every page");

  std::string id;
  std::optional<int64_t> version;
  CLI::App* show_cmd = app.add_subcommand("show", "one proposal with all its evidence");
  show_cmd->add_option("id", id, "proposal id")->required();
  CLI::App* confirm_cmd = app.add_subcommand("confirm", "confirm a proposal (moves the stage)");
  confirm_cmd->add_option("id", id, "proposal id")->required();
  confirm_cmd->add_option("--version", version, "decide only at this version");
  std::string reason;
  CLI::App* reject_cmd = app.add_subcommand("reject", "reject a proposal");
  reject_cmd->add_option("id", id, "proposal id")->required();
  reject_cmd->add_option("--reason", reason, "what was wrong (required)");
  reject_cmd->add_option("--version", version, "decide only at this version");
  WatchOptions watch;
  CLI::App* watch_cmd = app.add_subcommand("watch", "live proposal updates (Ctrl-C stops)");
  watch_cmd->add_option("--opportunity", watch.opportunity_id, "only this opportunity");
  watch_cmd->add_option("--stage", watch.to_stage, "only proposals to this stage id");
  watch_cmd->add_option("--max", watch.max_updates, "stop after N updates");

  // Ops commands.
  CLI::App* dlq_cmd = app.add_subcommand("dlq", "dead-letter topic");
  dlq_cmd->require_subcommand(1);
  DlqListOptions dlq_list;
  CLI::App* dlq_list_cmd = dlq_cmd->add_subcommand("list", "show dead-lettered events");
  dlq_list_cmd->add_option("--topic", dlq_list.topic, "DLQ topic");
  dlq_list_cmd->add_option("--limit", dlq_list.limit, "newest N entries (default 50)");
  dlq_list_cmd->add_option("--reason", dlq_list.reason, "only this dlq-reason");
  DlqRedriveOptions redrive;
  CLI::App* redrive_cmd =
      dlq_cmd->add_subcommand("redrive", "send dead-lettered events back to their topic");
  redrive_cmd->add_option("--topic", redrive.topic, "DLQ topic");
  redrive_cmd->add_option("--reason", redrive.reason, "only entries with this dlq-reason");
  redrive_cmd->add_option("--ids", redrive.event_ids, "only these event ids (a,b or repeated)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->delimiter(',');
  redrive_cmd->add_flag("--dry-run", redrive.dry_run, "show what would be sent");

  ReplayOptions replay;
  std::string from, to;
  std::optional<int32_t> partition;
  CLI::App* replay_cmd =
      app.add_subcommand("replay", "re-produce a window of events (autostage-replay: 1)");
  replay_cmd->add_option("--topic", replay.topic, "topic to replay into itself")->required();
  replay_cmd->add_option("--from", from, "first offset, or RFC 3339 time")->required();
  replay_cmd->add_option("--to", to, "end (exclusive): offset or RFC 3339 time");
  replay_cmd->add_option("--partition", partition, "only this partition");
  replay_cmd->add_flag("--dry-run", replay.dry_run, "show what would be sent");

  CLI::App* rules_cmd = app.add_subcommand("rules", "rules against live data");
  rules_cmd->require_subcommand(1);
  RulesCheckOptions check;
  CLI::App* check_cmd =
      rules_cmd->add_subcommand("check", "what rules would propose on recent events");
  check_cmd->add_option("--rules", check.rules_dir, "rules folder")->required();
  check_cmd->add_option("--against", check.topic, "events topic")->required();
  check_cmd->add_option("--last", check.last, "newest N events (default 100)");
  check_cmd->add_option("--opportunities", check.opportunities_file,
                        "opportunity snapshots (JSON lines) instead of the topic");
  check_cmd->add_option("--opportunities-topic", check.opportunities_topic,
                        "compacted opportunities topic");
  check_cmd->add_option("--baseline", check.baseline_dir,
                        "rules running now: also show which outcomes change");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e, out, err);
    return Fail(err, kExitUsage, absl::StrCat(e.what(), " (see autostagectl --help)"));
  }

  SettingsInputs inputs;
  auto given = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  inputs.config_path = given(g.config);
  inputs.review = given(g.review);
  inputs.token = given(g.token);
  inputs.tls_ca = given(g.tls_ca);
  inputs.kafka = given(g.kafka);
  inputs.pipelines = given(g.pipelines);
  inputs.env_token = env.token;
  inputs.home = env.home;
  absl::StatusOr<Settings> settings = ResolveSettings(inputs);
  if (!settings.ok()) return Fail(err, kExitUsage, settings.status().message());
  std::unique_ptr<StageNames> stages;
  if (!settings->pipelines.empty()) {
    absl::StatusOr<StageNames> loaded = StageNames::Load(settings->pipelines);
    if (!loaded.ok()) return Fail(err, kExitUsage, loaded.status().message());
    stages = std::make_unique<StageNames>(*std::move(loaded));
  }
  const Highlight highlight =
      env.stdout_is_tty && !env.no_color ? Highlight::kAnsi : Highlight::kBrackets;
  const absl::Duration timeout = absl::Milliseconds(static_cast<int64_t>(g.timeout_s * 1000));

  if (dlq_cmd->parsed() || replay_cmd->parsed() || rules_cmd->parsed()) {
    KafkaContext kctx{.bootstrap = settings->kafka,
                      .timeout = timeout,
                      .stages = stages.get(),
                      .json = g.json,
                      .highlight = highlight};
    if (dlq_list_cmd->parsed()) return DlqList(kctx, dlq_list, out, err);
    if (redrive_cmd->parsed()) return DlqRedrive(kctx, redrive, out, err);
    if (check_cmd->parsed()) return RulesCheck(kctx, check, out, err);
    absl::StatusOr<Bound> from_bound = ParseBound(from);
    if (!from_bound.ok()) return Fail(err, kExitUsage, from_bound.status().message());
    replay.from = *from_bound;
    if (!to.empty()) {
      absl::StatusOr<Bound> to_bound = ParseBound(to);
      if (!to_bound.ok()) return Fail(err, kExitUsage, to_bound.status().message());
      replay.to = *to_bound;
    }
    replay.partition = partition;
    return Replay(kctx, replay, out, err);
  }

  // Review commands. Checking the token first saves a round trip and gives the clearer message.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeReviewChannel(settings->review, settings->tls_ca);
  if (!channel.ok()) return Fail(err, kExitUsage, channel.status().message());
  std::unique_ptr<v1::ReviewService::Stub> stub = v1::ReviewService::NewStub(*channel);
  ReviewContext ctx{.stub = stub.get(),
                    .address = settings->review,
                    .token = settings->token,
                    .timeout = timeout,
                    .stages = stages.get(),
                    .now = env.now,
                    .json = g.json,
                    .highlight = highlight};
  if (pending_cmd->parsed()) {
    pending.oldest_first = order == "oldest";
    return Pending(ctx, pending, out, err);
  }
  if (show_cmd->parsed()) return Show(ctx, id, out, err);
  if (confirm_cmd->parsed()) return Confirm(ctx, id, version, out, err);
  if (reject_cmd->parsed()) return Reject(ctx, id, reason, version, out, err);
  grpc::ClientContext watch_context;
  return Watch(ctx, watch, &watch_context, out, err);
}

}  // namespace autostage::ctl
