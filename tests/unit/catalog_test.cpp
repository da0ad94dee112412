#include "catalog_backends.hpp"
#include "temp_dir.hpp"
#include "catalog/catalog.hpp"
#include "catalog/migrations.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace wsp::catalog;

using wsp::testing::TempDir;

// A direct connection to the catalog file, to look at it as SQLite sees it.
class RawDb {
public:
  explicit RawDb(const fs::path& file) {
    if (sqlite3_open(file.c_str(), &m_db) != SQLITE_OK) throw std::runtime_error("cannot open raw connection");
    sqlite3_busy_timeout(m_db, 5'000);
  }
  ~RawDb() { sqlite3_close(m_db); }

  // The first column of the first row, as text ("" when there is none).
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(m_db));
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0))
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    return value;
  }

  // Runs `sql`; returns the SQLite result code and leaves the message in `error`.
  int exec(const std::string& sql, std::string* error = nullptr) {
    char* message = nullptr;
    int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message);
    if (error) *error = message ? message : "";
    sqlite3_free(message);
    return rc;
  }

private:
  sqlite3* m_db = nullptr;
};

std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

ImageRecord sample_image(const std::string& path, const std::string& sha256 = std::string(64, 'a')) {
  ImageRecord image;
  image.path = path;
  image.size = 5'123'456;
  image.mtime_ns = 1'781'000'000'123'456'789;
  image.inode = 987654321;
  image.sha256 = sha256;
  image.first_seen_ms = 1'781'000'000'000;
  image.updated_ms = 1'781'000'000'500;
  image.header.format = "jpeg";
  image.header.width = 6000;
  image.header.height = 4000;
  return image;
}

// Every field set, the optional ones included.
ImageRecord full_image(const std::string& path, std::optional<std::int64_t> duplicate_of) {
  ImageRecord image = sample_image(path, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  image.status = duplicate_of ? ImageStatus::Duplicate : ImageStatus::Rejected;
  image.duplicate_of = duplicate_of;
  image.reject_reason = "truncated jpeg: \"quoted\" and 'single' — ünïcode";
  image.header.format = "heif";
  image.header.width = 8256;
  image.header.height = 5504;
  image.header.icc_description = "Display P3";
  auto& camera = image.header.camera;
  camera.orientation = 6;
  camera.capture_time = "2026-06-13T13:31:05.250";
  camera.capture_offset = "+02:00";
  camera.make = "FUJIFILM";
  camera.model = "X-T5";
  camera.serial = "9000001";
  camera.owner = "Example Studio";
  camera.lens = "XF56mmF1.2 R WR";
  camera.focal_length_mm = 56.0;
  camera.aperture = 1.4;
  camera.shutter = "1/250";
  camera.iso = 640;
  camera.artist = "A. Photographer";
  camera.copyright = "(c) 2026 Example Studio";
  camera.has_gps = true;
  return image;
}

void expect_same_image(const ImageRecord& a, const ImageRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.inode, b.inode);
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.duplicate_of, b.duplicate_of);
  EXPECT_EQ(a.reject_reason, b.reject_reason);
  EXPECT_EQ(a.first_seen_ms, b.first_seen_ms);
  EXPECT_EQ(a.updated_ms, b.updated_ms);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.header.format, b.header.format);
  EXPECT_EQ(a.header.width, b.header.width);
  EXPECT_EQ(a.header.height, b.header.height);
  EXPECT_EQ(a.header.icc_description, b.header.icc_description);
  const auto& x = a.header.camera;
  const auto& y = b.header.camera;
  EXPECT_EQ(x.orientation, y.orientation);
  EXPECT_EQ(x.capture_time, y.capture_time);
  EXPECT_EQ(x.capture_offset, y.capture_offset);
  EXPECT_EQ(x.make, y.make);
  EXPECT_EQ(x.model, y.model);
  EXPECT_EQ(x.serial, y.serial);
  EXPECT_EQ(x.owner, y.owner);
  EXPECT_EQ(x.lens, y.lens);
  EXPECT_EQ(x.focal_length_mm, y.focal_length_mm);
  EXPECT_EQ(x.aperture, y.aperture);
  EXPECT_EQ(x.shutter, y.shutter);
  EXPECT_EQ(x.iso, y.iso);
  EXPECT_EQ(x.artist, y.artist);
  EXPECT_EQ(x.copyright, y.copyright);
  EXPECT_EQ(x.has_gps, y.has_gps);
}

// The catalog's contract, run against each backend (catalog_backends.hpp).
using wsp::testing::Backend;
using wsp::testing::backend_name;
using wsp::testing::CatalogPlace;
using wsp::testing::new_place;

class CatalogTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    WSP_REQUIRE_BACKEND(GetParam());
    m_place = new_place(GetParam(), m_dir.path());
    m_catalog = m_place.open();
  }
  fs::path file() const { return m_dir.path() / "catalog.db"; }
  bool postgres() const { return GetParam() == Backend::postgres; }

  // The first column of the first row of a read-only query, as the sqlite3
  // shell shows it ("" when there is none), read on a connection of its own.
  std::string scalar(const std::string& sql) {
    if (!m_inspector) m_inspector = m_place.open(Access::read_only);
    auto result = m_inspector->query(sql);
    if (result.rows.empty() || result.rows[0].empty() || result.rows[0][0].is_null()) return "";
    const auto& value = result.rows[0][0];
    return value.is_string() ? value.get<std::string>() : value.dump();
  }

  // Runs `sql` behind the catalog's back; the error it met, "" when none.
  std::string tamper(const std::string& sql) {
    if (!postgres()) {
      std::string error;
      RawDb(file()).exec(sql, &error);
      return error;
    }
    try {
      wsp::testing::postgres_exec(m_place.url, sql);
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  std::int64_t add(const ImageRecord& image) {
    std::int64_t id = 0;
    m_catalog->write([&] { id = m_catalog->add_image(image); });
    return id;
  }

  TempDir m_dir;
  CatalogPlace m_place;
  std::unique_ptr<Catalog> m_catalog;
  std::unique_ptr<Catalog> m_inspector;
};

INSTANTIATE_TEST_SUITE_P(Backends, CatalogTest, ::testing::Values(Backend::sqlite, Backend::postgres), backend_name);

// What only a SQLite file has: WAL, user_version, the migrations of released files.
class SqliteCatalogTest : public ::testing::Test {
protected:
  void SetUp() override { m_catalog = open_sqlite_catalog(file()); }
  fs::path file() const { return m_dir.path() / "catalog.db"; }

  std::int64_t add(const ImageRecord& image) {
    std::int64_t id = 0;
    m_catalog->write([&] { id = m_catalog->add_image(image); });
    return id;
  }

  TempDir m_dir;
  std::unique_ptr<Catalog> m_catalog;
};

TEST_F(SqliteCatalogTest, NewCatalogIsAtTheLatestSchemaInWalMode) {
  EXPECT_EQ(m_catalog->schema_version(), latest_schema_version());
  RawDb raw(file());
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), std::to_string(latest_schema_version()));
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                       "('images', 'jobs', 'runs', 'events')"),
            "4");
}

