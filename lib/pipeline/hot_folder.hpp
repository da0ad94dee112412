#pragma once
// The hot folder's policy: what it looks at when (start, rescans, polls, a
// root that comes back), what makes a batch, what a deletion does, the
// catch-up after a start, a reload, a failed batch tried again, the drain on
// stop and the two looks of `--once`. Its senses are in watch.hpp; its time,
// its events and the stages it starts come in through small interfaces, so
// that a test can drive it with a fake clock and scripted events and see which
// batches would run.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/reconnect.hpp"
#include "pipeline/watch.hpp"

namespace wsp::pipeline {

// The hot folder's clock and its naps.
struct WatchTime {
  virtual ~WatchTime() = default;
  virtual WatchClock::time_point now() = 0;
  // Sleeps up to `timeout`; a signal may end it early.
  virtual void sleep(std::chrono::milliseconds timeout) = 0;
};

// The steady clock, and naps that a signal cuts short.
struct SystemWatchTime final : WatchTime {
  WatchClock::time_point now() override { return WatchClock::now(); }
  void sleep(std::chrono::milliseconds timeout) override;
};

// The stages a batch runs, as the hot folder sees them.
struct WatchStages {
  virtual ~WatchStages() = default;
  // Runs the pipeline on the complete files `present` and on what was seen
  // go, `gone` (see IngestRequest); returns the exit code. Throws when the
  // batch fails as a whole (the catalog locked for longer than its busy wait,
  // a disk full, a broken gallery template): the hot folder tries it again.
  virtual int run(const config::Config& config, const std::vector<std::filesystem::path>& present,
                  const std::vector<std::filesystem::path>& gone) = 0;
  // Publishes again, for a batch of sidecars only: a rating or label changed in
  // the photographer's tool is metadata, not pixels, so nothing is ingested,
  // rendered or tagged for it (publish reads the selection).
  virtual int publish(const config::Config& config) = 0;
};

// Something the hot folder tells its user: a line for people at `level`
// (none: nothing to say) and, when `event` is not null, a JSON event.
struct WatchNotice {
  enum class Level { none, detail, info, warning, error };
  Level level = Level::none;
  std::string message;
  nlohmann::ordered_json event;  // keys in the order written: "event" first
};

struct WatchReport {
  virtual ~WatchReport() = default;
  virtual void notice(const WatchNotice& notice) = 0;
};

// What the hot folder works with.
struct HotFolderParts {
  WatchTime& time;
  WatchStages& stages;
  WatchReport& report;
  catalog::Catalog& catalog;
  std::string run_id;             // whose heartbeat the hot folder keeps
  const std::atomic<bool>& stop;  // set by SIGINT/SIGTERM
  // Makes the watches for a start (inotify in the command); `enter` says
  // which folders below a root are watched.
  std::function<std::unique_ptr<FolderEvents>(std::function<bool(const std::filesystem::path&)> enter)> watch;
  // Reads the configuration again (SIGHUP); throws config::ConfigError.
  std::function<config::Config()> reload;
  // The project's watcher lock, when it is held for this watcher: checked at
  // each heartbeat and before each batch; lost with its connection, it is
  // taken again (no batch runs meanwhile), or, taken by another watcher
  // meanwhile, the watcher stops.
  std::unique_ptr<catalog::ProjectLock> guard = {};
  // Opens the catalog again when its connection is lost (a PostgreSQL server
  // restarted, a network blip): a batch or a heartbeat that fails while the
  // run's heartbeat cannot be written either. No batch runs until it is made
  // again; then the batch that failed with it is tried at once.
  // Empty: the catalog is kept as it is (a SQLite file is not lost that way).
  CatalogReconnection::Reopen reopen = {};
  std::string catalog_label = {};  // the catalog, for messages: never its URL
};

struct HotFolderOptions {
  // Folders to watch instead of the configured sources (absolute).
  std::vector<std::filesystem::path> narrowed;
  int poll_seconds = -1;  // -1: watch.poll_seconds; 0: inotify
};

// How long the hot folder waits, once a burst is over, before processing it;
// and how long a steady stream may keep a batch open. The quiet time is short:
// it adds to every lone photo's latency, and files that complete while a batch
// is processed make up the next batch anyway, so a burst of copies is still
// processed in a few batches, not one per file.
inline constexpr std::chrono::milliseconds k_batch_quiet{20};
inline constexpr std::chrono::milliseconds k_longest_batch{5000};
// How often pending files are stat'ed again.
inline constexpr std::chrono::milliseconds k_watch_tick{100};
// How often a root that inotify refused to watch is scanned instead.
inline constexpr std::chrono::seconds k_fallback_poll{2};
// A vanished root, a failed batch, a failed heartbeat: looked at again after
// 1 s, then 2, 4... up to this.
inline constexpr std::chrono::seconds k_first_retry{1};
inline constexpr std::chrono::seconds k_longest_retry{30};
// How often the run's heartbeat is written.
inline constexpr std::chrono::seconds k_heartbeat{10};

// How a hot folder's batch uses the queue: its photos are queued at
// `priority` (catalog::k_priority_hot_folder unless told otherwise). While
// another process that is not a watcher is alive on the project, it works on
// the backlog, and the batch claims only work at least as urgent as its own,
// so that a new photo reaches the gallery without waiting for the backlog to
// drain; alone, the batch does whatever is due, the most urgent first.
QueueOrder hot_folder_order(catalog::Catalog& catalog, const std::string& run_id, int priority);

class HotFolder {
 public:
  HotFolder(HotFolderParts parts, HotFolderOptions options, config::Config config);
  ~HotFolder();
  HotFolder(const HotFolder&) = delete;
  HotFolder& operator=(const HotFolder&) = delete;

