#include "temp_dir.hpp"
#include "test_images.hpp"
#include "pipeline/ingest.hpp"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "catalog/catalog.hpp"
#include "config/config.hpp"
#include "imaging/probe.hpp"
#include "pipeline/observer.hpp"
#include "util/hash.hpp"

namespace {

namespace fs = std::filesystem;
using wsp::catalog::ImageStatus;
using wsp::catalog::JobState;
using wsp::pipeline::IngestRequest;
using wsp::pipeline::IngestSummary;

using wsp::testing::make_jpeg;
using wsp::testing::TempDir;

// Records what the pipeline reports, as the CLI would show it.
struct Recorder : wsp::pipeline::Observer {
  struct Done {
    std::string file, outcome;
    std::int64_t bytes;
  };
  std::vector<std::size_t> started;
  std::vector<Done> done;
  std::map<std::string, std::string> problems;  // file -> reason
  std::size_t problem_calls = 0;
  std::vector<std::string> warnings;

  void stage_started(std::string_view stage, std::size_t total) override {
    EXPECT_EQ(stage, "ingest");
    started.push_back(total);
  }
  void item_done(std::string_view stage, std::string_view file, std::string_view outcome, std::int64_t bytes) override {
    EXPECT_EQ(stage, "ingest");
    done.push_back({std::string(file), std::string(outcome), bytes});
  }
  void item_problem(std::string_view stage, std::string_view file, std::string_view reason) override {
    EXPECT_EQ(stage, "ingest");
    problems[std::string(file)] = std::string(reason);
    ++problem_calls;
  }
  void warning(std::string_view message) override { warnings.emplace_back(message); }

  // The outcome reported for `file`, "" when none; a file reported twice is a failure.
  std::string outcome_of(const std::string& file) const {
    std::string outcome;
    int seen = 0;
    for (const auto& d : done)
      if (d.file == file) {
        outcome = d.outcome;
        ++seen;
      }
    EXPECT_LE(seen, 1) << file << " reported " << seen << " times";
    return outcome;
  }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& d : done) names.push_back(d.file);
    std::sort(names.begin(), names.end());
    return names;
  }
};

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

class IngestTest : public ::testing::Test {
protected:
  void SetUp() override { configure(""); }

  // Replaces the project's config with the defaults plus `yaml`, as `run FOLDER` would load it.
  void configure(const std::string& yaml) {
    m_catalog.reset();
    m_config = wsp::config::parse_config(yaml, "test");
    m_config.project_dir = m_dir.path();
    wsp::config::apply_derived_defaults(m_config);
    fs::create_directories(m_config.state_dir());
    m_catalog = wsp::catalog::open_sqlite_catalog(m_config.state_dir() / "catalog.db");
  }

  fs::path at(const std::string& relative) const { return m_dir.path() / relative; }

  // Writes a file in the project; returns its content.
  std::string put(const std::string& relative, const std::string& bytes) {
    fs::create_directories(at(relative).parent_path());
    std::ofstream out(at(relative), std::ios::binary | std::ios::trunc);
    out << bytes;
    return bytes;
  }
  std::string put_jpeg(const std::string& relative, int width = 64, int height = 48) {
    return put(relative, make_jpeg(width, height, 40.0 + 7.0 * static_cast<double>(m_next_image++)));
  }

  IngestSummary run(Recorder& recorder, std::vector<fs::path> paths = {}, const std::atomic<bool>* stop = nullptr) {
    IngestRequest request;
    request.paths = std::move(paths);
    request.run_id = "run-" + std::to_string(++m_runs);
    request.stop = stop;
    return wsp::pipeline::ingest(m_config, *m_catalog, request, recorder);
  }
  IngestSummary run() {
    Recorder ignored;
    return run(ignored);
  }
  // As the hot folder asks: the files it saw complete, and what it saw go.
  IngestSummary run_gone(Recorder& recorder, std::vector<fs::path> paths, std::vector<fs::path> gone) {
    IngestRequest request;
    request.paths = std::move(paths);
    request.gone = std::move(gone);
    request.run_id = "run-" + std::to_string(++m_runs);
    return wsp::pipeline::ingest(m_config, *m_catalog, request, recorder);
  }
  // The file as a scan finds it.
  wsp::pipeline::FoundFile found(const std::string& relative) {
    auto scan = wsp::pipeline::scan_sources(m_config, {at(relative)});
    EXPECT_EQ(scan.files.size(), 1u) << relative;
    return scan.files.empty() ? wsp::pipeline::FoundFile{} : scan.files.front();
  }

