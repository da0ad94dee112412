#include "pipeline/hot_folder.hpp"
#include "tagging/xmp.hpp"

#include <algorithm>
#include <poll.h>

#include <fmt/format.h>

#include "pipeline/ingest.hpp"
#include "pipeline/scan.hpp"

namespace wsp::pipeline {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Level = WatchNotice::Level;

// The exit code of a command stopped by a signal, as wsportfolio(1) documents it.
constexpr int k_interrupted = 130;

namespace {

// "shoot/" as "shoot": the watches report a root by this name.
fs::path without_slash(const fs::path& path) { return path.has_filename() ? path : path.parent_path(); }

nlohmann::ordered_json strings(const std::vector<fs::path>& paths) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& path : paths) list.push_back(path.string());
  return list;
}

template <typename Set>
std::vector<fs::path> listed(const Set& paths) {
  return {paths.begin(), paths.end()};
}

}  // namespace

QueueOrder hot_folder_order(catalog::Catalog& catalog, const std::string& run_id, int priority) {
  // A run silent for twice the lease time is dead wherever it ran (render.cpp
  // decides the same before removing files).
  const auto silent_after = 2 * EngineSettings{}.lease_ms;
  const auto now = catalog::now_ms();
  const auto runs = catalog.unfinished_runs();
  const bool backlog_taken = std::any_of(runs.begin(), runs.end(), [&](const catalog::RunRecord& run) {
    return run.id != run_id && !run.command.starts_with("watch") && now - run.heartbeat_ms < silent_after;
  });
  return {.queue_at = priority, .at_least = backlog_taken ? priority : catalog::k_any_priority};
}

void SystemWatchTime::sleep(std::chrono::milliseconds timeout) {
  ::poll(nullptr, 0, static_cast<int>(timeout.count()));
}

struct HotFolder::Root {
  fs::path path;
  bool recursive = true;
  bool lost = false;
  bool polled = false;  // inotify refused a folder of it: scanned every k_fallback_poll
  WatchClock::time_point retry_at;
  std::chrono::seconds retry_after{k_first_retry};
};

HotFolder::HotFolder(HotFolderParts parts, HotFolderOptions options, config::Config config)
    : m_parts(std::move(parts)),
      m_reconnection(m_parts.catalog, m_parts.reopen, m_parts.run_id, k_first_retry, k_longest_retry),
      m_options(std::move(options)),
      m_config(std::move(config)),
      m_tracker(std::chrono::milliseconds(m_config.watch.stable_ms)),
      m_batch(k_batch_quiet, k_longest_batch) {}

HotFolder::~HotFolder() = default;

void HotFolder::tell(Level level, std::string message, nlohmann::ordered_json event) {
  m_parts.report.notice({level, std::move(message), std::move(event)});
}

int HotFolder::poll_seconds() const {
  return m_options.poll_seconds >= 0 ? m_options.poll_seconds : m_config.watch.poll_seconds;
}

// Sidecars travel with their photos' batch, but alone they only publish.
int HotFolder::run_batch(const std::vector<fs::path>& present, const std::vector<fs::path>& gone) {
  std::vector<fs::path> photos, photos_gone;
  std::copy_if(present.begin(), present.end(), std::back_inserter(photos), [](const auto& p) { return !tagging::is_sidecar(p); });
  std::copy_if(gone.begin(), gone.end(), std::back_inserter(photos_gone), [](const auto& p) { return !tagging::is_sidecar(p); });
  if (photos.empty() && photos_gone.empty() && !(present.empty() && gone.empty())) return m_parts.stages.publish(m_config);
  return m_parts.stages.run(m_config, photos, photos_gone);
}

void HotFolder::set_roots() {
  m_roots.clear();
  if (m_options.narrowed.empty()) {
    for (const auto& source : m_config.sources) {
      Root root;
      root.path = without_slash(m_config.in_project(fs::path(source.path)));
      root.recursive = source.recursive;
      m_roots.push_back(root);
    }
  } else {
    for (const auto& path : m_options.narrowed) {
      Root root;
      root.path = without_slash(fs::absolute(path).lexically_normal());
      m_roots.push_back(root);
    }
  }
}

