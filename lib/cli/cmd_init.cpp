#include <fmt/format.h>

#include "cli/commands.hpp"
#include "util/files.hpp"

namespace wsp::cli {
namespace {

struct InitOptions {
  std::string folder = ".";
  bool force = false;
};

int run_init(const InitOptions& options, const Context& context) {
  namespace fs = std::filesystem;
  fs::path folder = options.folder;
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw UsageError(fmt::format("{}: cannot create folder: {}", folder.string(), error.message()));
  const fs::path file = folder / "wsportfolio.yaml";
  if (fs::exists(file) && !options.force)
    throw UsageError(fmt::format("{}: already exists (use --force to overwrite it)", file.string()));
  if (auto written = util::write_file_atomically(file, config::default_config_text()); !written)
    throw std::runtime_error(written.message());
  context.terminal.info(fmt::format("wrote {}; edit it, then `wsportfolio config check`", file.string()));
  context.terminal.emit(JsonLine().add("event", "init").add("config", file.string()));
  return k_exit_ok;
}

}  // namespace

Runner define_init(CLI::App& command) {
  auto options = std::make_shared<InitOptions>();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  command.add_flag("-f,--force", options->force, "Overwrite an existing wsportfolio.yaml");
  return [options](const Context& context) { return run_init(*options, context); };
}

}  // namespace wsp::cli