  wsp::catalog::ImageRecord image(const std::string& key) {
    auto found = m_catalog->image_at(key);
    if (!found) {
      ADD_FAILURE() << key << " is not in the catalog";
      return {};
    }
    return *found;
  }
  std::vector<std::string> catalog_paths() {
    std::vector<std::string> paths;
    for (const auto& image : m_catalog->images()) paths.push_back(image.path);
    return paths;
  }

  TempDir m_dir;
  wsp::config::Config m_config;
  std::unique_ptr<wsp::catalog::Catalog> m_catalog;
  int m_next_image = 0;
  int m_runs = 0;
};

TEST_F(IngestTest, FirstIngestAddsEveryImageWithItsFacts) {
  std::map<std::string, std::string> content;
  content["a.jpg"] = put_jpeg("a.jpg");
  content["b.JPG"] = put_jpeg("b.JPG");
  content["day1/c.jpeg"] = put_jpeg("day1/c.jpeg");
  put("notes.txt", "not a photo, not a pattern\n");

  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.seen, 3u);
  EXPECT_EQ(summary.added, 3u);
  EXPECT_EQ(summary.unchanged, 0u);
  EXPECT_EQ(summary.rejected, 0u);
  std::int64_t total = 0;
  for (const auto& [key, bytes] : content) total += static_cast<std::int64_t>(bytes.size());
  EXPECT_EQ(summary.bytes_read, total);

  ASSERT_EQ(recorder.started.size(), 1u);
  EXPECT_EQ(recorder.started[0], 3u);
  for (const auto& [file, reason] : recorder.problems) ADD_FAILURE() << file << ": " << reason;
  EXPECT_EQ(recorder.files(), (std::vector<std::string>{"a.jpg", "b.JPG", "day1/c.jpeg"}));
  EXPECT_EQ(catalog_paths(), (std::vector<std::string>{"a.jpg", "b.JPG", "day1/c.jpeg"}));

  for (const auto& [key, bytes] : content) {
    SCOPED_TRACE(key);
    EXPECT_EQ(recorder.outcome_of(key), "added");
    auto record = image(key);
    EXPECT_GT(record.id, 0);
    EXPECT_EQ(record.status, ImageStatus::Active);
    EXPECT_EQ(record.sha256, wsp::util::sha256_hex(std::string_view(bytes)));
    EXPECT_EQ(record.size, static_cast<std::int64_t>(bytes.size()));
    struct stat st {};
    ASSERT_EQ(::stat(at(key).c_str(), &st), 0);
    EXPECT_EQ(record.inode, static_cast<std::int64_t>(st.st_ino));
    EXPECT_EQ(record.mtime_ns, std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
    EXPECT_EQ(record.header.format, "jpeg");
    EXPECT_EQ(record.header.width, 64);
    EXPECT_EQ(record.header.height, 48);
    EXPECT_EQ(record.header.camera.orientation, 1);
    EXPECT_TRUE(record.reject_reason.empty());
    EXPECT_FALSE(record.duplicate_of);
    EXPECT_GT(record.first_seen_ms, 0);
    auto job = m_catalog->job(record.id, "ingest");
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, JobState::Done);
    EXPECT_EQ(job->attempts, 1);
    EXPECT_TRUE(Contains(job->fingerprint, record.sha256));
  }
  EXPECT_EQ(m_catalog->event_count(), 3);
}

