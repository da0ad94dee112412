#include "cli/main.hpp"

#include <cerrno>
#include <csignal>
#include <malloc.h>
#include <random>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <tbb/global_control.h>

#include "cli/commands.hpp"
#include "notify/events.hpp"
#include "pipeline/scan.hpp"

namespace wsp::cli {
namespace {

// Only the commands that work are here; each line is one subcommand.
const CommandSpec k_commands[] = {
    {"init", "Write a commented wsportfolio.yaml with every key and its default", define_init},
    {"ingest", "Register the photos of the sources in the catalog (hash, camera facts, bad files)", define_ingest},
    {"render", "Render web variants of every image whose render is missing or out of date", define_render},
    {"tag", "Categorise images: scenes, keywords, alt text, scores, bursts; overrides and review", define_tag},
    {"publish", "Publish the gallery to the configured targets, only what changed (--dry-run, --prune)",
     define_publish},
    {"verify", "Check sources, renders, manifest and published files against their hashes; links; privacy", define_verify},
    {"run", "Ingest, render, tag and publish a shoot folder in one go, resumably", define_run},
    {"watch", "Hot folder: process photos as they arrive, once completely written, until stopped", define_watch},
    {"retry", "Put failed work back in the queue (all, by stage, or by file)", define_retry},
    {"status", "Show counts per stage and state, rejected files and running processes", define_status},
    {"config", "Show the effective configuration or check it", define_config},
    {"webhooks", "The outbox of signed event deliveries: list, retry, replay, enable, test, deliver", define_webhooks},
    {"work", "Help another machine: render, tag, publish and deliver a shared project's queued work", define_work},
    {"catalog", "Look inside the catalog (query, dump) or copy it to PostgreSQL (migrate --to)", define_catalog},
};

std::atomic<bool> g_stop{false};

// First signal: stop taking work and finish cleanly. Second: leave at once;
// the catalog's transactions make that safe, and the next run resumes.
void on_signal(int) {
  if (g_stop.exchange(true)) ::_exit(k_exit_interrupted);
}

}  // namespace

config::Config load_project(const Context& context, const std::filesystem::path& folder) {
  auto config = config::load_config(context.global.config, folder);
  if (context.global.jobs > 0) {
    config.pipeline.jobs = context.global.jobs;
    for (auto& origin : config.origins)
      if (origin.key == "pipeline.jobs") origin = {origin.key, std::to_string(context.global.jobs), "command line"};
  }
  return config;
}

catalog::CatalogLocation catalog_location(const config::Config& config) {
  return catalog::catalog_location(config.catalog.url, config.state_dir());
}

std::unique_ptr<catalog::Catalog> open_catalog(const config::Config& config) {
  std::error_code error;
  std::filesystem::create_directories(config.state_dir(), error);
  if (error)
    throw std::runtime_error(fmt::format("{}: cannot create the state folder: {}", config.state_dir().string(),
                                         error.message()));
  auto catalog = catalog::open_catalog(catalog_location(config));
  notify::subscribe(*catalog, config);
  return catalog;
}

std::unique_ptr<catalog::Catalog> open_existing_catalog(const config::Config& config, catalog::Access access) {
  const auto location = catalog_location(config);
  if (!std::filesystem::exists(location.shared() ? config.state_dir() : location.file))
    throw UsageError(fmt::format("{}: no wsportfolio project here yet (run `wsportfolio ingest` or `run` first)",
                                 config.project_dir.string()));
  auto catalog = catalog::open_catalog(location, access);
  if (access == catalog::Access::read_write) notify::subscribe(*catalog, config);
  return catalog;
}

std::filesystem::path existing_folder(const std::string& folder) {
  if (!folder.empty() && !std::filesystem::is_directory(folder))
    throw UsageError(fmt::format("{}: no such folder", folder));
  return folder;
}

void require_inside_sources(const config::Config& config, const std::vector<std::filesystem::path>& paths) {
  if (auto outside = pipeline::outside_sources(config, paths); !outside.empty())
    throw UsageError(fmt::format("{}: not inside any source of the project in {} (see `wsportfolio config show`)",
                                 outside.front().string(), config.project_dir.string()));
}

std::unique_ptr<tbb::global_control> limit_threads(const config::Config& config) {
  int threads = config.pipeline.jobs;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, std::max(1, threads));
}

