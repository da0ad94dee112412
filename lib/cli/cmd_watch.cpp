#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "pipeline/ingest.hpp"
#include "pipeline/scan.hpp"
#include "pipeline/watch.hpp"
#include "util/files.hpp"
#include "util/text.hpp"

namespace wsp::cli {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::atomic<bool> g_reload{false};

void on_hangup(int) { g_reload = true; }

// How long the hot folder waits, once a burst is over, before processing it;
// and how long a steady stream may keep a batch open. The quiet time is short:
// it adds to every lone photo's latency, and files that complete while a batch
// is processed make up the next batch anyway, so a burst of copies is still
// processed in a few batches, not one per file.
constexpr auto k_quiet = 20ms;
constexpr auto k_longest_batch = 5s;
// How often pending files are stat'ed again.
constexpr auto k_tick = 100ms;
// How often a root that inotify refused to watch (the kernel's limit of
// watches reached) is scanned instead.
constexpr auto k_fallback_poll = 2s;
// A vanished root is looked for again after 1 s, then 2, 4... up to this.
constexpr auto k_longest_retry = 30s;

struct WatchOptions {
  std::vector<std::string> paths;
  int poll_seconds = -1;  // -1: watch.poll_seconds
  bool once = false;
};

struct WatchedRoot {
  fs::path path;
  bool recursive = true;
  bool lost = false;
  bool polled = false;  // inotify refused a folder of it: scanned every k_fallback_poll
  pipeline::WatchClock::time_point retry_at;
  std::chrono::seconds retry_after{1};
};

// "shoot/" as "shoot": the watches report a root by this name.
fs::path without_slash(const fs::path& path) { return path.has_filename() ? path : path.parent_path(); }

// Sleeps up to `timeout`; a signal ends it early.
void nap(std::chrono::milliseconds timeout) { ::poll(nullptr, 0, static_cast<int>(timeout.count())); }

class HotFolder {
public:
  HotFolder(const WatchOptions& options, const Context& context, fs::path folder, std::vector<fs::path> narrowed,
            config::Config config)
      : m_options(options),
        m_context(context),
        m_stage_context{context.global, context.terminal, m_stage_stop},
        m_folder(std::move(folder)),
        m_narrowed(std::move(narrowed)),
        m_config(std::move(config)),
        m_tracker(std::chrono::milliseconds(m_config.watch.stable_ms)),
        m_batch(k_quiet, k_longest_batch) {}

  int run() {
    m_threads = limit_threads(m_config);
    m_catalog = open_catalog(m_config);
    // One watcher per project; a second names the first (pid and host).
    const auto lock_file = m_config.state_dir() / "watch.lock";
    util::FileLock lock(lock_file, util::FileLock::Wait::no, fmt::format("pid {} on {}\n", ::getpid(), host_name()));
    if (!lock.held())
      throw UsageError(fmt::format("{}: another `wsportfolio watch` is watching this project ({})", lock_file.string(),
                                   lock.holder().empty() ? "holder unknown" : lock.holder()));
    RunRegistration registration(*m_catalog, m_options.once ? "watch --once" : "watch");
    m_run_id = registration.id();
    int code = m_options.once ? run_once() : run_until_stopped();
    registration.set_exit_code(code);
    return code;
  }

private:
  int poll_seconds() const { return m_options.poll_seconds >= 0 ? m_options.poll_seconds : m_config.watch.poll_seconds; }

  void set_roots() {
    m_roots.clear();
    if (m_narrowed.empty()) {
      for (const auto& source : m_config.sources) {
        fs::path path = source.path;
        WatchedRoot root;
        root.path = without_slash(m_config.in_project(path));
        root.recursive = source.recursive;
        m_roots.push_back(root);
      }
    } else {
      for (const auto& path : m_narrowed) {
        WatchedRoot root;
        root.path = without_slash(fs::absolute(path).lexically_normal());
        m_roots.push_back(root);
      }
    }
  }

