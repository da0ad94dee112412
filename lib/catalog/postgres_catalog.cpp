// The shared catalog: one PostgreSQL database that workers on several hosts
// use at once. Work is claimed with FOR UPDATE SKIP LOCKED, and every lease,
// heartbeat and timestamp the catalog writes comes from the database's clock
// (wsp_now_ms(), clock_timestamp()), so that a worker whose clock is minutes
// off neither steals work nor loses its own.

#include <cstdlib>
#include <poll.h>
#include <unordered_map>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "catalog/catalog.hpp"
#include "catalog/migrations.hpp"
#include "catalog/words.hpp"
#include "util/hash.hpp"

namespace wsp::catalog {

namespace {

const int k_schema_version = static_cast<int>(migrations().size());

// pg_advisory_xact_lock keys: one serialises the `write` transactions as
// SQLite's BEGIN IMMEDIATE does, one the schema's creation and migration.
constexpr std::int64_t k_write_lock = 0x7773'7066'0001;
constexpr std::int64_t k_migrate_lock = 0x7773'7066'0002;

// How many times one claim looks for images again when every image it locked
// had just been claimed by another worker (see claim()).
constexpr int k_claim_looks = 16;

// The channel on which the catalog tells idle workers that work was queued.
constexpr const char* k_work_channel = "wsportfolio_work";

// The database clock in milliseconds since the epoch, as SQL.
constexpr const char* k_now = "wsp_now_ms()";

// One parameter as libpq takes it: text, or null.
using Param = std::optional<std::string>;

Param param(const std::string& value) { return value; }
Param param(std::string_view value) { return std::string(value); }
Param param(std::int64_t value) { return std::to_string(value); }
Param param(int value) { return std::to_string(value); }
Param param(double value) { return fmt::format("{}", value); }
template <typename T>
Param param(const std::optional<T>& value) {
  return value ? param(*value) : Param();
}

// The rows of one statement; values are read as text and converted.
class Rows {
public:
  explicit Rows(PGresult* result) : m_result(result, PQclear) {}
  int size() const { return PQntuples(m_result.get()); }
  bool empty() const { return size() == 0; }
  bool is_null(int row, int column) const { return PQgetisnull(m_result.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(m_result.get(), row, column),
                       static_cast<std::size_t>(PQgetlength(m_result.get(), row, column)));
  }
  std::int64_t integer(int row, int column) const {
    return is_null(row, column) ? 0 : std::strtoll(PQgetvalue(m_result.get(), row, column), nullptr, 10);
  }
  double real(int row, int column) const {
    return is_null(row, column) ? 0 : std::strtod(PQgetvalue(m_result.get(), row, column), nullptr);
  }
  template <typename T>
  std::optional<T> optional(int row, int column) const {
    if (is_null(row, column)) return std::nullopt;
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(real(row, column));
    else return static_cast<T>(integer(row, column));
  }
  std::int64_t changed() const { return std::strtoll(PQcmdTuples(m_result.get()), nullptr, 10); }
  PGresult* get() const { return m_result.get(); }

private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> m_result;
};

constexpr const char* k_image_columns =
    "id, path, size, mtime_ns, inode, sha256, status, duplicate_of, reject_reason, format, width, height, "
    "orientation, capture_time, capture_offset, make, model, serial, owner, lens, focal_length, aperture, shutter, "
    "iso, artist, copyright, icc_description, has_gps, first_seen_ms, updated_ms, priority";

std::string prefixed_columns() {
  std::string columns = "i.";
  for (const char* c = k_image_columns; *c; ++c) {
    columns.push_back(*c);
    if (*c == ' ') columns += "i.";
  }
  return columns;
}

ImageRecord read_image(const Rows& rows, int r) {
  ImageRecord image;
  image.id = rows.integer(r, 0);
  image.path = rows.text(r, 1);
  image.size = rows.integer(r, 2);
  image.mtime_ns = rows.integer(r, 3);
  image.inode = rows.integer(r, 4);
  image.sha256 = rows.text(r, 5);
  image.status = image_status_from(rows.text(r, 6));
  image.duplicate_of = rows.optional<std::int64_t>(r, 7);
  image.reject_reason = rows.text(r, 8);
  auto& header = image.header;
  header.format = rows.text(r, 9);
  header.width = static_cast<int>(rows.integer(r, 10));
  header.height = static_cast<int>(rows.integer(r, 11));
  auto& camera = header.camera;
  camera.orientation = static_cast<int>(rows.integer(r, 12));
  camera.capture_time = rows.text(r, 13);
  camera.capture_offset = rows.text(r, 14);
  camera.make = rows.text(r, 15);
  camera.model = rows.text(r, 16);
  camera.serial = rows.text(r, 17);
  camera.owner = rows.text(r, 18);
  camera.lens = rows.text(r, 19);
  camera.focal_length_mm = rows.optional<double>(r, 20);
  camera.aperture = rows.optional<double>(r, 21);
  camera.shutter = rows.text(r, 22);
  camera.iso = rows.optional<int>(r, 23);
  camera.artist = rows.text(r, 24);
  camera.copyright = rows.text(r, 25);
  header.icc_description = rows.text(r, 26);
  camera.has_gps = rows.integer(r, 27) != 0;
  image.first_seen_ms = rows.integer(r, 28);
  image.updated_ms = rows.integer(r, 29);
  image.priority = static_cast<int>(rows.integer(r, 30));
  return image;
}

std::vector<Param> image_params(const ImageRecord& image) {
  const auto& header = image.header;
  const auto& camera = header.camera;
  return {param(image.path), param(image.size), param(image.mtime_ns), param(image.inode), param(image.sha256),
          param(to_string(image.status)), param(image.duplicate_of), param(image.reject_reason),
          param(header.format), param(header.width), param(header.height), param(camera.orientation),
          param(camera.capture_time), param(camera.capture_offset), param(camera.make), param(camera.model),
          param(camera.serial), param(camera.owner), param(camera.lens), param(camera.focal_length_mm),
          param(camera.aperture), param(camera.shutter), param(camera.iso), param(camera.artist),
          param(camera.copyright), param(header.icc_description), param(camera.has_gps ? 1 : 0),
          param(image.first_seen_ms), param(image.updated_ms), param(image.priority)};
}

// $1 stage, $2 settings fingerprint, $3 the stage that must be done first
// ('' for none), $4 the lowest priority taken. As SQLite's, with the
// database's clock for the leases.
constexpr const char* k_claimable =
    "i.status = 'active' AND i.priority >= $4 AND ($3 = '' OR EXISTS (SELECT 1 FROM jobs p WHERE p.image_id = i.id AND p.stage = $3 "
    "AND p.state = 'done')) AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.stage = $1 AND "
    "j.fingerprint = i.sha256 || ':' || $2 AND j.state IN ('done', 'failed', 'rejected')) AND NOT EXISTS "
    "(SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.stage = $1 AND j.state = 'running' AND "
    "j.lease_expires_ms >= wsp_now_ms())";

constexpr const char* k_delivery_select =
    "d.id, d.message_id, d.endpoint, d.event_id, ev.kind, ev.at_ms, ev.detail, d.state, d.attempts, d.created_ms, "
    "d.next_attempt_ms, d.last_status, d.last_error, d.last_response, d.delivered_ms FROM webhook_deliveries d "
    "JOIN events ev ON ev.id = d.event_id";

constexpr const char* k_run_columns = "id, command, pid, host, started_ms, heartbeat_ms, finished_ms, exit_code";

std::vector<RunRecord> read_runs(const Rows& rows) {
  std::vector<RunRecord> runs;
  for (int r = 0; r < rows.size(); ++r)
    runs.push_back({rows.text(r, 0), rows.text(r, 1), rows.integer(r, 2), rows.text(r, 3), rows.integer(r, 4),
                    rows.integer(r, 5), rows.optional<std::int64_t>(r, 6), rows.optional<int>(r, 7)});
  return runs;
}

Delivery read_delivery(const Rows& rows, int r) {
  Delivery d;
  d.id = rows.integer(r, 0);
  d.message_id = rows.text(r, 1);
  d.endpoint = rows.text(r, 2);
  d.event_id = rows.integer(r, 3);
  d.event_type = rows.text(r, 4);
  d.event_ms = rows.integer(r, 5);
  d.data = rows.text(r, 6);
  d.state = delivery_state_from(rows.text(r, 7));
  d.attempts = static_cast<int>(rows.integer(r, 8));
  d.created_ms = rows.integer(r, 9);
  d.next_attempt_ms = rows.integer(r, 10);
  d.last_status = rows.optional<int>(r, 11);
  d.last_error = rows.text(r, 12);
  d.last_response = rows.text(r, 13);
  d.delivered_ms = rows.optional<std::int64_t>(r, 14);
  return d;
}

// The option of a parsed connection string, or empty.
std::string conninfo_value(PQconninfoOption* options, std::string_view keyword) {
  for (auto* option = options; option && option->keyword; ++option)
    if (keyword == option->keyword && option->val) return option->val;
  return {};
}

std::string label_of(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  PQfreemem(error);
  if (!options) return "postgresql catalog";
  std::string database = conninfo_value(options, "dbname");
  std::string user = conninfo_value(options, "user");
  std::string host = conninfo_value(options, "host");
  if (host.empty()) host = conninfo_value(options, "hostaddr");
  std::string port = conninfo_value(options, "port");
  PQconninfoFree(options);
  return fmt::format("postgresql catalog {}{}{}{}{}", database.empty() ? "(default database)" : database,
                     user.empty() ? "" : " as " + user, host.empty() ? "" : " on " + host,
                     port.empty() ? "" : ":" + port, "");
}

// One statement on `db`, its rows; throws CatalogError naming `label`.
Rows ask(PGconn* db, const std::string& label, const std::string& sql, const std::vector<Param>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  Rows rows(PQexecParams(db, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                         0));
  const auto status = rows.get() ? PQresultStatus(rows.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  std::string message = rows.get() ? PQresultErrorMessage(rows.get()) : PQerrorMessage(db);
  if (message.empty()) message = PQerrorMessage(db);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (message.starts_with("ERROR:  ")) message.erase(0, 8);
  throw CatalogError(fmt::format("{}: {}", label, message));
}

// What the server shows of a lock's holder: its connection's application_name.
constexpr std::string_view k_holder_prefix = "wsportfolio ";

// A project lock as a session-level advisory lock, on a connection that lives
// as long as the lock: the server frees it when the connection ends, however
// its process or host went. The key is a hash of the lock's name and the
// catalog's schema, the same on every host and every build.
class AdvisoryLock final : public ProjectLock {
public:
  AdvisoryLock(const std::string& url, const std::string& label, const std::string& name, LockWait wait)
      : m_where(label) {
    m_db = PQconnectdb(url.c_str());
    if (!m_db || PQstatus(m_db) != CONNECTION_OK) {
      std::string message = m_db ? PQerrorMessage(m_db) : "out of memory";
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      PQfinish(m_db);
      throw CatalogError(fmt::format("{}: cannot connect for the {} lock: {}", label, name, message));
    }
    try {
      // A host that vanishes without closing its connection is noticed by the
      // server's keepalives within a minute, which frees its locks.
      PQclear(PQexec(m_db, "SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 5; "
                           "SET tcp_keepalives_count = 4"));
      ask(m_db, label, "SELECT set_config('application_name', $1, false)",
          {param(std::string(k_holder_prefix) + this_process())});
      const auto schema = ask(m_db, label, "SELECT current_schema()").text(0, 0);
      const auto key = key_of(schema, name);
      if (wait == LockWait::until_free) {
        ask(m_db, label, "SELECT pg_advisory_lock($1)", {param(key)});
        m_held = true;
      } else {
        m_held = ask(m_db, label, "SELECT pg_try_advisory_lock($1)", {param(key)}).text(0, 0) == "t";
      }
      if (!m_held) {
        // A bigint key is shown in pg_locks split into its high and low halves.
        const auto unsigned_key = static_cast<std::uint64_t>(key);
        auto rows = ask(m_db, label,
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE "
                        "l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND "
                        "l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = "
                        "current_database())",
                        {param(std::to_string(unsigned_key >> 32)), param(std::to_string(unsigned_key & 0xffffffffu))});
        if (!rows.empty()) {
          m_holder = rows.text(0, 0);
          if (m_holder.starts_with(k_holder_prefix)) m_holder.erase(0, k_holder_prefix.size());
        }
        PQfinish(m_db);
        m_db = nullptr;
      }
    } catch (...) {
      PQfinish(m_db);
      throw;
    }
  }
  ~AdvisoryLock() override {
    if (m_db) PQfinish(m_db);
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

  bool held() const override { return m_held; }
  bool still_held() override {
    if (!m_held || !m_db) return false;
    Rows rows(PQexec(m_db, "SELECT 1"));
    if (rows.get() && PQresultStatus(rows.get()) == PGRES_TUPLES_OK) return true;
    m_held = false;
    return false;
  }
  const std::string& holder() const override { return m_holder; }
  const std::string& where() const override { return m_where; }

private:
  static std::int64_t key_of(const std::string& schema, const std::string& name) {
    const auto hex = util::sha256_hex("wsportfolio lock " + schema + " " + name).substr(0, 16);
    return static_cast<std::int64_t>(std::stoull(hex, nullptr, 16));
  }

  std::string m_where;
  PGconn* m_db = nullptr;
  bool m_held = false;
  std::string m_holder;
};

class PostgresCatalog final : public Catalog {
public:
  PostgresCatalog(const std::string& url, Access access) : m_url(url), m_access(access), m_label(label_of(url)) {
    check_catalog_url(url);
    m_db = PQconnectdb(url.c_str());
    if (!m_db || PQstatus(m_db) != CONNECTION_OK) {
      std::string message = m_db ? PQerrorMessage(m_db) : "out of memory";
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      PQfinish(m_db);
      throw CatalogError(fmt::format("{}: cannot connect: {}", m_label, message));
    }
    try {
      exec("SET client_min_messages = warning");
      if (access == Access::read_write) migrate();
      const int version = schema_version();
      if (version == 0) throw CatalogError(fmt::format("{}: no wsportfolio catalog in this database", m_label));
      if (version > k_schema_version)
        throw CatalogError(fmt::format("{}: catalog schema {} is newer than this wsportfolio understands ({}); upgrade",
                                       m_label, version, k_schema_version));
      if (version < k_schema_version) PostgresCatalog upgraded(url, Access::read_write);
      if (access == Access::read_only) exec("SET default_transaction_read_only = on");
    } catch (...) {
      PQfinish(m_db);
      throw;
    }
  }
  ~PostgresCatalog() override { PQfinish(m_db); }

  void write(const std::function<void()>& work) override {
    if (m_in_transaction) {
      work();
      return;
    }
    exec("BEGIN");
    m_in_transaction = true;
    m_notified = false;
    try {
      run(fmt::format("SELECT pg_advisory_xact_lock({})", k_write_lock));
      work();
      exec("COMMIT");
      m_in_transaction = false;
    } catch (...) {
      PQclear(PQexec(m_db, "ROLLBACK"));
      m_in_transaction = false;
      throw;
    }
  }

  int schema_version() override {
    auto exists = run("SELECT to_regclass('wsp_schema') IS NOT NULL");
    if (exists.text(0, 0) != "t") return 0;
    auto rows = run("SELECT coalesce(max(version), 0) FROM wsp_schema");
    return static_cast<int>(rows.integer(0, 0));
  }

  std::unique_ptr<Catalog> reopen() override { return std::make_unique<PostgresCatalog>(m_url, m_access); }

  std::unique_ptr<ProjectLock> lock(const std::string& name, LockWait wait) override {
    return std::make_unique<AdvisoryLock>(m_url, m_label, name, wait);
  }

  bool listen_for_work() override {
    if (!m_listening) exec(fmt::format("LISTEN {}", k_work_channel).c_str());
    m_listening = true;
    return true;
  }

  bool wait_for_work(std::chrono::milliseconds timeout) override {
    if (!m_listening) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (PQconsumeInput(m_db) == 0)
        throw CatalogError(fmt::format("{}: connection lost while waiting for work: {}", m_label, PQerrorMessage(m_db)));
      // Notifications that came in while this connection ran other statements
      // are queued too; this process's own are not news to it.
      bool woken = false;
      while (PGnotify* notice = PQnotifies(m_db)) {
        woken = woken || notice->be_pid != PQbackendPID(m_db);
        PQfreemem(notice);
      }
      if (woken) return true;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd socket{PQsocket(m_db), POLLIN, 0};
      ::poll(&socket, 1, static_cast<int>(left));
    }
  }

  std::vector<ImageRecord> images() override {
    auto rows = run(fmt::format("SELECT {} FROM images ORDER BY path", k_image_columns));
    return read_images(rows);
  }

  std::optional<ImageRecord> image_at(const std::string& path) override {
    auto rows = run(fmt::format("SELECT {} FROM images WHERE path = $1", k_image_columns), {param(path)});
    if (rows.empty()) return std::nullopt;
    return read_image(rows, 0);
  }

  std::vector<ImageRecord> images_with_hash(const std::string& sha256) override {
    auto rows = run(fmt::format("SELECT {} FROM images WHERE sha256 = $1 ORDER BY id", k_image_columns),
                    {param(sha256)});
    return read_images(rows);
  }

  std::int64_t add_image(const ImageRecord& image) override {
    auto rows = run("INSERT INTO images (path, size, mtime_ns, inode, sha256, status, duplicate_of, reject_reason, "
                    "format, width, height, orientation, capture_time, capture_offset, make, model, serial, owner, "
                    "lens, focal_length, aperture, shutter, iso, artist, copyright, icc_description, has_gps, "
                    "first_seen_ms, updated_ms, priority) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                    "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) "
                    "RETURNING id",
                    image_params(image));
    queued();
    return rows.integer(0, 0);
  }

  void update_image(const ImageRecord& image) override {
    auto params = image_params(image);
    params.push_back(param(image.id));
    run("UPDATE images SET path = $1, size = $2, mtime_ns = $3, inode = $4, sha256 = $5, status = $6, "
        "duplicate_of = $7, reject_reason = $8, format = $9, width = $10, height = $11, orientation = $12, "
        "capture_time = $13, capture_offset = $14, make = $15, model = $16, serial = $17, owner = $18, "
        "lens = $19, focal_length = $20, aperture = $21, shutter = $22, iso = $23, artist = $24, "
        "copyright = $25, icc_description = $26, has_gps = $27, first_seen_ms = $28, updated_ms = $29, "
        "priority = $30 WHERE id = $31",
        params);
    queued();
  }

  void put_job(const Job& job) override {
    run("INSERT INTO jobs (image_id, stage, state, attempts, last_error, fingerprint, created_ms, updated_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, wsp_now_ms(), wsp_now_ms()) ON CONFLICT (image_id, stage) DO UPDATE SET "
        "state = excluded.state, attempts = excluded.attempts, last_error = excluded.last_error, "
        "fingerprint = excluded.fingerprint, updated_ms = excluded.updated_ms, lease_owner = NULL, "
        "lease_expires_ms = NULL",
        {param(job.image_id), param(job.stage), param(to_string(job.state)), param(job.attempts),
         param(job.last_error), param(job.fingerprint)});
    queued();
  }

  std::optional<Job> job(std::int64_t image_id, const std::string& stage) override {
    auto rows = run("SELECT state, attempts, last_error, fingerprint FROM jobs WHERE image_id = $1 AND stage = $2",
                    {param(image_id), param(stage)});
    if (rows.empty()) return std::nullopt;
    return Job{image_id, stage, job_state_from(rows.text(0, 0)), static_cast<int>(rows.integer(0, 1)),
               rows.text(0, 2), rows.text(0, 3)};
  }

  std::vector<ImageRecord> claim(const std::string& stage, const std::string& settings, const std::string& after,
                                 const std::string& run_id, std::int64_t lease_ms, int limit,
                                 int min_priority) override {
    std::vector<ImageRecord> claimed;
    transaction([&] {
      // Locking the images skips those another worker is claiming right now.
      // Every claim holds its images' locks until it commits, so the second
      // statement, whose snapshot is taken once the locks are ours, sees
      // every claim made before and keeps only what is still claimable.
      // images_queue gives the order, highest priority then oldest, without a sort.
      // The first statement's snapshot predates the locks: images another
      // worker claimed and committed in between are locked, then dropped by
      // the second. An empty claim ends a stage (pipeline/engine.cpp), so the
      // claim looks again, each statement with a newer snapshot, until it
      // holds something or nothing claimable is left unlocked.
      for (int look = 0; look < k_claim_looks && claimed.empty(); ++look) {
        auto locked = run(fmt::format("SELECT i.id FROM images i WHERE {} ORDER BY i.priority DESC, i.id LIMIT $5 "
                                      "FOR UPDATE OF i SKIP LOCKED",
                                      k_claimable),
                          {param(stage), param(settings), param(after), param(min_priority), param(limit)});
        if (locked.empty()) return;
        std::string ids = "{";
        for (int r = 0; r < locked.size(); ++r) ids += (r ? "," : "") + locked.text(r, 0);
        ids += "}";
        auto rows = run(fmt::format("SELECT {} FROM images i WHERE i.id = ANY($5::bigint[]) AND {} ORDER BY "
                                    "i.priority DESC, i.id",
                                    prefixed_columns(), k_claimable),
                        {param(stage), param(settings), param(after), param(min_priority), param(ids)});
        claimed = read_images(rows);
      }
      for (const auto& image : claimed)
        run("INSERT INTO jobs (image_id, stage, state, attempts, fingerprint, lease_owner, lease_expires_ms, "
            "created_ms, updated_ms) VALUES ($1, $2, 'running', 1, '', $3, wsp_now_ms() + $4, wsp_now_ms(), "
            "wsp_now_ms()) ON CONFLICT (image_id, stage) DO UPDATE SET state = 'running', "
            "attempts = jobs.attempts + 1, lease_owner = excluded.lease_owner, "
            "lease_expires_ms = excluded.lease_expires_ms, updated_ms = excluded.updated_ms",
            {param(image.id), param(stage), param(run_id), param(lease_ms)});
    });
    return claimed;
  }

  std::int64_t count_claimable(const std::string& stage, const std::string& settings, const std::string& after,
                               int min_priority) override {
    auto rows = run(fmt::format("SELECT count(*) FROM images i WHERE {}", k_claimable),
                    {param(stage), param(settings), param(after), param(min_priority)});
    return rows.integer(0, 0);
  }

  std::int64_t count_held(const std::string& stage, const std::string& run_id, int min_priority) override {
    auto rows = run("SELECT count(*) FROM jobs j JOIN images i ON i.id = j.image_id WHERE j.stage = $1 AND "
                    "j.state = 'running' AND j.lease_owner != $2 AND j.lease_expires_ms >= wsp_now_ms() AND "
                    "i.priority >= $3",
                    {param(stage), param(run_id), param(min_priority)});
    return rows.integer(0, 0);
  }

  void renew_leases(const std::string& run_id, std::int64_t lease_ms, const RunProgress& progress) override {
    transaction([&] {
      run("UPDATE jobs SET lease_expires_ms = wsp_now_ms() + $1 WHERE lease_owner = $2 AND state = 'running'",
          {param(lease_ms), param(run_id)});
      run("UPDATE runs SET heartbeat_ms = wsp_now_ms(), stage = $1, done = $2, total = $3 WHERE id = $4",
          {param(progress.stage), param(progress.done), param(progress.total), param(run_id)});
    });
  }

  void release_leases(const std::string& run_id) override {
    transaction([&] {
      if (run("UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_expires_ms = NULL, "
              "updated_ms = wsp_now_ms() WHERE lease_owner = $1 AND state = 'running'",
              {param(run_id)})
              .changed() > 0)
        queued();
    });
  }

  std::int64_t requeue_failed(const std::string& stage, const std::string& path) override {
    std::int64_t requeued = 0;
    transaction([&] {
      requeued = run("UPDATE jobs SET state = 'pending', attempts = 0, updated_ms = wsp_now_ms() WHERE state = 'failed' "
               "AND ($1 = '' OR stage = $1) AND ($2 = '' OR image_id IN (SELECT id FROM images WHERE path = $2))",
               {param(stage), param(path)})
                     .changed();
      if (requeued > 0) queued();
    });
    return requeued;
  }

  std::vector<std::pair<std::string, std::string>> failures(const std::string& stage) override {
    auto rows = run("SELECT i.path, j.last_error FROM jobs j JOIN images i ON i.id = j.image_id WHERE j.state = "
                    "'failed' AND i.status = 'active' AND ($1 = '' OR j.stage = $1) ORDER BY i.path",
                    {param(stage)});
    std::vector<std::pair<std::string, std::string>> found;
    for (int r = 0; r < rows.size(); ++r) found.emplace_back(rows.text(r, 0), rows.text(r, 1));
    return found;
  }

  std::vector<StageCount> stage_counts() override {
    auto rows = run("SELECT stage, state, count(*) FROM jobs GROUP BY stage, state ORDER BY stage, state");
    std::vector<StageCount> counts;
    for (int r = 0; r < rows.size(); ++r) counts.push_back({rows.text(r, 0), rows.text(r, 1), rows.integer(r, 2)});
    return counts;
  }

  void add_event(const Event& event, const std::string& run_id) override {
    run("INSERT INTO events (at_ms, run_id, image_id, kind, detail) VALUES (wsp_now_ms(), $1, $2, $3, $4)",
        {param(run_id), param(event.image_id), param(event.kind),
         param(event.detail.empty() ? std::string("{}") : event.detail)});
    queued();
  }

  std::int64_t event_count() override { return run("SELECT count(*) FROM events").integer(0, 0); }

  std::optional<std::int64_t> last_event_ms(const std::string& kind) override {
    auto rows = run("SELECT at_ms FROM events WHERE kind = $1 ORDER BY id DESC LIMIT 1", {param(kind)});
    if (rows.empty()) return std::nullopt;
    return rows.integer(0, 0);
  }

  void begin_run(const RunRecord& run_record) override {
    // One reading of the clock for both: wsp_now_ms() moves between two calls in a statement.
    run("INSERT INTO runs (id, command, pid, host, started_ms, heartbeat_ms) SELECT $1, $2, $3, $4, t, t "
        "FROM (SELECT coalesce(nullif($5::bigint, 0), wsp_now_ms()) AS t) AS started",
        {param(run_record.id), param(run_record.command), param(run_record.pid), param(run_record.host),
         param(run_record.started_ms)});
  }

  void heartbeat(const std::string& run_id) override {
    run("UPDATE runs SET heartbeat_ms = wsp_now_ms() WHERE id = $1", {param(run_id)});
  }

  void finish_run(const std::string& run_id, int exit_code) override {
    run("UPDATE runs SET finished_ms = wsp_now_ms(), heartbeat_ms = wsp_now_ms(), exit_code = $1 WHERE id = $2",
        {param(exit_code), param(run_id)});
  }

  std::vector<RunRecord> unfinished_runs() override {
    auto rows = run(fmt::format("SELECT {} FROM runs WHERE finished_ms IS NULL ORDER BY started_ms", k_run_columns));
    return read_runs(rows);
  }

  std::vector<RunRecord> runs_alive(std::int64_t within_ms) override {
    auto rows = run(fmt::format("SELECT {} FROM runs WHERE finished_ms IS NULL AND heartbeat_ms > wsp_now_ms() - $1 "
                                "ORDER BY started_ms",
                                k_run_columns),
                    {param(within_ms)});
    return read_runs(rows);
  }

  std::int64_t clock_ms() override { return run(fmt::format("SELECT {}", k_now)).integer(0, 0); }

  // Runs started in the same millisecond (SQLite tells them apart by rowid) come by id.
  std::vector<RunRecord> recent_runs(int limit) override {
    auto rows = run(fmt::format("SELECT {} FROM runs ORDER BY started_ms DESC, id COLLATE \"C\" DESC LIMIT $1",
                                k_run_columns),
                    {param(limit)});
    return read_runs(rows);
  }

  std::optional<RunProgress> run_progress(const std::string& run_id) override {
    auto rows = run("SELECT stage, done, total FROM runs WHERE id = $1", {param(run_id)});
    if (rows.empty()) return std::nullopt;
    return RunProgress{rows.text(0, 0), rows.integer(0, 1), rows.integer(0, 2)};
  }

  std::vector<std::string> replace_render(const RenderRecord& render) override {
    std::vector<std::string> old_paths;
    write([&] {
      auto old = run("SELECT path FROM variants WHERE image_id = $1", {param(render.image_id)});
      for (int r = 0; r < old.size(); ++r) old_paths.push_back(old.text(r, 0));
      auto old_analysis = run("SELECT analysis_path FROM renders WHERE image_id = $1 AND analysis_path != $2",
                              {param(render.image_id), param(render.analysis_path)});
      if (!old_analysis.empty() && !old_analysis.text(0, 0).empty()) old_paths.push_back(old_analysis.text(0, 0));
      run("DELETE FROM variants WHERE image_id = $1", {param(render.image_id)});
      run("INSERT INTO renders (image_id, fingerprint, width, height, analysis_path, placeholder, updated_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6, wsp_now_ms()) ON CONFLICT (image_id) DO UPDATE SET "
          "fingerprint = excluded.fingerprint, width = excluded.width, height = excluded.height, "
          "analysis_path = excluded.analysis_path, placeholder = excluded.placeholder, "
          "updated_ms = excluded.updated_ms",
          {param(render.image_id), param(render.fingerprint), param(render.width), param(render.height),
           param(render.analysis_path), param(render.placeholder)});
      for (const auto& variant : render.variants)
        run("INSERT INTO variants (image_id, width, height, format, bytes, sha256, path) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {param(render.image_id), param(variant.width), param(variant.height), param(variant.format),
             param(variant.bytes), param(variant.sha256), param(variant.path)});
      std::erase_if(old_paths, [&](const std::string& path) {
        return !run("SELECT 1 FROM variants WHERE path = $1 UNION ALL SELECT 1 FROM renders WHERE analysis_path = $1 "
                    "LIMIT 1",
                    {param(path)})
                    .empty();
      });
    });
    return old_paths;
  }