int run_on_project(const Context& context, const ProjectCommand& command,
                   const std::function<int(const Project&)>& work) {
  auto config = load_project(context, command.folder);
  if (command.check) command.check(config);
  auto threads = limit_threads(config);
  auto catalog = command.creates_catalog ? open_catalog(config) : open_existing_catalog(config);
  RunRegistration run(*catalog, command.name);
  int code = work({config, *catalog, run.id()});
  if (context.stop) code = k_exit_interrupted;
  run.set_exit_code(code);
  return code;
}

std::string human_bytes(std::int64_t bytes) {
  if (bytes >= 1'000'000'000) return fmt::format("{:.2f} GB", bytes / 1e9);
  if (bytes >= 1'000'000) return fmt::format("{:.1f} MB", bytes / 1e6);
  if (bytes >= 1'000) return fmt::format("{:.1f} kB", bytes / 1e3);
  return fmt::format("{} B", bytes);
}

RunRegistration::RunRegistration(catalog::Catalog& catalog, std::string command) : m_catalog(catalog) {
  std::random_device random;
  m_id = fmt::format("{:08x}{:08x}", random(), random());
  // Runs of this host whose process is gone were killed: close them so that
  // status lists only the living.
  for (const auto& run : m_catalog.unfinished_runs())
    if (run.host == host_name() && ::kill(static_cast<pid_t>(run.pid), 0) != 0 && errno == ESRCH) {
      m_catalog.release_leases(run.id);  // its work need not wait for the leases to expire
      m_catalog.finish_run(run.id, -1);
    }
  // Stamped on the catalog's clock (0: its now), which all liveness is judged on.
  m_catalog.begin_run({m_id, std::move(command), ::getpid(), host_name(), 0, 0, std::nullopt, std::nullopt});
}

RunRegistration::~RunRegistration() {
  try {
    m_catalog.finish_run(m_id, m_exit_code);
  } catch (const std::exception&) {
    // The run stays listed until its heartbeat is old; nothing else depends on it.
  }
}

int main(int argc, char** argv) {
  // Decoded photos are large, short-lived buffers made on several threads: with
  // glibc's defaults they fragment one heap arena per thread and peak memory
  // grows with the batch. Mapping every large buffer separately returns it to
  // the system when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  GlobalOptions global;
  CLI::App app{"wsportfolio: turn a shoot folder into a categorised, web-ready, published portfolio"};
  app.set_version_flag("--version", std::string("wsportfolio ") + WSP_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-c,--config", global.config, "Config file (default: $WSPORTFOLIO_CONFIG, then ./wsportfolio.yaml)");
  app.add_option("-j,--jobs", global.jobs, "Worker threads (default: pipeline.jobs, 0 = all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--json", global.json, "JSON Lines events on stdout; human text stays on stderr");
  app.add_flag("-q,--quiet", global.quiet, "Only errors");
  app.add_flag("-v,--verbose", global.verbose, "More detail: every file and its outcome");
  app.add_flag("--no-progress", global.no_progress, "No progress bar");
  app.add_option("--color", global.color, "Colour: auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const auto& spec : k_commands) {
    CLI::App* command = app.add_subcommand(spec.name, spec.summary);
    runners.emplace_back(command, spec.define(*command));
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }

  Terminal terminal(global);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Context context{global, terminal, g_stop};
  try {
    for (auto& [command, run] : runners)
      if (command->parsed()) {
        int code = run(context);
        terminal.finish_progress();
        return g_stop ? k_exit_interrupted : code;
      }
  } catch (const config::ConfigError& e) {
    terminal.error(e.what());
    return k_exit_usage;
  } catch (const UsageError& e) {
    terminal.error(e.what());
    return k_exit_usage;
  } catch (const std::exception& e) {
    terminal.error(e.what());
    return k_exit_items_failed;
  }
  return k_exit_usage;
}

}  // namespace wsp::cli
