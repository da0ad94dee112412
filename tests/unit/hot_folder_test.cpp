#include "temp_dir.hpp"
#include "pipeline/hot_folder.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "pipeline/scan.hpp"

namespace wsp::pipeline {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const WatchClock::time_point k_start{std::chrono::seconds(1000)};

// The fake clock: it moves only when the hot folder waits or sleeps.
struct FakeTime final : WatchTime {
  WatchClock::time_point at = k_start;
  std::function<void()> on_sleep;
  WatchClock::time_point now() override { return at; }
  void sleep(std::chrono::milliseconds timeout) override {
    at += timeout;
    if (on_sleep) on_sleep();
  }
};

// Events a test puts in the queue, handed out at the next wait; an empty
// queue waits the whole timeout on the fake clock.
struct ScriptedEvents final : FolderEvents {
  ScriptedEvents(FakeTime& time, std::vector<FolderEvent>& queue) : m_time(time), m_queue(queue) {}
  bool add_root(const fs::path&, bool, std::string&) override { return true; }
  std::vector<FolderEvent> wait(std::chrono::milliseconds timeout) override {
    if (m_queue.empty()) {
      m_time.at += timeout;
      return {};
    }
    return std::exchange(m_queue, {});
  }

private:
  FakeTime& m_time;
  std::vector<FolderEvent>& m_queue;
};

// The batches the hot folder would run, and when; the first `failures` throw
// as a locked catalog does.
struct RecordedStages final : WatchStages {
  struct Batch {
    std::vector<fs::path> present;
    std::vector<fs::path> gone;
    WatchClock::time_point at;
    bool publish_only = false;
  };
  explicit RecordedStages(FakeTime& time) : m_time(time) {}
  int run(const config::Config&, const std::vector<fs::path>& present, const std::vector<fs::path>& gone) override {
    batches.push_back({present, gone, m_time.at});
    if (failures > 0) {
      --failures;
      throw catalog::CatalogError("catalog: database is locked");
    }
    return 0;
  }
  int publish(const config::Config&) override {
    batches.push_back({{}, {}, m_time.at, true});
    return 0;
  }
  std::vector<Batch> batches;
  int failures = 0;

private:
  FakeTime& m_time;
};

struct RecordedReport final : WatchReport {
  void notice(const WatchNotice& notice) override {
    if (notice.event.is_object()) events.push_back(notice.event);
    messages.push_back(notice.message);
  }
  std::size_t count(const std::string& name) const {
    return std::count_if(events.begin(), events.end(), [&](const nlohmann::ordered_json& e) { return e["event"] == name; });
  }
  std::vector<nlohmann::ordered_json> events;
  std::vector<std::string> messages;
};

class HotFolderTest : public ::testing::Test {
protected:
  void SetUp() override {
    m_project = m_dir.path() / "proj";
    fs::create_directories(m_project / ".wsportfolio");
    std::ofstream(m_project / "wsportfolio.yaml") << "version: 1\nwatch:\n  stable_ms: 300\n";
    m_config = config::load_config((m_project / "wsportfolio.yaml").string(), m_project);
    m_catalog = catalog::open_sqlite_catalog(m_project / ".wsportfolio" / "catalog.db");
    catalog::RunRecord run;
    run.id = "watch-run";
    run.command = "watch";
    m_catalog->begin_run(run);
  }

  HotFolder& hot_folder(int poll_seconds = -1, CatalogReconnection::Reopen reopen = {}) {
    HotFolderParts parts{
        .time = m_time,
        .stages = m_stages,
        .report = m_report,
        .catalog = *m_catalog,
        .run_id = "watch-run",
        .stop = m_stop,
        .watch = [this](std::function<bool(const fs::path&)>) -> std::unique_ptr<FolderEvents> {
          return std::make_unique<ScriptedEvents>(m_time, m_queue);
        },
        .reload = [this] { return config::load_config((m_project / "wsportfolio.yaml").string(), m_project); },
        .reopen = std::move(reopen),
        .catalog_label = "test catalog",
    };
    HotFolderOptions options{.narrowed = {}, .poll_seconds = poll_seconds};
    m_hot_folder = std::make_unique<HotFolder>(std::move(parts), std::move(options), m_config);
    return *m_hot_folder;
  }

