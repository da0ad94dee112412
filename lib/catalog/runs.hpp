#pragma once
// What happened and who is working: the append-only audit trail of events,
// and the runs (processes) on the project with their heartbeats and progress,
// which `status` shows and leases rely on.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsp::catalog {

std::int64_t now_ms();

struct Event {
  std::string kind;   // "image.ingested", "image.moved", "image.rejected", ...
  std::optional<std::int64_t> image_id;
  std::string detail;  // JSON object text
};

struct RunRecord {
  std::string id;
  std::string command;
  std::int64_t pid = 0;
  std::string host;
  std::int64_t started_ms = 0;  // 0 when registering: now on the catalog's clock
  std::int64_t heartbeat_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::optional<int> exit_code;
};

// A run's live progress, for `status`.
struct RunProgress {
  std::string stage;
  std::int64_t done = 0;
  std::int64_t total = 0;
};

struct RunCatalog {
  virtual ~RunCatalog() = default;

  // Appends to the audit trail; events are never updated or deleted (the
  // catalog refuses both).
  virtual void add_event(const Event& event, const std::string& run_id) = 0;
  virtual std::int64_t event_count() = 0;
  // When the last event of `kind` was appended.
  virtual std::optional<std::int64_t> last_event_ms(const std::string& kind) = 0;

  // A run is registered when a command starts, beats while it works (an old
  // heartbeat tells `status` its process is gone) and is finished with its
  // exit code.
  virtual void begin_run(const RunRecord& run) = 0;
  virtual void heartbeat(const std::string& run_id) = 0;
  virtual void finish_run(const std::string& run_id, int exit_code) = 0;
  // The runs not finished, oldest first: running, or killed.
  virtual std::vector<RunRecord> unfinished_runs() = 0;
  // The unfinished runs that beat within the last `within_ms`, judged on the
  // catalog's clock (the one heartbeats are written with), never a worker's:
  // a host whose clock is ahead must not take other hosts' runs for dead.
  virtual std::vector<RunRecord> runs_alive(std::int64_t within_ms) = 0;
  // Now on the catalog's clock, the one runs' times are written with, for the
  // ages shown to people (a heartbeat's): a PostgreSQL server's, which every
  // host sharing it agrees on, not a host's that may be minutes off; for a
  // SQLite file on this host, this host's.
  virtual std::int64_t clock_ms() { return now_ms(); }
  // The last `limit` runs, finished or not, newest first.
  virtual std::vector<RunRecord> recent_runs(int limit) = 0;
  // The stage and counts last recorded by renew_leases.
  virtual std::optional<RunProgress> run_progress(const std::string& run_id) = 0;
};

// This machine's name, as runs record their host.
std::string host_name();

// Whether a process other than this one has a run alive on the catalog (a
// heartbeat within `within_ms` on its clock). Until such a run commits, files
// it is writing may lie anywhere in the project, on this host or another one
// sharing the folder, where its process id means nothing: a temporary is left
// over from a killed process only when no other run is alive.
bool others_at_work(RunCatalog& catalog, std::int64_t within_ms);

}  // namespace wsp::catalog