  bool wanted(const fs::path& file) const {
    return !pipeline::is_temporary_name(file) && pipeline::is_source_file(m_config, file);
  }

  bool polled(const WatchedRoot& root) const { return !m_watcher || root.polled; }

  // A look at every file under `root`: when the watch starts, when a root
  // comes back, after lost events, and at every poll. What the catalog has as
  // it is stays out of the tracker, so that a restart is not one batch of the
  // whole tree; what a poll took already as it is, too.
  void rescan(const WatchedRoot& root, pipeline::WatchClock::time_point now) {
    std::map<std::string, catalog::ImageRecord> known;
    for (auto& image : m_catalog->images()) known.emplace(image.path, std::move(image));
    const auto scan = pipeline::scan_sources(m_config, {root.path});
    std::set<fs::path> found;
    for (const auto& file : scan.files) {
      if (!file.problem.empty() || !wanted(file.absolute)) continue;
      found.insert(file.absolute);
      const pipeline::FileState state{file.size, file.mtime_ns};
      if (auto seen = m_seen.find(file.absolute); polled(root) && seen != m_seen.end() && seen->second == state) continue;
      m_seen[file.absolute] = state;
      auto image = known.find(file.key);
      if (image != known.end() && pipeline::unchanged_since_ingest(m_config, *m_catalog, image->second, file)) continue;
      m_tracker.observe(file.absolute, state, now);
    }
    // What vanished since the last look is forgotten, so that a file put back
    // as it was is seen again; a poll has no other way to see deletions.
    auto unseen = [&](const fs::path& file) {
      auto under = [&](const fs::path& folder) { return pipeline::is_inside(file, folder); };
      return under(root.path) && !found.count(file) && std::none_of(scan.unreachable.begin(), scan.unreachable.end(), under);
    };
    for (auto it = m_seen.begin(); it != m_seen.end();) {
      if (!unseen(it->first)) {
        ++it;
        continue;
      }
      if (polled(root)) removed(it->first, false, now);
      it = m_seen.erase(it);
    }
  }

  // Whether the catalog has a photo, not yet missing, at `path` (a file) or
  // under it (a folder).
  bool catalogued(const fs::path& path, bool folder) {
    if (!folder) {
      auto image = m_catalog->image_at(pipeline::catalog_key(m_config, path));
      return image && image->status != catalog::ImageStatus::Missing;
    }
    const auto images = m_catalog->images();
    return std::any_of(images.begin(), images.end(), [&](const catalog::ImageRecord& image) {
      return image.status != catalog::ImageStatus::Missing && pipeline::is_inside(m_config.in_project(image.path), path);
    });
  }

  // A photo (or a folder of them) deleted or renamed away: one the catalog
  // has is gone for the next batch, which marks it missing and takes it out
  // of the gallery. It is never read: a folder copied back in its place is
  // taken file by file, each once complete.
  void removed(const fs::path& path, bool folder, pipeline::WatchClock::time_point now) {
    m_tracker.forget(path);
    m_batch.remove(path);
    if ((folder || wanted(path)) && catalogued(path, folder)) {
      m_gone.insert(path);
      m_batch.add(path, now);  // for the batch's timing only
    }
  }

  // Whether a root is there to watch: it exists (a folder, or a source that
  // is one file), and is not an unmounted share's bare mount point.
  bool there(const fs::path& root) {
    std::error_code error;
    return fs::exists(root, error) && !pipeline::bare_mount_point(m_config, *m_catalog, root);
  }

  // From scratch: at start, on reload, after lost events. A catch-up run
  // follows, for what changed while nobody watched.
  void start_watching(pipeline::WatchClock::time_point now) {
    set_roots();
    if (poll_seconds() == 0)
      m_watcher = std::make_unique<pipeline::FolderWatcher>(
          [this](const fs::path& folder) { return pipeline::is_scanned_folder(m_config, folder); });
    for (auto& root : m_roots) {
      root.lost = !attach(root);
      if (root.lost) {
        lose(root, now);
      } else {
        rescan(root, now);
      }
    }
    m_next_poll = now + poll_interval();
    m_catch_up = true;
  }

