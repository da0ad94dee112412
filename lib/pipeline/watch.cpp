#include "pipeline/watch.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <poll.h>
#include <stdexcept>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "imaging/probe.hpp"
#include "pipeline/scan.hpp"
#include "util/files.hpp"

namespace wsp::pipeline {
namespace fs = std::filesystem;

bool is_temporary_name(const fs::path& file) {
  const auto name = file.filename().string();
  if (name.empty() || name.front() == '.' || name.back() == '~') return true;
  auto ends_with = [&](std::string_view suffix) {
    if (name.size() < suffix.size()) return false;
    auto tail = name.substr(name.size() - suffix.size());
    return std::equal(tail.begin(), tail.end(), suffix.begin(), suffix.end(),
                      [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  };
  return ends_with(".part") || ends_with(".tmp") || ends_with(".crdownload");
}

bool stat_file(const fs::path& file, FileState& state) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  state.size = st.st_size;
  state.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

bool looks_cut_short(const fs::path& file) {
  std::error_code error;
  if (fs::file_size(file, error) == 0 && !error) return true;
  auto mapped = util::MappedFile::open(file);
  if (!mapped) return false;  // unreadable: ingest says why
  const auto bytes = mapped->bytes();
  // The format by its signature: only the two whose end the probe can see.
  static constexpr std::uint8_t k_jpeg[] = {0xFF, 0xD8, 0xFF};
  static constexpr std::uint8_t k_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  auto starts_with = [&](std::span<const std::uint8_t> signature) {
    return bytes.size() >= signature.size() && std::equal(signature.begin(), signature.end(), bytes.begin());
  };
  if (starts_with(k_jpeg)) return !imaging::looks_complete(bytes, "jpeg");
  if (starts_with(k_png)) return !imaging::looks_complete(bytes, "png");
  return false;
}

void StabilityTracker::observe(const fs::path& file, const FileState& state, WatchClock::time_point now) {
  auto [it, inserted] = m_files.try_emplace(file, Tracked{state, now, false});
  if (!inserted && !(it->second.state == state)) {
    // Written to again: whatever completeness was known no longer holds.
    it->second = Tracked{state, now, false};
  }
}

void StabilityTracker::completed(const fs::path& file, WatchClock::time_point now) {
  auto& tracked = m_files[file];
  tracked.changed = now;
  tracked.complete = true;
}

void StabilityTracker::forget(const fs::path& file) { m_files.erase(file); }

std::vector<fs::path> StabilityTracker::take_complete(WatchClock::time_point now,
                                                     const std::function<bool(const fs::path&)>& cut_short) {
  std::vector<fs::path> complete;
  for (auto it = m_files.begin(); it != m_files.end();) {
    const bool stable = now - it->second.changed >= m_stable_for;
    if (!stable && it->second.complete && cut_short && cut_short(it->first)) {
      // Closed between two rounds of its writer: waits like a file never closed.
      it->second.complete = false;
    }
    if (it->second.complete || stable) {
      complete.push_back(it->first);
      it = m_files.erase(it);
    } else {
      ++it;
    }
  }
  return complete;
}

std::vector<fs::path> StabilityTracker::pending() const {
  std::vector<fs::path> files;
  for (const auto& [file, tracked] : m_files)
    if (!tracked.complete) files.push_back(file);
  return files;
}

void BatchDebouncer::add(const fs::path& file, WatchClock::time_point now) {
  if (m_files.empty()) m_first = now;
  m_last = now;
  if (std::find(m_files.begin(), m_files.end(), file) == m_files.end()) m_files.push_back(file);
}

void BatchDebouncer::remove(const fs::path& file) { std::erase(m_files, file); }

bool BatchDebouncer::due(WatchClock::time_point now) const {
  return !m_files.empty() && (now - m_last >= m_quiet || now - m_first >= m_longest);
}

std::chrono::milliseconds BatchDebouncer::until_due(WatchClock::time_point now) const {
  if (m_files.empty()) return m_longest;
  const auto due_at = std::min(m_last + m_quiet, m_first + m_longest);
  if (due_at <= now) return std::chrono::milliseconds(0);
  // Rounded up: waking a moment early would find the batch not yet due.
  return std::chrono::ceil<std::chrono::milliseconds>(due_at - now);
}

std::vector<fs::path> BatchDebouncer::take() {
  auto files = std::move(m_files);
  m_files.clear();
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

// No IN_MODIFY: it comes once per write() of every copy in progress, floods the
// queue while a batch is processed, and adds nothing: a file seen created is
// stat'ed on every tick until it is closed or stable.
constexpr std::uint32_t k_folder_mask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                        IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

}  // namespace

FolderWatcher::FolderWatcher(std::function<bool(const fs::path&)> enter) : m_enter(std::move(enter)) {
  m_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (m_fd < 0) throw std::runtime_error(fmt::format("cannot start inotify: {}", util::last_os_error()));
}

FolderWatcher::~FolderWatcher() {
  if (m_fd >= 0) ::close(m_fd);
}

namespace {

// Why inotify_add_watch failed, in words that say what to do about it.
std::string watch_refusal() {
  if (errno == ENOSPC) return "the kernel's limit of inotify watches is reached (sysctl fs.inotify.max_user_watches)";
  return util::last_os_error();
}

}  // namespace

bool FolderWatcher::add_root(const fs::path& given, bool recursive, std::string& error) {
  // "shoot/" and "shoot" are one root.
  const fs::path root = given.has_filename() ? given : given.parent_path();
  int wd = ::inotify_add_watch(m_fd, root.c_str(), k_folder_mask);
  if (wd < 0) {
    error = watch_refusal();
    return false;
  }
  m_roots[root] = recursive;
  m_folders[wd] = root;
  if (recursive) {
    std::error_code ec;
    for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && !it->is_symlink(ec) && m_enter(it->path())) add_tree(it->path(), true, nullptr);
  }
  return true;
}

bool FolderWatcher::watching(const fs::path& root) const {
  if (!m_roots.count(root)) return false;
  return std::any_of(m_folders.begin(), m_folders.end(), [&](const auto& entry) { return entry.second == root; });
}

void FolderWatcher::add_tree(const fs::path& folder, bool recursive, std::vector<FolderEvent>* found,
                             FolderEvent::Kind kind) {
  int wd = ::inotify_add_watch(m_fd, folder.c_str(), k_folder_mask);
  if (wd < 0) {
    // Gone again is nothing to report; anything else leaves the folder unseen.
    if (errno != ENOENT && errno != ENOTDIR)
      m_refused.push_back({.kind = FolderEvent::Kind::Unwatched, .path = folder, .reason = watch_refusal()});
    return;
  }
  m_folders[wd] = folder;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_symlink(ec)) {
      if (found && it->is_regular_file(ec)) found->push_back({.kind = kind, .path = it->path()});
    } else if (it->is_directory(ec)) {
      if (recursive && m_enter(it->path())) add_tree(it->path(), true, found, kind);
    } else if (found && it->is_regular_file(ec)) {
      found->push_back({.kind = kind, .path = it->path()});
    }
  }
}