  // A complete JPEG stream as far as the hot folder looks: start and end markers.
  fs::path photo(const std::string& name, const std::string& body = "pixels") {
    const auto file = m_project / name;
    std::ofstream(file, std::ios::binary) << "\xFF\xD8\xFF\xFE" << char(0) << char(2 + body.size()) << body
                                          << "\xFF\xD9";
    return file;
  }

  // Records `file` in the catalog as ingest leaves it.
  void catalogue(const fs::path& file) {
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    catalog::ImageRecord image;
    image.path = catalog_key(m_config, file);
    image.size = st.st_size;
    image.mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    image.inode = static_cast<std::int64_t>(st.st_ino);
    image.sha256 = image.path;
    m_catalog->write([&] { m_catalog->add_image(image); });
  }

  void closed(const fs::path& file) { m_queue.push_back({.kind = FolderEvent::Kind::Completed, .path = file}); }

  // Steps until `batches` batches have run or `limit` has passed on the fake clock.
  void step_until(std::size_t batches, std::chrono::milliseconds limit = 10s) {
    const auto until = m_time.at + limit;
    while (m_stages.batches.size() < batches && m_time.at < until) m_hot_folder->step();
  }
  void step_for(std::chrono::milliseconds span) {
    const auto until = m_time.at + span;
    while (m_time.at < until) m_hot_folder->step();
  }

  testing::TempDir m_dir;
  fs::path m_project;
  config::Config m_config;
  std::unique_ptr<catalog::Catalog> m_catalog;
  FakeTime m_time;
  std::vector<FolderEvent> m_queue;
  RecordedStages m_stages{m_time};
  RecordedReport m_report;
  std::atomic<bool> m_stop{false};
  std::unique_ptr<HotFolder> m_hot_folder;
};

// A batch leaves the backlog to a live process working on it and claims only
// work as urgent as its own photos; alone, or beside another watcher or a
// process gone silent, it takes whatever is due.
TEST_F(HotFolderTest, ABatchLeavesTheBacklogToARunWorkingOnIt) {
  auto alone = hot_folder_order(*m_catalog, "watch-run", catalog::k_priority_hot_folder);
  EXPECT_EQ(alone.queue_at, catalog::k_priority_hot_folder);
  EXPECT_EQ(alone.at_least, catalog::k_any_priority);

  const auto now = catalog::now_ms();
  m_catalog->begin_run({"other-watch", "watch --once", 2, "host", now, now, std::nullopt, std::nullopt});
  m_catalog->begin_run({"killed-run", "run", 3, "host", now - 600'000, now - 600'000, std::nullopt, std::nullopt});
  EXPECT_EQ(hot_folder_order(*m_catalog, "watch-run", catalog::k_priority_hot_folder).at_least,
            catalog::k_any_priority);

  m_catalog->begin_run({"backlog-run", "run", 4, "host", now, now, std::nullopt, std::nullopt});
  auto beside = hot_folder_order(*m_catalog, "watch-run", catalog::k_priority_rush);
  EXPECT_EQ(beside.queue_at, catalog::k_priority_rush);
  EXPECT_EQ(beside.at_least, catalog::k_priority_rush);

  m_catalog->finish_run("backlog-run", 0);
  EXPECT_EQ(hot_folder_order(*m_catalog, "watch-run", catalog::k_priority_hot_folder).at_least,
            catalog::k_any_priority);
}

TEST_F(HotFolderTest, ABurstOfCopiesIsOneBatch) {
  auto& watcher = hot_folder();
  watcher.start();
  std::vector<fs::path> burst;
  for (int i = 1; i <= 12; ++i) {
    burst.push_back(photo("IMG_" + std::to_string(100 + i) + ".JPG"));
    closed(burst.back());
  }
  step_until(1);
  step_for(10s);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, burst);
  EXPECT_TRUE(m_stages.batches[0].gone.empty());
  EXPECT_LT(m_stages.batches[0].at - k_start, 1s) << "a closed file waits only for the burst to end";
}

