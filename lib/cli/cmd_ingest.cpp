#include <chrono>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/ingest.hpp"

namespace wsp::cli {

int run_ingest_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                     const std::string& run_id, const std::vector<std::filesystem::path>& paths,
                     const std::vector<std::filesystem::path>& gone, StageTimings* timings,
                     const pipeline::QueueOrder& order) {
  namespace fs = std::filesystem;
  pipeline::IngestRequest request;
  for (const auto& path : paths) request.paths.push_back(fs::absolute(path).lexically_normal());
  for (const auto& path : gone) request.gone.push_back(fs::absolute(path).lexically_normal());
  request.run_id = run_id;
  request.stop = &context.stop;
  request.priority = order.queue_at;
  const auto started = std::chrono::steady_clock::now();
  auto summary = pipeline::ingest(config, catalog, request, context.terminal);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (timings) timings->push_back({pipeline::StageName::ingest, summary.seen, {.wall = seconds}});
  context.terminal.finish_progress();

  std::vector<std::string> parts;
  auto part = [&](std::size_t count, const char* what) {
    if (count > 0) parts.push_back(fmt::format("{} {}", count, what));
  };
  part(summary.added, "added");
  part(summary.changed, "changed");
  part(summary.moved, "moved");
  part(summary.duplicates, "duplicate");
  part(summary.rejected, "rejected");
  part(summary.missing, "missing");
  part(summary.unchanged, "unchanged");
  context.terminal.info(fmt::format("ingest: {} files: {} ({:.2f} s, {} read)", summary.seen,
                                    parts.empty() ? "nothing to do" : fmt::format("{}", fmt::join(parts, ", ")), seconds,
                                    human_bytes(summary.bytes_read)));
  if (summary.still_rejected > 0)
    context.terminal.info(fmt::format("{} file(s) rejected earlier are unchanged; `wsportfolio status` lists them",
                                      summary.still_rejected));
  context.terminal.emit(JsonLine()
                            .add("event", "ingest.completed")
                            .add("interrupted", context.stop.load())
                            .add("files", summary.seen)
                            .add("added", summary.added)
                            .add("changed", summary.changed)
                            .add("moved", summary.moved)
                            .add("duplicates", summary.duplicates)
                            .add("rejected", summary.rejected)
                            .add("still_rejected", summary.still_rejected)
                            .add("missing", summary.missing)
                            .add("unchanged", summary.unchanged)
                            .add("bytes_read", summary.bytes_read)
                            .add("seconds", seconds));
  int code = summary.rejected + summary.still_rejected > 0 ? k_exit_items_failed : k_exit_ok;
  if (context.stop) {
    code = k_exit_interrupted;
    context.terminal.info("ingest: interrupted; what is listed above is recorded, the next run continues");
  }
  return code;
}

namespace {

struct IngestOptions {
  std::vector<std::string> paths;
};

int run_ingest(const IngestOptions& options, const Context& context) {
  namespace fs = std::filesystem;
  for (const auto& path : options.paths)
    if (!fs::exists(fs::symlink_status(path))) throw UsageError(fmt::format("{}: no such file or folder", path));
  fs::path folder = options.paths.size() == 1 && fs::is_directory(options.paths[0]) ? fs::path(options.paths[0]) : fs::path();
  std::vector<fs::path> requested(options.paths.begin(), options.paths.end());
  return run_on_project(
      context,
      {.name = "ingest",
       .folder = folder,
       .creates_catalog = true,
       .check = [&](const config::Config& config) { require_inside_sources(config, requested); }},
      [&](const Project& p) { return run_ingest_stage(context, p.config, p.catalog, p.run_id, requested); });
}

}  // namespace

Runner define_ingest(CLI::App& command) {
  auto options = std::make_shared<IngestOptions>();
  command.add_option("paths", options->paths,
                     "Files or folders to scan (default: the configured sources); a folder without a "
                     "config is a project of its own");
  return [options](const Context& context) { return run_ingest(*options, context); };
}

}  // namespace wsp::cli