  std::chrono::milliseconds poll_interval() const {
    return m_watcher ? std::chrono::milliseconds(k_fallback_poll) : std::chrono::seconds(poll_seconds());
  }

  bool attach(WatchedRoot& root) {
    if (!there(root.path)) return false;
    root.polled = false;
    std::string problem;
    if (m_watcher && !m_watcher->add_root(root.path, root.recursive, problem)) poll_instead(root, root.path, problem);
    return true;
  }

  // inotify refused `folder` of `root`: the root is scanned every
  // k_fallback_poll instead, which sees everything, only later.
  void poll_instead(WatchedRoot& root, const fs::path& folder, const std::string& reason) {
    root.polled = true;
    m_context.terminal.warn(fmt::format("watch: {}: cannot be watched: {}; scanning {} every {} s instead",
                                        folder.string(), reason, root.path.string(), k_fallback_poll.count()));
    m_context.terminal.emit(JsonLine()
                                .add("event", "watch.polling")
                                .add("path", root.path.string())
                                .add("folder", folder.string())
                                .add("reason", reason));
  }

  void lose(WatchedRoot& root, pipeline::WatchClock::time_point now) {
    root.lost = true;
    root.retry_after = 1s;
    root.retry_at = now + root.retry_after;
    m_context.terminal.warn(fmt::format(
        "watch: {}: gone (deleted or unmounted); waiting for it to come back, looking again every {} s at most",
        root.path.string(), k_longest_retry.count()));
    m_context.terminal.emit(JsonLine().add("event", "watch.waiting").add("path", root.path.string()));
  }

  void look_for_lost_roots(pipeline::WatchClock::time_point now) {
    for (auto& root : m_roots) {
      if (!root.lost || now < root.retry_at) continue;
      if (attach(root)) {
        root.lost = false;
        m_context.terminal.info(fmt::format("watch: {}: back; looking for what arrived meanwhile", root.path.string()));
        m_context.terminal.emit(JsonLine().add("event", "watch.recovered").add("path", root.path.string()));
        rescan(root, now);
        m_catch_up = true;
      } else {
        root.retry_after = std::min<std::chrono::seconds>(root.retry_after * 2, k_longest_retry);
        root.retry_at = now + root.retry_after;
      }
    }
  }

  void handle(const pipeline::FolderEvent& event, pipeline::WatchClock::time_point now) {
    using Kind = pipeline::FolderEvent::Kind;
    switch (event.kind) {
      case Kind::Overflow:
        // A dropped event may have been a new folder's: the watches are taken
        // again from scratch, and the sources scanned.
        m_context.terminal.warn("watch: the kernel dropped file events; watching and scanning the sources again");
        start_watching(now);
        return;
      case Kind::RootLost:
        for (auto& root : m_roots)
          if (root.path == event.path && !root.lost) lose(root, now);
        return;
      case Kind::Removed:
        removed(event.path, event.folder, now);
        return;
      case Kind::Unwatched:
        for (auto& root : m_roots) {
          if (root.lost || root.polled || !pipeline::is_inside(event.path, root.path)) continue;
          poll_instead(root, event.path, event.reason);
          rescan(root, now);
        }
        return;
      case Kind::Changed:
      case Kind::Completed: {
        if (!wanted(event.path)) return;
        m_gone.erase(event.path);  // back again
        pipeline::FileState state;
        if (!pipeline::stat_file(event.path, state)) {
          m_tracker.forget(event.path);
          return;
        }
        m_batch.remove(event.path);  // written again: it waits for completeness again
        m_tracker.observe(event.path, state, now);
        if (event.kind == Kind::Completed) m_tracker.completed(event.path, now);
        return;
      }
    }
  }

