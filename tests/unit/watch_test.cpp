#include "temp_dir.hpp"
#include "pipeline/watch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pipeline/scan.hpp"

namespace wsp::pipeline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The fake clock: every test starts at the same instant and moves it by hand.
const WatchClock::time_point k_start{std::chrono::seconds(1000)};

TEST(TemporaryName, WritersScratchNamesAreTemporary) {
  for (const char* name : {"IMG_0001.JPG.part", "IMG_0001.jpg.tmp", "IMG_0001.JPG~", ".IMG_0001.JPG",
                           "IMG_0001.jpg.crdownload", "IMG_0001.JPG.PART", ".~lock.jpg"})
    EXPECT_TRUE(is_temporary_name(fs::path("/shoot") / name)) << name;
}

TEST(TemporaryName, FinishedPhotosAreNot) {
  for (const char* name : {"IMG_0001.JPG", "part.jpg", "tmp.heic", "a.partial.png", "x.jpg"})
    EXPECT_FALSE(is_temporary_name(fs::path("/shoot/sub") / name)) << name;
}

TEST(StabilityTracker, AFileIsCompleteOnlyAfterStableForTheWholeWait) {
  StabilityTracker tracker(300ms);
  tracker.observe("/s/a.jpg", {100, 1}, k_start);
  EXPECT_TRUE(tracker.take_complete(k_start + 299ms).empty());
  EXPECT_EQ(tracker.take_complete(k_start + 300ms), std::vector<fs::path>{"/s/a.jpg"});
  EXPECT_TRUE(tracker.empty());
}