TEST_F(IngestTest, SecondIngestReadsNothing) {
  put_jpeg("a.jpg");
  put_jpeg("b.jpg");
  put_jpeg("day1/c.jpg");
  ASSERT_EQ(run().added, 3u);
  const auto events = m_catalog->event_count();
  const auto before = m_catalog->images();

  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.seen, 3u);
  EXPECT_EQ(summary.unchanged, 3u);
  EXPECT_EQ(summary.added + summary.changed + summary.moved + summary.duplicates + summary.rejected + summary.missing,
            0u);
  EXPECT_EQ(summary.bytes_read, 0);
  ASSERT_EQ(recorder.started.size(), 1u);
  EXPECT_EQ(recorder.started[0], 0u);  // nothing to read
  EXPECT_TRUE(recorder.done.empty());
  EXPECT_TRUE(recorder.problems.empty());
  EXPECT_EQ(m_catalog->event_count(), events);
  auto after = m_catalog->images();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].updated_ms, before[i].updated_ms) << after[i].path;
}

// The priority a command queues its photos at reaches the catalog, and an
// image keeps the highest it was queued at: a later backlog run does not
// push a hot folder's photo back, a rush raises photos already catalogued.
TEST_F(IngestTest, PhotosKeepTheHighestPriorityTheyWereQueuedAt) {
  using wsp::catalog::k_priority_hot_folder;
  using wsp::catalog::k_priority_normal;
  using wsp::catalog::k_priority_rush;
  put_jpeg("backlog.jpg");
  ASSERT_EQ(run().added, 1u);
  EXPECT_EQ(image("backlog.jpg").priority, k_priority_normal);

  put_jpeg("tethered.jpg");
  auto ingest_at = [&](int priority) {
    IngestRequest request;
    request.run_id = "run-" + std::to_string(++m_runs);
    request.priority = priority;
    Recorder ignored;
    return wsp::pipeline::ingest(m_config, *m_catalog, request, ignored);
  };
  IngestRequest hot;
  hot.paths = {at("tethered.jpg")};
  hot.run_id = "watch";
  hot.priority = k_priority_hot_folder;
  Recorder ignored;
  ASSERT_EQ(wsp::pipeline::ingest(m_config, *m_catalog, hot, ignored).added, 1u);
  EXPECT_EQ(image("tethered.jpg").priority, k_priority_hot_folder);
  EXPECT_EQ(image("backlog.jpg").priority, k_priority_normal);  // not in the hot folder's batch

  auto summary = ingest_at(k_priority_normal);
  EXPECT_EQ(summary.unchanged, 2u);
  EXPECT_EQ(image("tethered.jpg").priority, k_priority_hot_folder);

  put_jpeg("tethered.jpg");  // edited in place: changed, read again at normal priority
  summary = ingest_at(k_priority_normal);
  EXPECT_EQ(summary.changed, 1u);
  EXPECT_EQ(image("tethered.jpg").priority, k_priority_hot_folder);

  summary = ingest_at(k_priority_rush);
  EXPECT_EQ(summary.unchanged, 2u);
  EXPECT_EQ(summary.bytes_read, 0);  // raised without reading the files again
  EXPECT_EQ(image("backlog.jpg").priority, k_priority_rush);
  EXPECT_EQ(image("tethered.jpg").priority, k_priority_rush);
}

TEST_F(IngestTest, RenamedFileIsMovedAndKeepsItsIdentity) {
  put_jpeg("a.jpg");
  put_jpeg("b.jpg");
  ASSERT_EQ(run().added, 2u);
  const auto a = image("a.jpg");
  const auto b = image("b.jpg");

  fs::rename(at("a.jpg"), at("renamed.jpg"));
  fs::create_directories(at("day2"));
  fs::rename(at("b.jpg"), at("day2/b.jpg"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.moved, 2u);
  EXPECT_EQ(summary.added, 0u);
  EXPECT_EQ(summary.missing, 0u);
  EXPECT_EQ(recorder.outcome_of("renamed.jpg"), "moved");
  EXPECT_EQ(recorder.outcome_of("day2/b.jpg"), "moved");
  EXPECT_EQ(recorder.outcome_of("a.jpg"), "");  // not reported missing

  EXPECT_FALSE(m_catalog->image_at("a.jpg"));
  EXPECT_FALSE(m_catalog->image_at("b.jpg"));
  auto moved = image("renamed.jpg");
  EXPECT_EQ(moved.id, a.id);
  EXPECT_EQ(moved.sha256, a.sha256);
  EXPECT_EQ(moved.first_seen_ms, a.first_seen_ms);
  EXPECT_EQ(moved.status, ImageStatus::Active);
  EXPECT_EQ(image("day2/b.jpg").id, b.id);
  auto job = m_catalog->job(a.id, "ingest");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, JobState::Done);
  EXPECT_TRUE(Contains(job->fingerprint, a.sha256));
  EXPECT_EQ(m_catalog->images().size(), 2u);
  auto counts = m_catalog->stage_counts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].count, 2);  // no new job rows

  // And the next run sees nothing new.
  auto again = run();
  EXPECT_EQ(again.unchanged, 2u);
  EXPECT_EQ(again.bytes_read, 0);
}