TEST_F(SqliteCatalogTest, ReopeningKeepsDataAndDoesNotMigrateAgain) {
  const auto id = add(sample_image("a.jpg"));
  m_catalog->write([&] { m_catalog->add_event({"image.ingested", id, ""}, "run-1"); });
  m_catalog.reset();
  RawDb raw(file());
  const auto schema_before = raw.scalar("SELECT group_concat(sql, ';') FROM sqlite_master");
  const auto tables_before = raw.scalar("SELECT count(*) FROM sqlite_master");

  auto again = open_sqlite_catalog(file());
  EXPECT_EQ(again->schema_version(), latest_schema_version());
  ASSERT_EQ(again->images().size(), 1u);
  EXPECT_EQ(again->images()[0].id, id);
  EXPECT_EQ(again->event_count(), 1);
  EXPECT_EQ(raw.scalar("SELECT group_concat(sql, ';') FROM sqlite_master"), schema_before);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master"), tables_before);
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
}

// A catalog written by a release whose schema ended at version 4 (before the
// sidecar keywords) is brought up to date on opening, and its tags read.
TEST_F(SqliteCatalogTest, AVersion4CatalogIsMigratedOnOpening) {
  m_catalog.reset();
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("ALTER TABLE tags DROP COLUMN sidecar_keywords; PRAGMA user_version = 4"), SQLITE_OK);
  }
  auto again = open_sqlite_catalog(file());
  EXPECT_EQ(again->schema_version(), latest_schema_version());
  EXPECT_NO_THROW(again->tags());
  RawDb raw(file());
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM pragma_table_info('tags') WHERE name = 'sidecar_keywords'"), "1");
}

// A catalog written by the release that had the sidecar keywords in its
// version 3 (an edit of a released migration, since undone) is at version 4
// and has the column already: opening it must not add it a second time.
TEST_F(SqliteCatalogTest, AVersion4CatalogThatHasTheSidecarColumnOpens) {
  m_catalog.reset();
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("PRAGMA user_version = 4"), SQLITE_OK);
  }
  std::unique_ptr<wsp::catalog::Catalog> again;
  ASSERT_NO_THROW(again = open_sqlite_catalog(file()));
  EXPECT_EQ(again->schema_version(), latest_schema_version());
  EXPECT_NO_THROW(again->tags());
}

TEST_P(CatalogTest, ImagesRoundTripEveryField) {
  ImageRecord original = sample_image("day1/IMG_0001.jpg");
  original.id = add(original);
  ASSERT_GT(original.id, 0);
  ImageRecord twin = full_image("day1/copy of IMG_0001.heic", original.id);
  twin.id = add(twin);
  ASSERT_GT(twin.id, 0);
  EXPECT_NE(twin.id, original.id);

  auto found = m_catalog->image_at("day1/copy of IMG_0001.heic");
  ASSERT_TRUE(found);
  expect_same_image(*found, twin);

  auto plain = m_catalog->image_at("day1/IMG_0001.jpg");
  ASSERT_TRUE(plain);
  expect_same_image(*plain, original);
  EXPECT_FALSE(plain->duplicate_of);
  EXPECT_FALSE(plain->header.camera.iso);
  EXPECT_FALSE(plain->header.camera.aperture);
  EXPECT_FALSE(plain->header.camera.focal_length_mm);

  auto by_hash = m_catalog->images_with_hash(twin.sha256);
  ASSERT_EQ(by_hash.size(), 1u);
  expect_same_image(by_hash[0], twin);
  EXPECT_TRUE(m_catalog->images_with_hash(std::string(64, 'f')).empty());
  EXPECT_FALSE(m_catalog->image_at("day1/nope.jpg"));

  auto all = m_catalog->images();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].path, "day1/IMG_0001.jpg");  // ordered by path
  EXPECT_EQ(all[1].path, "day1/copy of IMG_0001.heic");
}

TEST_P(CatalogTest, UpdateChangesEveryFieldAndClearsOptionals) {
  ImageRecord first = sample_image("a.jpg");
  first.id = add(first);
  ImageRecord image = full_image("b.heic", first.id);
  image.id = add(image);

  ImageRecord changed = sample_image("moved/b.jpg", std::string(64, 'c'));
  changed.id = image.id;
  changed.status = ImageStatus::Missing;
  changed.header.camera.orientation = 3;
  m_catalog->write([&] { m_catalog->update_image(changed); });

  EXPECT_FALSE(m_catalog->image_at("b.heic"));
  auto found = m_catalog->image_at("moved/b.jpg");
  ASSERT_TRUE(found);
  expect_same_image(*found, changed);
  EXPECT_FALSE(found->duplicate_of);
  EXPECT_FALSE(found->header.camera.iso);
  EXPECT_FALSE(found->header.camera.has_gps);
  EXPECT_EQ(m_catalog->images().size(), 2u);
}

TEST_P(CatalogTest, StatusNamesRoundTrip) {
  for (auto status : {ImageStatus::Active, ImageStatus::Duplicate, ImageStatus::Rejected, ImageStatus::Missing})
    EXPECT_EQ(image_status_from(to_string(status)), status);
  EXPECT_EQ(to_string(JobState::Done), "done");
  EXPECT_EQ(to_string(JobState::Rejected), "rejected");
}

TEST_P(CatalogTest, SamePathTwiceIsRefused) {
  add(sample_image("a.jpg"));
  EXPECT_THROW(add(sample_image("a.jpg")), CatalogError);
  EXPECT_EQ(m_catalog->images().size(), 1u);
}

