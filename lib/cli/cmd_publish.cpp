#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "notify/events.hpp"
#include "pipeline/publish.hpp"
#include "publish/selection.hpp"

namespace wsp::cli {

namespace {

// What the target's selection keeps, for --dry-run: the policy, the count, and
// each photo left out with why.
void report_selection(const Context& context, const config::Config& config, const pipeline::TargetOutcome& target) {
  const auto& targets = config.publish.targets;
  auto configured = std::find_if(targets.begin(), targets.end(), [&](const auto& t) { return t.name == target.name; });
  const std::string policy = configured == targets.end() ? "everything not rejected" : publish::describe(configured->select);
  context.terminal.info(fmt::format("selection for '{}' ({}): {} photos kept, {} left out", target.name, policy,
                                    target.images, target.left_out.size()));
  auto left_out = nlohmann::ordered_json::array();
  for (const auto& photo : target.left_out) {
    context.terminal.info(fmt::format("  left out {}: {}", photo.path, photo.why));
    left_out.push_back({{"path", photo.path}, {"why", photo.why}});
  }
  context.terminal.emit(JsonLine()
                            .add("event", "publish.selection")
                            .add("target", target.name)
                            .add("policy", policy)
                            .add("kept", target.images)
                            .add_json("left_out", left_out));
}

}  // namespace

int publish_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                  const std::string& run_id, const PublishStageOptions& options) {
  if (!options.target.empty()) {
    const auto& targets = config.publish.targets;
    if (std::none_of(targets.begin(), targets.end(), [&](const auto& t) { return t.name == options.target; })) {
      std::vector<std::string> names;
      for (const auto& t : targets) names.push_back(t.name);
      throw UsageError(fmt::format("--target {}: no such target in publish.targets ({})", options.target,
                                   fmt::join(names, ", ")));
    }
  }
  pipeline::PublishRequest request;
  request.run_id = run_id;
  request.stop = &context.stop;
  request.dry_run = options.dry_run;
  request.prune = options.prune;
  request.adopt = options.adopt;
  request.reconcile = options.reconcile;
  request.only_target = options.target;
  request.publisher = options.publisher;
  auto on_plan = [&](const pipeline::TargetOutcome& target) {
    context.terminal.emit(
        JsonLine()
            .add("event", "publish.plan")
            .add("target", target.name)
            .add("requests", target.requests)
            .add_json("plan", publish::plan_json(*target.plan)));
    if (options.dry_run) {
      auto summary = publish::plan_summary(*target.plan);
      while (!summary.empty() && summary.back() == '\n') summary.pop_back();
      context.terminal.finish_progress();
      context.terminal.info(fmt::format("publish to '{}' (dry run, nothing written; {} requests): {}", target.name,
                                        target.requests, summary));
    }
  };
  auto summary = pipeline::publish(config, catalog, request, context.terminal, on_plan);
  context.terminal.finish_progress();

  int code = k_exit_ok;
  for (const auto& target : summary.targets) {
    if (!target.error.empty()) {
      context.terminal.error(target.error);
      context.terminal.emit(
          JsonLine().add("event", "publish.failed").add("target", target.name).add("reason", target.error));
      code = k_exit_items_failed;
      continue;
    }
    if (options.dry_run) {
      report_selection(context, config, target);
      continue;
    }
    if (target.failed > 0) code = k_exit_items_failed;
    context.terminal.info(fmt::format(
        "publish to '{}': {} put, {} replaced, {} deleted, {} unchanged, {} stale{}{} ({} written, {} requests, {:.2f} s)",
        target.name, target.put, target.replaced, target.deleted, target.unchanged, target.stale,
        target.stale > 0 ? " (kept: --prune removes them)" : "",
        target.failed > 0 ? fmt::format(", {} failed, {} held back", target.failed, target.skipped) : "",
        human_bytes(target.bytes), target.requests, target.seconds));
    context.terminal.emit(JsonLine()
                              .add("event", "publish.completed")
                              .add("target", target.name)
                              .add("images", summary.images)
                              .add("put", target.put)
                              .add("replaced", target.replaced)
                              .add("deleted", target.deleted)
                              .add("unchanged", target.unchanged)
                              .add("stale", target.stale)
                              .add("failed", target.failed)
                              .add("skipped", target.skipped)
                              .add("bytes", target.bytes)
                              .add("requests", target.requests)
                              .add("purged", target.purged)
                              .add_json("stale_urls", nlohmann::ordered_json(target.stale_urls))
                              .add("seconds", target.seconds)
                              .add("interrupted", target.interrupted)
                              .add("index", target.index.string()));
    if (!target.stale_urls.empty()) {
      code = k_exit_items_failed;
      context.terminal.error(fmt::format(
          "publish to '{}': the CDN purge failed ({}); the published files stay, but these URLs may still be served "
          "old until the next publish purges them again: {}",
          target.name, fmt::join(target.purge_errors, "; "), fmt::join(target.stale_urls, " ")));
    } else if (target.purged > 0) {
      context.terminal.info(fmt::format("publish to '{}': {} URLs purged from the CDN", target.name, target.purged));
    }
    if (!target.interrupted && target.failed == 0 && !target.index.empty())
      context.terminal.info(fmt::format("gallery: {}", target.index.string()));
  }
  return code;
}

namespace {

struct PublishOptions {
  std::string folder;
  PublishStageOptions stage;
};

int run_publish(const PublishOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config);
  RunRegistration run(*catalog, "publish");
  int code = publish_stage(context, config, *catalog, run.id(), options.stage);
  if (context.stop) code = k_exit_interrupted;
  if (!options.stage.dry_run && code != k_exit_ok && code != k_exit_interrupted)
    notify::record_publish_failed(*catalog, run.id(), options.stage.target, code);
  if (!options.stage.dry_run) deliver_webhooks_at_end(context, config, *catalog);
  run.set_exit_code(code);
  return code;
}

}  // namespace

Runner define_publish(CLI::App& command) {
  auto options = std::make_shared<PublishOptions>();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  command.add_flag("--dry-run", options->stage.dry_run, "Print the plan (put, replace, delete, stale); change nothing");
  command.add_flag("--prune", options->stage.prune,
                   "Delete files this tool published that are no longer in the portfolio");
  command.add_flag("--adopt", options->stage.adopt,
                   "Publish into target folders wsportfolio did not make, never overwriting their files");
  command.add_flag("--reconcile", options->stage.reconcile,
                   "List each s3 target first, and publish again what was deleted or changed there behind the tool's back");
  command.add_option("--target", options->stage.target, "Publish to this target only (a name in publish.targets)");
  return [options](const Context& context) { return run_publish(*options, context); };
}

}  // namespace wsp::cli