  // Pending files are stat'ed again: a change restarts their wait, a vanished
  // one is forgotten.
  void check_pending(pipeline::WatchClock::time_point now) {
    for (const auto& file : m_tracker.pending()) {
      pipeline::FileState state;
      if (pipeline::stat_file(file, state)) {
        m_tracker.observe(file, state, now);
        m_seen[file] = state;  // a poll must compare with the file as it was taken, not as first seen
      } else {
        m_tracker.forget(file);
        m_context.terminal.detail(fmt::format("watch: {}: gone before it was complete", file.string()));
      }
    }
    for (const auto& file : m_tracker.take_complete(now)) m_batch.add(file, now);
  }

  // A batch: the files complete, and what the catalog has that was deleted.
  void process(const std::vector<fs::path>& files) {
    std::vector<fs::path> present;
    const std::vector<fs::path> gone(m_gone.begin(), m_gone.end());
    for (const auto& file : files) {
      std::error_code error;
      if (m_gone.count(file)) continue;
      if (fs::exists(file, error)) {
        present.push_back(file);
      } else {
        m_context.terminal.detail(fmt::format("watch: {}: deleted before it was processed; dropped", file.string()));
        m_context.terminal.emit(JsonLine()
                                    .add("event", "watch.dropped")
                                    .add("file", file.string())
                                    .add("reason", "deleted before it was processed"));
      }
    }
    m_gone.clear();
    if (present.empty() && gone.empty()) return;
    m_context.terminal.info(gone.empty() ? fmt::format("watch: {} file(s) complete; processing", present.size())
                                         : fmt::format("watch: {} file(s) complete, {} deleted; processing",
                                                       present.size(), gone.size()));
    m_context.terminal.emit(JsonLine()
                                .add("event", "watch.batch")
                                .add("files", present.size())
                                .add("paths", present)
                                .add("gone", gone));
    m_context.terminal.emit(JsonLine().add("event", "watch.idle").add("code", run_batch(present, gone)));
  }

  // After a start, a reload, lost events or a root's return: what was deleted
  // meanwhile is marked missing and the work an interrupted run left pending
  // is done, without reading any file that may still be being written (those
  // come in batches of their own once complete).
  void catch_up() {
    m_catch_up = false;
    std::vector<fs::path> roots;
    for (const auto& root : m_roots)
      if (!root.lost) roots.push_back(root.path);
    if (roots.empty() || m_catalog->images().empty()) return;
    m_context.terminal.emit(JsonLine().add("event", "watch.catch_up").add("paths", roots));
    m_context.terminal.emit(JsonLine().add("event", "watch.caught_up").add("code", run_batch({}, roots)));
  }

  // The stages over `present` and `gone` (see IngestRequest); the exit code.
  int run_batch(const std::vector<fs::path>& present, const std::vector<fs::path>& gone) {
    // The stages get a stop flag of their own: the first SIGINT/SIGTERM lets
    // the batch finish (the second one exits at once, which the catalog's
    // transactions and leases make safe).
    try {
      return run_stages(m_stage_context, m_config, *m_catalog, m_run_id, present, gone);
    } catch (const std::exception& e) {
      // A batch that fails as a whole (a disk full, a broken gallery template)
      // is reported and its work stays queued in the catalog: an unattended
      // watcher goes on, and the next batch takes that work up again.
      m_context.terminal.error(fmt::format("watch: the batch failed: {}", e.what()));
      m_context.terminal.emit(JsonLine().add("event", "watch.batch_failed").add("reason", e.what()));
      return k_exit_items_failed;
    }
  }

