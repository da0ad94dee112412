#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "pipeline/verify.hpp"

namespace wsp::cli {
namespace {

struct VerifyOptions {
  std::string folder;
  bool fast = false;
  bool repair = false;
};

std::string_view heading_of(std::string_view kind) {
  const auto* known = pipeline::finding_kind(kind);
  return known == std::end(pipeline::k_finding_kinds) ? kind : known->heading;
}

int run_verify(const VerifyOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto threads = limit_threads(config);
  auto catalog = open_existing_catalog(config, options.repair ? catalog::Access::read_write : catalog::Access::read_only);
  auto findings = pipeline::verify(config, *catalog, {options.fast, options.repair}, context.terminal);
  auto say = [&](const std::string& text) {
    if (!context.terminal.json()) std::fputs(text.c_str(), stdout);
  };
  std::string kind;
  std::size_t repaired = 0;
  for (const auto& finding : findings) {
    if (finding.kind != kind) {
      kind = finding.kind;
      auto count = std::count_if(findings.begin(), findings.end(), [&](const auto& f) { return f.kind == kind; });
      say(fmt::format("{}{} ({})\n", &finding == &findings.front() ? "" : "\n", heading_of(kind), count));
    }
    say(fmt::format("  {}: {}{}\n", finding.file, finding.detail,
                    finding.repair.empty() ? "" : fmt::format(" [{}]", finding.repair)));
    repaired += !finding.repair.empty();
    JsonLine line;
    line.add("event", "verify.finding").add("kind", finding.kind).add("file", finding.file);
    line.add("detail", finding.detail);
    if (!finding.repair.empty()) line.add("repair", finding.repair);
    context.terminal.emit(line);
  }
  context.terminal.emit(JsonLine()
                            .add("event", "verify.completed")
                            .add("findings", findings.size())
                            .add("repaired", repaired)
                            .add("fast", options.fast));
  if (findings.empty()) {
    context.terminal.info(fmt::format("verify: everything matches{}", options.fast ? " (sources by size and date only)" : ""));
    return k_exit_ok;
  }
  std::string next = "; `wsportfolio verify --repair` queues what can be rebuilt";
  if (options.repair) next = fmt::format("; {} repaired or queued: `wsportfolio run` rebuilds them", repaired);
  context.terminal.info(fmt::format("verify: {} finding(s){}", findings.size(), next));
  auto reported = nlohmann::json::array();
  for (const auto& f : findings) reported.push_back({{"kind", f.kind}, {"file", f.file}, {"detail", f.detail}});
  record_verify_failed(context, config, reported);
  return k_exit_integrity;
}

}  // namespace

Runner define_verify(CLI::App& command) {
  auto options = std::make_shared<VerifyOptions>();
  command.add_option("folder", options->folder, "Project folder (default: the current folder)");
  command.add_flag("--fast", options->fast, "Sources by size and modification time only, without re-hashing");
  command.add_flag("--repair", options->repair, "Queue again what can be rebuilt (renders, published files, manifest)");
  return [options](const Context& context) { return run_verify(*options, context); };
}

}  // namespace wsp::cli