TEST_F(IngestTest, CopyIsADuplicateOfTheOriginal) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  const auto a = image("a.jpg");

  fs::create_directories(at("copies"));
  fs::copy_file(at("a.jpg"), at("copies/a copy.jpg"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.duplicates, 1u);
  EXPECT_EQ(summary.added, 0u);
  EXPECT_EQ(recorder.outcome_of("copies/a copy.jpg"), "duplicate");
  auto copy = image("copies/a copy.jpg");
  EXPECT_NE(copy.id, a.id);
  EXPECT_EQ(copy.status, ImageStatus::Duplicate);
  ASSERT_TRUE(copy.duplicate_of);
  EXPECT_EQ(*copy.duplicate_of, a.id);
  EXPECT_EQ(copy.sha256, a.sha256);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Active);
}

TEST_F(IngestTest, DeletedFileIsMarkedMissingNotForgotten) {
  put_jpeg("a.jpg");
  put_jpeg("b.jpg");
  ASSERT_EQ(run().added, 2u);
  const auto b = image("b.jpg");

  fs::remove(at("b.jpg"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.missing, 1u);
  EXPECT_EQ(summary.unchanged, 1u);
  EXPECT_EQ(recorder.outcome_of("b.jpg"), "missing");
  auto gone = image("b.jpg");
  EXPECT_EQ(gone.id, b.id);
  EXPECT_EQ(gone.status, ImageStatus::Missing);
  EXPECT_EQ(gone.sha256, b.sha256);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Active);

  // Said once: the next run has nothing to say about it.
  Recorder second;
  EXPECT_EQ(run(second).missing, 0u);
  EXPECT_EQ(second.outcome_of("b.jpg"), "");
  EXPECT_EQ(image("b.jpg").status, ImageStatus::Missing);
}

TEST_F(IngestTest, GoneFoldersAreNotScannedButWhatVanishedUnderThemIsMissing) {
  put_jpeg("a.jpg");
  put_jpeg("b.jpg");
  put_jpeg("day1/c.jpg");
  ASSERT_EQ(run().added, 3u);

  fs::remove(at("b.jpg"));
  fs::remove(at("day1/c.jpg"));
  put("late.jpg", "a copy that has only just begun");  // never read: not named
  Recorder recorder;
  auto summary = run_gone(recorder, {}, {m_dir.path()});
  EXPECT_EQ(summary.missing, 2u);
  EXPECT_EQ(summary.seen, 0u);
  EXPECT_EQ(recorder.files(), (std::vector<std::string>{"b.jpg", "day1/c.jpg"}));
  EXPECT_EQ(image("b.jpg").status, ImageStatus::Missing);
  EXPECT_EQ(image("day1/c.jpg").status, ImageStatus::Missing);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Active);
  EXPECT_FALSE(m_catalog->image_at("late.jpg"));
}

// A share that is not mounted leaves its bare, empty mount point: its photos
// are not all deleted, and none is marked missing, whether the folder is
// scanned (run) or named as gone (the hot folder's catch-up).
TEST_F(IngestTest, AnEmptyFolderWithCataloguedPhotosIsAnUnmountedShare) {
  configure("sources:\n  - path: ./share\n");
  put_jpeg("share/a.jpg");
  put_jpeg("share/day1/b.jpg");
  ASSERT_EQ(run().added, 2u);
  fs::remove_all(at("share"));
  fs::create_directories(at("share"));

  Recorder scanned;
  EXPECT_EQ(run(scanned).missing, 0u);
  ASSERT_EQ(scanned.warnings.size(), 1u);
  EXPECT_TRUE(Contains(scanned.warnings[0], "share: empty, though the catalog has photos there"));
  Recorder gone;
  EXPECT_EQ(run_gone(gone, {}, {at("share")}).missing, 0u);
  EXPECT_EQ(gone.warnings.size(), 1u);
  EXPECT_EQ(image("share/a.jpg").status, ImageStatus::Active);

  // Not empty: what is not there any more is missing, as ever.
  put_jpeg("share/c.jpg");
  EXPECT_EQ(run().missing, 2u);
}