  std::vector<RenderRecord> renders() override {
    auto rows = run("SELECT r.image_id, i.path, r.fingerprint, r.width, r.height, r.analysis_path, r.placeholder "
                    "FROM renders r JOIN images i ON i.id = r.image_id WHERE i.status = 'active' ORDER BY i.path");
    std::vector<RenderRecord> all;
    for (int r = 0; r < rows.size(); ++r)
      all.push_back({rows.integer(r, 0), rows.text(r, 1), rows.text(r, 2), static_cast<int>(rows.integer(r, 3)),
                     static_cast<int>(rows.integer(r, 4)), rows.text(r, 5), rows.text(r, 6), {}});
    std::unordered_map<std::int64_t, RenderRecord*> by_image;
    for (auto& render : all) by_image.emplace(render.image_id, &render);
    auto v = run("SELECT image_id, width, height, format, bytes, sha256, path FROM variants "
                 "ORDER BY image_id, width DESC, format");
    for (int r = 0; r < v.size(); ++r)
      if (auto found = by_image.find(v.integer(r, 0)); found != by_image.end())
        found->second->variants.push_back({static_cast<int>(v.integer(r, 1)), static_cast<int>(v.integer(r, 2)),
                                           v.text(r, 3), v.integer(r, 4), v.text(r, 5), v.text(r, 6)});
    return all;
  }