  void reload(pipeline::WatchClock::time_point now) {
    try {
      auto fresh = load_project(m_context, m_folder);
      m_config = std::move(fresh);
      m_threads.reset();
      m_threads = limit_threads(m_config);
      m_tracker = pipeline::StabilityTracker(std::chrono::milliseconds(m_config.watch.stable_ms));
      m_seen.clear();
      m_watcher.reset();
      start_watching(now);
      m_context.terminal.info(fmt::format("watch: configuration reloaded from {}",
                                          m_config.config_file.empty() ? std::string("the built-in defaults")
                                                                       : m_config.config_file.string()));
      m_context.terminal.emit(JsonLine().add("event", "watch.reloaded").add("config", m_config.config_file.string()));
    } catch (const config::ConfigError& e) {
      m_context.terminal.error(fmt::format("{} (configuration not reloaded; the previous one stays in use)", e.what()));
      m_context.terminal.emit(JsonLine().add("event", "watch.reload_failed").add("message", e.what()));
    }
  }

  int run_until_stopped() {
    std::signal(SIGHUP, on_hangup);
    auto now = pipeline::WatchClock::now();
    start_watching(now);
    std::vector<std::string> names;
    for (const auto& root : m_roots) names.push_back(root.path.string());
    m_context.terminal.info(fmt::format("watch: watching {} ({}); stop with Ctrl-C", fmt::join(names, ", "),
                                        m_watcher ? std::string("inotify")
                                                  : fmt::format("polling every {} s", poll_seconds())));
    m_context.terminal.emit(JsonLine()
                                .add("event", "watch.started")
                                .add("paths", names)
                                .add("mode", m_watcher ? "inotify" : "poll")
                                .add("stable_ms", m_config.watch.stable_ms)
                                .add("poll_seconds", poll_seconds()));
    auto last_heartbeat = now;
    while (!m_context.stop) {
      if (g_reload.exchange(false)) reload(pipeline::WatchClock::now());
      if (m_watcher) {
        const auto timeout = std::min<std::chrono::milliseconds>(k_tick, m_batch.until_due(pipeline::WatchClock::now()));
        for (const auto& event : m_watcher->wait(timeout)) handle(event, pipeline::WatchClock::now());
      } else {
        nap(k_tick);
      }
      now = pipeline::WatchClock::now();
      if (now >= m_next_poll) {
        for (auto& root : m_roots) {
          if (root.lost || !polled(root)) continue;
          if (!there(root.path)) lose(root, now);
          else rescan(root, now);
        }
        // From the end of the scans: a tree that takes longer to scan than the
        // interval must not be scanned back to back.
        m_next_poll = pipeline::WatchClock::now() + poll_interval();
      }
      look_for_lost_roots(now);
      if (m_catch_up && !m_context.stop) catch_up();
      check_pending(now);
      if (m_batch.due(now) && !m_context.stop) process(m_batch.take());
      if (now - last_heartbeat >= 10s) {
        m_catalog->heartbeat(m_run_id);
        last_heartbeat = now;
      }
    }
    return drain();
  }

  // After SIGINT/SIGTERM: what is complete is processed (events already
  // queued included); what is still being written is left for the next run.
  int drain() {
    auto now = pipeline::WatchClock::now();
    if (m_watcher)
      for (const auto& event : m_watcher->wait(0ms)) handle(event, now);
    for (const auto& file : m_tracker.take_complete(now)) m_batch.add(file, now);
    const auto left = m_tracker.pending().size();
    if (!m_batch.empty()) {
      m_context.terminal.info(fmt::format("watch: stopping; finishing the {} complete file(s) first", m_batch.size()));
      process(m_batch.take());
    }
    if (left > 0)
      m_context.terminal.info(fmt::format("watch: {} file(s) still being written were left for the next run", left));
    m_context.terminal.emit(JsonLine().add("event", "watch.stopped").add("left", left));
    return k_exit_interrupted;
  }

