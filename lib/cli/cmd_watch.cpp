#include <csignal>
#include <optional>

#include <fmt/format.h>

#include <httplib.h>

#include "cli/commands.hpp"
#include "notify/delivery.hpp"
#include "notify/events.hpp"
#include "pipeline/hot_folder.hpp"
#include "pipeline/metrics.hpp"

namespace wsp::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_reload{false};

void on_hangup(int) { g_reload = true; }

struct WatchOptions {
  std::vector<std::string> paths;
  int poll_seconds = -1;  // -1: watch.poll_seconds
  bool once = false;
  std::string metrics;  // [ADDRESS:]PORT; empty: no server
  int priority = catalog::k_priority_hot_folder;
};

// The stages as `run` chains them. A watching batch gets a stop flag of its
// own: the first SIGINT/SIGTERM lets it finish (the second one exits at once,
// which the catalog's transactions and leases make safe); `--once` stops
// between stages like `run`.
class WatchPipeline final : public pipeline::WatchStages {
public:
  WatchPipeline(const Context& context, catalog::Catalog& catalog, const std::string& run_id, bool once,
                pipeline::WatchMetrics& metrics, int priority)
      : m_context(once ? context : Context{context.global, context.terminal, m_stage_stop}),
        m_catalog(&catalog),
        m_run_id(run_id),
        m_metrics(metrics),
        m_priority(priority) {}

  // A new connection, used by the stages from now on.
  void use(catalog::Catalog& catalog) { m_catalog = &catalog; }

  int publish(const config::Config& config) override {
    return publish_stage(m_context, config, *m_catalog, m_run_id, {});
  }

  int run(const config::Config& config, const std::vector<fs::path>& present,
          const std::vector<fs::path>& gone) override {
    StageTimings timings;
    m_metrics.batch_running(true);
    struct Done {
      pipeline::WatchMetrics& metrics;
      ~Done() { metrics.batch_running(false); }
    } done{m_metrics};
    const auto order = pipeline::hot_folder_order(*m_catalog, m_run_id, m_priority);
    const int code = run_stages(m_context, config, *m_catalog, m_run_id, present, gone, &timings, order);
    for (const auto& timing : timings)
      m_metrics.record_stage(pipeline::name_of(timing.stage), static_cast<std::int64_t>(timing.items),
                             timing.seconds.wall);
    return code;
  }

private:
  std::atomic<bool> m_stage_stop{false};
  Context m_context;
  catalog::Catalog* m_catalog;
  const std::string& m_run_id;
  pipeline::WatchMetrics& m_metrics;
  const int m_priority;
};

// The system's clock, telling the metrics each time the watch loop looks at it.
class MeteredWatchTime final : public pipeline::WatchTime {
public:
  explicit MeteredWatchTime(pipeline::WatchMetrics& metrics) : m_metrics(metrics) {}
  pipeline::WatchClock::time_point now() override {
    const auto now = m_time.now();
    m_metrics.loop_turned(now);
    return now;
  }
  void sleep(std::chrono::milliseconds timeout) override { m_time.sleep(timeout); }

private:
  pipeline::SystemWatchTime m_time;
  pipeline::WatchMetrics& m_metrics;
};

// `/metrics` and `/healthz` on their own threads; each request reads the
// catalog through a connection of its own.
class MetricsServer {
public:
  MetricsServer(const pipeline::WatchMetrics& metrics, catalog::CatalogLocation catalog, config::Config config)
      : m_metrics(metrics), m_catalog(std::move(catalog)), m_config(std::move(config)) {
    m_server.new_task_queue = [] { return new httplib::ThreadPool(2); };
    m_server.Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
      try {
        auto catalog = catalog::open_catalog(m_catalog, catalog::Access::read_only);
        response.set_content(m_metrics.exposition(*catalog, current_config()), "text/plain; version=0.0.4; charset=utf-8");
      } catch (const std::exception& e) {
        response.status = 503;
        response.set_content(std::string(e.what()) + "\n", "text/plain; charset=utf-8");
      }
    });
    m_server.Get("/healthz", [this](const httplib::Request&, httplib::Response& response) {
      const auto health = pipeline::watch_health(m_metrics, m_catalog);
      response.status = health.ok ? 200 : 503;
      response.set_content(health.ok ? std::string("ok\n") : health.reason + "\n", "text/plain; charset=utf-8");
    });
  }
  ~MetricsServer() {
    m_server.stop();
    if (m_thread.joinable()) m_thread.join();
  }

  // Binds `where` ([ADDRESS:]PORT, loopback when no address; port 0: any
  // free port) and serves; the port bound.
  int start(const std::string& where) {
    auto colon = where.rfind(':');
    std::string host = colon == std::string::npos ? "127.0.0.1" : where.substr(0, colon);
    const std::string port_text = colon == std::string::npos ? where : where.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "127.0.0.1";
    int port = -1;
    try {
      std::size_t used = 0;
      port = std::stoi(port_text, &used);
      if (used != port_text.size()) port = -1;
    } catch (const std::exception&) {
    }
    if (port < 0 || port > 65535)
      throw UsageError(fmt::format("--metrics {}: expected [ADDRESS:]PORT, such as 127.0.0.1:9464", where));
    const int bound = port == 0 ? m_server.bind_to_any_port(host) : (m_server.bind_to_port(host, port) ? port : -1);
    if (bound < 0) throw UsageError(fmt::format("--metrics {}: cannot listen on {} port {}", where, host, port));
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    m_host = host;
    return bound;
  }
  const std::string& host() const { return m_host; }

  void reload(config::Config config) {
    std::lock_guard lock(m_mutex);
    m_config = std::move(config);
  }