  std::vector<std::string> referenced_files() override {
    auto rows = run("SELECT path FROM variants UNION SELECT analysis_path FROM renders WHERE analysis_path != ''");
    std::vector<std::string> paths;
    for (int r = 0; r < rows.size(); ++r) paths.push_back(rows.text(r, 0));
    return paths;
  }

  std::optional<std::string> analysis_path(std::int64_t image_id) override {
    auto rows = run("SELECT analysis_path FROM renders WHERE image_id = $1 AND analysis_path != ''", {param(image_id)});
    if (rows.empty()) return std::nullopt;
    return rows.text(0, 0);
  }

  void put_tags(const TagRecord& t) override {
    run("INSERT INTO tags (image_id, fingerprint, provider, model, scene, scene_confidence, scene_basis, "
        "keywords, alt_text, confidence, sharpness, exposure_error, overexposed, underexposed, palette, "
        "dominant_colour, phash, capture_utc_ms, camera, updated_ms, eyes_closed, faces, face_sharpness) VALUES ($1, "
        "$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, wsp_now_ms(), $20, $21, "
        "$22) ON CONFLICT (image_id) DO UPDATE SET "
        "fingerprint = excluded.fingerprint, provider = excluded.provider, model = excluded.model, "
        "scene = excluded.scene, scene_confidence = excluded.scene_confidence, "
        "scene_basis = excluded.scene_basis, keywords = excluded.keywords, alt_text = excluded.alt_text, "
        "confidence = excluded.confidence, sharpness = excluded.sharpness, "
        "exposure_error = excluded.exposure_error, overexposed = excluded.overexposed, "
        "underexposed = excluded.underexposed, palette = excluded.palette, "
        "dominant_colour = excluded.dominant_colour, phash = excluded.phash, "
        "capture_utc_ms = excluded.capture_utc_ms, camera = excluded.camera, updated_ms = excluded.updated_ms, "
        "eyes_closed = excluded.eyes_closed, faces = excluded.faces, face_sharpness = excluded.face_sharpness",
        {param(t.image_id), param(t.fingerprint), param(t.provider), param(t.model), param(t.scene),
         param(t.scene_confidence), param(t.scene_basis), param(join_words(t.keywords)), param(t.alt_text),
         param(t.confidence), param(t.sharpness), param(t.exposure_error), param(t.overexposed ? 1 : 0),
         param(t.underexposed ? 1 : 0), param(t.palette), param(t.dominant_colour),
         param(static_cast<std::int64_t>(t.phash)), param(t.capture_utc_ms), param(t.camera),
         param(t.eyes_closed ? 1 : 0), param(t.faces), param(t.face_sharpness)});
  }