TEST_F(IngestTest, ARenameSeenAsGoneAndCompleteIsAMove) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  const auto before = image("a.jpg");

  fs::rename(at("a.jpg"), at("first-dance.jpg"));
  Recorder recorder;
  auto summary = run_gone(recorder, {at("first-dance.jpg")}, {at("a.jpg")});
  EXPECT_EQ(summary.moved, 1u);
  EXPECT_EQ(summary.missing, 0u);
  EXPECT_EQ(recorder.outcome_of("first-dance.jpg"), "moved");
  EXPECT_EQ(image("first-dance.jpg").id, before.id);
  EXPECT_FALSE(m_catalog->image_at("a.jpg"));
}

TEST_F(IngestTest, UnchangedSinceIngestFollowsWhatIngestWouldRead) {
  configure("limits:\n  max_pixels: 5000\n");
  put_jpeg("small.jpg");
  put_jpeg("big.jpg", 100, 100);
  run();
  EXPECT_TRUE(wsp::pipeline::unchanged_since_ingest(m_config, *m_catalog, image("small.jpg"), found("small.jpg")));
  EXPECT_TRUE(wsp::pipeline::unchanged_since_ingest(m_config, *m_catalog, image("big.jpg"), found("big.jpg")));

  put_jpeg("small.jpg");  // rewritten
  EXPECT_FALSE(wsp::pipeline::unchanged_since_ingest(m_config, *m_catalog, image("small.jpg"), found("small.jpg")));
  configure("limits:\n  max_pixels: 20000\n");  // the rejection no longer holds
  EXPECT_FALSE(wsp::pipeline::unchanged_since_ingest(m_config, *m_catalog, image("big.jpg"), found("big.jpg")));
}

TEST_F(IngestTest, DeletingTheOriginalPromotesItsDuplicate) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  fs::copy_file(at("a.jpg"), at("b.jpg"));
  fs::copy_file(at("a.jpg"), at("c.jpg"));
  ASSERT_EQ(run().duplicates, 2u);
  const auto a = image("a.jpg");

  fs::remove(at("a.jpg"));
  auto summary = run();
  EXPECT_EQ(summary.missing, 1u);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Missing);
  auto b = image("b.jpg");
  auto c = image("c.jpg");
  // One twin takes over; the other now repeats the heir, never the missing file.
  auto& heir = b.status == ImageStatus::Active ? b : c;
  auto& other = b.status == ImageStatus::Active ? c : b;
  EXPECT_EQ(heir.status, ImageStatus::Active);
  EXPECT_FALSE(heir.duplicate_of);
  EXPECT_EQ(other.status, ImageStatus::Duplicate);
  ASSERT_TRUE(other.duplicate_of);
  EXPECT_EQ(*other.duplicate_of, heir.id);
  EXPECT_NE(*other.duplicate_of, a.id);
}

TEST_F(IngestTest, ModifiedFileIsChangedAndKeepsItsId) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  const auto before = image("a.jpg");
  const auto old_time = fs::last_write_time(at("a.jpg"));

  const auto bytes = put_jpeg("a.jpg");
  fs::last_write_time(at("a.jpg"), old_time + std::chrono::seconds(2));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.changed, 1u);
  EXPECT_EQ(summary.added, 0u);
  EXPECT_EQ(summary.bytes_read, static_cast<std::int64_t>(bytes.size()));
  EXPECT_EQ(recorder.outcome_of("a.jpg"), "changed");
  auto after = image("a.jpg");
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.first_seen_ms, before.first_seen_ms);
  EXPECT_NE(after.sha256, before.sha256);
  EXPECT_EQ(after.sha256, wsp::util::sha256_hex(std::string_view(bytes)));
  EXPECT_EQ(after.size, static_cast<std::int64_t>(bytes.size()));
  EXPECT_NE(after.mtime_ns, before.mtime_ns);
  EXPECT_EQ(after.status, ImageStatus::Active);
  auto job = m_catalog->job(after.id, "ingest");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->attempts, 2);
  EXPECT_TRUE(Contains(job->fingerprint, after.sha256));
  EXPECT_EQ(m_catalog->images().size(), 1u);
}