TEST_P(CatalogTest, WriteRollsBackWhenWorkThrows) {
  EXPECT_THROW(m_catalog->write([&] {
    m_catalog->add_image(sample_image("a.jpg"));
    m_catalog->add_event({"image.ingested", std::nullopt, ""}, "run-1");
    throw std::runtime_error("disk on fire");
  }),
               std::runtime_error);
  EXPECT_FALSE(m_catalog->image_at("a.jpg"));
  EXPECT_EQ(m_catalog->event_count(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM images"), "0");

  // The catalog is usable afterwards: no transaction was left open.
  add(sample_image("b.jpg"));
  EXPECT_TRUE(m_catalog->image_at("b.jpg"));
  EXPECT_EQ(scalar("SELECT count(*) FROM images"), "1");
}

TEST_P(CatalogTest, NestedWritesShareTheOuterTransaction) {
  m_catalog->write([&] {
    m_catalog->add_image(sample_image("outer.jpg"));
    m_catalog->write([&] { m_catalog->add_image(sample_image("inner.jpg")); });
    m_catalog->begin_run({"run-1", "ingest", 42, "host", 1000, 1000, std::nullopt, std::nullopt});
  });
  EXPECT_TRUE(m_catalog->image_at("outer.jpg"));
  EXPECT_TRUE(m_catalog->image_at("inner.jpg"));
  EXPECT_EQ(m_catalog->unfinished_runs().size(), 1u);

  // A throw from the inner write undoes the outer one's work too.
  EXPECT_THROW(m_catalog->write([&] {
    m_catalog->add_image(sample_image("outer2.jpg"));
    m_catalog->write([&] {
      m_catalog->add_image(sample_image("inner2.jpg"));
      throw std::runtime_error("inner failure");
    });
  }),
               std::runtime_error);
  EXPECT_FALSE(m_catalog->image_at("outer2.jpg"));
  EXPECT_FALSE(m_catalog->image_at("inner2.jpg"));
  EXPECT_EQ(m_catalog->images().size(), 2u);
}

TEST_P(CatalogTest, PutJobInsertsThenUpdates) {
  const auto id = add(sample_image("a.jpg"));
  EXPECT_FALSE(m_catalog->job(id, "ingest"));
  m_catalog->write([&] { m_catalog->put_job({id, "ingest", JobState::Failed, 1, "cannot read: EIO", "fp1"}); });
  auto job = m_catalog->job(id, "ingest");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->image_id, id);
  EXPECT_EQ(job->stage, "ingest");
  EXPECT_EQ(job->state, JobState::Failed);
  EXPECT_EQ(job->attempts, 1);
  EXPECT_EQ(job->last_error, "cannot read: EIO");
  EXPECT_EQ(job->fingerprint, "fp1");

  m_catalog->write([&] { m_catalog->put_job({id, "ingest", JobState::Done, 2, "", "fp2"}); });
  job = m_catalog->job(id, "ingest");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, JobState::Done);
  EXPECT_EQ(job->attempts, 2);
  EXPECT_EQ(job->last_error, "");
  EXPECT_EQ(job->fingerprint, "fp2");
  EXPECT_FALSE(m_catalog->job(id, "render"));

  EXPECT_EQ(scalar("SELECT count(*) FROM jobs"), "1");
}

TEST_P(CatalogTest, EventsAreAppendOnly) {
  const auto id = add(sample_image("a.jpg"));
  m_catalog->write([&] {
    m_catalog->add_event({"image.ingested", id, R"({"path":"a.jpg"})"}, "run-1");
    m_catalog->add_event({"run.completed", std::nullopt, ""}, "run-1");
  });
  EXPECT_EQ(m_catalog->event_count(), 2);

  EXPECT_EQ(scalar("SELECT detail FROM events WHERE kind = 'run.completed'"), "{}");
  EXPECT_EQ(scalar("SELECT image_id FROM events WHERE kind = 'image.ingested'"), std::to_string(id));
  std::string error = tamper("UPDATE events SET kind = 'tampered'");
  EXPECT_NE(error.find("append-only"), std::string::npos) << error;
  error = tamper("DELETE FROM events");
  EXPECT_NE(error.find("append-only"), std::string::npos) << error;
  EXPECT_EQ(scalar("SELECT count(*) FROM events WHERE kind = 'tampered'"), "0");
  EXPECT_EQ(m_catalog->event_count(), 2);
}

// Liveness is judged on the catalog's clock: a run registered with no time is
// stamped with it, and one silent for longer than asked is not alive.
TEST_P(CatalogTest, RunsAliveAreTheUnfinishedThatBeatLately) {
  const auto before = now_ms();
  m_catalog->begin_run({"run-now", "render", 1, "h", 0, 0, std::nullopt, std::nullopt});
  m_catalog->begin_run({"run-silent", "render", 2, "h", 1000, 1000, std::nullopt, std::nullopt});
  m_catalog->begin_run({"run-over", "render", 3, "h", 0, 0, std::nullopt, std::nullopt});
  m_catalog->finish_run("run-over", 0);
  auto runs = m_catalog->unfinished_runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].id, "run-now");
  EXPECT_GE(runs[1].started_ms, before);
  EXPECT_EQ(runs[1].heartbeat_ms, runs[1].started_ms);

  auto alive = m_catalog->runs_alive(60'000);
  ASSERT_EQ(alive.size(), 1u);
  EXPECT_EQ(alive[0].id, "run-now");
}

