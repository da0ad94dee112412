#pragma once
// The command table's vocabulary. Each command lives in cmd_<name>.cpp: it
// declares its options on a CLI11 subcommand and returns the function that runs
// it, which returns an exit code.

#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>
#include <tbb/global_control.h>

#include "catalog/catalog.hpp"
#include "cli/terminal.hpp"
#include "config/config.hpp"
#include "pipeline/engine.hpp"

namespace wsp::cli {

// Exit codes, as documented in wsportfolio(1).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_items_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_integrity = 3;
inline constexpr int k_exit_interrupted = 130;

struct Context {
  const GlobalOptions& global;
  Terminal& terminal;
  const std::atomic<bool>& stop;  // set by the first SIGINT/SIGTERM
};

using Runner = std::function<int(const Context&)>;
using Define = Runner (*)(CLI::App& command);

struct CommandSpec {
  const char* name;
  const char* summary;
  Define define;
};

Runner define_init(CLI::App& command);
Runner define_config(CLI::App& command);
Runner define_ingest(CLI::App& command);
Runner define_render(CLI::App& command);
Runner define_tag(CLI::App& command);
Runner define_verify(CLI::App& command);
Runner define_run(CLI::App& command);
Runner define_retry(CLI::App& command);
Runner define_status(CLI::App& command);
Runner define_publish(CLI::App& command);
Runner define_watch(CLI::App& command);
Runner define_webhooks(CLI::App& command);
Runner define_catalog(CLI::App& command);
Runner define_work(CLI::App& command);

// Sends the webhooks that are due, waiting at most a few seconds, as `run`
// and `publish` do at their end; the rest stay pending for the next process.
void deliver_webhooks_at_end(const Context& context, const config::Config& config, catalog::Catalog& catalog);
// The events of commands that end: review.needed (photos under the confidence
// threshold, at the end of `run`), verify.failed (findings;
// verify reads its catalog read-only, so this opens it for writing only when
// an endpoint hears verify.failed, and warns when it cannot).
void record_review_needed(const config::Config& config, catalog::Catalog& catalog, const std::string& run_id);
void record_verify_failed(const Context& context, const config::Config& config, const nlohmann::json& findings);

// The webhook backlog per endpoint, for `status`: pending, dead, disabled, last error.
void show_webhook_backlog(const Context& context, catalog::Catalog& catalog);

// Where one stage of a command spent its time; claim, work and commit are
// known for the stages the engine runs.
struct StageTiming {
  pipeline::StageName stage;
  std::size_t items = 0;
  pipeline::StageTimes seconds;
};
using StageTimings = std::vector<StageTiming>;

// The stages as commands run them (`run` chains them): each reports to the
// terminal, adds its timing to `timings` when given, and returns its exit code.
// `gone`: see IngestRequest.
int run_ingest_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                     const std::string& run_id, const std::vector<std::filesystem::path>& paths,
                     const std::vector<std::filesystem::path>& gone = {}, StageTimings* timings = nullptr,
                     const pipeline::QueueOrder& order = {});
int render_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                 const std::string& run_id, StageTimings* timings = nullptr, const pipeline::QueueOrder& order = {});
int tag_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
              const std::string& run_id, StageTimings* timings = nullptr, const pipeline::QueueOrder& order = {});

struct PublishStageOptions {
  bool dry_run = false;
  bool prune = false;
  bool adopt = false;  // publish into target folders the tool did not make
  bool reconcile = false;  // list s3 targets to find what changed behind the tool's back
  std::string target = {};  // empty: every target
  const catalog::ProjectLock* publisher = nullptr;  // the publisher lock, when the caller holds it
};
// Publishes to the configured targets and tells where the gallery is; returns the exit code.
int publish_stage(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                  const std::string& run_id, const PublishStageOptions& options);
// The pipeline as `run` and `watch` chain it, in the order that reads and
// decodes each source once: ingest of `paths` and `gone` (see IngestRequest;
// both empty: every source), then every stage after it on whatever the
// catalog has pending (at least as urgent as `order.at_least`; the photos
// ingested are queued at `order.queue_at`). Stops between stages once
// context.stop is set (exit code 130 then).
int run_stages(const Context& context, const config::Config& config, catalog::Catalog& catalog,
               const std::string& run_id, const std::vector<std::filesystem::path>& paths,
               const std::vector<std::filesystem::path>& gone = {}, StageTimings* timings = nullptr,
               const pipeline::QueueOrder& order = {});

