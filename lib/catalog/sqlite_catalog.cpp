// The embedded catalog: one SQLite file in WAL mode, so that readers (status,
// a second process) never block the writer and a kill -9 loses at most the
// transaction in flight.

#include <cctype>
#include <chrono>
#include <thread>
#include <unordered_map>
#include <sqlite3.h>

#include <fmt/format.h>

#include "catalog/catalog.hpp"
#include "catalog/migrations.hpp"
#include "catalog/words.hpp"
#include "util/files.hpp"

namespace wsp::catalog {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string_view to_string(ImageStatus status) {
  switch (status) {
    case ImageStatus::Active: return "active";
    case ImageStatus::Duplicate: return "duplicate";
    case ImageStatus::Rejected: return "rejected";
    case ImageStatus::Missing: return "missing";
  }
  return "active";
}

ImageStatus image_status_from(std::string_view text) {
  if (text == "duplicate") return ImageStatus::Duplicate;
  if (text == "rejected") return ImageStatus::Rejected;
  if (text == "missing") return ImageStatus::Missing;
  return ImageStatus::Active;
}

std::string_view to_string(JobState state) {
  switch (state) {
    case JobState::Pending: return "pending";
    case JobState::Running: return "running";
    case JobState::Done: return "done";
    case JobState::Failed: return "failed";
    case JobState::Rejected: return "rejected";
  }
  return "pending";
}

std::string_view to_string(DeliveryState state) {
  switch (state) {
    case DeliveryState::pending: return "pending";
    case DeliveryState::delivered: return "delivered";
    case DeliveryState::dead: return "dead";
  }
  return "pending";
}

DeliveryState delivery_state_from(std::string_view text) {
  if (text == "delivered") return DeliveryState::delivered;
  if (text == "dead") return DeliveryState::dead;
  return DeliveryState::pending;
}

JobState job_state_from(std::string_view text) {
  if (text == "running") return JobState::Running;
  if (text == "done") return JobState::Done;
  if (text == "failed") return JobState::Failed;
  if (text == "rejected") return JobState::Rejected;
  return JobState::Pending;
}

namespace {

// user_version records how far a file has come in migrations().
const int k_schema_version = static_cast<int>(migrations().size());

// The catalog's file, for messages: an error that names no file leaves the
// photographer to guess which of several projects is meant.
std::string file_of(sqlite3* db) {
  const char* name = sqlite3_db_filename(db, "main");
  return name && *name ? std::string(name) : std::string("catalog");
}

class Statement {
public:
  Statement(sqlite3* db, const char* sql) : m_db(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &m_statement, nullptr) != SQLITE_OK)
      throw CatalogError(fmt::format("{}: cannot prepare statement: {}", file_of(db), sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(m_statement); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(m_statement, index, value);
    return *this;
  }
  Statement& bind(int index, int value) { return bind(index, std::int64_t(value)); }
  Statement& bind(int index, const std::string& value) {
    sqlite3_bind_text(m_statement, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::string_view value) { return bind(index, std::string(value)); }
  template <typename T>
  Statement& bind(int index, const std::optional<T>& value) {
    if (value) return bind(index, *value);
    sqlite3_bind_null(m_statement, index);
    return *this;
  }
  Statement& bind(int index, double value) {
    sqlite3_bind_double(m_statement, index, value);
    return *this;
  }

  // Steps once; true while there is a row to read.
  bool step() {
    int rc = sqlite3_step(m_statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw CatalogError(fmt::format("{}: {}", file_of(m_db), sqlite3_errmsg(m_db)));
  }
  void run() {
    while (step()) {
    }
  }

  std::int64_t integer(int column) const { return sqlite3_column_int64(m_statement, column); }
  double real(int column) const { return sqlite3_column_double(m_statement, column); }
  bool is_null(int column) const { return sqlite3_column_type(m_statement, column) == SQLITE_NULL; }
  std::string text(int column) const {
    auto* data = reinterpret_cast<const char*>(sqlite3_column_text(m_statement, column));
    return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(m_statement, column))) : std::string();
  }
  template <typename T>
  std::optional<T> optional(int column) const {
    if (is_null(column)) return std::nullopt;
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(real(column));
    else return static_cast<T>(integer(column));
  }

private:
  sqlite3* m_db;
  sqlite3_stmt* m_statement = nullptr;
};

constexpr const char* k_run_columns = "id, command, pid, host, started_ms, heartbeat_ms, finished_ms, exit_code";

std::vector<RunRecord> read_runs(Statement& s) {
  std::vector<RunRecord> runs;
  while (s.step())
    runs.push_back({s.text(0), s.text(1), s.integer(2), s.text(3), s.integer(4), s.integer(5),
                    s.optional<std::int64_t>(6), s.optional<int>(7)});
  return runs;
}

constexpr const char* k_image_columns =
    "id, path, size, mtime_ns, inode, sha256, status, duplicate_of, reject_reason, format, width, height, "
    "orientation, capture_time, capture_offset, make, model, serial, owner, lens, focal_length, aperture, shutter, "
    "iso, artist, copyright, icc_description, has_gps, first_seen_ms, updated_ms, priority";

// Parameters: ?1 stage, ?2 settings fingerprint, ?3 now in ms, ?4 the stage
// that must be done first ('' for none), ?6 the lowest priority taken. Failed
// jobs with the current fingerprint wait for `retry`; a changed fingerprint
// requeues them.
constexpr const char* k_claimable =
    "i.status = 'active' AND i.priority >= ?6 AND (?4 = '' OR EXISTS (SELECT 1 FROM jobs p WHERE p.image_id = i.id AND p.stage = ?4 "
    "AND p.state = 'done')) AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.stage = ?1 AND "
    "j.fingerprint = i.sha256 || ':' || ?2 AND j.state IN ('done', 'failed', 'rejected')) AND NOT EXISTS "
    "(SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.stage = ?1 AND j.state = 'running' AND "
    "j.lease_expires_ms >= ?3)";

std::string prefixed_columns() {
  std::string columns = "i.";
  for (const char* c = k_image_columns; *c; ++c) {
    columns.push_back(*c);
    if (*c == ' ') columns += "i.";
  }
  return columns;
}

ImageRecord read_image(const Statement& row) {
  ImageRecord image;
  image.id = row.integer(0);
  image.path = row.text(1);
  image.size = row.integer(2);
  image.mtime_ns = row.integer(3);
  image.inode = row.integer(4);
  image.sha256 = row.text(5);
  image.status = image_status_from(row.text(6));
  image.duplicate_of = row.optional<std::int64_t>(7);
  image.reject_reason = row.text(8);
  auto& header = image.header;
  header.format = row.text(9);
  header.width = static_cast<int>(row.integer(10));
  header.height = static_cast<int>(row.integer(11));
  auto& camera = header.camera;
  camera.orientation = static_cast<int>(row.integer(12));
  camera.capture_time = row.text(13);
  camera.capture_offset = row.text(14);
  camera.make = row.text(15);
  camera.model = row.text(16);
  camera.serial = row.text(17);
  camera.owner = row.text(18);
  camera.lens = row.text(19);
  camera.focal_length_mm = row.optional<double>(20);
  camera.aperture = row.optional<double>(21);
  camera.shutter = row.text(22);
  camera.iso = row.optional<int>(23);
  camera.artist = row.text(24);
  camera.copyright = row.text(25);
  header.icc_description = row.text(26);
  camera.has_gps = row.integer(27) != 0;
  image.first_seen_ms = row.integer(28);
  image.updated_ms = row.integer(29);
  image.priority = static_cast<int>(row.integer(30));
  return image;
}

// Binds every column but id, in k_image_columns order, from parameter 1.
void bind_image(Statement& s, const ImageRecord& image) {
  const auto& header = image.header;
  const auto& camera = header.camera;
  s.bind(1, image.path).bind(2, image.size).bind(3, image.mtime_ns).bind(4, image.inode).bind(5, image.sha256);
  s.bind(6, to_string(image.status)).bind(7, image.duplicate_of).bind(8, image.reject_reason);
  s.bind(9, header.format).bind(10, header.width).bind(11, header.height).bind(12, camera.orientation);
  s.bind(13, camera.capture_time).bind(14, camera.capture_offset).bind(15, camera.make).bind(16, camera.model);
  s.bind(17, camera.serial).bind(18, camera.owner).bind(19, camera.lens).bind(20, camera.focal_length_mm);
  s.bind(21, camera.aperture).bind(22, camera.shutter).bind(23, camera.iso).bind(24, camera.artist);
  s.bind(25, camera.copyright).bind(26, header.icc_description).bind(27, camera.has_gps ? 1 : 0);
  s.bind(28, image.first_seen_ms).bind(29, image.updated_ms).bind(30, image.priority);
}

// `file` as an SQLite URI, every byte but the unreserved ones percent-encoded,
// so that a '?' or '#' in a folder's name stays part of the path.
std::string file_uri(const std::filesystem::path& file) {
  std::string uri = "file:";
  for (unsigned char c : std::filesystem::absolute(file).string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~')
      uri.push_back(static_cast<char>(c));
    else
      uri += fmt::format("%{:02X}", c);
  }
  return uri;
}

// On one host a flock file beside the catalog is the lock: the kernel frees
// it when its process dies, and its holder's note names it.
class FileProjectLock final : public ProjectLock {
public:
  FileProjectLock(const std::filesystem::path& file, LockWait wait)
      : m_where(file.string()),
        m_lock(file, wait == LockWait::until_free ? util::FileLock::Wait::until_free : util::FileLock::Wait::no,
               this_process() + "\n") {}
  bool held() const override { return m_lock.held(); }
  const std::string& holder() const override { return m_lock.holder(); }
  const std::string& where() const override { return m_where; }

private:
  std::string m_where;
  util::FileLock m_lock;
};

class SqliteCatalog final : public Catalog {
public:
  SqliteCatalog(const std::filesystem::path& file, Access access) : m_file(file), m_access(access) {
    if (access == Access::read_only) {
      open_read_only();
      return;
    }
    open(file.c_str(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    try {
      enable_wal();
      exec("PRAGMA synchronous=NORMAL");
      exec("PRAGMA foreign_keys=ON");
      migrate(file);
    } catch (...) {
      sqlite3_close(m_db);
      throw;
    }
  }
  ~SqliteCatalog() override { sqlite3_close(m_db); }

  void write(const std::function<void()>& work) override {
    if (m_in_transaction) {
      work();
      return;
    }
    exec("BEGIN IMMEDIATE");
    m_in_transaction = true;
    try {
      work();
      exec("COMMIT");
      m_in_transaction = false;
    } catch (...) {
      sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
      m_in_transaction = false;
      throw;
    }
  }

  std::vector<ImageRecord> images() override {
    Statement s(m_db, fmt::format("SELECT {} FROM images ORDER BY path", k_image_columns).c_str());
    std::vector<ImageRecord> all;
    while (s.step()) all.push_back(read_image(s));
    return all;
  }

  std::optional<ImageRecord> image_at(const std::string& path) override {
    Statement s(m_db, fmt::format("SELECT {} FROM images WHERE path = ?1", k_image_columns).c_str());
    s.bind(1, path);
    if (!s.step()) return std::nullopt;
    return read_image(s);
  }

  std::vector<ImageRecord> images_with_hash(const std::string& sha256) override {
    Statement s(m_db, fmt::format("SELECT {} FROM images WHERE sha256 = ?1 ORDER BY id", k_image_columns).c_str());
    s.bind(1, sha256);
    std::vector<ImageRecord> found;
    while (s.step()) found.push_back(read_image(s));
    return found;
  }

  std::int64_t add_image(const ImageRecord& image) override {
    Statement s(m_db,
                "INSERT INTO images (path, size, mtime_ns, inode, sha256, status, duplicate_of, reject_reason, format, "
                "width, height, orientation, capture_time, capture_offset, make, model, serial, owner, lens, "
                "focal_length, aperture, shutter, iso, artist, copyright, icc_description, has_gps, first_seen_ms, "
                "updated_ms, priority) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)");
    bind_image(s, image);
    s.run();
    return sqlite3_last_insert_rowid(m_db);
  }

  void update_image(const ImageRecord& image) override {
    Statement s(m_db,
                "UPDATE images SET path = ?1, size = ?2, mtime_ns = ?3, inode = ?4, sha256 = ?5, status = ?6, "
                "duplicate_of = ?7, reject_reason = ?8, format = ?9, width = ?10, height = ?11, orientation = ?12, "
                "capture_time = ?13, capture_offset = ?14, make = ?15, model = ?16, serial = ?17, owner = ?18, "
                "lens = ?19, focal_length = ?20, aperture = ?21, shutter = ?22, iso = ?23, artist = ?24, "
                "copyright = ?25, icc_description = ?26, has_gps = ?27, first_seen_ms = ?28, updated_ms = ?29, "
                "priority = ?30 WHERE id = ?31");
    bind_image(s, image);
    s.bind(31, image.id);
    s.run();
  }

  void put_job(const Job& job) override {
    Statement s(m_db,
                "INSERT INTO jobs (image_id, stage, state, attempts, last_error, fingerprint, created_ms, updated_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (image_id, stage) DO UPDATE SET "
                "state = excluded.state, attempts = excluded.attempts, last_error = excluded.last_error, "
                "fingerprint = excluded.fingerprint, updated_ms = excluded.updated_ms, lease_owner = NULL, "
                "lease_expires_ms = NULL");
    s.bind(1, job.image_id).bind(2, job.stage).bind(3, to_string(job.state)).bind(4, job.attempts);
    s.bind(5, job.last_error).bind(6, job.fingerprint).bind(7, now_ms());
    s.run();
  }

  std::optional<Job> job(std::int64_t image_id, const std::string& stage) override {
    Statement s(m_db,
                "SELECT state, attempts, last_error, fingerprint FROM jobs WHERE image_id = ?1 AND stage = ?2");
    s.bind(1, image_id).bind(2, stage);
    if (!s.step()) return std::nullopt;
    return Job{image_id, stage, job_state_from(s.text(0)), static_cast<int>(s.integer(1)), s.text(2), s.text(3)};
  }

  void add_event(const Event& event, const std::string& run_id) override {
    Statement s(m_db, "INSERT INTO events (at_ms, run_id, image_id, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, now_ms()).bind(2, run_id).bind(3, event.image_id).bind(4, event.kind);
    s.bind(5, event.detail.empty() ? std::string("{}") : event.detail);
    s.run();
  }

  std::int64_t event_count() override {
    Statement s(m_db, "SELECT count(*) FROM events");
    s.step();
    return s.integer(0);
  }

  void begin_run(const RunRecord& run) override {
    write([&] {
      Statement s(m_db,
                  "INSERT INTO runs (id, command, pid, host, started_ms, heartbeat_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
      s.bind(1, run.id).bind(2, run.command).bind(3, run.pid).bind(4, run.host);
      s.bind(5, run.started_ms != 0 ? run.started_ms : now_ms());
      s.run();
    });
  }

  void heartbeat(const std::string& run_id) override {
    write([&] {
      Statement s(m_db, "UPDATE runs SET heartbeat_ms = ?1 WHERE id = ?2");
      s.bind(1, now_ms()).bind(2, run_id);
      s.run();
    });
  }

  void finish_run(const std::string& run_id, int exit_code) override {
    write([&] {
      Statement s(m_db, "UPDATE runs SET finished_ms = ?1, heartbeat_ms = ?1, exit_code = ?2 WHERE id = ?3");
      s.bind(1, now_ms()).bind(2, exit_code).bind(3, run_id);
      s.run();
    });
  }

  std::vector<RunRecord> unfinished_runs() override {
    Statement s(m_db, fmt::format("SELECT {} FROM runs WHERE finished_ms IS NULL ORDER BY started_ms", k_run_columns).c_str());
    return read_runs(s);
  }

  // One host holds a SQLite catalog: its clock is the catalog's.
  std::vector<RunRecord> runs_alive(std::int64_t within_ms) override {
    Statement s(m_db, fmt::format("SELECT {} FROM runs WHERE finished_ms IS NULL AND heartbeat_ms > ?1 ORDER BY started_ms",
                                  k_run_columns)
                          .c_str());
    s.bind(1, now_ms() - within_ms);
    return read_runs(s);
  }

  std::optional<std::int64_t> last_event_ms(const std::string& kind) override {
    // Newest first by rowid: the last one is near the end, with no index on kind.
    Statement s(m_db, "SELECT at_ms FROM events WHERE kind = ?1 ORDER BY id DESC LIMIT 1");
    s.bind(1, kind);
    if (!s.step()) return std::nullopt;
    return s.integer(0);
  }

  std::vector<RunRecord> recent_runs(int limit) override {
    Statement s(m_db, fmt::format("SELECT {} FROM runs ORDER BY started_ms DESC, rowid DESC LIMIT ?1", k_run_columns).c_str());
    s.bind(1, limit);
    return read_runs(s);
  }

  std::vector<ImageRecord> claim(const std::string& stage, const std::string& settings, const std::string& after,
                                 const std::string& run_id, std::int64_t lease_ms, int limit,
                                 int min_priority) override {
    std::vector<ImageRecord> claimed;
    write([&] {
      const auto now = now_ms();
      // images_queue gives this order without a sort.
      Statement s(m_db, fmt::format("SELECT {} FROM images i WHERE {} ORDER BY i.priority DESC, i.id LIMIT ?5",
                                    prefixed_columns(), k_claimable)
                            .c_str());
      s.bind(1, stage).bind(2, settings).bind(3, now).bind(4, after).bind(5, limit).bind(6, min_priority);
      while (s.step()) claimed.push_back(read_image(s));
      for (const auto& image : claimed) {
        Statement take(m_db,
                       "INSERT INTO jobs (image_id, stage, state, attempts, fingerprint, lease_owner, lease_expires_ms, "
                       "created_ms, updated_ms) VALUES (?1, ?2, 'running', 1, '', ?3, ?4, ?5, ?5) "
                       "ON CONFLICT (image_id, stage) DO UPDATE SET state = 'running', attempts = attempts + 1, "
                       "lease_owner = excluded.lease_owner, lease_expires_ms = excluded.lease_expires_ms, "
                       "updated_ms = excluded.updated_ms");
        take.bind(1, image.id).bind(2, stage).bind(3, run_id).bind(4, now + lease_ms).bind(5, now);
        take.run();
      }
    });
    return claimed;
  }

  std::int64_t count_claimable(const std::string& stage, const std::string& settings, const std::string& after,
                               int min_priority) override {
    Statement s(m_db, fmt::format("SELECT count(*) FROM images i WHERE {}", k_claimable).c_str());
    s.bind(1, stage).bind(2, settings).bind(3, now_ms()).bind(4, after).bind(6, min_priority);
    s.step();
    return s.integer(0);
  }

  std::int64_t count_held(const std::string& stage, const std::string& run_id, int min_priority) override {
    Statement s(m_db,
                "SELECT count(*) FROM jobs j JOIN images i ON i.id = j.image_id WHERE j.stage = ?1 AND "
                "j.state = 'running' AND j.lease_owner != ?2 AND j.lease_expires_ms >= ?3 AND i.priority >= ?4");
    s.bind(1, stage).bind(2, run_id).bind(3, now_ms()).bind(4, min_priority);
    s.step();
    return s.integer(0);
  }

  void renew_leases(const std::string& run_id, std::int64_t lease_ms, const RunProgress& progress) override {
    write([&] {
      const auto now = now_ms();
      Statement leases(m_db, "UPDATE jobs SET lease_expires_ms = ?1 WHERE lease_owner = ?2 AND state = 'running'");
      leases.bind(1, now + lease_ms).bind(2, run_id);
      leases.run();
      Statement run(m_db, "UPDATE runs SET heartbeat_ms = ?1, stage = ?2, done = ?3, total = ?4 WHERE id = ?5");
      run.bind(1, now).bind(2, progress.stage).bind(3, progress.done).bind(4, progress.total).bind(5, run_id);
      run.run();
    });
  }

  void release_leases(const std::string& run_id) override {
    write([&] {
      Statement s(m_db,
                  "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_expires_ms = NULL, updated_ms = ?1 "
                  "WHERE lease_owner = ?2 AND state = 'running'");
      s.bind(1, now_ms()).bind(2, run_id);
      s.run();
    });
  }

  std::int64_t requeue_failed(const std::string& stage, const std::string& path) override {
    std::int64_t changed = 0;
    write([&] {
      Statement s(m_db,
                  "UPDATE jobs SET state = 'pending', attempts = 0, updated_ms = ?1 WHERE state = 'failed' "
                  "AND (?2 = '' OR stage = ?2) AND (?3 = '' OR image_id IN (SELECT id FROM images WHERE path = ?3))");
      s.bind(1, now_ms()).bind(2, stage).bind(3, path);
      s.run();
      changed = sqlite3_changes(m_db);
    });
    return changed;
  }

  std::vector<std::pair<std::string, std::string>> failures(const std::string& stage) override {
    Statement s(m_db,
                "SELECT i.path, j.last_error FROM jobs j JOIN images i ON i.id = j.image_id WHERE j.state = 'failed' "
                "AND i.status = 'active' AND (?1 = '' OR j.stage = ?1) ORDER BY i.path");
    s.bind(1, stage);
    std::vector<std::pair<std::string, std::string>> found;
    while (s.step()) found.emplace_back(s.text(0), s.text(1));
    return found;
  }

  std::vector<std::string> replace_render(const RenderRecord& render) override {
    std::vector<std::string> old_paths;
    write([&] {
      Statement old(m_db, "SELECT path FROM variants WHERE image_id = ?1");
      old.bind(1, render.image_id);
      while (old.step()) old_paths.push_back(old.text(0));
      Statement old_analysis(m_db, "SELECT analysis_path FROM renders WHERE image_id = ?1 AND analysis_path != ?2");
      old_analysis.bind(1, render.image_id).bind(2, render.analysis_path);
      if (old_analysis.step() && !old_analysis.text(0).empty()) old_paths.push_back(old_analysis.text(0));
      Statement forget(m_db, "DELETE FROM variants WHERE image_id = ?1");
      forget.bind(1, render.image_id);
      forget.run();
      Statement put(m_db,
                    "INSERT INTO renders (image_id, fingerprint, width, height, analysis_path, placeholder, updated_ms) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (image_id) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, width = excluded.width, height = excluded.height, "
                    "analysis_path = excluded.analysis_path, placeholder = excluded.placeholder, "
                    "updated_ms = excluded.updated_ms");
      put.bind(1, render.image_id).bind(2, render.fingerprint).bind(3, render.width).bind(4, render.height);
      put.bind(5, render.analysis_path).bind(6, render.placeholder).bind(7, now_ms());
      put.run();
      for (const auto& variant : render.variants) {
        Statement add(m_db,
                      "INSERT INTO variants (image_id, width, height, format, bytes, sha256, path) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        add.bind(1, render.image_id).bind(2, variant.width).bind(3, variant.height).bind(4, variant.format);
        add.bind(5, variant.bytes).bind(6, variant.sha256).bind(7, variant.path);
        add.run();
      }
      std::erase_if(old_paths, [&](const std::string& path) {
        Statement used(m_db,
                       "SELECT 1 FROM variants WHERE path = ?1 UNION ALL SELECT 1 FROM renders WHERE analysis_path = ?1 "
                       "LIMIT 1");
        used.bind(1, path);
        return used.step();
      });
    });
    return old_paths;
  }

  std::vector<RenderRecord> renders() override {
    Statement s(m_db,
                "SELECT r.image_id, i.path, r.fingerprint, r.width, r.height, r.analysis_path, r.placeholder "
                "FROM renders r JOIN images i ON i.id = r.image_id WHERE i.status = 'active' ORDER BY i.path");
    std::vector<RenderRecord> all;
    while (s.step())
      all.push_back({s.integer(0), s.text(1), s.text(2), static_cast<int>(s.integer(3)), static_cast<int>(s.integer(4)),
                     s.text(5), s.text(6), {}});
    // Every variant in one query, not one query per render: a statement per
    // photo was most of an unchanged re-run's time.
    std::unordered_map<std::int64_t, RenderRecord*> by_image;
    for (auto& render : all) by_image.emplace(render.image_id, &render);
    Statement v(m_db, "SELECT image_id, width, height, format, bytes, sha256, path FROM variants "
                      "ORDER BY image_id, width DESC, format");
    while (v.step())
      if (auto found = by_image.find(v.integer(0)); found != by_image.end())
        found->second->variants.push_back({static_cast<int>(v.integer(1)), static_cast<int>(v.integer(2)), v.text(3),
                                           v.integer(4), v.text(5), v.text(6)});
    return all;
  }

  std::vector<std::string> referenced_files() override {
    Statement s(m_db, "SELECT path FROM variants UNION SELECT analysis_path FROM renders WHERE analysis_path != ''");
    std::vector<std::string> paths;
    while (s.step()) paths.push_back(s.text(0));
    return paths;
  }

  void put_tags(const TagRecord& t) override {
    Statement s(m_db,
                "INSERT INTO tags (image_id, fingerprint, provider, model, scene, scene_confidence, scene_basis, "
                "keywords, alt_text, confidence, sharpness, exposure_error, overexposed, underexposed, palette, "
                "dominant_colour, phash, capture_utc_ms, camera, updated_ms, eyes_closed, faces, face_sharpness) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
                "?21, ?22, ?23) ON CONFLICT (image_id) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, provider = excluded.provider, model = excluded.model, "
                "scene = excluded.scene, scene_confidence = excluded.scene_confidence, "
                "scene_basis = excluded.scene_basis, keywords = excluded.keywords, alt_text = excluded.alt_text, "
                "confidence = excluded.confidence, sharpness = excluded.sharpness, "
                "exposure_error = excluded.exposure_error, overexposed = excluded.overexposed, "
                "underexposed = excluded.underexposed, palette = excluded.palette, "
                "dominant_colour = excluded.dominant_colour, phash = excluded.phash, "
                "capture_utc_ms = excluded.capture_utc_ms, camera = excluded.camera, updated_ms = excluded.updated_ms, "
                "eyes_closed = excluded.eyes_closed, faces = excluded.faces, face_sharpness = excluded.face_sharpness");
    s.bind(1, t.image_id).bind(2, t.fingerprint).bind(3, t.provider).bind(4, t.model).bind(5, t.scene);
    s.bind(6, t.scene_confidence).bind(7, t.scene_basis).bind(8, join_words(t.keywords)).bind(9, t.alt_text);
    s.bind(10, t.confidence).bind(11, t.sharpness).bind(12, t.exposure_error).bind(13, t.overexposed ? 1 : 0);
    s.bind(14, t.underexposed ? 1 : 0).bind(15, t.palette).bind(16, t.dominant_colour);
    s.bind(17, static_cast<std::int64_t>(t.phash)).bind(18, t.capture_utc_ms).bind(19, t.camera).bind(20, now_ms());
    s.bind(21, t.eyes_closed ? 1 : 0).bind(22, t.faces).bind(23, t.face_sharpness);
    s.run();
  }

  std::vector<TagRecord> tags() override {
    Statement s(m_db,
                "SELECT t.image_id, i.path, t.fingerprint, t.provider, t.model, t.scene, t.scene_confidence, "
                "t.scene_basis, t.keywords, t.alt_text, t.confidence, t.sharpness, t.exposure_error, t.overexposed, "
                "t.underexposed, t.palette, t.dominant_colour, t.phash, t.capture_utc_ms, t.camera, t.burst_group, "
                "t.sidecar_keywords, t.eyes_closed, t.faces, t.face_sharpness "
                "FROM tags t JOIN images i ON i.id = t.image_id WHERE i.status = 'active' ORDER BY i.path");
    std::vector<TagRecord> all;
    while (s.step()) {
      TagRecord t;
      t.image_id = s.integer(0);
      t.source_path = s.text(1);
      t.fingerprint = s.text(2);
      t.provider = s.text(3);
      t.model = s.text(4);
      t.scene = s.text(5);
      t.scene_confidence = s.real(6);
      t.scene_basis = s.text(7);
      t.keywords = split_words(s.text(8));
      t.alt_text = s.text(9);
      t.confidence = s.real(10);
      t.sharpness = s.real(11);
      t.exposure_error = s.real(12);
      t.overexposed = s.integer(13) != 0;
      t.underexposed = s.integer(14) != 0;
      t.palette = s.text(15);
      t.dominant_colour = s.text(16);
      t.phash = static_cast<std::uint64_t>(s.integer(17));
      t.capture_utc_ms = s.optional<std::int64_t>(18);
      t.camera = s.text(19);
      t.group = s.optional<std::int64_t>(20);
      t.sidecar_keywords = split_words(s.text(21));
      t.eyes_closed = s.integer(22) != 0;
      t.faces = s.optional<int>(23);
      t.face_sharpness = s.real(24);
      all.push_back(std::move(t));
    }
    return all;
  }

  void set_sidecar_keywords(std::int64_t image_id, const std::vector<std::string>& keywords) override {
    Statement s(m_db, "UPDATE tags SET sidecar_keywords = ?1 WHERE image_id = ?2");
    s.bind(1, join_words(keywords)).bind(2, image_id);
    s.run();
  }

  std::optional<std::string> analysis_path(std::int64_t image_id) override {
    Statement s(m_db, "SELECT analysis_path FROM renders WHERE image_id = ?1 AND analysis_path != ''");
    s.bind(1, image_id);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  }

  void set_groups(const std::vector<std::pair<std::int64_t, std::int64_t>>& groups) override {
    write([&] {
      Statement clear(m_db, "UPDATE tags SET burst_group = NULL WHERE burst_group IS NOT NULL");
      clear.run();
      for (const auto& [image_id, best] : groups) {
        Statement s(m_db, "UPDATE tags SET burst_group = ?1 WHERE image_id = ?2");
        s.bind(1, best).bind(2, image_id);
        s.run();
      }
    });
  }

  void put_override(const TagOverride& o) override {
    if (o.empty()) {
      Statement s(m_db, "DELETE FROM tag_overrides WHERE image_id = ?1");
      s.bind(1, o.image_id);
      s.run();
      return;
    }
    Statement s(m_db,
                "INSERT INTO tag_overrides (image_id, scene, add_tags, remove_tags, alt_text, rating, updated_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (image_id) DO UPDATE SET scene = excluded.scene, "
                "add_tags = excluded.add_tags, remove_tags = excluded.remove_tags, alt_text = excluded.alt_text, "
                "rating = excluded.rating, updated_ms = excluded.updated_ms");
    s.bind(1, o.image_id).bind(2, o.scene).bind(3, join_words(o.add_tags)).bind(4, join_words(o.remove_tags));
    s.bind(5, o.alt_text).bind(6, o.rating).bind(7, now_ms());
    s.run();
  }

  std::optional<TagOverride> tag_override(std::int64_t image_id) override {
    auto found = read_overrides("o.image_id = ?1", image_id);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  std::vector<TagOverride> overrides() override { return read_overrides("i.status = 'active'", std::nullopt); }

  void put_selection(const SelectionRecord& r) override {
    Statement s(m_db,
                "INSERT INTO selections (image_id, origin, stamp, rating, labels, tagged, keywords, changed_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (image_id) DO UPDATE SET origin = excluded.origin, "
                "stamp = excluded.stamp, rating = excluded.rating, labels = excluded.labels, tagged = excluded.tagged, "
                "keywords = excluded.keywords, changed_ms = excluded.changed_ms");
    std::optional<int> tagged;
    if (r.tagged) tagged = *r.tagged ? 1 : 0;
    s.bind(1, r.image_id).bind(2, r.origin).bind(3, r.stamp).bind(4, r.rating).bind(5, join_words(r.labels));
    s.bind(6, tagged).bind(7, join_words(r.keywords)).bind(8, r.changed_ms);
    s.run();
  }

  void remove_selection(std::int64_t image_id) override {
    Statement s(m_db, "DELETE FROM selections WHERE image_id = ?1");
    s.bind(1, image_id);
    s.run();
  }

  std::vector<SelectionRecord> selections() override {
    Statement s(m_db,
                "SELECT s.image_id, i.path, s.origin, s.stamp, s.rating, s.labels, s.tagged, s.keywords, s.changed_ms "
                "FROM selections s JOIN images i ON i.id = s.image_id WHERE i.status = 'active' ORDER BY i.path");
    std::vector<SelectionRecord> found;
    while (s.step()) {
      SelectionRecord r;
      r.image_id = s.integer(0);
      r.source_path = s.text(1);
      r.origin = s.text(2);
      r.stamp = s.text(3);
      r.rating = s.optional<int>(4);
      r.labels = split_words(s.text(5));
      if (!s.is_null(6)) r.tagged = s.integer(6) != 0;
      r.keywords = split_words(s.text(7));
      r.changed_ms = s.integer(8);
      found.push_back(std::move(r));
    }
    return found;
  }

  std::optional<std::string> cached_result(const std::string& content_sha256, const std::string& provider,
                                           const std::string& model) override {
    Statement s(m_db,
                "SELECT result FROM provider_results WHERE content_sha256 = ?1 AND provider = ?2 AND model = ?3");
    s.bind(1, content_sha256).bind(2, provider).bind(3, model);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  }

  void put_cached_result(const std::string& content_sha256, const std::string& provider, const std::string& model,
                         const std::string& result) override {
    Statement s(m_db,
                "INSERT INTO provider_results (content_sha256, provider, model, result, created_ms) "
                "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET result = excluded.result, "
                "created_ms = excluded.created_ms");
    s.bind(1, content_sha256).bind(2, provider).bind(3, model).bind(4, result).bind(5, now_ms());
    s.run();
  }

  void add_provider_call(const ProviderCall& call) override {
    Statement s(m_db,
                "INSERT INTO provider_calls (run_id, provider, calls, input_tokens, output_tokens, cost, failure, "
                "transient, circuit, at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    s.bind(1, call.run_id).bind(2, call.provider).bind(3, std::int64_t{call.calls}).bind(4, call.input_tokens);
    s.bind(5, call.output_tokens).bind(6, call.cost).bind(7, call.failure).bind(8, std::int64_t{call.transient});
    s.bind(9, call.circuit).bind(10, now_ms());
    s.run();
  }

  std::vector<ProviderUsage> provider_usage() override {
    // A catalog opened read-only may predate the table.
    Statement exists(m_db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'provider_calls'");
    if (!exists.step() || exists.integer(0) == 0) return {};
    Statement s(m_db,
                "SELECT provider, sum(calls), sum(failure != ''), sum(input_tokens), sum(output_tokens), sum(cost), "
                "(SELECT circuit FROM provider_calls l WHERE l.provider = p.provider ORDER BY id DESC LIMIT 1), "
                "(SELECT failure FROM provider_calls l WHERE l.provider = p.provider AND failure != '' "
                "ORDER BY id DESC LIMIT 1) FROM provider_calls p GROUP BY provider ORDER BY provider");
    std::vector<ProviderUsage> usage;
    while (s.step())
      usage.push_back({s.text(0), s.integer(1), s.integer(2), s.integer(3), s.integer(4), s.real(5), s.text(6),
                       s.text(7)});
    return usage;
  }

  std::optional<RunProgress> run_progress(const std::string& run_id) override {
    Statement s(m_db, "SELECT stage, done, total FROM runs WHERE id = ?1");
    s.bind(1, run_id);
    if (!s.step()) return std::nullopt;
    return RunProgress{s.text(0), s.integer(1), s.integer(2)};
  }

  std::vector<StageCount> stage_counts() override {
    Statement s(m_db, "SELECT stage, state, count(*) FROM jobs GROUP BY stage, state ORDER BY stage, state");
    std::vector<StageCount> counts;
    while (s.step()) counts.push_back({s.text(0), s.text(1), s.integer(2)});
    return counts;
  }

  std::vector<PublishedFile> published(const std::string& target) override {
    Statement s(m_db, "SELECT path, sha256, size, published_ms FROM published WHERE target = ?1 ORDER BY path");
    s.bind(1, target);
    std::vector<PublishedFile> files;
    while (s.step()) files.push_back({s.text(0), s.text(1), s.integer(2), s.integer(3)});
    return files;
  }

  void record_published(const std::string& target, const PublishedFile& file) override {
    write([&] {
      Statement s(m_db,
                  "INSERT INTO published (target, path, sha256, size, published_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                  "ON CONFLICT (target, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, "
                  "published_ms = excluded.published_ms");
      s.bind(1, target).bind(2, file.path).bind(3, file.sha256).bind(4, file.size);
      s.bind(5, file.published_ms != 0 ? file.published_ms : now_ms());
      s.run();
    });
  }

  void forget_published(const std::string& target, const std::string& path) override {
    write([&] {
      Statement s(m_db, "DELETE FROM published WHERE target = ?1 AND path = ?2");
      s.bind(1, target).bind(2, path);
      s.run();
    });
  }

  std::vector<std::string> pending_purges(const std::string& target) override {
    Statement s(m_db, "SELECT url FROM purge_pending WHERE target = ?1 ORDER BY url");
    s.bind(1, target);
    std::vector<std::string> urls;
    while (s.step()) urls.push_back(s.text(0));
    return urls;
  }

  void record_pending_purge(const std::string& target, const std::string& url) override {
    write([&] {
      Statement s(m_db, "INSERT OR IGNORE INTO purge_pending (target, url, recorded_ms) VALUES (?1, ?2, ?3)");
      s.bind(1, target).bind(2, url).bind(3, now_ms());
      s.run();
    });
  }

  std::vector<MultipartUpload> multipart_uploads(const std::string& target) override {
    std::vector<MultipartUpload> uploads;
    {
      Statement s(m_db, "SELECT path, sha256, upload_id, part_size, started_ms FROM multipart_uploads "
                        "WHERE target = ?1 ORDER BY started_ms, upload_id");
      s.bind(1, target);
      while (s.step()) uploads.push_back({s.text(0), s.text(1), s.text(2), s.integer(3), s.integer(4), {}});
    }
    for (auto& upload : uploads) {
      Statement s(m_db, "SELECT number, etag, checksum_sha256, size FROM multipart_parts "
                        "WHERE target = ?1 AND upload_id = ?2 ORDER BY number");
      s.bind(1, target).bind(2, upload.upload_id);
      while (s.step()) upload.parts.push_back({static_cast<int>(s.integer(0)), s.text(1), s.text(2), s.integer(3)});
    }
    return uploads;
  }

  void record_multipart_upload(const std::string& target, const MultipartUpload& upload) override {
    write([&] {
      Statement s(m_db, "INSERT OR REPLACE INTO multipart_uploads (target, upload_id, path, sha256, part_size, "
                        "started_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      s.bind(1, target).bind(2, upload.upload_id).bind(3, upload.path).bind(4, upload.sha256);
      s.bind(5, upload.part_size).bind(6, upload.started_ms != 0 ? upload.started_ms : now_ms());
      s.run();
    });
  }

  void record_uploaded_part(const std::string& target, const std::string& upload_id,
                            const UploadedPart& part) override {
    write([&] {
      Statement s(m_db, "INSERT OR REPLACE INTO multipart_parts (target, upload_id, number, etag, checksum_sha256, "
                        "size) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
      s.bind(1, target).bind(2, upload_id).bind(3, std::int64_t{part.number}).bind(4, part.etag);
      s.bind(5, part.checksum_sha256).bind(6, part.size);
      s.run();
    });
  }

  void forget_multipart_upload(const std::string& target, const std::string& upload_id) override {
    write([&] {
      Statement parts(m_db, "DELETE FROM multipart_parts WHERE target = ?1 AND upload_id = ?2");
      parts.bind(1, target).bind(2, upload_id);
      parts.run();
      Statement s(m_db, "DELETE FROM multipart_uploads WHERE target = ?1 AND upload_id = ?2");
      s.bind(1, target).bind(2, upload_id);
      s.run();
    });
  }

  void subscribe(const std::vector<WebhookSubscription>& subscriptions) override {
    write([&] {
      Statement clear(m_db, "DELETE FROM webhook_subscriptions");
      clear.run();
      for (const auto& subscription : subscriptions) {
        Statement endpoint(m_db, "INSERT INTO webhook_endpoints (url) VALUES (?1) ON CONFLICT (url) DO NOTHING");
        endpoint.bind(1, subscription.endpoint);
        endpoint.run();
        for (const auto& type : subscription.events) {
          Statement s(m_db, "INSERT OR IGNORE INTO webhook_subscriptions (endpoint, event_type) VALUES (?1, ?2)");
          s.bind(1, subscription.endpoint).bind(2, type);
          s.run();
        }
      }
    });
  }

  std::vector<Delivery> claim_deliveries(const std::string& owner, std::int64_t lease_ms, int limit,
                                         const std::string& endpoint) override {
    std::vector<Delivery> claimed;
    write([&] {
      const auto now = now_ms();
      Statement take(m_db,
                     "UPDATE webhook_deliveries SET lease_owner = ?1, lease_expires_ms = ?2 WHERE id IN (SELECT d.id "
                     "FROM webhook_deliveries d JOIN webhook_endpoints e ON e.url = d.endpoint WHERE d.state = "
                     "'pending' AND d.next_attempt_ms <= ?3 AND (d.lease_expires_ms IS NULL OR d.lease_expires_ms < ?3) "
                     "AND e.disabled_ms IS NULL AND (?4 = '' OR d.endpoint = ?4) ORDER BY d.next_attempt_ms, d.id "
                     "LIMIT ?5)");
      take.bind(1, owner).bind(2, now + lease_ms).bind(3, now).bind(4, endpoint).bind(5, limit);
      take.run();
      Statement s(m_db, fmt::format("SELECT {} WHERE d.lease_owner = ?1 AND d.lease_expires_ms = ?2 AND d.state = "
                                    "'pending' ORDER BY d.next_attempt_ms, d.id",
                                    k_delivery_select)
                            .c_str());
      s.bind(1, owner).bind(2, now + lease_ms);
      while (s.step()) claimed.push_back(read_delivery(s));
    });
    return claimed;
  }

  bool record_delivery(const std::string& owner, const DeliveryOutcome& outcome) override {
    bool held = false;
    write([&] {
      const auto now = now_ms();
      Statement s(m_db,
                  "UPDATE webhook_deliveries SET state = ?1, attempts = attempts + 1, next_attempt_ms = ?2, "
                  "last_status = ?3, last_error = ?4, last_response = ?5, delivered_ms = CASE WHEN ?1 = 'delivered' "
                  "THEN ?6 END, lease_owner = NULL, lease_expires_ms = NULL WHERE id = ?7 AND lease_owner = ?8 AND "
                  "state = 'pending'");
      s.bind(1, to_string(outcome.state)).bind(2, outcome.next_attempt_ms).bind(3, outcome.status);
      s.bind(4, outcome.error).bind(5, outcome.response).bind(6, now).bind(7, outcome.id).bind(8, owner);
      s.run();
      held = sqlite3_changes(m_db) > 0;
      if (held && outcome.disable_endpoint_reason) {
        Statement disable(m_db,
                          "UPDATE webhook_endpoints SET disabled_ms = ?1, disabled_reason = ?2 WHERE url = (SELECT "
                          "endpoint FROM webhook_deliveries WHERE id = ?3)");
        disable.bind(1, now).bind(2, *outcome.disable_endpoint_reason).bind(3, outcome.id);
        disable.run();
      }
    });
    return held;
  }

  void release_deliveries(const std::string& owner) override {
    write([&] {
      Statement s(m_db, "UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_ms = NULL WHERE lease_owner = ?1");
      s.bind(1, owner);
      s.run();
    });
  }

  void forget_pending_purge(const std::string& target, const std::string& url) override {
    write([&] {
      Statement s(m_db, "DELETE FROM purge_pending WHERE target = ?1 AND url = ?2");
      s.bind(1, target).bind(2, url);
      s.run();
    });
  }

  std::vector<Delivery> deliveries(std::optional<DeliveryState> state, int limit) override {
    Statement s(m_db, fmt::format("SELECT {} WHERE (?1 = '' OR d.state = ?1) ORDER BY d.id DESC LIMIT ?2",
                                  k_delivery_select)
                          .c_str());
    s.bind(1, state ? std::string(to_string(*state)) : std::string()).bind(2, limit);
    std::vector<Delivery> found;
    while (s.step()) found.push_back(read_delivery(s));
    return found;
  }

  std::optional<Delivery> delivery(std::int64_t id) override {
    Statement s(m_db, fmt::format("SELECT {} WHERE d.id = ?1", k_delivery_select).c_str());
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_delivery(s);
  }

  std::optional<std::int64_t> next_delivery_ms() override {
    Statement s(m_db,
                "SELECT min(max(d.next_attempt_ms, coalesce(d.lease_expires_ms, 0))) FROM webhook_deliveries d JOIN "
                "webhook_endpoints e ON e.url = d.endpoint WHERE d.state = 'pending' AND e.disabled_ms IS NULL");
    s.step();
    return s.optional<std::int64_t>(0);
  }

  std::int64_t retry_delivery(std::int64_t id) override {
    return changes("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?1, "
                   "lease_owner = NULL, lease_expires_ms = NULL WHERE id = ?2 AND state != 'delivered'",
                   now_ms(), id);
  }

  std::int64_t retry_dead_deliveries() override {
    return changes("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?1, "
                   "lease_owner = NULL, lease_expires_ms = NULL WHERE state = 'dead' AND ?2 = ?2",
                   now_ms(), 0);
  }

  std::int64_t replay_deliveries(std::int64_t since_ms) override {
    return changes("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?1, "
                   "delivered_ms = NULL, lease_owner = NULL, lease_expires_ms = NULL WHERE state != 'pending' AND "
                   "event_id IN (SELECT id FROM events WHERE at_ms >= ?2)",
                   now_ms(), since_ms);
  }

  bool enable_endpoint(const std::string& endpoint) override {
    bool enabled = false;
    write([&] {
      Statement s(m_db, "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_reason = '' WHERE url = ?1 AND "
                        "disabled_ms IS NOT NULL");
      s.bind(1, endpoint);
      s.run();
      enabled = sqlite3_changes(m_db) > 0;
    });
    return enabled;
  }

  std::int64_t prune_deliveries(std::int64_t before_ms) override {
    return changes("DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_ms < ?1 AND ?2 = ?2",
                   before_ms, 0);
  }

  void record_circuit(const CircuitRecord& circuit) override {
    write([&] {
      Statement s(m_db,
                  "INSERT INTO circuits (kind, name, state, consecutive_failures, opened_ms, last_error, updated_ms) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (kind, name) DO UPDATE SET state = excluded.state, "
                  "consecutive_failures = excluded.consecutive_failures, opened_ms = excluded.opened_ms, "
                  "last_error = excluded.last_error, updated_ms = excluded.updated_ms");
      s.bind(1, circuit.kind).bind(2, circuit.name).bind(3, circuit.state).bind(4, circuit.consecutive_failures);
      s.bind(5, circuit.opened_ms).bind(6, circuit.last_error).bind(7, now_ms());
      s.run();
    });
  }

  std::vector<CircuitRecord> circuits() override {
    Statement s(m_db,
                "SELECT kind, name, state, consecutive_failures, opened_ms, last_error, updated_ms FROM circuits "
                "ORDER BY kind, name");
    std::vector<CircuitRecord> out;
    while (s.step())
      out.push_back({s.text(0), s.text(1), s.text(2), static_cast<int>(s.integer(3)), s.optional<std::int64_t>(4),
                     s.text(5), s.integer(6)});
    return out;
  }

  std::vector<EndpointBacklog> webhook_backlog() override {
    Statement s(m_db,
                "SELECT e.url, (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint = e.url AND d.state = "
                "'pending'), (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint = e.url AND d.state = 'dead'), "
                "coalesce((SELECT d.last_error FROM webhook_deliveries d WHERE d.endpoint = e.url AND d.attempts > 0 "
                "AND d.state != 'delivered' ORDER BY d.id DESC LIMIT 1), ''), e.disabled_ms, e.disabled_reason FROM "
                "webhook_endpoints e ORDER BY e.url");
    std::vector<EndpointBacklog> backlog;
    while (s.step())
      backlog.push_back({s.text(0), s.integer(1), s.integer(2), s.text(3), s.optional<std::int64_t>(4), s.text(5)});
    return backlog;
  }

  QueryResult query(const std::string& sql) override {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK)
      throw CatalogError(fmt::format("{}: {}", file_of(m_db), sqlite3_errmsg(m_db)));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
    if (!raw) return {};
    if (!sqlite3_stmt_readonly(raw))
      throw CatalogError(fmt::format("{}: only a query that reads may be run here", file_of(m_db)));
    QueryResult result;
    const int columns = sqlite3_column_count(raw);
    for (int c = 0; c < columns; ++c) result.columns.emplace_back(sqlite3_column_name(raw, c));
    for (;;) {
      const int rc = sqlite3_step(raw);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw CatalogError(fmt::format("{}: {}", file_of(m_db), sqlite3_errmsg(m_db)));
      auto& row = result.rows.emplace_back();
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(raw, c)) {
          case SQLITE_INTEGER: row.emplace_back(sqlite3_column_int64(raw, c)); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(raw, c)); break;
          case SQLITE_NULL: row.emplace_back(nullptr); break;
          default: {
            auto* data = reinterpret_cast<const char*>(sqlite3_column_text(raw, c));
            row.emplace_back(std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(raw, c))));
          }
        }
      }
    }
    return result;
  }

  void insert_rows(const std::string& table, const QueryResult& rows) override {
    std::string columns, values;
    for (std::size_t c = 0; c < rows.columns.size(); ++c) {
      columns += fmt::format("{}\"{}\"", c ? ", " : "", rows.columns[c]);
      values += fmt::format("{}?{}", c ? ", " : "", c + 1);
    }
    write([&] {
      // The outbox trigger would make deliveries for copied events a second time.
      std::vector<std::pair<std::string, std::string>> triggers;
      {
        Statement found(m_db, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND "
                              "sql LIKE '%AFTER INSERT%'");
        found.bind(1, table);
        while (found.step()) triggers.emplace_back(found.text(0), found.text(1));
      }
      for (const auto& [name, sql] : triggers) exec(fmt::format("DROP TRIGGER \"{}\"", name).c_str());
      for (const auto& row : rows.rows) {
        Statement s(m_db, fmt::format("INSERT INTO \"{}\" ({}) VALUES ({})", table, columns, values).c_str());
        for (std::size_t c = 0; c < row.size(); ++c) {
          const int index = static_cast<int>(c + 1);
          const auto& value = row[c];
          if (value.is_number_integer()) s.bind(index, value.get<std::int64_t>());
          else if (value.is_number()) s.bind(index, value.get<double>());
          else if (value.is_string()) s.bind(index, value.get<std::string>());
          else s.bind(index, std::optional<std::int64_t>());
        }
        s.run();
      }
      for (const auto& [name, sql] : triggers) exec(sql.c_str());
    });
  }

  std::unique_ptr<Catalog> reopen() override { return std::make_unique<SqliteCatalog>(m_file, m_access); }

  // Processes on one host share no channel through the file: their workers poll.
  bool listen_for_work() override { return false; }
  bool wait_for_work(std::chrono::milliseconds) override { return false; }

  std::unique_ptr<ProjectLock> lock(const std::string& name, LockWait wait) override {
    try {
      return std::make_unique<FileProjectLock>(m_file.parent_path() / (name + ".lock"), wait);
    } catch (const std::runtime_error& e) {
      throw CatalogError(e.what());
    }
  }

  int schema_version() override {
    Statement s(m_db, "PRAGMA user_version");
    s.step();
    return static_cast<int>(s.integer(0));
  }

private:
  static constexpr const char* k_delivery_select =
      "d.id, d.message_id, d.endpoint, d.event_id, ev.kind, ev.at_ms, ev.detail, d.state, d.attempts, d.created_ms, "
      "d.next_attempt_ms, d.last_status, d.last_error, d.last_response, d.delivered_ms FROM webhook_deliveries d "
      "JOIN events ev ON ev.id = d.event_id";

  static Delivery read_delivery(const Statement& row) {
    Delivery d;
    d.id = row.integer(0);
    d.message_id = row.text(1);
    d.endpoint = row.text(2);
    d.event_id = row.integer(3);
    d.event_type = row.text(4);
    d.event_ms = row.integer(5);
    d.data = row.text(6);
    d.state = delivery_state_from(row.text(7));
    d.attempts = static_cast<int>(row.integer(8));
    d.created_ms = row.integer(9);
    d.next_attempt_ms = row.integer(10);
    d.last_status = row.optional<int>(11);
    d.last_error = row.text(12);
    d.last_response = row.text(13);
    d.delivered_ms = row.optional<std::int64_t>(14);
    return d;
  }

  // Runs a two-parameter update in a write transaction; the rows it changed.
  std::int64_t changes(const char* sql, std::int64_t first, std::int64_t second) {
    std::int64_t changed = 0;
    write([&] {
      Statement s(m_db, sql);
      s.bind(1, first).bind(2, second);
      s.run();
      changed = sqlite3_changes(m_db);
    });
    return changed;
  }

  std::vector<TagOverride> read_overrides(const char* where, std::optional<std::int64_t> image_id) {
    Statement s(m_db, fmt::format("SELECT o.image_id, i.path, o.scene, o.add_tags, o.remove_tags, o.alt_text, "
                                  "o.rating, o.updated_ms FROM tag_overrides o JOIN images i ON i.id = o.image_id WHERE {} "
                                  "ORDER BY i.path",
                                  where)
                          .c_str());
    if (image_id) s.bind(1, *image_id);
    std::vector<TagOverride> found;
    while (s.step()) {
      TagOverride o;
      o.image_id = s.integer(0);
      o.source_path = s.text(1);
      if (!s.is_null(2)) o.scene = s.text(2);
      o.add_tags = split_words(s.text(3));
      o.remove_tags = split_words(s.text(4));
      if (!s.is_null(5)) o.alt_text = s.text(5);
      o.rating = s.optional<int>(6);
      o.updated_ms = s.integer(7);
      found.push_back(std::move(o));
    }
    return found;
  }

  void open(const char* name, int flags) {
    if (sqlite3_open_v2(name, &m_db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      std::string message = m_db ? sqlite3_errmsg(m_db) : "out of memory";
      sqlite3_close(m_db);
      m_db = nullptr;
      throw CatalogError(fmt::format("{}: cannot open catalog: {}", m_file.string(), message));
    }
    // Another process may hold the write lock for a batch; wait rather than fail.
    sqlite3_busy_timeout(m_db, 30'000);
  }

  // For the commands that only read (status, verify): nothing is created,
  // migrated or switched to WAL, so that a catalog in a read-only folder (a
  // backup, an archive, another user's project) can be read. A WAL catalog
  // needs its -shm index, which a reader cannot create in such a folder; when
  // there is none and no write-ahead log either, nobody is writing and the
  // file alone is the whole catalog, so it is opened as immutable.
  void open_read_only() {
    open(m_file.c_str(), SQLITE_OPEN_READONLY);
    try {
      int version = 0;
      try {
        version = schema_version();
      } catch (const CatalogError&) {
        const int code = sqlite3_errcode(m_db);
        std::error_code error;
        const auto wal = m_file.string() + "-wal";
        const bool logged = std::filesystem::exists(wal, error) && std::filesystem::file_size(wal, error) > 0;
        if ((code != SQLITE_READONLY && code != SQLITE_CANTOPEN) || logged) throw;
        sqlite3_close(m_db);
        m_db = nullptr;
        open((file_uri(m_file) + "?immutable=1").c_str(), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
        version = schema_version();
      }
      if (version > k_schema_version)
        throw CatalogError(fmt::format("{}: catalog schema {} is newer than this wsportfolio understands ({}); upgrade",
                                       m_file.string(), version, k_schema_version));
      if (version < k_schema_version) {
        // An older catalog is brought up to date by a connection that may
        // write; where none may, the reason names the file.
        SqliteCatalog upgraded(m_file, Access::read_write);
      }
      exec("PRAGMA foreign_keys=ON");
    } catch (...) {
      sqlite3_close(m_db);
      throw;
    }
  }

  // Switching to WAL takes an exclusive lock and does not wait on busy_timeout:
  // two processes creating one catalog at once retry here instead of failing.
  void enable_wal() {
    for (int attempt = 0;; ++attempt) {
      char* error = nullptr;
      int rc = sqlite3_exec(m_db, "PRAGMA journal_mode=WAL", nullptr, nullptr, &error);
      sqlite3_free(error);
      if (rc == SQLITE_OK) return;
      if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt >= 300)
        throw CatalogError(fmt::format("{}: cannot enable WAL: {}", file_of(m_db), sqlite3_errmsg(m_db)));
      std::this_thread::sleep_for(std::chrono::milliseconds(10 + attempt % 20));
    }
  }

  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(m_db);
      sqlite3_free(error);
      throw CatalogError(fmt::format("{}: {}", file_of(m_db), message));
    }
  }

  bool present(const Migration& migration) {
    if (!migration.present) return false;
    Statement s(m_db, migration.present);
    return s.step() && s.integer(0) > 0;
  }

  void migrate(const std::filesystem::path& file) {
    // Two processes may open a new catalog at once: the version check and the
    // migration happen under one write lock.
    write([&] {
      int version = schema_version();
      if (version > k_schema_version)
        throw CatalogError(fmt::format("{}: catalog schema {} is newer than this wsportfolio understands ({}); upgrade",
                                       file.string(), version, k_schema_version));
      for (; version < k_schema_version; ++version) {
        const auto& step = migrations()[version];
        if (!present(step)) exec(step.sql);
        exec(fmt::format("PRAGMA user_version = {}", version + 1).c_str());
      }
    });
  }

  std::filesystem::path m_file;
  Access m_access;
  sqlite3* m_db = nullptr;
  bool m_in_transaction = false;
};

}  // namespace

int latest_schema_version() { return k_schema_version; }

std::unique_ptr<Catalog> open_sqlite_catalog(const std::filesystem::path& file, Access access) {
  return std::make_unique<SqliteCatalog>(file, access);
}

}  // namespace wsp::catalog