private:
  config::Config current_config() {
    std::lock_guard lock(m_mutex);
    return m_config;
  }

  const pipeline::WatchMetrics& m_metrics;
  const catalog::CatalogLocation m_catalog;
  std::mutex m_mutex;
  config::Config m_config;
  httplib::Server m_server;
  std::string m_host;
  std::thread m_thread;
};

class TerminalReport final : public pipeline::WatchReport {
public:
  explicit TerminalReport(Terminal& terminal) : m_terminal(terminal) {}

  void notice(const pipeline::WatchNotice& notice) override {
    using Level = pipeline::WatchNotice::Level;
    switch (notice.level) {
      case Level::none: break;
      case Level::detail: m_terminal.detail(notice.message); break;
      case Level::info: m_terminal.info(notice.message); break;
      case Level::warning: m_terminal.warn(notice.message); break;
      case Level::error: m_terminal.error(notice.message); break;
    }
    if (notice.event.is_object()) {
      JsonLine line;
      for (const auto& [key, value] : notice.event.items())
        line.add_raw(key, value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
      m_terminal.emit(line);
    }
  }

private:
  Terminal& m_terminal;
};

int run_watch(const WatchOptions& options, const Context& context) {
  for (const auto& path : options.paths)
    if (!fs::is_directory(path)) throw UsageError(fmt::format("{}: no such folder", path));
  const fs::path folder = options.paths.size() == 1 ? fs::path(options.paths[0]) : fs::path();
  auto config = load_project(context, folder);
  pipeline::HotFolderOptions watching;
  watching.poll_seconds = options.poll_seconds;
  for (const auto& path : options.paths) {
    fs::path absolute = fs::absolute(path).lexically_normal();
    std::error_code error;
    if (!fs::equivalent(absolute, config.project_dir, error)) watching.narrowed.push_back(absolute);
  }
  require_inside_sources(config, watching.narrowed);

  auto threads = limit_threads(config);
  pipeline::WatchMetrics metrics;
  MeteredWatchTime time(metrics);
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<catalog::ProjectLock> lock;
  std::optional<RunRegistration> registration;
  // A catalog that refuses the watcher at start (held by another program past
  // its busy wait, on a share not yet mounted) is waited for: an unattended
  // watcher must not need a restart for it. `--once` leaves that to cron.
  for (std::chrono::seconds wait = pipeline::k_first_retry;; wait = std::min(wait * 2, pipeline::k_longest_retry)) {
    try {
      catalog = open_catalog(config);
      if (!lock) {
        // One watcher per project, whichever host it runs on; a second names
        // the first (pid and host).
        lock = catalog->lock("watch", catalog::LockWait::no);
        if (!lock->held())
          throw UsageError(fmt::format("{}: another watcher is running: {}", lock->where(),
                                       lock->holder().empty() ? "holder unknown" : lock->holder()));
      }
      registration.emplace(*catalog, options.once ? "watch --once" : "watch");
      break;
    } catch (const catalog::CatalogError& e) {
      if (options.once || context.stop) throw;
      context.terminal.error(fmt::format("watch: {}; trying again in {} s", e.what(), wait.count()));
      context.terminal.emit(
          JsonLine().add("event", "watch.catalog_unavailable").add("reason", e.what()).add("retry_in_s", wait.count()));
      time.sleep(wait);
      if (context.stop) return k_exit_interrupted;
    }
  }

  std::optional<MetricsServer> server;
  if (!options.metrics.empty()) {
    server.emplace(metrics, catalog_location(config), config);
    const int port = server->start(options.metrics);
    context.terminal.info(fmt::format("watch: metrics on http://{}:{}/metrics, health on /healthz", server->host(), port));
    context.terminal.emit(JsonLine().add("event", "watch.metrics").add("address", server->host()).add("port", port));
  }
  // Webhooks go out from a thread of their own while watching; --once sends at its end.
  std::optional<notify::BackgroundSender> webhooks;
  if (!options.once && !config.webhooks.empty()) webhooks.emplace(*catalog, config);

  WatchPipeline stages(context, *catalog, registration->id(), options.once, metrics, options.priority);
  TerminalReport report(context.terminal);
  // A PostgreSQL connection that a server restart or a network blip cut is
  // made again by the hot folder; everything here that used the old one
  // (the stages, the webhooks' sender, the run's end) uses the new one.
  const auto location = catalog_location(config);
  catalog::Catalog* current = catalog.get();
  std::unique_ptr<catalog::Catalog> reopened;
  auto latest = config;  // the configuration in use, for a webhook sender started again
  pipeline::CatalogReconnection::Reopen reopen;
  if (location.shared() && !options.once)
    reopen = [&]() -> catalog::Catalog& {
      auto fresh = catalog::open_catalog(location);
      stages.use(*fresh);
      current = fresh.get();
      reopened = std::move(fresh);
      if (webhooks) {
        webhooks.reset();
        webhooks.emplace(*current, latest);
      }
      return *current;
    };
  pipeline::HotFolderParts parts{
      .time = time,
      .stages = stages,
      .report = report,
      .catalog = *catalog,
      .run_id = registration->id(),
      .stop = context.stop,
      .watch = [](std::function<bool(const fs::path&)> enter) -> std::unique_ptr<pipeline::FolderEvents> {
        return std::make_unique<pipeline::FolderWatcher>(std::move(enter));
      },
      .reload =
          [&] {
            auto fresh = load_project(context, folder);
            threads.reset();
            threads = limit_threads(fresh);
            // The endpoints too: the events committed from now on go to the
            // new subscribers, sent with the new secrets.
            notify::subscribe(*current, fresh);
            if (webhooks) webhooks->reload(fresh);
            else if (!fresh.webhooks.empty()) webhooks.emplace(*current, fresh);
            if (server) server->reload(fresh);
            latest = fresh;
            return fresh;
          },
      .guard = std::move(lock),
      .reopen = std::move(reopen),
      .catalog_label = catalog::catalog_label(location),
  };
  const auto webhook_config = config;
  pipeline::HotFolder hot_folder(std::move(parts), std::move(watching), std::move(config));
  int code = 0;
  if (options.once) {
    code = hot_folder.run_once();
    deliver_webhooks_at_end(context, webhook_config, *catalog);
  } else {
    std::signal(SIGHUP, on_hangup);
    code = hot_folder.run(g_reload);
  }
  registration->set_exit_code(code);
  // The registration's own connection was lost: the run ends on the new one.
  if (current != catalog.get()) {
    try {
      current->finish_run(registration->id(), code);
    } catch (const std::exception&) {
      // The run stays listed until its heartbeat is old, as when a run ends without a catalog.
    }
  }
  return code;
}

}  // namespace

Runner define_watch(CLI::App& command) {
  auto options = std::make_shared<WatchOptions>();
  command.add_option("paths", options->paths,
                     "Folders to watch (default: the configured sources); one folder without a config is a "
                     "project of its own");
  command.add_option("--poll", options->poll_seconds,
                     "Look for new files every SECONDS instead of using inotify (network shares; default: "
                     "watch.poll_seconds)")
      ->check(CLI::Range(1, 86400));
  command
      .add_option("--priority", options->priority,
                  "Queue the photos that arrive at LEVEL: hot (default: ahead of a backlog), rush, normal")
      ->transform(CLI::CheckedTransformer(priority_levels()));
  command.add_flag("--once", options->once, "Process the files that are complete now, then exit (for cron)");
  command.add_option("--metrics", options->metrics,
                     "Serve Prometheus metrics on /metrics and health on /healthz at [ADDRESS:]PORT (loopback "
                     "unless an address is given)");
  return [options](const Context& context) { return run_watch(*options, context); };
}

}  // namespace wsp::cli