// Ages are shown on the clock runs are stamped with: read after a heartbeat,
// the catalog's now is at or after it, and in the same unit (milliseconds).
TEST_P(CatalogTest, TheCatalogsClockIsTheOneHeartbeatsAreWrittenWith) {
  m_catalog->begin_run({"run-clock", "work", 1, "h", 0, 0, std::nullopt, std::nullopt});
  m_catalog->heartbeat("run-clock");
  const auto beat = m_catalog->unfinished_runs().at(0).heartbeat_ms;
  const auto now = m_catalog->clock_ms();
  EXPECT_GE(now, beat);
  EXPECT_LT(now - beat, 60'000);
}

TEST_P(CatalogTest, RunsBeginBeatAndFinish) {
  m_catalog->begin_run({"run-a", "ingest", 101, "studio-mac", 1000, 1000, std::nullopt, std::nullopt});
  m_catalog->begin_run({"run-b", "watch", 202, "studio-mac", 2000, 2000, std::nullopt, std::nullopt});

  auto runs = m_catalog->unfinished_runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, "run-a");  // oldest first
  EXPECT_EQ(runs[0].command, "ingest");
  EXPECT_EQ(runs[0].pid, 101);
  EXPECT_EQ(runs[0].host, "studio-mac");
  EXPECT_EQ(runs[0].started_ms, 1000);
  EXPECT_EQ(runs[0].heartbeat_ms, 1000);
  EXPECT_FALSE(runs[0].finished_ms);
  EXPECT_EQ(runs[1].id, "run-b");

  const auto before = now_ms();
  m_catalog->heartbeat("run-a");
  runs = m_catalog->unfinished_runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_GE(runs[0].heartbeat_ms, before);
  EXPECT_EQ(runs[0].started_ms, 1000);
  EXPECT_EQ(runs[1].heartbeat_ms, 2000);  // only the named run beats

  m_catalog->finish_run("run-a", 1);
  runs = m_catalog->unfinished_runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].id, "run-b");

  EXPECT_EQ(scalar("SELECT exit_code FROM runs WHERE id = 'run-a'"), "1");
  EXPECT_GE(std::stoll(scalar("SELECT finished_ms FROM runs WHERE id = 'run-a'")), before);
  EXPECT_EQ(scalar("SELECT finished_ms FROM runs WHERE id = 'run-b'"), "");

  m_catalog->finish_run("run-b", 0);
  EXPECT_TRUE(m_catalog->unfinished_runs().empty());
  EXPECT_THROW(m_catalog->begin_run({"run-a", "ingest", 1, "h", 1, 1, std::nullopt, std::nullopt}), CatalogError);
}

TEST_P(CatalogTest, StageCountsGroupByStageAndState) {
  EXPECT_TRUE(m_catalog->stage_counts().empty());
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(add(sample_image("img" + std::to_string(i) + ".jpg")));
  m_catalog->write([&] {
    m_catalog->put_job({ids[0], "ingest", JobState::Done, 1, "", ""});
    m_catalog->put_job({ids[1], "ingest", JobState::Done, 1, "", ""});
    m_catalog->put_job({ids[2], "ingest", JobState::Done, 1, "", ""});
    m_catalog->put_job({ids[3], "ingest", JobState::Rejected, 1, "not an image", ""});
    m_catalog->put_job({ids[0], "render", JobState::Pending, 0, "", ""});
    m_catalog->put_job({ids[1], "render", JobState::Failed, 3, "timeout", ""});
  });
  auto counts = m_catalog->stage_counts();
  ASSERT_EQ(counts.size(), 4u);
  EXPECT_EQ(counts[0].stage, "ingest");
  EXPECT_EQ(counts[0].state, "done");
  EXPECT_EQ(counts[0].count, 3);
  EXPECT_EQ(counts[1].stage, "ingest");
  EXPECT_EQ(counts[1].state, "rejected");
  EXPECT_EQ(counts[1].count, 1);
  EXPECT_EQ(counts[2].stage, "render");
  EXPECT_EQ(counts[2].state, "failed");
  EXPECT_EQ(counts[2].count, 1);
  EXPECT_EQ(counts[3].stage, "render");
  EXPECT_EQ(counts[3].state, "pending");
  EXPECT_EQ(counts[3].count, 1);
}

TEST_P(CatalogTest, MultipartUploadsKeepTheirPartsPerTargetUntilForgotten) {
  m_catalog->record_multipart_upload("s3:a", {"films/one.bin", "aa11", "upload-1", 5 << 20, 0, {}});
  m_catalog->record_multipart_upload("s3:b", {"films/two.bin", "bb22", "upload-2", 8 << 20, 0, {}});
  m_catalog->record_uploaded_part("s3:a", "upload-1", {2, "etag-2", "c2", 5 << 20});
  m_catalog->record_uploaded_part("s3:a", "upload-1", {1, "etag-1", "c1", 5 << 20});
  m_catalog->record_uploaded_part("s3:a", "upload-1", {2, "etag-2b", "c2b", 5 << 20});

  auto uploads = m_catalog->multipart_uploads("s3:a");
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].path, "films/one.bin");
  EXPECT_EQ(uploads[0].sha256, "aa11");
  EXPECT_EQ(uploads[0].part_size, 5 << 20);
  EXPECT_GT(uploads[0].started_ms, 0);
  ASSERT_EQ(uploads[0].parts.size(), 2u);
  EXPECT_EQ(uploads[0].parts[0].number, 1);
  EXPECT_EQ(uploads[0].parts[1].etag, "etag-2b");  // recorded again: replaced
  EXPECT_EQ(uploads[0].parts[1].checksum_sha256, "c2b");

  m_catalog->forget_multipart_upload("s3:a", "upload-1");
  EXPECT_TRUE(m_catalog->multipart_uploads("s3:a").empty());
  EXPECT_EQ(scalar("SELECT count(*) FROM multipart_parts"), "0");
  EXPECT_EQ(m_catalog->multipart_uploads("s3:b").size(), 1u);
}

TEST_P(CatalogTest, MultipartUploadsComeInTheOrderTheyBegan) {
  m_catalog->record_multipart_upload("s3:a", {"b.bin", "bb", "upload-b", 5 << 20, 2000, {}});
  m_catalog->record_multipart_upload("s3:a", {"a.bin", "aa", "upload-a", 5 << 20, 1000, {}});
  m_catalog->record_multipart_upload("s3:a", {"c.bin", "cc", "upload-C", 5 << 20, 2000, {}});
  auto uploads = m_catalog->multipart_uploads("s3:a");
  ASSERT_EQ(uploads.size(), 3u);
  EXPECT_EQ(uploads[0].upload_id, "upload-a");
  EXPECT_EQ(uploads[0].started_ms, 1000);
  EXPECT_EQ(uploads[1].upload_id, "upload-C");  // same millisecond: by id, bytewise
  EXPECT_EQ(uploads[2].upload_id, "upload-b");
}

