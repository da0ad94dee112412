#include <fmt/format.h>

#include "cli/commands.hpp"
#include "tagging/faces.hpp"

namespace wsp::cli {
namespace {

struct ConfigOptions {
  CLI::App* show = nullptr;
  CLI::App* check = nullptr;
  std::string folder;
};

int run_show(const config::Config& config, const Context& context) {
  std::size_t widest = 0;
  for (const auto& origin : config.origins) widest = std::max(widest, origin.where.size());
  for (const auto& origin : config.origins) {
    // Whether auto finds the face model is a fact of this machine, not of the file.
    const auto value = origin.key == "tagging.faces" ? tagging::faces_setting(config) : origin.value;
    if (context.terminal.json())
      context.terminal.emit(
          JsonLine().add("event", "config").add("key", origin.key).add("value", value).add("origin", origin.where));
    else
      fmt::print("({}){:{}} {} = {}\n", origin.where, "", widest - origin.where.size(), origin.key, value);
  }
  return k_exit_ok;
}

int run_config(const ConfigOptions& options, const Context& context) {
  auto config = load_project(context, options.folder);
  if (options.show->parsed()) return run_show(config, context);
  std::string source = config.config_file.empty() ? "built-in defaults" : config.config_file.string();
  context.terminal.info(fmt::format("{}: ok", source));
  context.terminal.emit(JsonLine().add("event", "config.ok").add("config", source));
  return k_exit_ok;
}

}  // namespace

Runner define_config(CLI::App& command) {
  auto options = std::make_shared<ConfigOptions>();
  command.require_subcommand(1);
  options->show = command.add_subcommand("show", "Print every effective key as `(origin) key = value`, secrets masked");
  options->check = command.add_subcommand("check", "Validate the config and exit 0, or 2 with file:line and the key");
  for (auto* sub : {options->show, options->check})
    sub->add_option("folder", options->folder, "Project folder (default: the current folder)");
  return [options](const Context& context) { return run_config(*options, context); };
}

}  // namespace wsp::cli