TEST_F(HotFolderTest, ASidecarTravelsWithItsPhotoAndAloneOnlyPublishes) {
  auto& watcher = hot_folder();
  watcher.start();
  const auto shot = photo("IMG_0200.JPG");
  const auto sidecar = m_project / "IMG_0200.xmp";
  std::ofstream(sidecar) << "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>";
  closed(shot);
  closed(sidecar);
  step_until(1);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_FALSE(m_stages.batches[0].publish_only);
  EXPECT_EQ(m_stages.batches[0].present, std::vector<fs::path>{shot}) << "only pixels are ingested";
  // A rating saved later in the culling tool: metadata only.
  std::ofstream(sidecar) << "<x:xmpmeta xmlns:x='adobe:ns:meta/'><!-- rated --></x:xmpmeta>";
  closed(sidecar);
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_TRUE(m_stages.batches[1].publish_only);
}

TEST_F(HotFolderTest, ADeletedPhotoIsGoneInTheNextBatchAndNeverRead) {
  const auto kept = photo("kept.jpg");
  const auto deleted = photo("deleted.jpg");
  catalogue(kept);
  catalogue(deleted);
  auto& watcher = hot_folder();
  watcher.start();
  step_until(1);  // the catch-up
  ASSERT_EQ(m_stages.batches.size(), 1u);
  fs::remove(deleted);
  m_queue.push_back({.kind = FolderEvent::Kind::Removed, .path = deleted});
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_TRUE(m_stages.batches[1].present.empty());
  EXPECT_EQ(m_stages.batches[1].gone, std::vector<fs::path>{deleted});
}

// A folder deleted and made again empty before its first file comes back:
// the batch that finds it empty takes it as a share that is not mounted and
// marks nothing missing. Once a file comes back into it, the photos that did
// not are passed as gone.
TEST_F(HotFolderTest, PhotosHeldBackInAFolderFoundEmptyAreGoneOnceFilesComeBack) {
  const auto day = m_project / "day1";
  fs::create_directories(day);
  const auto back = photo("day1/IMG_0001.JPG");
  const auto lost = photo("day1/IMG_0002.JPG");
  catalogue(back);
  catalogue(lost);
  auto& watcher = hot_folder();
  watcher.start();
  step_until(1);  // the catch-up
  ASSERT_EQ(m_stages.batches.size(), 1u);

  fs::remove_all(day);
  fs::create_directories(day);
  m_queue.push_back({.kind = FolderEvent::Kind::Removed, .path = day, .folder = true});
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_EQ(m_stages.batches[1].gone, std::vector<fs::path>{day}) << "found empty: nothing marked missing";

  photo("day1/IMG_0001.JPG");
  m_queue.push_back({.kind = FolderEvent::Kind::Changed, .path = back});
  closed(back);
  step_until(4);
  step_for(2s);
  std::vector<fs::path> present, gone;
  for (std::size_t i = 2; i < m_stages.batches.size(); ++i) {
    present.insert(present.end(), m_stages.batches[i].present.begin(), m_stages.batches[i].present.end());
    gone.insert(gone.end(), m_stages.batches[i].gone.begin(), m_stages.batches[i].gone.end());
  }
  EXPECT_EQ(present, std::vector<fs::path>{back});
  EXPECT_EQ(gone, std::vector<fs::path>{lost}) << "the photo that did not come back";
}

TEST_F(HotFolderTest, AFileTheCatalogDoesNotHaveMakesNoBatchWhenDeleted) {
  auto& watcher = hot_folder();
  watcher.start();
  m_queue.push_back({.kind = FolderEvent::Kind::Removed, .path = m_project / "never-seen.jpg"});
  step_for(10s);
  EXPECT_TRUE(m_stages.batches.empty());
}

TEST_F(HotFolderTest, ARestartCatchesUpWithoutTakingTheWholeTree) {
  const auto unchanged = photo("unchanged.jpg");
  const auto deleted = photo("deleted.jpg");
  catalogue(unchanged);
  catalogue(deleted);
  fs::remove(deleted);
  const auto arrived = photo("arrived.jpg");  // while nobody watched

  auto& watcher = hot_folder();
  watcher.start();
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  // First what went meanwhile, found by ingest under the roots; nothing is read.
  EXPECT_TRUE(m_stages.batches[0].present.empty());
  EXPECT_EQ(m_stages.batches[0].gone, std::vector<fs::path>{m_project});
  EXPECT_EQ(m_report.count("watch.caught_up"), 1u);
  // Then the new file, once stable; the unchanged one never.
  EXPECT_EQ(m_stages.batches[1].present, std::vector<fs::path>{arrived});
  EXPECT_GE(m_stages.batches[1].at - k_start, 300ms);
  step_for(10s);
  EXPECT_EQ(m_stages.batches.size(), 2u);
}

