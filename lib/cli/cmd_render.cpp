#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/render.hpp"

namespace wsp::cli {

int worker_count(const config::Config& config) {
  if (config.pipeline.jobs > 0) return config.pipeline.jobs;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int render_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                 const std::string& run_id, StageTimings* timings, const pipeline::QueueOrder& order) {
  pipeline::RenderRequest request;
  request.run_id = run_id;
  request.stop = &context.stop;
  request.jobs = worker_count(config);
  request.max_inflight = config.pipeline.max_inflight_images > 0 ? config.pipeline.max_inflight_images : 2 * request.jobs;
  request.min_priority = order.at_least;
  const auto started = std::chrono::steady_clock::now();
  auto summary = pipeline::render(config, catalog, request, context.terminal);
  pipeline::write_manifest(config, catalog);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (timings) timings->push_back({pipeline::StageName::render, summary.rendered + summary.failed, summary.seconds});
  context.terminal.finish_progress();
  context.terminal.info(fmt::format("render: {} rendered, {} failed ({:.2f} s, {} written, {} decodes)", summary.rendered,
                                    summary.failed, seconds, human_bytes(summary.bytes_written), summary.decodes));
  context.terminal.emit(JsonLine()
                            .add("event", "render.completed")
                            .add("rendered", summary.rendered)
                            .add("failed", summary.failed)
                            .add("decodes", summary.decodes)
                            .add("bytes_written", summary.bytes_written)
                            .add("seconds", seconds)
                            .add("claim_seconds", summary.seconds.claim)
                            .add("work_seconds", summary.seconds.work)
                            .add("commit_seconds", summary.seconds.commit)
                            .add("interrupted", context.stop.load())
                            .add("manifest", (config.state_dir() / "manifest.json").string()));
  if (!summary.stopped_because.empty()) {
    context.terminal.error(fmt::format("render stopped: {}", summary.stopped_because));
    return k_exit_items_failed;
  }
  // Like rejected files at ingest, failures left from earlier runs still count.
  auto standing = catalog.failures(pipeline::to_string(pipeline::StageName::render)).size();
  if (standing > summary.failed)
    context.terminal.info(fmt::format("{} image(s) failed in earlier runs; `wsportfolio status` lists them, "
                                      "`wsportfolio retry` requeues them", standing - summary.failed));
  return standing > 0 ? k_exit_items_failed : k_exit_ok;
}

namespace {

struct RenderOptions {
  std::string folder;
};

int run_render(const RenderOptions& options, const Context& context) {
  return run_on_project(context, {.name = "render", .folder = existing_folder(options.folder)},
                        [&](const Project& p) { return render_stage(context, p.config, p.catalog, p.run_id); });
}

}  // namespace

Runner define_render(CLI::App& command) {
  auto options = std::make_shared<RenderOptions>();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  return [options](const Context& context) { return run_render(*options, context); };
}

}  // namespace wsp::cli