TEST_P(CatalogTest, CircuitsAreReplacedWholeAndStampedByTheCatalog) {
  const auto before = now_ms();
  m_catalog->record_circuit({"webhook", "https://hooks.example/b", "open", 3, 1234, "refused", 0});
  m_catalog->record_circuit({"target", "bucket.example", "closed", 0, std::nullopt, "", 0});
  m_catalog->record_circuit({"webhook", "https://hooks.example/a", "open", 5, 99, "timeout", 0});
  m_catalog->record_circuit({"webhook", "https://hooks.example/a", "half-open", 6, 100, "503", 0});

  auto circuits = m_catalog->circuits();
  ASSERT_EQ(circuits.size(), 3u);
  EXPECT_EQ(circuits[0].kind, "target");  // by kind, then name
  EXPECT_FALSE(circuits[0].opened_ms);
  EXPECT_EQ(circuits[1].name, "https://hooks.example/a");
  EXPECT_EQ(circuits[1].state, "half-open");
  EXPECT_EQ(circuits[1].consecutive_failures, 6);
  EXPECT_EQ(circuits[1].opened_ms, 100);
  EXPECT_EQ(circuits[1].last_error, "503");
  EXPECT_GE(circuits[1].updated_ms, before - 1000);
  EXPECT_LE(circuits[1].updated_ms, now_ms() + 1000);
  EXPECT_EQ(circuits[2].name, "https://hooks.example/b");
  EXPECT_EQ(circuits[2].consecutive_failures, 3);
}

TEST_P(CatalogTest, RecentRunsAreNewestFirstAndTheLastEventOfAKindIsFound) {
  m_catalog->begin_run({"run-a", "ingest", 1, "h", 1000, 1000, std::nullopt, std::nullopt});
  m_catalog->begin_run({"run-b", "publish", 2, "h", 3000, 3000, std::nullopt, std::nullopt});
  m_catalog->begin_run({"run-c", "tag", 3, "h", 2000, 2000, std::nullopt, std::nullopt});
  m_catalog->finish_run("run-b", 4);
  auto runs = m_catalog->recent_runs(2);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, "run-b");
  EXPECT_EQ(runs[0].exit_code, 4);
  EXPECT_TRUE(runs[0].finished_ms);
  EXPECT_EQ(runs[1].id, "run-c");
  EXPECT_FALSE(runs[1].finished_ms);

  EXPECT_FALSE(m_catalog->last_event_ms("publish.completed"));
  const auto before = now_ms();
  m_catalog->add_event({"publish.completed", std::nullopt, ""}, "run-b");
  m_catalog->add_event({"run.completed", std::nullopt, ""}, "run-b");
  auto at = m_catalog->last_event_ms("publish.completed");
  ASSERT_TRUE(at);
  EXPECT_GE(*at, before - 1000);
  EXPECT_LE(*at, now_ms() + 1000);
}

TEST(CatalogOpen, NewerSchemaIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  {
    RawDb raw(file);
    ASSERT_EQ(raw.exec("CREATE TABLE future (x); PRAGMA user_version = 99"), SQLITE_OK);
  }
  try {
    open_sqlite_catalog(file);
    ADD_FAILURE() << "a catalog from a newer version was opened";
  } catch (const CatalogError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("newer"), std::string::npos) << message;
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  }
  RawDb raw(file);
  EXPECT_EQ(raw.scalar("PRAGMA user_version"), "99");  // left as it was
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'images'"), "0");
}

TEST(CatalogOpen, RefusingACatalogReleasesItsFile) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  {
    RawDb raw(file);
    ASSERT_EQ(raw.exec("PRAGMA user_version = 99"), SQLITE_OK);
  }
  const auto before = open_descriptors();
  for (int i = 0; i < 3; ++i) EXPECT_THROW(open_sqlite_catalog(file), CatalogError);
  EXPECT_EQ(open_descriptors(), before) << "the refused catalog's connection was left open";
}

TEST(CatalogOpen, UnopenableFileIsACatalogErrorNamingIt) {
  TempDir dir;
  const auto file = dir.path() / "no-such-folder" / "catalog.db";
  try {
    open_sqlite_catalog(file);
    ADD_FAILURE() << "a catalog in a missing folder was opened";
  } catch (const CatalogError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(CatalogOpen, NotADatabaseIsACatalogError) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), out);
    std::fclose(out);
  }
  try {
    open_sqlite_catalog(file);
    ADD_FAILURE() << "junk was opened as a catalog";
  } catch (const CatalogError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

// A statement that fails once the catalog is open (here a real SQLite error,
// raised by a trigger as a lock held too long raises one) names the file:
// "catalog: database is locked" leaves a studio with several projects guessing.
TEST(CatalogOpen, AFailedStatementNamesTheCatalogFile) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  auto catalog = open_sqlite_catalog(file);
  catalog->begin_run({"run-1", "watch", 1, "here", 1, 1, std::nullopt, std::nullopt});
  RawDb(file).exec("CREATE TRIGGER refuse BEFORE UPDATE ON runs BEGIN SELECT RAISE(ABORT, 'database is locked'); END");
  try {
    catalog->heartbeat("run-1");
    ADD_FAILURE() << "the trigger did not refuse the heartbeat";
  } catch (const CatalogError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("database is locked"), std::string::npos) << message;
  }
}

class CatalogBackendTest : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override { WSP_REQUIRE_BACKEND(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Backends, CatalogBackendTest, ::testing::Values(Backend::sqlite, Backend::postgres),
                         backend_name);

TEST_P(CatalogBackendTest, ReadOnlyReadsWhatTheWriterWroteAndRefusesWritesNamingTheCatalog) {
  TempDir dir;
  const auto place = new_place(GetParam(), dir.path());
  {
    auto writer = place.open();
    ImageRecord image;
    image.path = "ceremony/IMG_0001.JPG";
    image.sha256 = "abc";
    writer->write([&] { writer->add_image(image); });
  }
  auto reader = place.open(Access::read_only);
  ASSERT_EQ(reader->images().size(), 1u);
  EXPECT_EQ(reader->images()[0].path, "ceremony/IMG_0001.JPG");
  EXPECT_EQ(reader->reopen()->images().size(), 1u) << "a second connection reads too";
  try {
    ImageRecord another;
    another.path = "x.jpg";
    reader->write([&] { reader->add_image(another); });
    ADD_FAILURE() << "a read-only catalog took a write";
  } catch (const CatalogError& e) {
    EXPECT_NE(std::string(e.what()).find(place.label()), std::string::npos) << e.what();
  }
  EXPECT_EQ(place.open()->images().size(), 1u);
}

TEST(CatalogReadOnly, AMissingCatalogIsNotCreated) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  EXPECT_THROW(open_sqlite_catalog(file, Access::read_only), CatalogError);
  EXPECT_FALSE(fs::exists(file));
}