// A sidecar is wanted too: a rating saved in the photographer's culling tool
// is a batch of its own, which only publishes.
bool HotFolder::wanted(const fs::path& file) const {
  return !is_temporary_name(file) && (is_source_file(m_config, file) || tagging::is_sidecar(file));
}

bool HotFolder::polled(const Root& root) const { return !m_watcher || root.polled; }

// A look at every file under `root`: when the watch starts, when a root comes
// back, after lost events, and at every poll. What the catalog has as it is
// stays out of the tracker, so that a restart is not one batch of the whole
// tree; what a poll took already as it is, too. A catalog that cannot be read
// now leaves every file to the tracker: ingest then finds the unchanged ones
// unchanged, which costs a stat each, never a read.
void HotFolder::rescan(Root& root, WatchClock::time_point now) {
  std::map<std::string, catalog::ImageRecord> known;
  try {
    for (auto& image : catalog().images()) known.emplace(image.path, std::move(image));
  } catch (const std::exception& e) {
    tell(Level::warning, fmt::format("watch: {}: the catalog cannot be read now ({}); taking every file as new",
                                     root.path.string(), e.what()));
  }
  const auto scan = scan_sources(m_config, {root.path});
  std::set<fs::path> found;
  for (const auto& file : scan.files) {
    if (!file.problem.empty() || !wanted(file.absolute)) continue;
    found.insert(file.absolute);
    const FileState state{file.size, file.mtime_ns};
    if (auto seen = m_seen.find(file.absolute); polled(root) && seen != m_seen.end() && seen->second == state) continue;
    m_seen[file.absolute] = state;
    auto image = known.find(file.key);
    try {
      if (image != known.end() && unchanged_since_ingest(m_config, catalog(), image->second, file)) continue;
    } catch (const std::exception&) {
      // Not known to be unchanged: taken, and ingest decides.
    }
    m_tracker.observe(file.absolute, state, now);
  }
  // What vanished since the last look is forgotten, so that a file put back
  // as it was is seen again; a poll has no other way to see deletions.
  auto unseen = [&](const fs::path& file) {
    auto under = [&](const fs::path& folder) { return is_inside(file, folder); };
    return under(root.path) && !found.count(file) &&
           std::none_of(scan.unreachable.begin(), scan.unreachable.end(), under);
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
// under it (a folder). A catalog that cannot be read now says yes: ingest
// marks missing only what it has.
bool HotFolder::catalogued(const fs::path& path, bool folder) {
  try {
    if (!folder) {
      auto image = catalog().image_at(catalog_key(m_config, path));
      return image && image->status != catalog::ImageStatus::Missing;
    }
    const auto images = catalog().images();
    return std::any_of(images.begin(), images.end(), [&](const catalog::ImageRecord& image) {
      return image.status != catalog::ImageStatus::Missing && is_inside(m_config.in_project(image.path), path);
    });
  } catch (const std::exception&) {
    return true;
  }
}

// A photo (or a folder of them) deleted or renamed away: one the catalog has
// is gone for the next batch, which marks it missing and takes it out of the
// gallery. It is never read: a folder copied back in its place is taken file
// by file, each once complete.
void HotFolder::removed(const fs::path& path, bool folder, WatchClock::time_point now) {
  m_tracker.forget(path);
  m_batch.remove(path);
  if ((folder || wanted(path)) && catalogued(path, folder)) {
    m_gone.insert(path);
    m_batch.add(path, now);  // for the batch's timing only
  }
}

// Whether a root is there to watch: it exists (a folder, or a source that is
// one file), and is not an unmounted share's bare mount point. A catalog that
// cannot be read now leaves the second question to ingest, which asks it too.
bool HotFolder::there(const fs::path& root) {
  std::error_code error;
  if (!fs::exists(root, error)) return false;
  try {
    return !bare_mount_point(m_config, catalog(), root);
  } catch (const std::exception&) {
    return true;
  }
}

// From scratch: at start, on reload, after lost events. A catch-up run
// follows, for what changed while nobody watched.
void HotFolder::start_watching(WatchClock::time_point now) {
  set_roots();
  m_watcher.reset();
  if (poll_seconds() == 0)
    m_watcher = m_parts.watch([this](const fs::path& folder) { return is_scanned_folder(m_config, folder); });
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

std::chrono::milliseconds HotFolder::poll_interval() const {
  return m_watcher ? std::chrono::milliseconds(k_fallback_poll) : std::chrono::seconds(poll_seconds());
}

bool HotFolder::attach(Root& root) {
  if (!there(root.path)) return false;
  root.polled = false;
  std::string problem;
  if (m_watcher && !m_watcher->add_root(root.path, root.recursive, problem)) poll_instead(root, root.path, problem);
  return true;
}

// inotify refused `folder` of `root`: the root is scanned every
// k_fallback_poll instead, which sees everything, only later.
void HotFolder::poll_instead(Root& root, const fs::path& folder, const std::string& reason) {
  root.polled = true;
  tell(Level::warning,
       fmt::format("watch: {}: cannot be watched: {}; scanning {} every {} s instead", folder.string(), reason,
                   root.path.string(), k_fallback_poll.count()),
       {{"event", "watch.polling"}, {"path", root.path.string()}, {"folder", folder.string()}, {"reason", reason}});
}

void HotFolder::lose(Root& root, WatchClock::time_point now) {
  root.lost = true;
  root.retry_after = k_first_retry;
  root.retry_at = now + root.retry_after;
  tell(Level::warning,
       fmt::format("watch: {}: gone (deleted or unmounted); waiting for it to come back, looking again every {} s at "
                   "most",
                   root.path.string(), k_longest_retry.count()),
       {{"event", "watch.waiting"}, {"path", root.path.string()}});
}

void HotFolder::look_for_lost_roots(WatchClock::time_point now) {
  for (auto& root : m_roots) {
    if (!root.lost || now < root.retry_at) continue;
    if (attach(root)) {
      root.lost = false;
      tell(Level::info, fmt::format("watch: {}: back; looking for what arrived meanwhile", root.path.string()),
           {{"event", "watch.recovered"}, {"path", root.path.string()}});
      rescan(root, now);
      m_catch_up = true;
    } else {
      root.retry_after = std::min<std::chrono::seconds>(root.retry_after * 2, k_longest_retry);
      root.retry_at = now + root.retry_after;
    }
  }
}

void HotFolder::handle(const FolderEvent& event, WatchClock::time_point now) {
  using Kind = FolderEvent::Kind;
  switch (event.kind) {
    case Kind::Overflow:
      // A dropped event may have been a new folder's: the watches are taken
      // again from scratch, and the sources scanned.
      tell(Level::warning, "watch: the kernel dropped file events; watching and scanning the sources again");
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
        if (root.lost || root.polled || !is_inside(event.path, root.path)) continue;
        poll_instead(root, event.path, event.reason);
        rescan(root, now);
      }
      return;
    case Kind::Changed:
    case Kind::Completed: {
      if (!wanted(event.path)) return;
      m_gone.erase(event.path);  // back again
      FileState state;
      if (!stat_file(event.path, state)) {
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
void HotFolder::check_pending(WatchClock::time_point now) {
  for (const auto& file : m_tracker.pending()) {
    FileState state;
    if (stat_file(file, state)) {
      m_tracker.observe(file, state, now);
      m_seen[file] = state;  // a poll must compare with the file as it was taken, not as first seen
    } else {
      m_tracker.forget(file);
      tell(Level::detail, fmt::format("watch: {}: gone before it was complete", file.string()));
    }
  }
  take_complete(now);
}

// A file closed while cut short, and changed within watch.stable_ms, is not
// complete: its writer works in rounds. Taken now it would be rejected as
// truncated, and taken again at the next close.
void HotFolder::take_complete(WatchClock::time_point now) {
  for (const auto& file : m_tracker.take_complete(now, looks_cut_short)) m_batch.add(file, now);
}

// A batch: the files complete, and what the catalog has that was deleted.
// False when there was nothing to run.
bool HotFolder::process(const std::vector<fs::path>& files) {
  Batch batch;
  for (const auto& file : files) {
    std::error_code error;
    if (m_gone.count(file)) continue;
    if (fs::exists(file, error)) {
      batch.present.insert(file);
    } else {
      tell(Level::detail, fmt::format("watch: {}: deleted before it was processed; dropped", file.string()),
           {{"event", "watch.dropped"}, {"file", file.string()}, {"reason", "deleted before it was processed"}});
    }
  }
  batch.gone = std::move(m_gone);
  m_gone.clear();
  if (batch.empty()) return false;
  run_batch(std::move(batch), BatchKind::arrivals);
  return true;
}

// After a start, a reload, lost events or a root's return: what was deleted
// meanwhile is marked missing and the work an interrupted run left pending is
// done, without reading any file that may still be being written (those come
// in batches of their own once complete).
void HotFolder::catch_up() {
  m_catch_up = false;
  Batch batch;
  for (const auto& root : m_roots)
    if (!root.lost) batch.gone.insert(root.path);
  if (batch.gone.empty()) return;
  try {
    if (catalog().images().empty()) return;
  } catch (const std::exception&) {
    // Unreadable now: the catch-up is run, and fails and is tried again, or does nothing.
  }
  tell(Level::none, "", {{"event", "watch.catch_up"}, {"paths", strings(listed(batch.gone))}});
  run_batch(std::move(batch), BatchKind::catch_up);
}

// The stages over a batch. One that fails as a whole is tried again after
// 1 s, 2, 4... up to k_longest_retry, together with what completes meanwhile:
// its files were never taken, and an unattended watcher must not leave them
// out of the gallery until it is restarted.
void HotFolder::run_batch(Batch batch, BatchKind kind) {
  if (m_failed) {
    batch.present.merge(m_failed->present);
    batch.gone.merge(m_failed->gone);
    m_failed.reset();
  }
  const auto present = listed(batch.present);
  const auto gone = listed(batch.gone);
  hold_back(gone);
  // A catch-up reads no file; one that carries a failed batch's files is a
  // batch like any other.
  if (kind == BatchKind::arrivals || !present.empty()) {
    tell(Level::info,
         gone.empty() ? fmt::format("watch: {} file(s) complete; processing", present.size())
                      : fmt::format("watch: {} file(s) complete, {} deleted; processing", present.size(), gone.size()),
         {{"event", "watch.batch"}, {"files", present.size()}, {"paths", strings(present)}, {"gone", strings(gone)}});
  }
  try {
    const int code = run_batch(present, gone);
    m_retry_after = k_first_retry;
    tell(Level::none, "", {{"event", kind == BatchKind::arrivals ? "watch.idle" : "watch.caught_up"}, {"code", code}});
  } catch (const std::exception& e) {
    const auto now = m_parts.time.now();
    m_retry_at = now + m_retry_after;
    tell(Level::error,
         fmt::format("watch: the batch failed: {}; trying it again in {} s", e.what(), m_retry_after.count()),
         {{"event", "watch.batch_failed"},
          {"reason", e.what()},
          {"files", present.size()},
          {"retry_in_s", m_retry_after.count()}});
    m_retry_after = std::min<std::chrono::seconds>(m_retry_after * 2, k_longest_retry);
    m_failed = std::move(batch);
    if (std::string why; !m_catalog_lost && connection_lost(why)) lose_catalog(why, now);
  }
}

// A folder deleted and made again, seen by a batch before its first file came
// back, is empty: ingest takes it as an unmounted share and marks nothing
// missing. Its photos are remembered, so that once the folder has files again
// the ones that did not come back are gone after all.
void HotFolder::hold_back(const std::vector<fs::path>& gone) {
  for (const auto& path : gone) {
    std::error_code error;
    if (!fs::is_directory(path, error) || m_held.count(path)) continue;
    try {
      if (!bare_mount_point(m_config, catalog(), path)) continue;
      std::vector<fs::path> photos;
      for (const auto& image : catalog().images())
        if (image.status != catalog::ImageStatus::Missing && is_inside(m_config.in_project(image.path), path))
          photos.push_back(m_config.in_project(image.path));
      m_held.emplace(path, std::move(photos));
    } catch (const std::exception&) {
      // The catalog cannot be read now: neither can ingest, which then marks nothing.
    }
  }
}

// A held-back folder that is no longer empty (or no longer there) was not an
// unmounted share: its photos still absent go into the next batch.
void HotFolder::release_held(WatchClock::time_point now) {
  for (auto it = m_held.begin(); it != m_held.end();) {
    std::error_code error;
    const bool bare = fs::is_directory(it->first, error) && fs::is_empty(it->first, error) && !error;
    if (bare) {
      ++it;
      continue;
    }
    for (const auto& photo : it->second) {
      if (fs::exists(photo, error) || !catalogued(photo, false)) continue;
      m_gone.insert(photo);
      m_batch.add(photo, now);  // for the batch's timing only
    }
    it = m_held.erase(it);
  }
}

// Whether batches may run: the watcher lock is held. One lost with its
// connection is taken again at once if it is free; while the lock's server
// cannot be reached, files wait, looked at again after 1 s, 2, 4... up to
// k_longest_retry, rather than be processed by a watcher nobody sees.
bool HotFolder::keep_guard(WatchClock::time_point now) {
  auto& guard = m_parts.guard;
  if (!guard || m_taken_over) return !m_taken_over;
  if (m_guarded) {
    if (guard->still_held()) return true;
    m_guarded = false;
    m_guard_retry = k_first_retry;
    tell(Level::warning,
         fmt::format("watch: {}: the watcher lock was lost with its connection; taking it again", guard->where()),
         {{"event", "watch.lock_lost"}, {"catalog", guard->where()}});
  } else if (now < m_guard_retry_at) {
    return false;
  }
  const auto where = guard->where();
  try {
    auto lock = catalog().lock("watch", catalog::LockWait::no);
    if (lock->held()) {
      guard = std::move(lock);
      m_guarded = true;
      tell(Level::info, fmt::format("watch: {}: the watcher lock is held again; carrying on", where),
           {{"event", "watch.lock_retaken"}, {"catalog", where}});
      return true;
    }
    m_taken_over = true;
    tell(Level::error,
         fmt::format("watch: {}: another watcher took over while the lock was lost ({}); stopping", where,
                     lock->holder().empty() ? "holder unknown" : lock->holder()),
         {{"event", "watch.lock_taken_over"}, {"catalog", where}, {"holder", lock->holder()}});
    return false;
  } catch (const std::exception& e) {
    tell(Level::error,
         fmt::format("watch: cannot take the watcher lock again: {}; no batch runs until it is, next try in {} s",
                     e.what(), m_guard_retry.count()),
         {{"event", "watch.lock_unavailable"}, {"reason", e.what()}, {"retry_in_s", m_guard_retry.count()}});
    m_guard_retry_at = now + m_guard_retry;
    m_guard_retry = std::min<std::chrono::seconds>(m_guard_retry * 2, k_longest_retry);
    return false;
  }
}

// Whether the catalog's connection is gone, asked after a batch failed: a
// batch may also fail for a reason of its own (a disk full) on a connection
// that works, which the run's heartbeat, written on it, tells apart. Only a
// catalog that can be opened again is asked.
bool HotFolder::connection_lost(std::string& why) {
  if (!m_reconnection.possible()) return false;
  try {
    catalog().heartbeat(m_parts.run_id);
    return false;
  } catch (const std::exception& e) {
    why = e.what();
    return true;
  }
}

void HotFolder::lose_catalog(const std::string& reason, WatchClock::time_point now) {
  m_catalog_lost = true;
  const auto wait = std::chrono::duration_cast<std::chrono::seconds>(m_reconnection.wait());
  m_reconnect_at = now + wait;
  tell(Level::warning,
       fmt::format("watch: lost the catalog: {}; connecting again in {} s (no batch runs until then)", reason,
                   wait.count()),
       {{"event", "watch.catalog_lost"}, {"reason", reason}, {"retry_in_s", wait.count()}});
}

// Whether the catalog can be used: its connection was not lost, or is made
// again now (after 1 s, 2, 4... up to k_longest_retry). Made again, the batch
// that failed with it is tried at once: it does the work its claims, handed
// back, left pending.
bool HotFolder::keep_catalog(WatchClock::time_point now) {
  if (!m_catalog_lost) return true;
  if (now < m_reconnect_at) return false;
  try {
    m_reconnection.attempt();
  } catch (const catalog::CatalogError& e) {
    const auto wait = std::chrono::duration_cast<std::chrono::seconds>(m_reconnection.wait());
    m_reconnect_at = now + wait;
    tell(Level::detail, fmt::format("watch: cannot connect yet: {}; next try in {} s", e.what(), wait.count()),
         {{"event", "watch.reconnect_failed"}, {"reason", e.what()}, {"retry_in_s", wait.count()}});
    return false;
  }
  m_catalog_lost = false;
  m_retry_at = now;
  m_retry_after = k_first_retry;
  m_heartbeat_at = now;
  m_heartbeat_retry = k_first_retry;
  const auto& where = m_parts.catalog_label;
  tell(Level::info,
       fmt::format("watch: {}{}connected to the catalog again after losing it; carrying on", where,
                   where.empty() ? "" : ": "),
       {{"event", "watch.reconnected"}, {"catalog", where}});
  return true;
}

void HotFolder::keep_heartbeat(WatchClock::time_point now) {
  if (now < m_heartbeat_at || m_catalog_lost) return;
  keep_guard(now);
  try {
    catalog().heartbeat(m_parts.run_id);
    m_heartbeat_retry = k_first_retry;
    m_heartbeat_at = now + k_heartbeat;
  } catch (const std::exception& e) {
    if (m_reconnection.possible()) {
      lose_catalog(e.what(), now);
      return;
    }
    // `status` shows the run's heartbeat getting old; the watcher goes on.
    tell(Level::warning, fmt::format("watch: cannot record the heartbeat: {}", e.what()));
    m_heartbeat_at = now + m_heartbeat_retry;
    m_heartbeat_retry = std::min<std::chrono::seconds>(m_heartbeat_retry * 2, k_longest_retry);
  }
}

void HotFolder::reload() {
  try {
    auto fresh = m_parts.reload();
    m_config = std::move(fresh);
    m_tracker = StabilityTracker(std::chrono::milliseconds(m_config.watch.stable_ms));
    m_seen.clear();
    start_watching(m_parts.time.now());
    tell(Level::info,
         fmt::format("watch: configuration reloaded from {}", m_config.config_file.empty()
                                                                  ? std::string("the built-in defaults")
                                                                  : m_config.config_file.string()),
         {{"event", "watch.reloaded"}, {"config", m_config.config_file.string()}});
  } catch (const config::ConfigError& e) {
    tell(Level::error, fmt::format("{} (configuration not reloaded; the previous one stays in use)", e.what()),
         {{"event", "watch.reload_failed"}, {"message", e.what()}});
  }
}

void HotFolder::start() {
  const auto now = m_parts.time.now();
  m_heartbeat_at = now + k_heartbeat;
  start_watching(now);
  std::vector<fs::path> names;
  for (const auto& root : m_roots) names.push_back(root.path);
  std::vector<std::string> shown;
  for (const auto& name : names) shown.push_back(name.string());
  tell(Level::info,
       fmt::format("watch: watching {} ({}); stop with Ctrl-C", fmt::join(shown, ", "),
                   m_watcher ? std::string("inotify") : fmt::format("polling every {} s", poll_seconds())),
       {{"event", "watch.started"},
        {"paths", strings(names)},
        {"mode", m_watcher ? "inotify" : "poll"},
        {"stable_ms", m_config.watch.stable_ms},
        {"poll_seconds", poll_seconds()}});
}

void HotFolder::step() {
  auto& time = m_parts.time;
  // A batch due while the catalog is lost waits for it without spinning.
  auto timeout = m_catalog_lost ? k_watch_tick
                                : std::min<std::chrono::milliseconds>(k_watch_tick, m_batch.until_due(time.now()));
  if (m_failed && !m_catalog_lost)
    timeout = std::min(timeout, std::max(0ms, std::chrono::ceil<std::chrono::milliseconds>(m_retry_at - time.now())));
  if (m_watcher) {
    for (const auto& event : m_watcher->wait(timeout)) handle(event, time.now());
  } else {
    time.sleep(k_watch_tick);
  }
  auto now = time.now();
  if (now >= m_next_poll) {
    std::vector<fs::path> scanned;
    for (auto& root : m_roots) {
      if (root.lost || !polled(root)) continue;
      if (!there(root.path)) {
        lose(root, now);
      } else {
        rescan(root, now);
        scanned.push_back(root.path);
      }
    }
    // A look that finds nothing is still news to a test or a monitor: it
    // says that whatever a look would take has been taken.
    if (!scanned.empty()) tell(Level::none, "", {{"event", "watch.polled"}, {"paths", strings(scanned)}});
    // From the end of the scans: a tree that takes longer to scan than the
    // interval must not be scanned back to back.
    m_next_poll = time.now() + poll_interval();
  }
  look_for_lost_roots(now);
  const bool guarded =
      keep_catalog(now) && ((!m_catch_up && !m_batch.due(now) && !(m_failed && now >= m_retry_at)) || keep_guard(now));
  if (m_catch_up && !m_parts.stop && guarded) catch_up();
  release_held(now);
  check_pending(now);
  if (!m_parts.stop && guarded) {
    if (m_batch.due(now)) {
      process(m_batch.take());
    } else if (m_failed && now >= m_retry_at) {
      run_batch({}, BatchKind::arrivals);
    }
  }
  keep_heartbeat(time.now());
}

int HotFolder::run(std::atomic<bool>& reload_requested) {
  start();
  while (!m_parts.stop && !m_taken_over) {
    if (reload_requested.exchange(false)) reload();
    step();
  }
  // The other watcher processes what is complete: this one ends at once.
  if (m_taken_over) return 1;
  return drain();
}

int HotFolder::drain() {
  const auto now = m_parts.time.now();
  // One more attempt, without waiting, for the files complete.
  if (m_catalog_lost) {
    m_reconnect_at = now;
    keep_catalog(now);
  }
  if (m_watcher)
    for (const auto& event : m_watcher->wait(0ms)) handle(event, now);
  take_complete(now);
  const auto left = m_tracker.pending().size();
  if (!m_batch.empty() || m_failed) {
    tell(Level::info, fmt::format("watch: stopping; finishing the {} complete file(s) first",
                                  m_batch.size() + (m_failed ? m_failed->present.size() : 0)));
    if (!process(m_batch.take()) && m_failed) run_batch({}, BatchKind::arrivals);
  }
  if (left > 0)
    tell(Level::info, fmt::format("watch: {} file(s) still being written were left for the next run", left));
  tell(Level::none, "", {{"event", "watch.stopped"}, {"left", left}});
  return k_interrupted;
}

int HotFolder::run_once() {
  set_roots();
  std::vector<fs::path> roots;
  for (const auto& root : m_roots) {
    if (there(root.path))
      roots.push_back(root.path);
    else
      tell(Level::warning, fmt::format("watch: {}: not there (deleted or unmounted); skipped", root.path.string()));
  }
  if (roots.empty()) return 0;
  auto look = [&](std::map<fs::path, FileState>& into) {
    for (const auto& file : scan_sources(m_config, roots).files)
      if (file.problem.empty() && wanted(file.absolute)) into[file.absolute] = {file.size, file.mtime_ns};
  };
  std::map<fs::path, FileState> first;
  look(first);
  auto& time = m_parts.time;
  const auto until = time.now() + std::chrono::milliseconds(m_config.watch.stable_ms);
  while (!m_parts.stop && time.now() < until)
    time.sleep(std::min<std::chrono::milliseconds>(k_watch_tick,
                                                   std::chrono::ceil<std::chrono::milliseconds>(until - time.now())));
  if (m_parts.stop) return k_interrupted;
  std::map<fs::path, FileState> second;
  look(second);
  std::vector<fs::path> complete;
  std::size_t growing = 0;
  for (const auto& [file, state] : second) {
    auto before = first.find(file);
    if (before != first.end() && before->second == state)
      complete.push_back(file);
    else
      ++growing;
  }
  if (growing > 0)
    tell(Level::info, fmt::format("watch: {} file(s) still being written; left for the next run", growing));
  tell(Level::none, "",
       {{"event", "watch.batch"}, {"files", complete.size()}, {"paths", strings(complete)}, {"gone", strings(roots)}});
  // Only the files seen complete are read: one whose copy starts after the
  // second look is left for the next run. What the catalog has under the
  // roots and is no longer there is marked missing, as `run` would.
  const int code = run_batch(complete, roots);
  tell(Level::none, "", {{"event", "watch.idle"}, {"code", code}});
  return code;
}

}  // namespace wsp::pipeline