TEST(StabilityTracker, GrowingRestartsTheWait) {
  StabilityTracker tracker(300ms);
  auto now = k_start;
  // A slow writer: a chunk every 200 ms, each shorter than the wait but
  // together far longer than it.
  for (int chunk = 1; chunk <= 10; ++chunk) {
    tracker.observe("/s/slow.jpg", {chunk * 1000, chunk}, now);
    now += 200ms;
    EXPECT_TRUE(tracker.take_complete(now).empty()) << "taken after chunk " << chunk;
  }
  EXPECT_EQ(tracker.pending(), std::vector<fs::path>{"/s/slow.jpg"});
  // Unchanged looks do not restart it.
  tracker.observe("/s/slow.jpg", {10'000, 10}, now);
  EXPECT_EQ(tracker.take_complete(now + 100ms), std::vector<fs::path>{"/s/slow.jpg"});
}

TEST(StabilityTracker, ATouchWithTheSameSizeRestartsTheWait) {
  StabilityTracker tracker(300ms);
  tracker.observe("/s/a.jpg", {100, 1}, k_start);
  tracker.observe("/s/a.jpg", {100, 2}, k_start + 250ms);
  EXPECT_TRUE(tracker.take_complete(k_start + 400ms).empty());
  EXPECT_FALSE(tracker.take_complete(k_start + 550ms).empty());
}

TEST(StabilityTracker, ClosedOrRenamedIsCompleteAtOnce) {
  StabilityTracker tracker(2000ms);
  tracker.observe("/s/b.jpg", {5, 1}, k_start);
  tracker.observe("/s/a.jpg", {5, 1}, k_start);
  tracker.completed("/s/a.jpg", k_start + 10ms);
  EXPECT_EQ(tracker.take_complete(k_start + 10ms), std::vector<fs::path>{"/s/a.jpg"});
  EXPECT_EQ(tracker.pending(), std::vector<fs::path>{"/s/b.jpg"});
}

TEST(StabilityTracker, WrittenAgainAfterCloseWaitsAgain) {
  StabilityTracker tracker(300ms);
  tracker.completed("/s/a.jpg", k_start);
  tracker.observe("/s/a.jpg", {7, 7}, k_start + 1ms);
  EXPECT_TRUE(tracker.take_complete(k_start + 2ms).empty());
}

TEST(StabilityTracker, ForgottenFilesAreNeverTaken) {
  StabilityTracker tracker(300ms);
  tracker.observe("/s/gone.jpg", {1, 1}, k_start);
  tracker.forget("/s/gone.jpg");
  EXPECT_TRUE(tracker.take_complete(k_start + 1s).empty());
}

TEST(BatchDebouncer, ABurstBecomesOneBatchOnceQuiet) {
  BatchDebouncer batch(300ms, 5s);
  auto now = k_start;
  for (int i = 0; i < 100; ++i) {
    batch.add(fs::path("/s") / ("IMG_" + std::to_string(1000 + i) + ".JPG"), now);
    now += 20ms;
    EXPECT_FALSE(batch.due(now)) << "due inside the burst at file " << i;
  }
  EXPECT_TRUE(batch.due(now + 300ms));
  auto files = batch.take();
  EXPECT_EQ(files.size(), 100u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_TRUE(batch.empty());
  EXPECT_FALSE(batch.due(now + 10s));
}

TEST(BatchDebouncer, ASingleFileIsDueAfterTheQuietTime) {
  BatchDebouncer batch(300ms, 5s);
  batch.add("/s/a.jpg", k_start);
  EXPECT_FALSE(batch.due(k_start + 299ms));
  EXPECT_TRUE(batch.due(k_start + 300ms));
}

TEST(BatchDebouncer, SaysHowLongUntilTheBatchIsDue) {
  BatchDebouncer batch(100ms, 1s);
  EXPECT_EQ(batch.until_due(k_start), 1s) << "empty";
  batch.add("/s/a.jpg", k_start);
  EXPECT_EQ(batch.until_due(k_start + 30ms), 70ms);
  EXPECT_FALSE(batch.due(k_start + 30ms + 69ms));
  EXPECT_TRUE(batch.due(k_start + 30ms + 70ms));
  EXPECT_EQ(batch.until_due(k_start + 250ms), 0ms);
  // A stream: the longest wait bounds it even while files keep joining.
  for (auto at = 50ms; at < 1s; at += 50ms) batch.add(fs::path("/s") / std::to_string(at.count()), k_start + at);
  EXPECT_EQ(batch.until_due(k_start + 960ms), 40ms);
}

TEST(BatchDebouncer, ASteadyStreamIsCutAtTheLongestWait) {
  BatchDebouncer batch(300ms, 1s);
  auto now = k_start;
  int added = 0;
  while (!batch.due(now)) {
    batch.add(fs::path("/s") / std::to_string(added++), now);
    now += 100ms;
    ASSERT_LT(added, 100) << "never due";
  }
  EXPECT_LE(now - k_start, 1100ms);
}

TEST(BatchDebouncer, TheSameFileTwiceIsOneEntryAndRemovedFilesLeave) {
  BatchDebouncer batch(300ms, 5s);
  batch.add("/s/a.jpg", k_start);
  batch.add("/s/a.jpg", k_start + 1ms);
  batch.add("/s/b.jpg", k_start + 2ms);
  batch.remove("/s/b.jpg");
  EXPECT_EQ(batch.take(), std::vector<fs::path>{"/s/a.jpg"});
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

// Waits up to 3 s for an event of `kind` about `file`.
bool saw(FolderWatcher& watcher, FolderEvent::Kind kind, const fs::path& file) {
  const auto until = WatchClock::now() + 3s;
  while (WatchClock::now() < until)
    for (const auto& event : watcher.wait(100ms))
      if (event.kind == kind && event.path == file) return true;
  return false;
}

TEST(FolderWatcher, NewSubfoldersAreWatchedAndTheirFilesReported) {
  testing::TempDir temp;
  FolderWatcher watcher([](const fs::path& folder) { return folder.filename() != ".wsportfolio"; });
  std::string error;
  // Given with a trailing slash, as a source of "./" is: the same root.
  ASSERT_TRUE(watcher.add_root(temp.path() / "", true, error)) << error;
  EXPECT_TRUE(watcher.watching(temp.path()));

  // A file written before the new folder's watch exists is still reported.
  fs::create_directories(temp.path() / "ceremony" / "cam1");
  write_file(temp.path() / "ceremony" / "cam1" / "early.jpg", "x");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Changed, temp.path() / "ceremony" / "cam1" / "early.jpg"));
  // And the new folders are watched from then on: writes in them arrive as completed.
  write_file(temp.path() / "ceremony" / "cam1" / "later.jpg", "y");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Completed, temp.path() / "ceremony" / "cam1" / "later.jpg"));
  fs::rename(temp.path() / "ceremony" / "cam1" / "later.jpg", temp.path() / "ceremony" / "moved.jpg");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Completed, temp.path() / "ceremony" / "moved.jpg"));
  fs::remove(temp.path() / "ceremony" / "moved.jpg");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Removed, temp.path() / "ceremony" / "moved.jpg"));
}

// "New Folder" renamed to "ceremony" inside the root: the renamed folder (and
// the one inside it) are still watched under their new names; a folder moved
// out of the root is no longer reported.
TEST(FolderWatcher, ARenamedSubfolderStaysWatchedUnderItsNewName) {
  testing::TempDir temp;
  testing::TempDir elsewhere;
  fs::create_directories(temp.path() / "New Folder" / "cam1");
  FolderWatcher watcher([](const fs::path&) { return true; });
  std::string error;
  ASSERT_TRUE(watcher.add_root(temp.path(), true, error)) << error;
  fs::rename(temp.path() / "New Folder", temp.path() / "ceremony");
  watcher.wait(std::chrono::milliseconds(200));
  write_file(temp.path() / "ceremony" / "a.jpg", "x");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Completed, temp.path() / "ceremony" / "a.jpg"));
  write_file(temp.path() / "ceremony" / "cam1" / "b.jpg", "y");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::Completed, temp.path() / "ceremony" / "cam1" / "b.jpg"));

  // Moved away: reported as a folder removed, so that its photos can be marked missing.
  fs::rename(temp.path() / "ceremony" / "cam1", elsewhere.path() / "cam1");
  bool folder_removed = false;
  for (const auto& event : watcher.wait(std::chrono::milliseconds(200)))
    if (event.kind == FolderEvent::Kind::Removed && event.path == temp.path() / "ceremony" / "cam1")
      folder_removed = event.folder;
  EXPECT_TRUE(folder_removed);
  write_file(elsewhere.path() / "cam1" / "c.jpg", "z");
  EXPECT_FALSE(saw(watcher, FolderEvent::Kind::Completed, temp.path() / "ceremony" / "cam1" / "c.jpg"))
      << "a folder moved away is reported under its old name";
}