  std::vector<TagRecord> tags() override {
    auto rows = run("SELECT t.image_id, i.path, t.fingerprint, t.provider, t.model, t.scene, t.scene_confidence, "
                    "t.scene_basis, t.keywords, t.alt_text, t.confidence, t.sharpness, t.exposure_error, "
                    "t.overexposed, t.underexposed, t.palette, t.dominant_colour, t.phash, t.capture_utc_ms, "
                    "t.camera, t.burst_group, t.sidecar_keywords, t.eyes_closed, t.faces, t.face_sharpness "
                    "FROM tags t JOIN images i ON i.id = t.image_id WHERE i.status = 'active' ORDER BY i.path");
    std::vector<TagRecord> all;
    for (int r = 0; r < rows.size(); ++r) {
      TagRecord t;
      t.image_id = rows.integer(r, 0);
      t.source_path = rows.text(r, 1);
      t.fingerprint = rows.text(r, 2);
      t.provider = rows.text(r, 3);
      t.model = rows.text(r, 4);
      t.scene = rows.text(r, 5);
      t.scene_confidence = rows.real(r, 6);
      t.scene_basis = rows.text(r, 7);
      t.keywords = split_words(rows.text(r, 8));
      t.alt_text = rows.text(r, 9);
      t.confidence = rows.real(r, 10);
      t.sharpness = rows.real(r, 11);
      t.exposure_error = rows.real(r, 12);
      t.overexposed = rows.integer(r, 13) != 0;
      t.underexposed = rows.integer(r, 14) != 0;
      t.palette = rows.text(r, 15);
      t.dominant_colour = rows.text(r, 16);
      t.phash = static_cast<std::uint64_t>(rows.integer(r, 17));
      t.capture_utc_ms = rows.optional<std::int64_t>(r, 18);
      t.camera = rows.text(r, 19);
      t.group = rows.optional<std::int64_t>(r, 20);
      t.sidecar_keywords = split_words(rows.text(r, 21));
      t.eyes_closed = rows.integer(r, 22) != 0;
      t.faces = rows.optional<int>(r, 23);
      t.face_sharpness = rows.real(r, 24);
      all.push_back(std::move(t));
    }
    return all;
  }