TEST(CatalogReadOnly, AnOlderCatalogIsBroughtUpToDateFirst) {
  TempDir dir;
  const auto file = dir.path() / "catalog.db";
  open_sqlite_catalog(file);
  RawDb(file).exec("ALTER TABLE tags DROP COLUMN sidecar_keywords; PRAGMA user_version = 4");
  auto reader = open_sqlite_catalog(file, Access::read_only);
  EXPECT_EQ(reader->schema_version(), latest_schema_version());
  EXPECT_TRUE(reader->tags().empty());
}

// Each thread holds its own Catalog (its own connection), as two processes would.
// `ready` counts the threads at the start line, so that both open the catalog at once.
void write_rows(const CatalogPlace& place, const std::string& prefix, int rows, std::atomic<int>& failures,
                std::atomic<int>& done, std::atomic<int>& ready) {
  ++ready;
  while (ready.load() < 2) std::this_thread::yield();
  try {
    auto catalog = place.open();
    for (int i = 0; i < rows; ++i) {
      catalog->write([&] {
        auto id = catalog->add_image(sample_image(prefix + std::to_string(i) + ".jpg"));
        catalog->put_job({id, "ingest", JobState::Done, 1, "", ""});
        catalog->add_event({"image.ingested", id, ""}, prefix);
      });
      ++done;
    }
  } catch (const std::exception& e) {
    ++failures;
    ADD_FAILURE() << prefix << ": " << e.what();
  }
}

TEST_P(CatalogBackendTest, TwoConnectionsFromTwoThreadsBothSucceed) {
  TempDir dir;
  const auto place = new_place(GetParam(), dir.path());
  place.open();  // created up front; see the next test for a race on creation
  std::atomic<int> failures{0}, done{0}, ready{0};
  constexpr int k_rows = 200;
  std::thread a(write_rows, std::cref(place), "a-", k_rows, std::ref(failures), std::ref(done), std::ref(ready));
  std::thread b(write_rows, std::cref(place), "b-", k_rows, std::ref(failures), std::ref(done), std::ref(ready));
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(done.load(), 2 * k_rows);
  auto catalog = place.open();
  EXPECT_EQ(catalog->images().size(), std::size_t(2 * k_rows));
  EXPECT_EQ(catalog->event_count(), 2 * k_rows);
  auto counts = catalog->stage_counts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].count, 2 * k_rows);
  if (GetParam() == Backend::sqlite) {
    EXPECT_EQ(RawDb(place.file).scalar("PRAGMA integrity_check"), "ok");
  }
}

TEST_P(CatalogBackendTest, TwoConnectionsMayCreateTheCatalogAtOnce) {
  // The race is narrow: several rounds, each on a new file or database.
  const int rounds = GetParam() == Backend::sqlite ? 60 : 15;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE(round);
    TempDir dir;
    const auto place = new_place(GetParam(), dir.path());
    std::atomic<int> failures{0}, done{0}, ready{0};
    std::thread a(write_rows, std::cref(place), "a-", 5, std::ref(failures), std::ref(done), std::ref(ready));
    std::thread b(write_rows, std::cref(place), "b-", 5, std::ref(failures), std::ref(done), std::ref(ready));
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0);
    auto catalog = place.open();
    EXPECT_EQ(catalog->schema_version(), latest_schema_version());
    EXPECT_EQ(catalog->images().size(), 10u);
    if (HasFailure()) break;
  }
}