// The levels `--priority` names (catalog::k_priority_*): normal, hot, rush.
const std::map<std::string, int>& priority_levels();

// The stages that claim queued work, render then tag, as `run_stages` chains
// them after ingest and `work` runs them on another machine's queue.
int run_queued_stages(const Context& context, const config::Config& config, catalog::Catalog& catalog,
                      const std::string& run_id, StageTimings* timings = nullptr,
                      const pipeline::QueueOrder& order = {});

// The short per-stage summary at the end of `run`: one line on stderr, and a
// `run.completed` JSON line with every stage's timers.
void report_timings(const Context& context, const StageTimings& timings, double seconds, int code);

// Writes or merges an XMP sidecar beside every tagged source; returns the exit code.
int write_xmp_sidecars(const Context& context, const config::Config& config, catalog::Catalog& catalog);

// Images worked on at once: pipeline.jobs (after -j), else all cores.
int worker_count(const config::Config& config);

// A usage or config problem: exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loads the project's config for a command working on `folder` (empty: current).
config::Config load_project(const Context& context, const std::filesystem::path& folder);

// Worker threads for this command: -j, then pipeline.jobs, then all cores.
std::unique_ptr<tbb::global_control> limit_threads(const config::Config& config);

// The project's catalog: $WSPORTFOLIO_CATALOG_URL, catalog.url, else .wsportfolio/catalog.db.
catalog::CatalogLocation catalog_location(const config::Config& config);

// Opens the project's catalog, creating the state folder as needed.
std::unique_ptr<catalog::Catalog> open_catalog(const config::Config& config);

// Opens the catalog of a project that has one; a UsageError names the folder
// otherwise, so that a mistyped path never leaves an empty state folder behind.
// Commands that only read open it read_only.
std::unique_ptr<catalog::Catalog> open_existing_catalog(const config::Config& config,
                                                        catalog::Access access = catalog::Access::read_write);

// `folder` as given on the command line, which must be an existing folder; empty stays empty.
std::filesystem::path existing_folder(const std::string& folder);

// A UsageError naming the first of `paths` that lies outside every source of
// the project: a command narrowed to a folder works only inside its project.
void require_inside_sources(const config::Config& config, const std::vector<std::filesystem::path>& paths);

// What a command that works on a project is handed by run_on_project.
struct Project {
  const config::Config& config;
  catalog::Catalog& catalog;
  const std::string& run_id;
};

struct ProjectCommand {
  const char* name;                 // as the catalog's runs list it: "render"
  std::filesystem::path folder;     // the project folder given; empty: the current one
  bool creates_catalog = false;     // ingest and run start a project; the others need one
  // Optional: checks the command line against the project before anything is
  // opened, throwing a UsageError.
  std::function<void(const config::Config&)> check = {};
};

// The skeleton of every command that works on a project: load its config,
// limit the worker threads, open the catalog, register the run, do `work`,
// and record its exit code (130 once a signal came) as the run's.
int run_on_project(const Context& context, const ProjectCommand& command,
                   const std::function<int(const Project&)>& work);

// Registers this process as a run in the catalog and unregisters it on scope exit.
class RunRegistration {
public:
  RunRegistration(catalog::Catalog& catalog, std::string command);
  ~RunRegistration();
  RunRegistration(const RunRegistration&) = delete;
  RunRegistration& operator=(const RunRegistration&) = delete;
  const std::string& id() const { return m_id; }
  void set_exit_code(int code) { m_exit_code = code; }

private:
  catalog::Catalog& m_catalog;
  std::string m_id;
  int m_exit_code = -1;
};

using catalog::host_name;
std::string human_bytes(std::int64_t bytes);

}  // namespace wsp::cli
