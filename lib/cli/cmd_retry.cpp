#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/names.hpp"
#include "pipeline/scan.hpp"

namespace wsp::cli {
namespace {

struct RetryOptions {
  std::string stage;
  std::vector<std::string> files;
};

int run_retry(const RetryOptions& options, const Context& context) {
  auto config = load_project(context, {});
  auto catalog = open_existing_catalog(config);
  std::int64_t requeued = 0;
  if (options.files.empty()) {
    requeued = catalog->requeue_failed(options.stage, "");
  } else {
    for (const auto& file : options.files) {
      auto key = pipeline::catalog_key(config, std::filesystem::absolute(file).lexically_normal());
      auto count = catalog->requeue_failed(options.stage, key);
      if (count == 0) context.terminal.warn(fmt::format("{}: no failed work to retry", file));
      requeued += count;
    }
  }
  context.terminal.info(fmt::format("retry: {} job(s) back in the queue; `wsportfolio run` does them", requeued));
  context.terminal.emit(JsonLine().add("event", "retry").add("requeued", requeued));
  return k_exit_ok;
}

}  // namespace

Runner define_retry(CLI::App& command) {
  auto options = std::make_shared<RetryOptions>();
  command.add_option("--stage", options->stage, "Only this stage")
      ->check(CLI::IsMember({pipeline::to_string(pipeline::StageName::render),
                             pipeline::to_string(pipeline::StageName::tag)}));
  command.add_option("files", options->files, "Only these source files");
  return [options](const Context& context) { return run_retry(*options, context); };
}

}  // namespace wsp::cli
