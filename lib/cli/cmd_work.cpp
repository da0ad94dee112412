#include <fmt/format.h>

#include "cli/commands.hpp"
#include "notify/delivery.hpp"
#include "pipeline/worker.hpp"

namespace wsp::cli {
namespace {

struct WorkOptions {
  std::string folder;
  bool forever = false;
};

// The worker's stages as `run` reports them.
class WorkStages final : public pipeline::WorkerStages {
public:
  WorkStages(const Context& context, catalog::Catalog& catalog, const std::string& run_id)
      : m_context(context), m_catalog(catalog), m_run_id(run_id) {}

  pipeline::WorkerRound work(const config::Config& config) override {
    StageTimings timings;
    pipeline::WorkerRound round;
    round.code = run_queued_stages(m_context, config, m_catalog, m_run_id, &timings);
    for (const auto& timing : timings) round.committed += static_cast<std::int64_t>(timing.items);
    return round;
  }

  int publish(const config::Config& config, const catalog::ProjectLock& publisher) override {
    return publish_stage(m_context, config, m_catalog, m_run_id, {.publisher = &publisher});
  }

  void deliver(const config::Config& config) override {
    notify::DispatchSettings settings;
    settings.stop = &m_context.stop;
    const auto report = notify::deliver_due(m_catalog, config, settings);
    if (!report.attempts.empty())
      m_context.terminal.info(fmt::format("webhooks: {} delivered, {} attempt(s) failed, {} pending",
                                          report.delivered(), report.failed(), report.pending_left));
  }

  void note(pipeline::WorkerNote note, const std::string& detail) override {
    auto& terminal = m_context.terminal;
    switch (note) {
      case pipeline::WorkerNote::waiting:
        terminal.detail("work: nothing due; waiting for more");
        terminal.emit(JsonLine().add("event", "work.waiting"));
        break;
      case pipeline::WorkerNote::woken_by_notice:
        terminal.detail("work: woken: work was queued");
        terminal.emit(JsonLine().add("event", "work.woken"));
        break;
      case pipeline::WorkerNote::publish_deferred:
        terminal.info(fmt::format("work: another process is publishing ({}); publishing after it",
                                  detail.empty() ? "holder unknown" : detail));
        terminal.emit(JsonLine().add("event", "work.publish_deferred").add("holder", detail));
        break;
    }
  }

private:
  const Context& m_context;
  catalog::Catalog& m_catalog;
  const std::string& m_run_id;
};

// `work`: this machine's share of a project that another machine ingests.
int run_work(const WorkOptions& options, const Context& context) {
  return run_on_project(context,
                        {.name = options.forever ? "work --forever" : "work", .folder = existing_folder(options.folder)},
                        [&](const Project& p) {
                          WorkStages stages(context, p.catalog, p.run_id);
                          pipeline::Worker worker(p.config, p.catalog, p.run_id, stages, context.stop,
                                                  {.forever = options.forever});
                          return worker.run();
                        });
}

}  // namespace

Runner define_work(CLI::App& command) {
  auto options = std::make_shared<WorkOptions>();
  command.add_option("folder", options->folder, "Project folder, as shared with the machine that ingests "
                                                "(default: the current folder)");
  command.add_flag("--forever", options->forever,
                   "Keep waiting for more work instead of ending when none is left (until SIGTERM or SIGINT)");
  return [options](const Context& context) { return run_work(*options, context); };
}

}  // namespace wsp::cli