// Two copies in progress, their writes interleaved: a handful of events each
// (created, then closed), not one per write, which would flood the kernel's
// queue while a batch is being processed.
TEST(FolderWatcher, WritesInProgressAreNotAnEventEach) {
  testing::TempDir temp;
  FolderWatcher watcher([](const fs::path&) { return true; });
  std::string error;
  ASSERT_TRUE(watcher.add_root(temp.path(), true, error)) << error;
  {
    std::ofstream a(temp.path() / "a.jpg", std::ios::binary), b(temp.path() / "b.jpg", std::ios::binary);
    for (int i = 0; i < 500; ++i) {
      a << 'x' << std::flush;
      b << 'y' << std::flush;
    }
  }
  std::size_t events = 0;
  for (int i = 0; i < 5; ++i) events += watcher.wait(std::chrono::milliseconds(50)).size();
  EXPECT_LE(events, 6u);
  EXPECT_GE(events, 4u) << "each file's creation and close";
}

TEST(FolderWatcher, ExcludedFoldersAreNotEntered) {
  testing::TempDir temp;
  FolderWatcher watcher([](const fs::path& folder) { return folder.filename() != ".wsportfolio"; });
  std::string error;
  ASSERT_TRUE(watcher.add_root(temp.path(), true, error)) << error;
  fs::create_directories(temp.path() / ".wsportfolio");
  // Give the watcher the folder's creation first, then write inside it.
  watcher.wait(200ms);
  write_file(temp.path() / ".wsportfolio" / "render.jpg", "x");
  write_file(temp.path() / "after.jpg", "x");
  bool inside = false, outside = false;
  const auto until = WatchClock::now() + 3s;
  while (!outside && WatchClock::now() < until)
    for (const auto& event : watcher.wait(100ms)) {
      if (event.path.parent_path() == temp.path() / ".wsportfolio") inside = true;
      if (event.path == temp.path() / "after.jpg") outside = true;
    }
  EXPECT_TRUE(outside);
  EXPECT_FALSE(inside);
}

TEST(FolderWatcher, ARemovedRootIsReported) {
  testing::TempDir temp;
  fs::create_directories(temp.path() / "share");
  FolderWatcher watcher([](const fs::path&) { return true; });
  std::string error;
  ASSERT_TRUE(watcher.add_root(temp.path() / "share", true, error)) << error;
  EXPECT_TRUE(watcher.watching(temp.path() / "share"));
  fs::remove_all(temp.path() / "share");
  EXPECT_TRUE(saw(watcher, FolderEvent::Kind::RootLost, temp.path() / "share"));
  EXPECT_FALSE(watcher.watching(temp.path() / "share"));
}

TEST(SourceFile, FollowsTheSourcesPatternsAndFences) {
  testing::TempDir temp;
  auto config = config::parse_config("version: 1\nsources:\n  - path: shoot\n    exclude: [\"**/_rejects/**\"]\n",
                                     "wsportfolio.yaml");
  config.project_dir = temp.path();
  config::apply_derived_defaults(config);
  const auto shoot = temp.path() / "shoot";
  EXPECT_TRUE(is_source_file(config, shoot / "IMG_1.JPG"));
  EXPECT_TRUE(is_source_file(config, shoot / "day" / "IMG_1.heic"));
  EXPECT_FALSE(is_source_file(config, shoot / "notes.txt"));
  EXPECT_FALSE(is_source_file(config, shoot / "_rejects" / "IMG_2.JPG"));
  EXPECT_FALSE(is_source_file(config, shoot / ".cache" / "IMG_3.JPG"));
  EXPECT_FALSE(is_source_file(config, temp.path() / "elsewhere" / "IMG_4.JPG"));
  EXPECT_FALSE(is_scanned_folder(config, temp.path() / ".wsportfolio" / "renders"));
  EXPECT_TRUE(is_scanned_folder(config, shoot / "day"));
}

}  // namespace
}  // namespace wsp::pipeline
