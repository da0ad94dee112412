#include <fmt/format.h>

#include "cli/commands.hpp"

namespace wsp::cli {

// The stages in the order that reads and decodes each source once: ingest reads
// (hash and header), render decodes and leaves the analysis image, tag reads
// only that; publish then puts what changed on every target (never pruning).
// A new stage is chained here, and `run` and `watch` both get it.
int run_stages(const Context& context, const config::Config& config, catalog::Catalog& catalog,
               const std::string& run_id, const std::vector<std::filesystem::path>& paths,
               const std::vector<std::filesystem::path>& gone) {
  int code = run_ingest_stage(context, config, catalog, run_id, paths, gone);
  if (!context.stop) code = std::max(code, render_stage(context, config, catalog, run_id));
  if (!context.stop) code = std::max(code, tag_stage(context, config, catalog, run_id));
  if (!context.stop) code = std::max(code, publish_stage(context, config, catalog, run_id, {}));
  if (context.stop) code = k_exit_interrupted;
  return code;
}

namespace {

struct RunOptions {
  std::string path;
};

// `run`: the stages once over a shoot folder, or a folder inside the sources.
int run_pipeline(const RunOptions& options, const Context& context) {
  namespace fs = std::filesystem;
  auto config = load_project(context, existing_folder(options.path));
  // A folder of another project's config must lie inside that project's sources.
  const bool own_project = options.path.empty() || fs::equivalent(options.path, config.project_dir);
  if (!own_project) require_inside_sources(config, {fs::path(options.path)});
  auto threads = limit_threads(config);
  auto catalog = open_catalog(config);
  RunRegistration run(*catalog, "run");

  std::vector<fs::path> narrowed;
  if (!own_project) narrowed.push_back(options.path);
  int code = run_stages(context, config, *catalog, run.id(), narrowed);
  run.set_exit_code(code);
  return code;
}

}  // namespace

Runner define_run(CLI::App& command) {
  auto options = std::make_shared<RunOptions>();
  command.add_option("folder", options->path, "Shoot or project folder (default: the current folder)");
  return [options](const Context& context) { return run_pipeline(*options, context); };
}

}  // namespace wsp::cli