TEST_F(IngestTest, EditingTheOriginalPromotesItsDuplicate) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  fs::copy_file(at("a.jpg"), at("b.jpg"));
  ASSERT_EQ(run().duplicates, 1u);
  const auto old_time = fs::last_write_time(at("a.jpg"));

  // a.jpg now holds other pixels: b.jpg is the only file left with the old content.
  put_jpeg("a.jpg");
  fs::last_write_time(at("a.jpg"), old_time + std::chrono::seconds(2));
  EXPECT_EQ(run().changed, 1u);
  auto b = image("b.jpg");
  EXPECT_EQ(b.status, ImageStatus::Active);
  EXPECT_FALSE(b.duplicate_of);
}

TEST_F(IngestTest, OriginalThatBecomesUnreadablePromotesItsDuplicate) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  fs::copy_file(at("a.jpg"), at("b.jpg"));
  ASSERT_EQ(run().duplicates, 1u);
  const auto old_time = fs::last_write_time(at("a.jpg"));

  put("a.jpg", "overwritten by a broken card reader");
  fs::last_write_time(at("a.jpg"), old_time + std::chrono::seconds(2));
  EXPECT_EQ(run().rejected, 1u);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Rejected);
  auto b = image("b.jpg");
  EXPECT_EQ(b.status, ImageStatus::Active);
  EXPECT_FALSE(b.duplicate_of);
}

TEST_F(IngestTest, BadFilesAreRejectedWithAReasonAndTheRestIngests) {
  configure("limits:\n  max_pixels: 5000\n");
  put_jpeg("good.jpg");                                   // 64 x 48 = 3072 pixels
  put_jpeg("big.jpg", 100, 100);                          // 10000 pixels, over the limit
  put("empty.jpg", "");
  put("text.jpg", "This is a shopping list, not a photograph.\n");
  const auto whole = make_jpeg(64, 48, 200.0);
  put("truncated.jpg", whole.substr(0, whole.size() * 6 / 10));

  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.seen, 5u);
  EXPECT_EQ(summary.added, 1u);
  EXPECT_EQ(summary.rejected, 4u);
  EXPECT_EQ(recorder.outcome_of("good.jpg"), "added");
  EXPECT_EQ(image("good.jpg").status, ImageStatus::Active);
  EXPECT_EQ(recorder.problem_calls, 4u);

  const std::map<std::string, std::vector<std::string>> expected{
      {"big.jpg", {"limits.max_pixels", "100x100"}},
      {"empty.jpg", {"empty"}},
      {"text.jpg", {"not an image"}},
      {"truncated.jpg", {"truncated"}},
  };
  for (const auto& [key, words] : expected) {
    SCOPED_TRACE(key);
    EXPECT_EQ(recorder.outcome_of(key), "rejected");
    ASSERT_EQ(recorder.problems.count(key), 1u);
    for (const auto& word : words) EXPECT_TRUE(Contains(recorder.problems.at(key), word));
    auto record = image(key);
    EXPECT_EQ(record.status, ImageStatus::Rejected);
    EXPECT_EQ(record.reject_reason, recorder.problems.at(key));
    auto job = m_catalog->job(record.id, "ingest");
    ASSERT_TRUE(job);
    EXPECT_EQ(job->state, JobState::Rejected);
    EXPECT_EQ(job->last_error, record.reject_reason);
  }
}

TEST_F(IngestTest, UnchangedRejectedFileIsNotReportedAgain) {
  put_jpeg("good.jpg");
  put("text.jpg", "not an image");
  const auto whole = make_jpeg(64, 48, 90.0);
  put("truncated.jpg", whole.substr(0, whole.size() * 6 / 10));
  Recorder first;
  ASSERT_EQ(run(first).rejected, 2u);
  ASSERT_EQ(first.problem_calls, 2u);
  const auto events = m_catalog->event_count();

  Recorder second;
  auto summary = run(second);
  EXPECT_EQ(summary.rejected, 0u);
  EXPECT_EQ(summary.still_rejected, 2u);
  EXPECT_EQ(summary.unchanged, 3u);
  EXPECT_EQ(summary.bytes_read, 0);
  EXPECT_EQ(second.problem_calls, 0u);
  EXPECT_TRUE(second.done.empty());
  EXPECT_EQ(m_catalog->event_count(), events);
}