// A claimed image is nobody else's until its lease runs out; then the next
// claimer takes it.
TEST_P(CatalogTest, ClaimsAreExclusiveUntilTheLeaseExpires) {
  for (int i = 0; i < 5; ++i) add(sample_image("img" + std::to_string(i) + ".jpg", std::string(63, 'a') + char('0' + i)));
  auto other = m_catalog->reopen();
  auto first = m_catalog->claim("render", "s1", "", "run-a", 60'000, 3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].path, "img0.jpg");  // equal priority: the oldest first
  EXPECT_EQ(m_catalog->count_claimable("render", "s1", ""), 2);
  auto second = other->claim("render", "s1", "", "run-b", 60'000, 10);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].path, "img3.jpg");
  EXPECT_TRUE(other->claim("render", "s1", "", "run-c", 60'000, 10).empty());
  EXPECT_EQ(m_catalog->job(first[0].id, "render")->state, JobState::Running);

  // run-a's leases run out (renewed into the past): its images go to the next claimer.
  m_catalog->renew_leases("run-a", -1'000, {"render", 0, 3});
  auto taken_over = other->claim("render", "s1", "", "run-c", 60'000, 10);
  ASSERT_EQ(taken_over.size(), 3u);
  EXPECT_EQ(m_catalog->job(taken_over[0].id, "render")->attempts, 2);

  // Released claims are claimable at once; done work is not, until the settings change.
  other->release_leases("run-b");
  EXPECT_EQ(m_catalog->count_claimable("render", "s1", ""), 2);
  for (const auto& image : taken_over)
    m_catalog->put_job({image.id, "render", JobState::Done, 1, "", image.sha256 + ":s1"});
  EXPECT_EQ(m_catalog->count_claimable("render", "s1", ""), 2);
  EXPECT_EQ(m_catalog->count_claimable("render", "s2", ""), 5);
  // A stage that waits for another claims only what that one finished.
  EXPECT_EQ(m_catalog->count_claimable("tag", "t", "render"), 3);
}

// Work is claimed by priority, then age: a claim of N takes the N most
// urgent claimable images, the oldest first among equals, and never leaves a
// more urgent one behind for a later claim; for a stage that follows another,
// too; and a claim with a floor takes nothing below it.
TEST_P(CatalogTest, ClaimsTakeTheMostUrgentThenTheOldest) {
  // Added in this order (ids ascending): priorities mixed, as a backlog
  // being rendered meets a hot folder and a rush.
  const std::vector<std::pair<std::string, int>> queued = {
      {"backlog-1.jpg", k_priority_normal}, {"hot-1.jpg", k_priority_hot_folder}, {"backlog-2.jpg", k_priority_normal},
      {"rush-1.jpg", k_priority_rush},      {"hot-2.jpg", k_priority_hot_folder}, {"backlog-3.jpg", k_priority_normal},
      {"a-hot.jpg", k_priority_hot_folder}, {"rush-2.jpg", k_priority_rush},      {"backlog-4.jpg", k_priority_normal}};
  std::map<std::string, int> priority_of;
  for (std::size_t i = 0; i < queued.size(); ++i) {
    auto image = sample_image(queued[i].first, fmt::format("{:064}", i));
    image.priority = queued[i].second;
    add(image);
    priority_of[queued[i].first] = queued[i].second;
  }
  for (const auto& image : m_catalog->images()) EXPECT_EQ(image.priority, priority_of[image.path]) << image.path;

  EXPECT_EQ(m_catalog->count_claimable("render", "s", "", k_priority_hot_folder), 5);
  EXPECT_EQ(m_catalog->count_claimable("render", "s", "", k_priority_rush), 2);
  EXPECT_EQ(m_catalog->count_claimable("render", "s", ""), 9);

  auto paths = [](const std::vector<ImageRecord>& images) {
    std::vector<std::string> out;
    for (const auto& image : images) out.push_back(image.path);
    return out;
  };
  // Claims of 2: each batch holds the most urgent left, never a less urgent
  // one while a more urgent one waits.
  std::vector<std::string> order;
  for (;;) {
    auto batch = m_catalog->claim("render", "s", "", "run-a", 60'000, 2);
    if (batch.empty()) break;
    for (const auto& image : batch) order.push_back(image.path);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"rush-1.jpg", "rush-2.jpg", "hot-1.jpg", "hot-2.jpg", "a-hot.jpg",
                                             "backlog-1.jpg", "backlog-2.jpg", "backlog-3.jpg", "backlog-4.jpg"}));

  // The tag stage, after render, in the same order; a floor leaves the backlog alone.
  for (const auto& image : m_catalog->images())
    m_catalog->put_job({image.id, "render", JobState::Done, 1, "", image.sha256 + ":s"});
  auto hot = m_catalog->claim("tag", "t", "render", "watch", 60'000, 10, k_priority_hot_folder);
  EXPECT_EQ(paths(hot), (std::vector<std::string>{"rush-1.jpg", "rush-2.jpg", "hot-1.jpg", "hot-2.jpg", "a-hot.jpg"}));
  EXPECT_TRUE(m_catalog->claim("tag", "t", "render", "watch", 60'000, 10, k_priority_hot_folder).empty());
  EXPECT_EQ(m_catalog->count_claimable("tag", "t", "render", k_priority_hot_folder), 0);
  EXPECT_EQ(m_catalog->count_claimable("tag", "t", "render"), 4);

  // A photo raised while the backlog waits jumps ahead of it.
  auto raised = *m_catalog->image_at("backlog-4.jpg");
  raised.priority = k_priority_rush;
  m_catalog->write([&] { m_catalog->update_image(raised); });
  EXPECT_EQ(m_catalog->image_at("backlog-4.jpg")->priority, k_priority_rush);
  EXPECT_EQ(paths(m_catalog->claim("tag", "t", "render", "run-a", 60'000, 2)),
            (std::vector<std::string>{"backlog-4.jpg", "backlog-1.jpg"}));
}

// Work another run holds is counted, at a floor, until it is done or its
// lease expires: what a stage with a floor waits for.
TEST_P(CatalogTest, WorkHeldByAnotherRunIsCountedUntilDoneOrExpired) {
  auto hot = sample_image("hot.jpg", std::string(64, 'h'));
  hot.priority = k_priority_hot_folder;
  const auto hot_id = add(hot);
  add(sample_image("backlog.jpg", std::string(64, 'b')));
  auto other = m_catalog->reopen();
  ASSERT_EQ(other->claim("render", "s", "", "run-b", 60'000, 10).size(), 2u);
  EXPECT_EQ(m_catalog->count_held("render", "watch", k_priority_hot_folder), 1);
  EXPECT_EQ(m_catalog->count_held("render", "watch", k_any_priority), 2);
  EXPECT_EQ(m_catalog->count_held("render", "run-b", k_any_priority), 0);  // its own
  EXPECT_EQ(m_catalog->count_held("tag", "watch", k_any_priority), 0);

  other->put_job({hot_id, "render", JobState::Done, 1, "", hot.sha256 + ":s"});
  EXPECT_EQ(m_catalog->count_held("render", "watch", k_priority_hot_folder), 0);
  EXPECT_EQ(m_catalog->count_held("render", "watch", k_any_priority), 1);
  other->renew_leases("run-b", -1'000, {"render", 1, 2});
  EXPECT_EQ(m_catalog->count_held("render", "watch", k_any_priority), 0);
}

// Workers claiming at once, each on its own connection, share the queue:
// every image is claimed exactly once.
TEST_P(CatalogTest, ConcurrentClaimersTakeEveryImageExactlyOnce) {
  constexpr int k_images = 120;
  m_catalog->write([&] {
    for (int i = 0; i < k_images; ++i)
      m_catalog->add_image(sample_image(fmt::format("shoot/{:04}.jpg", i), fmt::format("{:064}", i)));
  });
  std::mutex lock;
  std::vector<std::int64_t> claimed;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      try {
        auto catalog = m_catalog->reopen();
        for (;;) {
          auto batch = catalog->claim("render", "s", "", "worker-" + std::to_string(w), 60'000, 3);
          if (batch.empty()) break;
          std::lock_guard<std::mutex> guard(lock);
          for (const auto& image : batch) claimed.push_back(image.id);
        }
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << e.what();
      }
    });
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(claimed.size(), std::size_t(k_images));
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(), std::size_t(k_images)) << "claimed twice";
  EXPECT_EQ(scalar("SELECT count(*) FROM jobs WHERE state = 'running' AND attempts = 1"), std::to_string(k_images));
}

TEST_P(CatalogTest, QueryReadsTypedValuesAndRefusesWrites) {
  auto image = full_image("a.heic", std::nullopt);
  add(image);
  auto result = m_catalog->query("SELECT path, width, aperture, duplicate_of FROM images");
  ASSERT_EQ(result.columns.size(), 4u);
  EXPECT_EQ(result.columns[0], "path");
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0][0], "a.heic");
  EXPECT_EQ(result.rows[0][1], 8256);
  EXPECT_EQ(result.rows[0][2], 1.4);
  EXPECT_TRUE(result.rows[0][3].is_null());
  EXPECT_THROW(m_catalog->query("DELETE FROM images"), CatalogError);
  EXPECT_EQ(m_catalog->images().size(), 1u);
}

// Webhook deliveries are made by the catalog itself when an event is appended.
TEST_P(CatalogTest, AnEventWithSubscribersGetsItsDeliveries) {
  m_catalog->subscribe({{"https://hooks.example/a", {"run.failed"}}, {"https://hooks.example/b", {"run.failed"}}});
  m_catalog->write([&] {
    m_catalog->add_event({"run.failed", std::nullopt, R"({"code":1})"}, "run-1");
    m_catalog->add_event({"image.ingested", std::nullopt, ""}, "run-1");
    m_catalog->add_event({"test.ping", std::nullopt, R"({"endpoint":"https://hooks.example/b"})"}, "run-1");
  });
  auto all = m_catalog->deliveries(std::nullopt);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].event_type, "test.ping");
  EXPECT_EQ(all[0].endpoint, "https://hooks.example/b");
  EXPECT_NE(all[1].message_id, all[2].message_id);
  auto claimed = m_catalog->claim_deliveries("sender", 60'000, 10);
  EXPECT_EQ(claimed.size(), 3u);
  EXPECT_TRUE(m_catalog->reopen()->claim_deliveries("other", 60'000, 10).empty());
  EXPECT_TRUE(m_catalog->record_delivery("sender", {claimed[0].id, DeliveryState::delivered, 0, 200, "", "", {}}));
  EXPECT_FALSE(m_catalog->record_delivery("other", {claimed[1].id, DeliveryState::delivered, 0, 200, "", "", {}}));
  EXPECT_EQ(m_catalog->deliveries(DeliveryState::delivered).size(), 1u);
}

// What `catalog migrate` relies on: rows copied as they are (ids kept),
// no trigger fired for them (no second delivery of a copied event), and new
// rows numbered after the copied ones.
TEST_P(CatalogTest, InsertedRowsKeepTheirIdsAndFireNoTriggers) {
  TempDir other_dir;
  auto source = new_place(Backend::sqlite, other_dir.path()).open();
  source->subscribe({{"https://hooks.example/a", {"run.failed"}}});
  source->write([&] {
    for (int i = 0; i < 3; ++i) source->add_event({"run.failed", std::nullopt, ""}, "run-1");
  });
  m_catalog->subscribe({{"https://hooks.example/a", {"run.failed"}}});
  m_catalog->write([&] {
    for (const char* table : {"events", "webhook_deliveries"})
      m_catalog->insert_rows(table, source->query(fmt::format("SELECT * FROM {} ORDER BY id", table)));
  });
  EXPECT_EQ(m_catalog->event_count(), 3);
  auto copied = m_catalog->deliveries(std::nullopt);
  ASSERT_EQ(copied.size(), 3u) << "a copied event made deliveries of its own";
  EXPECT_EQ(copied[0].message_id, source->deliveries(std::nullopt)[0].message_id);
  m_catalog->write([&] { m_catalog->add_event({"run.failed", std::nullopt, ""}, "run-2"); });
  EXPECT_EQ(scalar("SELECT max(id) FROM events"), "4");
  EXPECT_EQ(m_catalog->deliveries(std::nullopt).size(), 4u) << "the trigger is on again for new events";
}

TEST(CatalogMigrations, EveryStepHasBothDialects) {
  for (std::size_t i = 0; i < migrations().size(); ++i) {
    EXPECT_NE(migrations()[i].sql, nullptr) << "step " << i + 1;
    EXPECT_NE(migrations()[i].postgres, nullptr) << "step " << i + 1 << " has no PostgreSQL form";
  }
}

// A password in the URL is refused, and the message does not repeat it.
TEST(CatalogPostgres, AUrlWithAPasswordIsRefusedWithoutShowingIt) {
  for (const std::string url : {"postgresql://studio:s3cr3t-hunter2@db.example/portfolio",
                                "postgresql://studio@db.example/portfolio?password=s3cr3t-hunter2",
                                "host=db.example dbname=portfolio password=s3cr3t-hunter2"}) {
    try {
      open_postgres_catalog(url);
      ADD_FAILURE() << "opened " << url;
    } catch (const CatalogError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
      EXPECT_NE(message.find("password"), std::string::npos) << message;
    }
  }
  EXPECT_THROW(check_catalog_url("postgresql://a@b/c?password=x"), CatalogError);
  EXPECT_NO_THROW(check_catalog_url("postgresql://studio@db.example/portfolio"));
}

// Leases are timed by the database's clock: a lease taken for a minute ends
// a minute after the server's now, whatever the worker's clock says.
TEST(CatalogPostgres, LeasesAreTimedByTheDatabaseClock) {
  std::string why;
  WSP_REQUIRE_TOOL(wsp::testing::postgres_server(&why), "a PostgreSQL 15 server is needed: " << why);
  const auto url = wsp::testing::fresh_postgres_database();
  auto catalog = open_postgres_catalog(url);
  ImageRecord image = sample_image("a.jpg");
  catalog->write([&] { catalog->add_image(image); });
  ASSERT_EQ(catalog->claim("render", "s", "", "run-a", 60'000, 1).size(), 1u);
  // What is left of the lease, by the server's own clock.
  const auto left = std::stoll(wsp::testing::postgres_exec(
      url, "SELECT lease_expires_ms - (extract(epoch FROM clock_timestamp()) * 1000)::bigint FROM jobs"));
  EXPECT_GT(left, 50'000);
  EXPECT_LE(left, 60'000);
  EXPECT_EQ(wsp::testing::postgres_exec(url, "SELECT pg_get_functiondef('wsp_now_ms'::regproc) LIKE "
                                              "'%clock_timestamp%'"),
            "t");
}

}  // namespace