TEST_F(HotFolderTest, OnceTakesOnlyWhatTwoLooksSeeUnchanged) {
  const auto still = photo("still.jpg");
  const auto growing = photo("growing.jpg");
  m_time.on_sleep = [&] { std::ofstream(growing, std::ios::app) << "more"; };
  auto& watcher = hot_folder();
  EXPECT_EQ(watcher.run_once(), 0);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, std::vector<fs::path>{still});
  EXPECT_EQ(m_stages.batches[0].gone, std::vector<fs::path>{m_project});
  EXPECT_GE(m_stages.batches[0].at - k_start, 300ms) << "the second look comes watch.stable_ms after the first";
}

TEST_F(HotFolderTest, AStopFinishesWhatIsCompleteAndLeavesWhatIsBeingWritten) {
  auto& watcher = hot_folder();
  watcher.start();
  step_until(1, 1s);
  const auto complete = photo("complete.jpg");
  const auto writing = photo("writing.jpg");
  closed(complete);
  m_queue.push_back({.kind = FolderEvent::Kind::Changed, .path = writing});
  m_hot_folder->step();
  // Closed after the last look, still in the queue when the signal comes.
  const auto late = photo("late.jpg");
  closed(late);
  m_stop = true;
  EXPECT_EQ(watcher.drain(), 130);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, (std::vector<fs::path>{complete, late}));
  ASSERT_EQ(m_report.count("watch.stopped"), 1u);
  EXPECT_EQ(m_report.events.back()["left"], 1);
}

TEST_F(HotFolderTest, AFailedBatchIsTriedAgainWithAGrowingWaitUntilItPasses) {
  m_stages.failures = 3;
  auto& watcher = hot_folder();
  watcher.start();
  const auto first = photo("first.jpg");
  closed(first);
  step_until(1);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_report.count("watch.batch_failed"), 1u);
  step_until(4, 60s);
  ASSERT_EQ(m_stages.batches.size(), 4u) << "a failed batch is tried again until it passes";
  for (std::size_t i = 1; i < 4; ++i)
    EXPECT_EQ(m_stages.batches[i].present, std::vector<fs::path>{first}) << "attempt " << i + 1;
  // 1 s, 2 s, 4 s: a catalog locked for a while is not hammered.
  EXPECT_GE(m_stages.batches[1].at - m_stages.batches[0].at, 1s);
  EXPECT_LT(m_stages.batches[1].at - m_stages.batches[0].at, 2s);
  EXPECT_GE(m_stages.batches[2].at - m_stages.batches[1].at, 2s);
  EXPECT_GE(m_stages.batches[3].at - m_stages.batches[2].at, 4s);
  step_for(120s);
  EXPECT_EQ(m_stages.batches.size(), 4u) << "a batch that passed is not run again";
}

TEST_F(HotFolderTest, TheWaitBetweenAttemptsIsCapped) {
  m_stages.failures = 12;
  auto& watcher = hot_folder();
  watcher.start();
  closed(photo("first.jpg"));
  step_until(13, 10min);
  ASSERT_EQ(m_stages.batches.size(), 13u);
  for (std::size_t i = 1; i < 13; ++i)
    EXPECT_LE(m_stages.batches[i].at - m_stages.batches[i - 1].at, k_longest_retry + 1s) << "attempt " << i + 1;
}

TEST_F(HotFolderTest, FilesCompletedWhileABatchWaitsJoinItsNextAttempt) {
  m_stages.failures = 1;
  auto& watcher = hot_folder();
  watcher.start();
  const auto first = photo("first.jpg");
  closed(first);
  step_until(1);
  const auto second = photo("second.jpg");
  closed(second);
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_EQ(m_stages.batches[1].present, (std::vector<fs::path>{first, second}));
  step_for(60s);
  EXPECT_EQ(m_stages.batches.size(), 2u);
}

TEST_F(HotFolderTest, AStopTriesAFailedBatchOnceMore) {
  m_stages.failures = 1;
  auto& watcher = hot_folder();
  watcher.start();
  const auto first = photo("first.jpg");
  closed(first);
  step_until(1);
  m_stop = true;
  watcher.drain();
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_EQ(m_stages.batches[1].present, std::vector<fs::path>{first});
}

