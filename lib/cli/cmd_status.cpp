#include <algorithm>
#include <csignal>
#include <map>
#include <set>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/pending.hpp"
#include "pipeline/tag.hpp"

namespace wsp::cli {
namespace {

struct StatusOptions {
  std::string folder;
};

// The unfinished runs that beat within the last two minutes, judged on the
// catalog's clock, which every host sharing it agrees on.
std::set<std::string> beating_runs(catalog::Catalog& catalog) {
  std::set<std::string> ids;
  for (const auto& run : catalog.runs_alive(120'000)) ids.insert(run.id);
  return ids;
}

// A run that stopped heartbeating, or whose process is gone from this host,
// died without finishing; its leases expire on their own.
std::string liveness(const catalog::RunRecord& run, const std::set<std::string>& beating) {
  if (run.host == host_name() && ::kill(static_cast<pid_t>(run.pid), 0) != 0 && errno == ESRCH) return "dead";
  if (!beating.contains(run.id)) return "stale";
  return "running";
}

// `ms` as an age at `now`, both on the catalog's clock: a host whose own
// clock is off would print ages minutes off, or negative.
std::string ago(std::int64_t ms, std::int64_t now) {
  auto seconds = std::max<std::int64_t>(0, now - ms) / 1000;
  if (seconds < 120) return fmt::format("{}s ago", seconds);
  if (seconds < 7200) return fmt::format("{}m ago", seconds / 60);
  return fmt::format("{}h ago", seconds / 3600);
}

std::string outcome(const catalog::RunRecord& run, const std::set<std::string>& beating) {
  if (!run.finished_ms) return liveness(run, beating) == "running" ? "running" : "died";
  switch (run.exit_code.value_or(-1)) {
    case k_exit_ok: return "ok";
    case k_exit_items_failed: return "items failed";
    case k_exit_usage: return "usage error";
    case k_exit_integrity: return "integrity error";
    case k_exit_interrupted: return "interrupted";
    default: return fmt::format("error (exit {})", run.exit_code.value_or(-1));
  }
}

// Every remote party's circuit: those the catalog recorded (targets' hosts,
// webhook endpoints), and each tagging provider as its last call left it.
void show_circuits(const Context& context, catalog::Catalog& catalog) {
  auto circuits = catalog.circuits();
  for (const auto& usage : catalog.provider_usage()) {
    const bool recorded = std::any_of(circuits.begin(), circuits.end(), [&](const catalog::CircuitRecord& c) {
      return c.kind == "provider" && c.name == usage.provider;
    });
    if (!recorded && !usage.circuit.empty())
      circuits.push_back({"provider", usage.provider, usage.circuit, 0, std::nullopt, usage.last_failure, 0});
  }
  if (circuits.empty()) return;
  const bool text = !context.terminal.json();
  if (text) fmt::print("\ncircuits\n");
  for (const auto& c : circuits) {
    if (text)
      fmt::print("  {:<9}{} {}{}{}\n", c.kind, c.name, c.state,
                 c.consecutive_failures ? fmt::format(", {} failure(s) in a row", c.consecutive_failures) : "",
                 c.last_error.empty() ? "" : "; last error: " + c.last_error);
    JsonLine line;
    line.add("event", "status.circuit").add("kind", c.kind).add("name", c.name).add("state", c.state);
    line.add("consecutive_failures", c.consecutive_failures).add("last_error", c.last_error);
    if (c.opened_ms) line.add("opened_ms", *c.opened_ms);
    if (c.updated_ms) line.add("updated_ms", c.updated_ms);
    context.terminal.emit(line);
  }
}

void show_last_runs(const Context& context, catalog::Catalog& catalog) {
  auto runs = catalog.recent_runs(5);
  if (runs.empty()) return;
  const bool text = !context.terminal.json();
  if (text) fmt::print("\nlast runs\n");
  const auto beating = beating_runs(catalog);
  const auto now = catalog.clock_ms();
  for (const auto& run : runs) {
    const auto result = outcome(run, beating);
    if (text)
      fmt::print("  {:<14} {}, {}{}\n", run.command, ago(run.started_ms, now), result,
                 run.finished_ms ? fmt::format(" after {} s", (*run.finished_ms - run.started_ms) / 1000) : "");
    JsonLine line;
    line.add("event", "status.last_run").add("run", run.id).add("command", run.command).add("started_ms", run.started_ms);
    if (run.finished_ms) line.add("finished_ms", *run.finished_ms);
    if (run.exit_code) line.add("exit_code", *run.exit_code);
    line.add("outcome", result);
    context.terminal.emit(line);
  }
}

int run_status(const StatusOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto& terminal = context.terminal;
  // With --json, stdout carries only JSON Lines.
  auto say = [&](const std::string& text) {
    if (!terminal.json()) std::fputs(text.c_str(), stdout);
  };
  if (const auto location = catalog_location(config); !location.shared() && !std::filesystem::exists(location.file)) {
    terminal.info(fmt::format("{}: nothing ingested yet (run `wsportfolio ingest`)", config.project_dir.string()));
    terminal.emit(JsonLine().add("event", "status").add("project", config.project_dir.string()).add("images", 0));
    return k_exit_ok;
  }
  auto catalog = open_existing_catalog(config, catalog::Access::read_only);
  auto images = catalog->images();
  std::map<std::string, std::int64_t> by_status;
  for (const auto& image : images) ++by_status[std::string(catalog::to_string(image.status))];

  say(fmt::format("project  {}\n", config.project_dir.string()));
  say(fmt::format("images   {} ({} active, {} duplicate, {} rejected, {} missing)\n", images.size(), by_status["active"],
             by_status["duplicate"], by_status["rejected"], by_status["missing"]));
  JsonLine summary;
  summary.add("event", "status").add("project", config.project_dir.string()).add("images", images.size());
  for (const auto& [status, count] : by_status) summary.add(status, count);
  terminal.emit(summary);

  std::map<std::string, std::map<std::string, std::int64_t>> stages;
  for (const auto& row : catalog->stage_counts()) stages[row.stage][row.state] = row.count;
  for (const auto& [stage, due] : pipeline::pending_work(config, *catalog)) {
    if (due > 0 || stages.count(pipeline::to_string(stage))) stages[pipeline::to_string(stage)]["pending"] = due;
  }
  say(fmt::format("\n{:<10}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "stage", "pending", "running", "done", "failed", "rejected"));
  for (auto& [stage, states] : stages) {
    say(fmt::format("{:<10}{:>9}{:>9}{:>9}{:>9}{:>9}\n", stage, states["pending"], states["running"], states["done"],
               states["failed"], states["rejected"]));
    JsonLine line;
    line.add("event", "status.stage").add("stage", stage);
    for (const auto& [state, count] : states) line.add(state, count);
    terminal.emit(line);
  }

  auto tags = pipeline::effective_tags(config, *catalog);
  if (!tags.empty()) {
    std::map<std::string, std::int64_t> scenes;
    std::int64_t review = 0, picks = 0, overridden = 0, eyes_closed = 0, conflicts = 0;
    for (const auto& t : tags) {
      ++scenes[t.scene.empty() ? "-" : t.scene];
      review += t.needs_review, picks += t.best_pick, overridden += t.overridden, eyes_closed += t.eyes_closed;
      conflicts += !t.rating_conflict.empty();
    }
    std::string by_scene;
    for (const auto& [scene, count] : scenes) by_scene += fmt::format("{}{} {}", by_scene.empty() ? "" : ", ", scene, count);
    say(fmt::format("\ntags     {}\n         {} to review (`wsportfolio tag review`), {} burst best picks, {} overridden, "
                    "{} with closed eyes\n",
                    by_scene, review, picks, overridden, eyes_closed));
    JsonLine line;
    if (conflicts > 0)
      say(fmt::format("         {} rating conflict(s) between tag set and the photographer's tool, the newer holding "
                      "(`wsportfolio tag review`)\n",
                      conflicts));
    line.add("event", "status.tags").add("needs_review", review).add("best_picks", picks).add("overridden", overridden);
    line.add("eyes_closed", eyes_closed);
    line.add("rating_conflicts", conflicts);
    for (const auto& [scene, count] : scenes) line.add("scene." + scene, count);
    terminal.emit(line);
  }

  auto usage = catalog->provider_usage();
  if (!usage.empty()) say(fmt::format("\n{:<15}{:>8}{:>10}{:>14}{:>10}  {}\n", "provider", "calls", "failures",
                                      "tokens in/out", "cost", "circuit"));
  for (const auto& u : usage) {
    say(fmt::format("{:<15}{:>8}{:>10}{:>14}{:>10.4f}  {}\n", u.provider, u.calls, u.failures,
                    fmt::format("{}/{}", u.input_tokens, u.output_tokens), u.cost, u.circuit));
    if (!u.last_failure.empty()) say(fmt::format("  last failure: {}\n", u.last_failure));
    terminal.emit(JsonLine()
                      .add("event", "status.provider")
                      .add("provider", u.provider)
                      .add("calls", u.calls)
                      .add("failures", u.failures)
                      .add("input_tokens", u.input_tokens)
                      .add("output_tokens", u.output_tokens)
                      .add("cost", u.cost)
                      .add("circuit", u.circuit)
                      .add("last_failure", u.last_failure));
  }

  bool header_shown = false;
  for (const auto& image : images) {
    if (image.status != catalog::ImageStatus::Rejected) continue;
    if (!header_shown) say(fmt::format("\nrejected files\n"));
    header_shown = true;
    say(fmt::format("  {}: {}\n", image.path, image.reject_reason));
    terminal.emit(JsonLine().add("event", "status.rejected").add("file", image.path).add("reason", image.reject_reason));
  }

  header_shown = false;
  for (const auto& [file, error] : catalog->failures("")) {
    if (!header_shown) say("\nfailed (`wsportfolio retry` requeues them)\n");
    header_shown = true;
    say(fmt::format("  {}: {}\n", file, error));
    terminal.emit(JsonLine().add("event", "status.failed").add("file", file).add("reason", error));
  }

  show_webhook_backlog(context, *catalog);
  show_circuits(context, *catalog);
  show_last_runs(context, *catalog);

  auto runs = catalog->unfinished_runs();
  const auto beating = beating_runs(*catalog);
  const auto now = catalog->clock_ms();
  // Grouped by host: the runs and workers of every machine sharing the catalog.
  std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.host < b.host; });
  say(fmt::format("\nprocesses{}\n", runs.empty() ? ": none running" : ""));
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& run = runs[i];
    if (i == 0 || runs[i - 1].host != run.host) say(fmt::format("  on {}\n", run.host));
    auto state = liveness(run, beating);
    auto progress = catalog->run_progress(run.id).value_or(catalog::RunProgress{});
    std::string doing = progress.stage.empty() ? "" : fmt::format(", {} {}/{}", progress.stage, progress.done, progress.total);
    say(fmt::format("    {} pid {} on {}, since {}, heartbeat {} ({}{})\n", run.command, run.pid, run.host,
                    ago(run.started_ms, now), ago(run.heartbeat_ms, now), state, doing));
    terminal.emit(JsonLine()
                      .add("event", "status.run")
                      .add("run", run.id)
                      .add("command", run.command)
                      .add("pid", run.pid)
                      .add("host", run.host)
                      .add("started_ms", run.started_ms)
                      .add("heartbeat_ms", run.heartbeat_ms)
                      .add("state", state)
                      .add("stage", progress.stage)
                      .add("done", progress.done)
                      .add("total", progress.total));
  }
  return k_exit_ok;
}

}  // namespace

Runner define_status(CLI::App& command) {
  auto options = std::make_shared<StatusOptions>();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  return [options](const Context& context) { return run_status(*options, context); };
}

}  // namespace wsp::cli