  void set_sidecar_keywords(std::int64_t image_id, const std::vector<std::string>& keywords) override {
    run("UPDATE tags SET sidecar_keywords = $1 WHERE image_id = $2", {param(join_words(keywords)), param(image_id)});
  }

  void set_groups(const std::vector<std::pair<std::int64_t, std::int64_t>>& groups) override {
    write([&] {
      run("UPDATE tags SET burst_group = NULL WHERE burst_group IS NOT NULL");
      for (const auto& [image_id, best] : groups)
        run("UPDATE tags SET burst_group = $1 WHERE image_id = $2", {param(best), param(image_id)});
    });
  }

  void put_override(const TagOverride& o) override {
    if (o.empty()) {
      run("DELETE FROM tag_overrides WHERE image_id = $1", {param(o.image_id)});
      return;
    }
    run("INSERT INTO tag_overrides (image_id, scene, add_tags, remove_tags, alt_text, rating, updated_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, wsp_now_ms()) ON CONFLICT (image_id) DO UPDATE SET scene = excluded.scene, "
        "add_tags = excluded.add_tags, remove_tags = excluded.remove_tags, alt_text = excluded.alt_text, "
        "rating = excluded.rating, updated_ms = excluded.updated_ms",
        {param(o.image_id), param(o.scene), param(join_words(o.add_tags)), param(join_words(o.remove_tags)),
         param(o.alt_text), param(o.rating)});
  }