// A heartbeat the catalog refuses (here a real SQLite error raised by a
// trigger, as a lock held past the busy wait raises one) is reported and
// written again later; the watcher goes on.
TEST_F(HotFolderTest, AFailedHeartbeatIsTriedAgainAndStopsNothing) {
  auto refuse_heartbeats = [&](bool refuse) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((m_project / ".wsportfolio" / "catalog.db").c_str(), &db), SQLITE_OK);
    const char* sql = refuse ? "CREATE TRIGGER refuse BEFORE UPDATE ON runs BEGIN SELECT RAISE(ABORT, 'database is "
                               "locked'); END"
                             : "DROP TRIGGER refuse";
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  };
  auto heartbeat_ms = [&] { return m_catalog->unfinished_runs().at(0).heartbeat_ms; };
  auto& watcher = hot_folder();
  watcher.start();
  refuse_heartbeats(true);
  ASSERT_NO_THROW(step_for(25s));
  EXPECT_TRUE(std::any_of(m_report.messages.begin(), m_report.messages.end(),
                          [](const std::string& m) { return m.find("heartbeat") != std::string::npos; }));
  const auto before = heartbeat_ms();
  refuse_heartbeats(false);
  closed(photo("after.jpg"));
  step_for(40s);
  EXPECT_GT(heartbeat_ms(), before);
  EXPECT_EQ(m_stages.batches.size(), 1u) << "the watcher still takes photos";
}

// The first rounds of a writer that opens, writes and closes a file several
// times: a JPEG stream with no end marker yet.
fs::path cut_short(const fs::path& file) {
  std::ofstream(file, std::ios::binary) << "\xFF\xD8\xFF\xFE" << char(0) << char(10) << "12345678";
  return file;
}

TEST_F(HotFolderTest, AFileClosedWhileCutShortWaitsForItsWriterToFinish) {
  auto& watcher = hot_folder();
  watcher.start();
  const auto file = cut_short(m_project / "rounds.jpg");
  closed(file);
  step_for(200ms);
  EXPECT_TRUE(m_stages.batches.empty()) << "taken at the first close, it would be rejected as truncated";
  std::ofstream(file, std::ios::app | std::ios::binary) << "\xFF\xD9";
  closed(file);
  step_until(1);
  step_for(5s);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, std::vector<fs::path>{file});
  EXPECT_LT(m_stages.batches[0].at - k_start, 300ms) << "complete, it is taken at its close";
}

TEST_F(HotFolderTest, AFileThatStaysCutShortIsTakenOnceStableSoThatIngestSaysWhy) {
  auto& watcher = hot_folder();
  watcher.start();
  const auto file = cut_short(m_project / "broken.jpg");
  closed(file);
  step_until(1);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, std::vector<fs::path>{file});
  EXPECT_GE(m_stages.batches[0].at - k_start, 300ms) << "watch.stable_ms after its last change";
}

TEST_F(HotFolderTest, AnEmptyFileJustClosedIsNotTaken) {
  auto& watcher = hot_folder();
  watcher.start();
  const auto file = m_project / "empty.jpg";
  std::ofstream{file};
  closed(file);
  step_for(200ms);
  EXPECT_TRUE(m_stages.batches.empty());
  photo("empty.jpg");
  closed(file);
  step_until(1);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_LT(m_stages.batches[0].at - k_start, 300ms);
}

TEST_F(HotFolderTest, PollingTakesANewFileOnceStableAndSaysEachLook) {
  auto& watcher = hot_folder(1);
  watcher.start();
  const auto arrived = photo("arrived.jpg");
  step_for(1100ms);
  EXPECT_EQ(m_report.count("watch.polled"), 1u);
  EXPECT_TRUE(m_stages.batches.empty()) << "seen once: not yet stable";
  step_until(1);
  ASSERT_EQ(m_stages.batches.size(), 1u);
  EXPECT_EQ(m_stages.batches[0].present, std::vector<fs::path>{arrived});
  step_for(5s);
  EXPECT_EQ(m_stages.batches.size(), 1u) << "an unchanged file is not taken again";
  EXPECT_GE(m_report.count("watch.polled"), 6u);
}