TEST_F(IngestTest, RaisingThePixelLimitReexaminesRejectedImages) {
  configure("limits:\n  max_pixels: 5000\n");
  put_jpeg("small.jpg");
  put_jpeg("big.jpg", 100, 100);
  ASSERT_EQ(run().rejected, 1u);
  const auto before = image("big.jpg");
  ASSERT_EQ(before.status, ImageStatus::Rejected);

  // Same limit: nothing to look at again.
  Recorder same;
  EXPECT_EQ(run(same).still_rejected, 1u);
  EXPECT_TRUE(same.done.empty());

  configure("limits:\n  max_pixels: 20000\n");
  Recorder raised;
  auto summary = run(raised);
  EXPECT_EQ(summary.rejected, 0u);
  EXPECT_EQ(raised.files(), std::vector<std::string>{"big.jpg"});  // the accepted small one is not read again
  auto after = image("big.jpg");
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.status, ImageStatus::Active);
  EXPECT_TRUE(after.reject_reason.empty());
  EXPECT_EQ(after.header.width, 100);
  EXPECT_EQ(m_catalog->job(after.id, "ingest")->state, JobState::Done);
}

TEST_F(IngestTest, RejectedFileThatIsFixedBecomesActive) {
  put("photo.jpg", "not an image yet");
  ASSERT_EQ(run().rejected, 1u);
  const auto before = image("photo.jpg");
  const auto old_time = fs::last_write_time(at("photo.jpg"));
  put_jpeg("photo.jpg");
  fs::last_write_time(at("photo.jpg"), old_time + std::chrono::seconds(2));

  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.rejected, 0u);
  EXPECT_EQ(recorder.problem_calls, 0u);
  auto after = image("photo.jpg");
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.status, ImageStatus::Active);
  EXPECT_TRUE(after.reject_reason.empty());
  EXPECT_EQ(after.header.width, 64);
  auto job = m_catalog->job(after.id, "ingest");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, JobState::Done);
  EXPECT_TRUE(job->last_error.empty());
}

TEST_F(IngestTest, StateFolderTargetsAndExcludedFilesAreNeverScanned) {
  configure(R"(sources:
  - path: .
    exclude: ["**/_rejects/**"]
  - path: ./.wsportfolio
publish:
  targets:
    - { name: site, type: local, path: ./public }
)");
  put_jpeg("top.jpg");
  put_jpeg("day1/keep.jpg");
  put_jpeg("_rejects/r1.jpg");
  put_jpeg("day1/_rejects/r2.jpg");
  put_jpeg(".wsportfolio/renders/x.jpg");
  put_jpeg(".wsportfolio/public/y.jpg");
  put_jpeg("public/z.jpg");
  put_jpeg("public/img/z2.jpg");

  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.seen, 2u);
  EXPECT_EQ(catalog_paths(), (std::vector<std::string>{"day1/keep.jpg", "top.jpg"}));
  EXPECT_EQ(recorder.files(), (std::vector<std::string>{"day1/keep.jpg", "top.jpg"}));

  // Naming them on the command line does not let them in either.
  Recorder named;
  auto direct = run(named, {at(".wsportfolio/renders/x.jpg"), at("public/z.jpg"), at("day1/_rejects/r2.jpg")});
  EXPECT_EQ(direct.seen, 0u);
  EXPECT_TRUE(named.done.empty());
  EXPECT_EQ(m_catalog->images().size(), 2u);
}

TEST_F(IngestTest, DefaultStateAndGalleryFoldersAreFencedEvenAsSources) {
  configure("sources:\n  - path: ./.wsportfolio\n  - path: ./.wsportfolio/public\n");
  put_jpeg(".wsportfolio/renders/x.jpg");
  put_jpeg(".wsportfolio/public/y.jpg");
  EXPECT_EQ(run().seen, 0u);
  EXPECT_TRUE(m_catalog->images().empty());
}

