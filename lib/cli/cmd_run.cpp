#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "notify/events.hpp"

namespace wsp::cli {

// The stages in the order that reads and decodes each source once: ingest reads
// (hash and header), render decodes and leaves the analysis image, tag reads
// only that; publish then puts what changed on every target (never pruning).
// A new stage is chained here, and `run`, `watch` and `work` all get it.
int run_queued_stages(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                      const std::string& run_id, StageTimings* timings) {
  int code = render_stage(context, config, catalog, run_id, timings);
  if (!context.stop) code = std::max(code, tag_stage(context, config, catalog, run_id, timings));
  return code;
}

int run_stages(const Context& context, const config::Config& config, catalog::Catalog& catalog,
               const std::string& run_id, const std::vector<std::filesystem::path>& paths,
               const std::vector<std::filesystem::path>& gone, StageTimings* timings) {
  int code = run_ingest_stage(context, config, catalog, run_id, paths, gone, timings);
  if (!context.stop) code = std::max(code, run_queued_stages(context, config, catalog, run_id, timings));
  if (!context.stop) {
    // Publish is timed as a whole: it claims no jobs.
    const auto started = std::chrono::steady_clock::now();
    code = std::max(code, publish_stage(context, config, catalog, run_id, {}));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (timings) timings->push_back({pipeline::StageName::publish, 0, {.wall = seconds}});
  }
  if (context.stop) code = k_exit_interrupted;
  return code;
}

void report_timings(const Context& context, const StageTimings& timings, double seconds, int code) {
  std::vector<std::string> parts;
  auto stages = nlohmann::json::array();
  for (const auto& [stage, items, times] : timings) {
    const bool claimed = times.work > 0 || times.claim > 0 || times.commit > 0;
    parts.push_back(claimed ? fmt::format("{} {:.2f} s (work {:.2f}, claim {:.2f}, commit {:.2f})", name_of(stage),
                                          times.wall, times.work, times.claim, times.commit)
                            : fmt::format("{} {:.2f} s", name_of(stage), times.wall));
    nlohmann::json entry = {{"stage", name_of(stage)}, {"items", items}, {"seconds", times.wall}};
    if (claimed) {
      entry["claim_seconds"] = times.claim;
      entry["work_seconds"] = times.work;
      entry["commit_seconds"] = times.commit;
    }
    stages.push_back(std::move(entry));
  }
  context.terminal.info(fmt::format("run: {:.2f} s: {}", seconds, fmt::join(parts, ", ")));
  context.terminal.emit(JsonLine()
                            .add("event", "run.completed")
                            .add("code", code)
                            .add("seconds", seconds)
                            .add_raw("stages", stages.dump()));
}

namespace {

struct RunOptions {
  std::string path;
};

// `run`: the stages once over a shoot folder, or a folder inside the sources.
int run_pipeline(const RunOptions& options, const Context& context) {
  namespace fs = std::filesystem;
  const auto started = std::chrono::steady_clock::now();
  // A folder of another project's config must lie inside that project's sources.
  auto own_project = [&](const config::Config& config) {
    return options.path.empty() || fs::equivalent(options.path, config.project_dir);
  };
  StageTimings timings;
  int code = run_on_project(context,
                            {.name = "run",
                             .folder = existing_folder(options.path),
                             .creates_catalog = true,
                             .check =
                                 [&](const config::Config& config) {
                                   if (!own_project(config)) require_inside_sources(config, {fs::path(options.path)});
                                 }},
                            [&](const Project& p) {
                              std::vector<fs::path> narrowed;
                              if (!own_project(p.config)) narrowed.push_back(options.path);
                              const auto started_ms = catalog::now_ms();
                              notify::record_run_started(p.catalog, p.run_id, "run");
                              int code = run_stages(context, p.config, p.catalog, p.run_id, narrowed, {}, &timings);
                              notify::RunSummary summary{"run", started_ms, context.stop ? k_exit_interrupted : code,
                                                         (catalog::now_ms() - started_ms) / 1000.0, {}};
                              for (const auto& timing : timings)
                                summary.stage_items.emplace_back(to_string(timing.stage), timing.items);
                              record_review_needed(p.config, p.catalog, p.run_id);
                              notify::record_run_end(p.catalog, p.run_id, summary);
                              deliver_webhooks_at_end(context, p.config, p.catalog);
                              return code;
                            });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report_timings(context, timings, seconds, code);
  return code;
}

}  // namespace

Runner define_run(CLI::App& command) {
  auto options = std::make_shared<RunOptions>();
  command.add_option("folder", options->path, "Shoot or project folder (default: the current folder)");
  return [options](const Context& context) { return run_pipeline(*options, context); };
}

}  // namespace wsp::cli