void FolderWatcher::drop_tree(const fs::path& folder) {
  for (auto it = m_folders.begin(); it != m_folders.end();) {
    if (is_inside(it->second, folder)) {
      ::inotify_rm_watch(m_fd, it->first);
      it = m_folders.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<FolderEvent> FolderWatcher::wait(std::chrono::milliseconds timeout) {
  std::vector<FolderEvent> events;
  pollfd pfd{m_fd, POLLIN, 0};
  // Folders refused since the last call are reported without waiting.
  const int wait_ms = m_refused.empty() ? static_cast<int>(timeout.count()) : 0;
  alignas(inotify_event) char buffer[64 * 1024];
  const bool ready = ::poll(&pfd, 1, wait_ms) > 0;
  // Once woken, everything queued is read (the descriptor does not block).
  while (ready) {
    ssize_t length = ::read(m_fd, buffer, sizeof(buffer));
    if (length <= 0) break;
    for (char* at = buffer; at < buffer + length;) {
      auto* event = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        events.push_back({.kind = FolderEvent::Kind::Overflow});
        continue;
      }
      auto folder_it = m_folders.find(event->wd);
      if (folder_it == m_folders.end()) continue;
      const fs::path folder = folder_it->second;
      const bool is_root = m_roots.count(folder) > 0;
      if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
        if (is_root) {
          // Everything below goes with it; the caller waits for the root to return.
          drop_tree(folder);
          m_roots.erase(folder);
          events.push_back({.kind = FolderEvent::Kind::RootLost, .path = folder});
        } else if (event->mask & IN_IGNORED) {
          m_folders.erase(event->wd);  // deleted: the kernel has dropped the watch
        }
        // A subfolder's own move is handled where its parent reports it
        // (IN_MOVED_FROM, then IN_MOVED_TO for a rename inside the root).
        continue;
      }
      if (event->len == 0) continue;
      const fs::path path = folder / event->name;
      if (event->mask & IN_ISDIR) {
        // Moved away or renamed: its watches named the old paths. A rename
        // inside the root is watched again, under the new names, just below.
        if (event->mask & IN_MOVED_FROM) drop_tree(path);
        if (event->mask & (IN_MOVED_FROM | IN_DELETE))
          events.push_back({.kind = FolderEvent::Kind::Removed, .path = path, .folder = true});
        if (event->mask & (IN_CREATE | IN_MOVED_TO)) {
          auto root = std::find_if(m_roots.begin(), m_roots.end(),
                                   [&](const auto& entry) { return is_inside(path, entry.first); });
          // A folder created may still be filling: its files wait to be
          // complete. One moved in was complete where it came from.
          const auto kind = (event->mask & IN_MOVED_TO) ? FolderEvent::Kind::Completed : FolderEvent::Kind::Changed;
          if (root != m_roots.end() && root->second && m_enter(path)) add_tree(path, true, &events, kind);
        }
        continue;
      }
      if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        events.push_back({.kind = FolderEvent::Kind::Completed, .path = path});
      } else if (event->mask & (IN_DELETE | IN_MOVED_FROM)) {
        events.push_back({.kind = FolderEvent::Kind::Removed, .path = path});
      } else if (event->mask & IN_CREATE) {
        events.push_back({.kind = FolderEvent::Kind::Changed, .path = path});
      }
    }
  }
  std::move(m_refused.begin(), m_refused.end(), std::back_inserter(events));
  m_refused.clear();
  return events;
}

}  // namespace wsp::pipeline