TEST_F(IngestTest, SymlinkLoopIsRejected) {
  put_jpeg("good.jpg");
  fs::create_symlink("loop.jpg", at("loop.jpg"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.added, 1u);
  EXPECT_EQ(summary.rejected, 1u);
  EXPECT_EQ(recorder.outcome_of("loop.jpg"), "rejected");
  ASSERT_EQ(recorder.problems.count("loop.jpg"), 1u);
  EXPECT_TRUE(Contains(recorder.problems.at("loop.jpg"), "symlink loop"));
  auto loop = image("loop.jpg");
  EXPECT_EQ(loop.status, ImageStatus::Rejected);
  EXPECT_TRUE(Contains(loop.reject_reason, "symlink loop"));

  Recorder second;
  auto again = run(second);
  EXPECT_EQ(again.rejected, 0u);
  EXPECT_EQ(again.still_rejected, 1u);
  EXPECT_EQ(second.problem_calls, 0u);
}

TEST_F(IngestTest, BrokenSymlinkIsRejected) {
  put_jpeg("good.jpg");
  fs::create_symlink("gone/IMG_0001.jpg", at("dangling.jpg"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.added, 1u);
  EXPECT_EQ(summary.rejected, 1u);
  ASSERT_EQ(recorder.problems.count("dangling.jpg"), 1u);
  EXPECT_TRUE(Contains(recorder.problems.at("dangling.jpg"), "broken symlink"));
  EXPECT_EQ(image("dangling.jpg").status, ImageStatus::Rejected);
}

TEST_F(IngestTest, FolderSymlinkBackToTheProjectDoesNotLoop) {
  put_jpeg("a.jpg");
  put_jpeg("day1/b.jpg");
  fs::create_directory_symlink(".", at("again"));
  fs::create_directory_symlink("..", at("day1/up"));
  Recorder recorder;
  auto summary = run(recorder);
  EXPECT_EQ(summary.seen, 2u);
  EXPECT_EQ(summary.added, 2u);
  EXPECT_EQ(catalog_paths(), (std::vector<std::string>{"a.jpg", "day1/b.jpg"}));
}

TEST_F(IngestTest, FolderSymlinkElsewhereIsFollowed) {
  TempDir elsewhere;
  {
    std::ofstream out(elsewhere.path() / "outside.jpg", std::ios::binary);
    out << make_jpeg(64, 48, 123.0);
  }
  put_jpeg("a.jpg");
  fs::create_directory_symlink(elsewhere.path(), at("linked"));
  auto summary = run();
  EXPECT_EQ(summary.added, 2u);
  EXPECT_EQ(catalog_paths(), (std::vector<std::string>{"a.jpg", "linked/outside.jpg"}));
}

TEST_F(IngestTest, NamedSubfolderLeavesTheRestAlone) {
  put_jpeg("a.jpg");
  put_jpeg("day1/b.jpg");
  ASSERT_EQ(run().added, 2u);
  fs::remove(at("a.jpg"));
  put_jpeg("day1/c.jpg");

  Recorder recorder;
  auto summary = run(recorder, {at("day1")});
  EXPECT_EQ(summary.seen, 2u);
  EXPECT_EQ(summary.added, 1u);
  EXPECT_EQ(summary.missing, 0u);  // a.jpg is outside what was asked for
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Active);

  EXPECT_EQ(run().missing, 1u);
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Missing);
}

TEST_F(IngestTest, StopRequestTakesNoNewFilesAndMarksNothingMissing) {
  put_jpeg("a.jpg");
  ASSERT_EQ(run().added, 1u);
  fs::remove(at("a.jpg"));
  put_jpeg("b.jpg");
  std::atomic<bool> stop{true};
  Recorder recorder;
  auto summary = run(recorder, {}, &stop);
  EXPECT_EQ(summary.added, 0u);
  EXPECT_EQ(summary.missing, 0u);
  EXPECT_TRUE(recorder.done.empty());
  EXPECT_EQ(image("a.jpg").status, ImageStatus::Active);
  EXPECT_FALSE(m_catalog->image_at("b.jpg"));
}

}  // namespace