  // Until `stop`: start(), then step() after step(), reloading when `reload`
  // is set; then drain(). Returns the exit code (130).
  int run(std::atomic<bool>& reload);

  // Watches the roots, looks at what is there, and queues a catch-up.
  void start();
  // One turn: waits for events up to the next tick or the batch's due time,
  // polls, looks for lost roots, catches up, takes what is complete, runs
  // what is due (a new batch, a failed one tried again) and keeps the
  // heartbeat. Never throws for a catalog or stage problem: those are
  // reported and tried again later.
  void step();
  // Reads the configuration again and starts from scratch with it; a
  // configuration that does not load is reported and the previous one stays.
  void reload();
  // After a stop: what is complete is processed (a batch waiting to be tried
  // again included, once); what is still being written is left for the next
  // run. Returns 130.
  int drain();
  // For cron: the files that two looks `watch.stable_ms` apart see unchanged
  // are processed, with what the catalog has under the roots and is gone;
  // one still growing is left for the next run. Returns the batch's exit code.
  int run_once();

  const config::Config& config() const { return m_config; }

 private:
  struct Root;
  struct Batch {
    std::set<std::filesystem::path> present;
    std::set<std::filesystem::path> gone;
    bool empty() const { return present.empty() && gone.empty(); }
  };

  int poll_seconds() const;
  int run_batch(const std::vector<std::filesystem::path>& present, const std::vector<std::filesystem::path>& gone);
  void set_roots();
  bool wanted(const std::filesystem::path& file) const;
  bool polled(const Root& root) const;
  void rescan(Root& root, WatchClock::time_point now);
  bool catalogued(const std::filesystem::path& path, bool folder);
  void removed(const std::filesystem::path& path, bool folder, WatchClock::time_point now);
  bool there(const std::filesystem::path& root);
  void start_watching(WatchClock::time_point now);
  std::chrono::milliseconds poll_interval() const;
  bool attach(Root& root);
  void poll_instead(Root& root, const std::filesystem::path& folder, const std::string& reason);
  void lose(Root& root, WatchClock::time_point now);
  void look_for_lost_roots(WatchClock::time_point now);
  void handle(const FolderEvent& event, WatchClock::time_point now);
  void check_pending(WatchClock::time_point now);
  void take_complete(WatchClock::time_point now);
  bool process(const std::vector<std::filesystem::path>& files);
  void catch_up();
  enum class BatchKind { arrivals, catch_up };
  void run_batch(Batch batch, BatchKind kind);
  void hold_back(const std::vector<std::filesystem::path>& gone);
  void release_held(WatchClock::time_point now);
  void keep_heartbeat(WatchClock::time_point now);
  bool keep_guard(WatchClock::time_point now);
  bool connection_lost(std::string& why);
  void lose_catalog(const std::string& reason, WatchClock::time_point now);
  bool keep_catalog(WatchClock::time_point now);
  // The catalog's connection: m_parts.catalog, or the one made after it was lost.
  catalog::Catalog& catalog() { return m_reconnection.catalog(); }
  void tell(WatchNotice::Level level, std::string message, nlohmann::ordered_json event = nullptr);

  HotFolderParts m_parts;
  CatalogReconnection m_reconnection;
  bool m_catalog_lost = false;
  WatchClock::time_point m_reconnect_at;
  HotFolderOptions m_options;
  config::Config m_config;
  std::vector<Root> m_roots;
  std::unique_ptr<FolderEvents> m_watcher;
  std::map<std::filesystem::path, FileState> m_seen;  // each file as last seen by a scan or taken
  std::set<std::filesystem::path> m_gone;             // deleted or moved away, for the next batch
  // Folders a batch found empty while the catalog had photos there, which
  // ingest therefore took as a share that is not mounted, with those photos.
  std::map<std::filesystem::path, std::vector<std::filesystem::path>> m_held;
  bool m_catch_up = false;
  StabilityTracker m_tracker;
  BatchDebouncer m_batch;
  WatchClock::time_point m_next_poll;
  // A batch that failed as a whole, tried again at m_retry_at.
  std::optional<Batch> m_failed;
  WatchClock::time_point m_retry_at;
  std::chrono::seconds m_retry_after{k_first_retry};
  WatchClock::time_point m_heartbeat_at;
  std::chrono::seconds m_heartbeat_retry{k_first_retry};
  bool m_guarded = true;
  bool m_taken_over = false;  // another watcher holds the lock now
  WatchClock::time_point m_guard_retry_at;
  std::chrono::seconds m_guard_retry{k_first_retry};
};

}  // namespace wsp::pipeline
