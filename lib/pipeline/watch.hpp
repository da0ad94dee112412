#pragma once
// The hot folder's senses: which names are still being written (temporary
// names), when a file is complete (closed, renamed into place, or unchanged for
// a while), how bursts become batches, and the inotify watches that see new
// files and new subfolders. Time is always passed in, so that tests can use a
// fake clock; nothing here runs a stage.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace wsp::pipeline {

using WatchClock = std::chrono::steady_clock;

// Names that writers use while a file is incomplete: dotfiles, `.part`, `.tmp`,
// `.crdownload`, a `~` suffix. They are taken only once renamed.
bool is_temporary_name(const std::filesystem::path& file);

// What a stat says about a file that is being written.
struct FileState {
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileState&) const = default;
};

// The stat of `file`; false when it is gone or not a regular file.
bool stat_file(const std::filesystem::path& file, FileState& state);

// Whether `file` is a JPEG or PNG stream that ends before its end marker, or
// is empty: what a writer that opens, writes and closes a file in several
// rounds (SMB clients, `rsync --inplace`, tethering tools) leaves between two
// rounds. Other formats are never taken as cut short here.
bool looks_cut_short(const std::filesystem::path& file);

// Decides when a file is completely written. A file closed after writing or
// renamed into place is complete at once; any other is complete when its size
// and mtime have not changed for `stable_for` (writers over SMB/NFS, or that
// never close). A file closed but cut short (`cut_short`, see take_complete)
// is complete only once unchanged for `stable_for` too: its writer may open it
// again for the next round.
class StabilityTracker {
public:
  explicit StabilityTracker(std::chrono::milliseconds stable_for) : m_stable_for(stable_for) {}

  // The file was seen (created, modified, found by a scan) in this state.
  void observe(const std::filesystem::path& file, const FileState& state, WatchClock::time_point now);
  // Its writer closed it or renamed it into place.
  void completed(const std::filesystem::path& file, WatchClock::time_point now);
  void forget(const std::filesystem::path& file);
  // Removes and returns the files now complete, in name order. A file
  // complete only by its close, for which `cut_short` says yes, is kept and
  // waits to be unchanged for the whole wait instead.
  std::vector<std::filesystem::path> take_complete(
      WatchClock::time_point now, const std::function<bool(const std::filesystem::path&)>& cut_short = {});
  // The files still being watched for stability (to be stat'ed again).
  std::vector<std::filesystem::path> pending() const;
  bool empty() const { return m_files.empty(); }

private:
  struct Tracked {
    FileState state;
    WatchClock::time_point changed;
    bool complete = false;
  };
  std::chrono::milliseconds m_stable_for;
  std::map<std::filesystem::path, Tracked> m_files;
};

// Collects complete files into one batch: the batch is due once no file has
// joined it for `quiet` (a burst is over), or once it is `longest` old (a
// steady stream still gets processed).
class BatchDebouncer {
public:
  BatchDebouncer(std::chrono::milliseconds quiet, std::chrono::milliseconds longest)
      : m_quiet(quiet), m_longest(longest) {}
  void add(const std::filesystem::path& file, WatchClock::time_point now);
  void remove(const std::filesystem::path& file);
  bool due(WatchClock::time_point now) const;
  // How long from `now` until due() turns true (zero once it is; `longest`
  // when the batch is empty), so that a waiting loop wakes up on time.
  std::chrono::milliseconds until_due(WatchClock::time_point now) const;
  // Removes and returns the batch, in name order.
  std::vector<std::filesystem::path> take();
  bool empty() const { return m_files.empty(); }
  std::size_t size() const { return m_files.size(); }

private:
  std::chrono::milliseconds m_quiet;
  std::chrono::milliseconds m_longest;
  std::vector<std::filesystem::path> m_files;
  WatchClock::time_point m_first;
  WatchClock::time_point m_last;
};

// What the watches saw.
struct FolderEvent {
  enum class Kind {
    Changed,    // created, or found in a new folder: may still be incomplete
    Completed,  // closed after writing, or renamed into place
    Removed,    // deleted or renamed away
    RootLost,   // a watched root disappeared (deleted, unmounted)
    Overflow,   // the kernel dropped events: rescan
    Unwatched,  // a folder could not be watched (`reason`): look at it another way
  };
  Kind kind;
  std::filesystem::path path = {};
  bool folder = false;     // Removed: the path was a folder
  std::string reason = {}; // Unwatched: why
};

// Where the hot folder's events come from: inotify (FolderWatcher), or a
// test's script.
struct FolderEvents {
  virtual ~FolderEvents() = default;
  // Watches `root` (and its subfolders when `recursive`); false with `error`
  // set when the root cannot be watched.
  virtual bool add_root(const std::filesystem::path& root, bool recursive, std::string& error) = 0;
  // Waits up to `timeout` for events (returns early on a signal).
  virtual std::vector<FolderEvent> wait(std::chrono::milliseconds timeout) = 0;
};

// Recursive inotify watches. Folders created (or moved in) below a watched
// folder are watched at once, and the files already inside them are reported
// as Changed, since they may have been written before the watch existed.
class FolderWatcher final : public FolderEvents {
public:
  // `enter` says whether a folder below a root is to be watched.
  explicit FolderWatcher(std::function<bool(const std::filesystem::path&)> enter);
  ~FolderWatcher() override;
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  // Watches `root` (and its subfolders when `recursive`); false with `error`
  // set when the root cannot be watched. A subfolder that cannot be watched
  // (the kernel's limit of watches reached) is reported by the next wait().
  bool add_root(const std::filesystem::path& root, bool recursive, std::string& error) override;
  bool watching(const std::filesystem::path& root) const;
  std::vector<FolderEvent> wait(std::chrono::milliseconds timeout) override;

private:
  // Watches `folder` (and below when `recursive`); the files found in it are
  // reported into `found` (when given) as `kind`.
  void add_tree(const std::filesystem::path& folder, bool recursive, std::vector<FolderEvent>* found,
                FolderEvent::Kind kind = FolderEvent::Kind::Changed);
  // Stops watching `folder` and every folder below it.
  void drop_tree(const std::filesystem::path& folder);

  int m_fd = -1;
  std::function<bool(const std::filesystem::path&)> m_enter;
  std::map<int, std::filesystem::path> m_folders;       // watch descriptor -> folder
  std::map<std::filesystem::path, bool> m_roots;        // root -> recursive
  std::vector<FolderEvent> m_refused;                   // Unwatched, for the next wait()
};

}  // namespace wsp::pipeline