TEST_F(HotFolderTest, AFailedCatchUpIsTriedAgain) {
  const auto deleted = photo("deleted.jpg");
  catalogue(deleted);
  fs::remove(deleted);
  m_stages.failures = 1;
  auto& watcher = hot_folder();
  watcher.start();
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_EQ(m_stages.batches[1].gone, std::vector<fs::path>{m_project});
  EXPECT_TRUE(m_stages.batches[1].present.empty());
  EXPECT_GE(m_stages.batches[1].at - m_stages.batches[0].at, 1s);
}

// A real SQLite error on every heartbeat (a trigger, as in the test above):
// what a connection cut by a server restart gives the run's heartbeat.
void refuse_heartbeats(const fs::path& project, bool refuse) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((project / ".wsportfolio" / "catalog.db").c_str(), &db), SQLITE_OK);
  const char* sql = refuse ? "CREATE TRIGGER refuse BEFORE UPDATE ON runs BEGIN SELECT RAISE(ABORT, 'no connection "
                             "to the server'); END"
                           : "DROP TRIGGER refuse";
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

// A batch that fails while the run's heartbeat cannot be written either is a
// lost catalog: said once, no batch runs, and the catalog is opened again
// after 1 s, 2, 4...; once it is, the run's claims are handed back on the new
// connection and the failed batch, with what completed meanwhile, runs on.
TEST_F(HotFolderTest, ALostCatalogIsOpenedAgainAndTheFailedBatchGoesOn) {
  const auto held = photo("held.jpg");
  catalogue(held);
  std::vector<WatchClock::time_point> attempts;
  std::unique_ptr<catalog::Catalog> reopened;
  auto& watcher = hot_folder(-1, [&]() -> catalog::Catalog& {
    attempts.push_back(m_time.at);
    if (attempts.size() < 3) throw catalog::CatalogError("test catalog: no connection to the server");
    refuse_heartbeats(m_project, false);
    reopened = catalog::open_sqlite_catalog(m_project / ".wsportfolio" / "catalog.db");
    return *reopened;
  });
  watcher.start();
  step_until(1);  // the catch-up of a start
  ASSERT_EQ(m_catalog->claim("render", "s1", "", "watch-run", 600'000, 1).size(), 1u);
  m_stages.failures = 1;
  refuse_heartbeats(m_project, true);
  const auto first = photo("first.jpg");
  closed(first);
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  ASSERT_EQ(m_report.count("watch.catalog_lost"), 1u);
  const auto lost_at = m_time.at;
  const auto second = photo("second.jpg");
  closed(second);
  step_until(3, 20s);

  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_GE(attempts[0] - lost_at, 1s);
  EXPECT_GE(attempts[1] - attempts[0], 2s);
  EXPECT_GE(attempts[2] - attempts[1], 4s);
  EXPECT_LT(attempts[2] - attempts[1], 5s);
  EXPECT_EQ(m_report.count("watch.reconnect_failed"), 2u);
  EXPECT_EQ(m_report.count("watch.reconnected"), 1u);
  EXPECT_EQ(m_report.count("watch.catalog_lost"), 1u) << "said once";
  ASSERT_EQ(m_stages.batches.size(), 3u);
  EXPECT_GE(m_stages.batches[2].at, attempts[2]) << "no batch while the catalog is lost";
  EXPECT_EQ(m_stages.batches[2].present, (std::vector<fs::path>{first, second}));
  EXPECT_EQ(reopened->count_claimable("render", "s1", ""), 1) << "the run's claim is handed back";
}

// A batch that fails for a reason of its own, while the run's heartbeat is
// written, leaves the catalog as it is: the batch is only tried again.
TEST_F(HotFolderTest, ABatchFailingOnAWorkingCatalogDoesNotReconnect) {
  int reopened = 0;
  auto& watcher = hot_folder(-1, [&]() -> catalog::Catalog& {
    ++reopened;
    return *m_catalog;
  });
  m_stages.failures = 1;
  watcher.start();
  closed(photo("first.jpg"));
  step_until(2);
  ASSERT_EQ(m_stages.batches.size(), 2u);
  EXPECT_EQ(reopened, 0);
  EXPECT_EQ(m_report.count("watch.catalog_lost"), 0u);
}

}  // namespace
}  // namespace wsp::pipeline