  std::optional<TagOverride> tag_override(std::int64_t image_id) override {
    auto found = read_overrides("o.image_id = $1", image_id);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  std::vector<TagOverride> overrides() override { return read_overrides("i.status = 'active'", std::nullopt); }

  void put_selection(const SelectionRecord& sel) override {
    std::optional<int> tagged;
    if (sel.tagged) tagged = *sel.tagged ? 1 : 0;
    run("INSERT INTO selections (image_id, origin, stamp, rating, labels, tagged, keywords, changed_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (image_id) DO UPDATE SET origin = excluded.origin, "
        "stamp = excluded.stamp, rating = excluded.rating, labels = excluded.labels, tagged = excluded.tagged, "
        "keywords = excluded.keywords, changed_ms = excluded.changed_ms",
        {param(sel.image_id), param(sel.origin), param(sel.stamp), param(sel.rating), param(join_words(sel.labels)),
         param(tagged), param(join_words(sel.keywords)), param(sel.changed_ms)});
  }

  void remove_selection(std::int64_t image_id) override {
    run("DELETE FROM selections WHERE image_id = $1", {param(image_id)});
  }

  std::vector<SelectionRecord> selections() override {
    auto rows = run("SELECT s.image_id, i.path, s.origin, s.stamp, s.rating, s.labels, s.tagged, s.keywords, "
                    "s.changed_ms FROM selections s JOIN images i ON i.id = s.image_id WHERE i.status = 'active' "
                    "ORDER BY i.path");
    std::vector<SelectionRecord> found;
    for (int r = 0; r < rows.size(); ++r) {
      SelectionRecord sel;
      sel.image_id = rows.integer(r, 0);
      sel.source_path = rows.text(r, 1);
      sel.origin = rows.text(r, 2);
      sel.stamp = rows.text(r, 3);
      sel.rating = rows.optional<int>(r, 4);
      sel.labels = split_words(rows.text(r, 5));
      if (!rows.is_null(r, 6)) sel.tagged = rows.integer(r, 6) != 0;
      sel.keywords = split_words(rows.text(r, 7));
      sel.changed_ms = rows.integer(r, 8);
      found.push_back(std::move(sel));
    }
    return found;
  }

  std::optional<std::string> cached_result(const std::string& content_sha256, const std::string& provider,
                                           const std::string& model) override {
    auto rows = run("SELECT result FROM provider_results WHERE content_sha256 = $1 AND provider = $2 AND model = $3",
                    {param(content_sha256), param(provider), param(model)});
    if (rows.empty()) return std::nullopt;
    return rows.text(0, 0);
  }

  void put_cached_result(const std::string& content_sha256, const std::string& provider, const std::string& model,
                         const std::string& result) override {
    run("INSERT INTO provider_results (content_sha256, provider, model, result, created_ms) "
        "VALUES ($1, $2, $3, $4, wsp_now_ms()) ON CONFLICT (content_sha256, provider, model) DO UPDATE SET "
        "result = excluded.result, created_ms = excluded.created_ms",
        {param(content_sha256), param(provider), param(model), param(result)});
  }

  void add_provider_call(const ProviderCall& call) override {
    run("INSERT INTO provider_calls (run_id, provider, calls, input_tokens, output_tokens, cost, failure, "
        "transient, circuit, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, wsp_now_ms())",
        {param(call.run_id), param(call.provider), param(call.calls), param(call.input_tokens),
         param(call.output_tokens), param(call.cost), param(call.failure), param(call.transient ? 1 : 0),
         param(call.circuit)});
  }

  std::vector<ProviderUsage> provider_usage() override {
    auto rows = run("SELECT provider, sum(calls), sum(CASE WHEN failure != '' THEN 1 ELSE 0 END), "
                    "sum(input_tokens), sum(output_tokens), sum(cost), "
                    "(SELECT circuit FROM provider_calls l WHERE l.provider = p.provider ORDER BY id DESC LIMIT 1), "
                    "(SELECT failure FROM provider_calls l WHERE l.provider = p.provider AND failure != '' "
                    "ORDER BY id DESC LIMIT 1) FROM provider_calls p GROUP BY provider ORDER BY provider");
    std::vector<ProviderUsage> usage;
    for (int r = 0; r < rows.size(); ++r)
      usage.push_back({rows.text(r, 0), rows.integer(r, 1), rows.integer(r, 2), rows.integer(r, 3),
                       rows.integer(r, 4), rows.real(r, 5), rows.text(r, 6), rows.text(r, 7)});
    return usage;
  }

  std::vector<PublishedFile> published(const std::string& target) override {
    auto rows = run("SELECT path, sha256, size, published_ms FROM published WHERE target = $1 ORDER BY path",
                    {param(target)});
    std::vector<PublishedFile> files;
    for (int r = 0; r < rows.size(); ++r)
      files.push_back({rows.text(r, 0), rows.text(r, 1), rows.integer(r, 2), rows.integer(r, 3)});
    return files;
  }

  void record_published(const std::string& target, const PublishedFile& file) override {
    run("INSERT INTO published (target, path, sha256, size, published_ms) VALUES ($1, $2, $3, $4, "
        "coalesce($5, wsp_now_ms())) ON CONFLICT (target, path) DO UPDATE SET sha256 = excluded.sha256, "
        "size = excluded.size, published_ms = excluded.published_ms",
        {param(target), param(file.path), param(file.sha256), param(file.size),
         file.published_ms != 0 ? param(file.published_ms) : Param()});
  }

  void forget_published(const std::string& target, const std::string& path) override {
    run("DELETE FROM published WHERE target = $1 AND path = $2", {param(target), param(path)});
  }

  std::vector<std::string> pending_purges(const std::string& target) override {
    auto rows = run("SELECT url FROM purge_pending WHERE target = $1 ORDER BY url", {param(target)});
    std::vector<std::string> urls;
    for (int r = 0; r < rows.size(); ++r) urls.push_back(rows.text(r, 0));
    return urls;
  }

  void record_pending_purge(const std::string& target, const std::string& url) override {
    run("INSERT INTO purge_pending (target, url, recorded_ms) VALUES ($1, $2, wsp_now_ms()) ON CONFLICT DO NOTHING",
        {param(target), param(url)});
  }

  void forget_pending_purge(const std::string& target, const std::string& url) override {
    run("DELETE FROM purge_pending WHERE target = $1 AND url = $2", {param(target), param(url)});
  }

  std::vector<MultipartUpload> multipart_uploads(const std::string& target) override {
    std::vector<MultipartUpload> uploads;
    auto rows = run("SELECT path, sha256, upload_id, part_size, started_ms FROM multipart_uploads WHERE target = $1 "
                    "ORDER BY started_ms, upload_id",
                    {param(target)});
    for (int r = 0; r < rows.size(); ++r)
      uploads.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2), rows.integer(r, 3), rows.integer(r, 4), {}});
    for (auto& upload : uploads) {
      auto parts = run("SELECT number, etag, checksum_sha256, size FROM multipart_parts WHERE target = $1 AND "
                       "upload_id = $2 ORDER BY number",
                       {param(target), param(upload.upload_id)});
      for (int r = 0; r < parts.size(); ++r)
        upload.parts.push_back(
            {static_cast<int>(parts.integer(r, 0)), parts.text(r, 1), parts.text(r, 2), parts.integer(r, 3)});
    }
    return uploads;
  }

  void record_multipart_upload(const std::string& target, const MultipartUpload& upload) override {
    run("INSERT INTO multipart_uploads (target, upload_id, path, sha256, part_size, started_ms) VALUES ($1, $2, $3, "
        "$4, $5, coalesce($6, wsp_now_ms())) ON CONFLICT (target, upload_id) DO UPDATE SET path = excluded.path, "
        "sha256 = excluded.sha256, part_size = excluded.part_size, started_ms = excluded.started_ms",
        {param(target), param(upload.upload_id), param(upload.path), param(upload.sha256), param(upload.part_size),
         upload.started_ms != 0 ? param(upload.started_ms) : Param()});
  }

  void record_uploaded_part(const std::string& target, const std::string& upload_id,
                            const UploadedPart& part) override {
    run("INSERT INTO multipart_parts (target, upload_id, number, etag, checksum_sha256, size) VALUES ($1, $2, $3, "
        "$4, $5, $6) ON CONFLICT (target, upload_id, number) DO UPDATE SET etag = excluded.etag, "
        "checksum_sha256 = excluded.checksum_sha256, size = excluded.size",
        {param(target), param(upload_id), param(part.number), param(part.etag), param(part.checksum_sha256),
         param(part.size)});
  }

  void forget_multipart_upload(const std::string& target, const std::string& upload_id) override {
    write([&] {
      run("DELETE FROM multipart_parts WHERE target = $1 AND upload_id = $2", {param(target), param(upload_id)});
      run("DELETE FROM multipart_uploads WHERE target = $1 AND upload_id = $2", {param(target), param(upload_id)});
    });
  }

  void subscribe(const std::vector<WebhookSubscription>& subscriptions) override {
    write([&] {
      run("DELETE FROM webhook_subscriptions");
      for (const auto& subscription : subscriptions) {
        run("INSERT INTO webhook_endpoints (url) VALUES ($1) ON CONFLICT (url) DO NOTHING",
            {param(subscription.endpoint)});
        for (const auto& type : subscription.events)
          run("INSERT INTO webhook_subscriptions (endpoint, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
              {param(subscription.endpoint), param(type)});
      }
    });
  }

  std::vector<Delivery> claim_deliveries(const std::string& owner, std::int64_t lease_ms, int limit,
                                         const std::string& endpoint) override {
    std::vector<Delivery> claimed;
    transaction([&] {
      auto taken = run("UPDATE webhook_deliveries SET lease_owner = $1, lease_expires_ms = wsp_now_ms() + $2 "
                       "WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON "
                       "e.url = d.endpoint WHERE d.state = 'pending' AND d.next_attempt_ms <= wsp_now_ms() AND "
                       "(d.lease_expires_ms IS NULL OR d.lease_expires_ms < wsp_now_ms()) AND e.disabled_ms IS NULL "
                       "AND ($3 = '' OR d.endpoint = $3) ORDER BY d.next_attempt_ms, d.id LIMIT $4 "
                       "FOR UPDATE OF d SKIP LOCKED) RETURNING id",
                       {param(owner), param(lease_ms), param(endpoint), param(limit)});
      if (taken.empty()) return;
      std::string ids = "{";
      for (int r = 0; r < taken.size(); ++r) ids += (r ? "," : "") + taken.text(r, 0);
      ids += "}";
      auto rows = run(fmt::format("SELECT {} WHERE d.id = ANY($1::bigint[]) ORDER BY d.next_attempt_ms, d.id",
                                  k_delivery_select),
                      {param(ids)});
      for (int r = 0; r < rows.size(); ++r) claimed.push_back(read_delivery(rows, r));
    });
    return claimed;
  }

  bool record_delivery(const std::string& owner, const DeliveryOutcome& outcome) override {
    bool held = false;
    transaction([&] {
      held = run("UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_ms = $2, "
                 "last_status = $3, last_error = $4, last_response = $5, delivered_ms = CASE WHEN $1 = 'delivered' "
                 "THEN wsp_now_ms() END, lease_owner = NULL, lease_expires_ms = NULL WHERE id = $6 AND "
                 "lease_owner = $7 AND state = 'pending'",
                 {param(to_string(outcome.state)), param(outcome.next_attempt_ms), param(outcome.status),
                  param(outcome.error), param(outcome.response), param(outcome.id), param(owner)})
                 .changed() > 0;
      if (held && outcome.disable_endpoint_reason)
        run("UPDATE webhook_endpoints SET disabled_ms = wsp_now_ms(), disabled_reason = $1 WHERE url = (SELECT "
            "endpoint FROM webhook_deliveries WHERE id = $2)",
            {param(*outcome.disable_endpoint_reason), param(outcome.id)});
    });
    return held;
  }

  void release_deliveries(const std::string& owner) override {
    run("UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_ms = NULL WHERE lease_owner = $1",
        {param(owner)});
  }

  std::vector<Delivery> deliveries(std::optional<DeliveryState> state, int limit) override {
    auto rows = run(fmt::format("SELECT {} WHERE ($1 = '' OR d.state = $1) ORDER BY d.id DESC LIMIT $2",
                                k_delivery_select),
                    {param(state ? std::string(to_string(*state)) : std::string()), param(limit)});
    std::vector<Delivery> found;
    for (int r = 0; r < rows.size(); ++r) found.push_back(read_delivery(rows, r));
    return found;
  }

  std::optional<Delivery> delivery(std::int64_t id) override {
    auto rows = run(fmt::format("SELECT {} WHERE d.id = $1", k_delivery_select), {param(id)});
    if (rows.empty()) return std::nullopt;
    return read_delivery(rows, 0);
  }

  std::optional<std::int64_t> next_delivery_ms() override {
    auto rows = run("SELECT min(greatest(d.next_attempt_ms, coalesce(d.lease_expires_ms, 0))) FROM "
                    "webhook_deliveries d JOIN webhook_endpoints e ON e.url = d.endpoint WHERE d.state = 'pending' "
                    "AND e.disabled_ms IS NULL");
    return rows.optional<std::int64_t>(0, 0);
  }

  std::int64_t retry_delivery(std::int64_t id) override {
    return run("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = wsp_now_ms(), "
               "lease_owner = NULL, lease_expires_ms = NULL WHERE id = $1 AND state != 'delivered'",
               {param(id)})
        .changed();
  }

  std::int64_t retry_dead_deliveries() override {
    return run("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = wsp_now_ms(), "
               "lease_owner = NULL, lease_expires_ms = NULL WHERE state = 'dead'")
        .changed();
  }

  std::int64_t replay_deliveries(std::int64_t since_ms) override {
    return run("UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_ms = wsp_now_ms(), "
               "delivered_ms = NULL, lease_owner = NULL, lease_expires_ms = NULL WHERE state != 'pending' AND "
               "event_id IN (SELECT id FROM events WHERE at_ms >= $1)",
               {param(since_ms)})
        .changed();
  }

  bool enable_endpoint(const std::string& endpoint) override {
    return run("UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_reason = '' WHERE url = $1 AND "
               "disabled_ms IS NOT NULL",
               {param(endpoint)})
               .changed() > 0;
  }

  std::int64_t prune_deliveries(std::int64_t before_ms) override {
    return run("DELETE FROM webhook_deliveries WHERE state = 'delivered' AND delivered_ms < $1", {param(before_ms)})
        .changed();
  }

  void record_circuit(const CircuitRecord& circuit) override {
    run("INSERT INTO circuits (kind, name, state, consecutive_failures, opened_ms, last_error, updated_ms) VALUES "
        "($1, $2, $3, $4, $5, $6, wsp_now_ms()) ON CONFLICT (kind, name) DO UPDATE SET state = excluded.state, "
        "consecutive_failures = excluded.consecutive_failures, opened_ms = excluded.opened_ms, "
        "last_error = excluded.last_error, updated_ms = excluded.updated_ms",
        {param(circuit.kind), param(circuit.name), param(circuit.state), param(circuit.consecutive_failures),
         param(circuit.opened_ms), param(circuit.last_error)});
  }

  std::vector<CircuitRecord> circuits() override {
    auto rows = run("SELECT kind, name, state, consecutive_failures, opened_ms, last_error, updated_ms FROM circuits "
                    "ORDER BY kind, name");
    std::vector<CircuitRecord> out;
    for (int r = 0; r < rows.size(); ++r)
      out.push_back({rows.text(r, 0), rows.text(r, 1), rows.text(r, 2), static_cast<int>(rows.integer(r, 3)),
                     rows.optional<std::int64_t>(r, 4), rows.text(r, 5), rows.integer(r, 6)});
    return out;
  }

  std::vector<EndpointBacklog> webhook_backlog() override {
    auto rows = run("SELECT e.url, (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint = e.url AND "
                    "d.state = 'pending'), (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint = e.url AND "
                    "d.state = 'dead'), coalesce((SELECT d.last_error FROM webhook_deliveries d WHERE d.endpoint = "
                    "e.url AND d.attempts > 0 AND d.state != 'delivered' ORDER BY d.id DESC LIMIT 1), ''), "
                    "e.disabled_ms, e.disabled_reason FROM webhook_endpoints e ORDER BY e.url");
    std::vector<EndpointBacklog> backlog;
    for (int r = 0; r < rows.size(); ++r)
      backlog.push_back({rows.text(r, 0), rows.integer(r, 1), rows.integer(r, 2), rows.text(r, 3),
                         rows.optional<std::int64_t>(r, 4), rows.text(r, 5)});
    return backlog;
  }

  QueryResult query(const std::string& sql) override {
    QueryResult result;
    auto work = [&] {
      auto rows = run(sql);
      PGresult* raw = rows.get();
      const int columns = PQnfields(raw);
      for (int c = 0; c < columns; ++c) result.columns.emplace_back(PQfname(raw, c));
      for (int r = 0; r < rows.size(); ++r) {
        auto& row = result.rows.emplace_back();
        for (int c = 0; c < columns; ++c) {
          if (rows.is_null(r, c)) {
            row.emplace_back(nullptr);
            continue;
          }
          switch (PQftype(raw, c)) {
            case 20: case 21: case 23: row.emplace_back(rows.integer(r, c)); break;  // int8, int2, int4
            case 700: case 701: row.emplace_back(rows.real(r, c)); break;           // float4, float8
            case 1700: {  // numeric: sum() of integers
              const auto text = rows.text(r, c);
              if (text.find_first_of(".eE") == std::string::npos) row.emplace_back(rows.integer(r, c));
              else row.emplace_back(rows.real(r, c));
              break;
            }
            case 16: row.emplace_back(rows.text(r, c) == "t" ? 1 : 0); break;  // bool, as SQLite shows it
            default: row.emplace_back(rows.text(r, c));
          }
        }
      }
    };
    if (m_in_transaction) {
      work();
      return result;
    }
    exec("BEGIN READ ONLY");
    try {
      work();
      exec("COMMIT");
    } catch (...) {
      PQclear(PQexec(m_db, "ROLLBACK"));
      throw;
    }
    return result;
  }

  void insert_rows(const std::string& table, const QueryResult& rows) override {
    std::string columns, values;
    for (std::size_t c = 0; c < rows.columns.size(); ++c) {
      columns += fmt::format("{}\"{}\"", c ? ", " : "", rows.columns[c]);
      values += fmt::format("{}${}", c ? ", " : "", c + 1);
    }
    write([&] {
      const auto name = quoted(table);
      run(fmt::format("ALTER TABLE {} DISABLE TRIGGER USER", name));
      const auto sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", name, columns, values);
      for (const auto& row : rows.rows) {
        std::vector<Param> params;
        for (const auto& value : row) {
          if (value.is_null()) params.emplace_back();
          else if (value.is_string()) params.push_back(value.get<std::string>());
          else if (value.is_number_integer()) params.push_back(param(value.get<std::int64_t>()));
          else params.push_back(param(value.get<double>()));
        }
        run(sql, params);
      }
      run(fmt::format("ALTER TABLE {} ENABLE TRIGGER USER", name));
      // Identity columns go on after the highest id copied.
      auto sequence = run("SELECT pg_get_serial_sequence($1::text, 'id') WHERE EXISTS (SELECT 1 FROM "
                          "information_schema.columns WHERE table_schema = current_schema() AND table_name = $1::text "
                          "AND column_name = 'id' AND is_identity = 'YES')",
                          {param(table)});
      if (!rows.rows.empty() && !sequence.empty() && !sequence.is_null(0, 0))
        run(fmt::format("SELECT setval($1, (SELECT max(id) FROM {}))", name), {param(sequence.text(0, 0))});
    });
  }