  // For cron: what is complete now is processed, then the command exits. A
  // file is complete when two looks `watch.stable_ms` apart see the same size
  // and mtime; one still growing is left for the next run.
  int run_once() {
    set_roots();
    std::vector<fs::path> roots;
    for (const auto& root : m_roots) {
      if (there(root.path)) roots.push_back(root.path);
      else m_context.terminal.warn(fmt::format("watch: {}: not there (deleted or unmounted); skipped", root.path.string()));
    }
    auto look = [&](std::map<fs::path, pipeline::FileState>& into) {
      for (const auto& file : pipeline::scan_sources(m_config, roots).files)
        if (file.problem.empty() && wanted(file.absolute)) into[file.absolute] = {file.size, file.mtime_ns};
    };
    if (roots.empty()) return k_exit_ok;
    std::map<fs::path, pipeline::FileState> first;
    look(first);
    const auto until = pipeline::WatchClock::now() + std::chrono::milliseconds(m_config.watch.stable_ms);
    while (!m_context.stop && pipeline::WatchClock::now() < until) nap(k_tick);
    if (m_context.stop) return k_exit_interrupted;
    std::map<fs::path, pipeline::FileState> second;
    look(second);
    std::vector<fs::path> complete;
    std::size_t growing = 0;
    for (const auto& [file, state] : second) {
      auto before = first.find(file);
      if (before != first.end() && before->second == state) complete.push_back(file);
      else ++growing;
    }
    if (growing > 0)
      m_context.terminal.info(fmt::format("watch: {} file(s) still being written; left for the next run", growing));
    m_context.terminal.emit(JsonLine()
                                .add("event", "watch.batch")
                                .add("files", complete.size())
                                .add("paths", complete)
                                .add("gone", roots));
    // Only the files seen complete are read: one whose copy starts after the
    // second look is left for the next run. What the catalog has under the
    // roots and is no longer there is marked missing, as `run` would.
    const int code = run_stages(m_context, m_config, *m_catalog, m_run_id, complete, roots);
    m_context.terminal.emit(JsonLine().add("event", "watch.idle").add("code", code));
    return code;
  }

  const WatchOptions& m_options;
  const Context& m_context;
  std::atomic<bool> m_stage_stop{false};
  Context m_stage_context;
  fs::path m_folder;
  std::vector<fs::path> m_narrowed;
  config::Config m_config;
  std::unique_ptr<tbb::global_control> m_threads;
  std::unique_ptr<catalog::Catalog> m_catalog;
  std::string m_run_id;
  std::vector<WatchedRoot> m_roots;
  std::unique_ptr<pipeline::FolderWatcher> m_watcher;
  std::map<fs::path, pipeline::FileState> m_seen;  // each file as last seen by a scan or taken
  std::set<fs::path> m_gone;                       // deleted or moved away, for the next batch
  bool m_catch_up = false;
  pipeline::StabilityTracker m_tracker;
  pipeline::BatchDebouncer m_batch;
  pipeline::WatchClock::time_point m_next_poll;
};

int run_watch(const WatchOptions& options, const Context& context) {
  for (const auto& path : options.paths)
    if (!fs::is_directory(path)) throw UsageError(fmt::format("{}: no such folder", path));
  fs::path folder = options.paths.size() == 1 ? fs::path(options.paths[0]) : fs::path();
  auto config = load_project(context, folder);
  std::vector<fs::path> narrowed;
  for (const auto& path : options.paths) {
    fs::path absolute = fs::absolute(path).lexically_normal();
    std::error_code error;
    if (!fs::equivalent(absolute, config.project_dir, error)) narrowed.push_back(absolute);
  }
  require_inside_sources(config, narrowed);
  HotFolder hot_folder(options, context, folder, std::move(narrowed), std::move(config));
  return hot_folder.run();
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
  command.add_flag("--once", options->once, "Process the files that are complete now, then exit (for cron)");
  return [options](const Context& context) { return run_watch(*options, context); };
}

}  // namespace wsp::cli