private:
  std::string quoted(const std::string& identifier) {
    char* escaped = PQescapeIdentifier(m_db, identifier.c_str(), identifier.size());
    if (!escaped) throw CatalogError(fmt::format("{}: {}", m_label, PQerrorMessage(m_db)));
    std::string text = escaped;
    PQfreemem(escaped);
    return text;
  }

  std::vector<ImageRecord> read_images(const Rows& rows) {
    std::vector<ImageRecord> images;
    for (int r = 0; r < rows.size(); ++r) images.push_back(read_image(rows, r));
    return images;
  }

  std::vector<TagOverride> read_overrides(const char* where, std::optional<std::int64_t> image_id) {
    const auto sql = fmt::format("SELECT o.image_id, i.path, o.scene, o.add_tags, o.remove_tags, o.alt_text, "
                                 "o.rating, o.updated_ms FROM tag_overrides o JOIN images i ON i.id = o.image_id WHERE {} "
                                 "ORDER BY i.path",
                                 where);
    auto rows = image_id ? run(sql, {param(*image_id)}) : run(sql);
    std::vector<TagOverride> found;
    for (int r = 0; r < rows.size(); ++r) {
      TagOverride o;
      o.image_id = rows.integer(r, 0);
      o.source_path = rows.text(r, 1);
      if (!rows.is_null(r, 2)) o.scene = rows.text(r, 2);
      o.add_tags = split_words(rows.text(r, 3));
      o.remove_tags = split_words(rows.text(r, 4));
      if (!rows.is_null(r, 5)) o.alt_text = rows.text(r, 5);
      o.rating = rows.optional<int>(r, 6);
      o.updated_ms = rows.integer(r, 7);
      found.push_back(std::move(o));
    }
    return found;
  }

  // Tells idle workers that work was queued: a NOTIFY, sent by the server
  // when the transaction commits (and never if it rolls back); once per
  // transaction is enough.
  void queued() {
    if (m_in_transaction && m_notified) return;
    run(fmt::format("SELECT pg_notify('{}', '')", k_work_channel));
    m_notified = m_in_transaction;
  }

  // Runs `work` in a transaction of its own, or inside the current one.
  void transaction(const std::function<void()>& work) {
    if (m_in_transaction) {
      work();
      return;
    }
    exec("BEGIN");
    m_in_transaction = true;
    m_notified = false;
    try {
      work();
      exec("COMMIT");
      m_in_transaction = false;
    } catch (...) {
      PQclear(PQexec(m_db, "ROLLBACK"));
      m_in_transaction = false;
      throw;
    }
  }

  Rows run(const std::string& sql, const std::vector<Param>& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    Rows rows(PQexecParams(m_db, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                           nullptr, 0));
    check(rows.get());
    return rows;
  }

  // Several statements at once (migrations, transaction control); no parameters.
  void exec(const char* sql) { check(Rows(PQexec(m_db, sql)).get()); }

  void check(PGresult* result) {
    const auto status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return;
    std::string message = result ? PQresultErrorMessage(result) : PQerrorMessage(m_db);
    if (message.empty()) message = PQerrorMessage(m_db);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (message.starts_with("ERROR:  ")) message.erase(0, 8);
    throw CatalogError(fmt::format("{}: {}", m_label, message));
  }

  // Tables are created and migrated under a lock, so that two workers
  // starting at once on a new database do it once.
  void migrate() {
    transaction([&] {
      run(fmt::format("SELECT pg_advisory_xact_lock({})", k_migrate_lock));
      exec("CREATE TABLE IF NOT EXISTS wsp_schema (version INTEGER NOT NULL)");
      int version = schema_version();
      if (version > k_schema_version)
        throw CatalogError(fmt::format("{}: catalog schema {} is newer than this wsportfolio understands ({}); upgrade",
                                       m_label, version, k_schema_version));
      for (; version < k_schema_version; ++version) {
        const auto& step = migrations()[version];
        if (!step.postgres)
          throw CatalogError(fmt::format("{}: schema step {} has no PostgreSQL form in this build", m_label,
                                         version + 1));
        exec(step.postgres);
      }
      run("DELETE FROM wsp_schema");
      run("INSERT INTO wsp_schema (version) VALUES ($1)", {param(version)});
    });
  }

  std::string m_url;
  Access m_access;
  std::string m_label;
  PGconn* m_db = nullptr;
  bool m_in_transaction = false;
  bool m_notified = false;  // in the current transaction
  bool m_listening = false;
};

}  // namespace

void check_catalog_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  // libpq's message may quote the string it could not read: not repeated.
  PQfreemem(error);
  if (!options)
    throw CatalogError("catalog.url: not a PostgreSQL connection URL libpq can read "
                       "(postgresql://user@host:port/database)");
  const bool password = !conninfo_value(options, "password").empty();
  PQconninfoFree(options);
  if (password)
    throw CatalogError("catalog.url: holds a password, which is refused (it would end up in configs, logs and "
                       "process lists); give it through PGPASSWORD, ~/.pgpass or passfile= instead");
}

std::unique_ptr<Catalog> open_postgres_catalog(const std::string& url, Access access) {
  return std::make_unique<PostgresCatalog>(url, access);
}

std::string catalog_label(const CatalogLocation& location) {
  return location.shared() ? label_of(location.url) : location.file.string();
}

}  // namespace wsp::catalog
