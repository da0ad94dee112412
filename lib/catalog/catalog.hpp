#pragma once
// The catalog: what the tool knows about every image and every piece of work.
// All access goes through these narrow interfaces, one per concern (images and
// their jobs, runs and events, renders, tags, publishing), so that a shared
// PostgreSQL catalog can stand in for the embedded SQLite one; nothing outside
// lib/catalog sees SQL. `Catalog` combines them, for the callers that use
// several.

#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/circuits.hpp"
#include "catalog/images.hpp"
#include "catalog/locks.hpp"
#include "catalog/publishing.hpp"
#include "catalog/renders.hpp"
#include "catalog/runs.hpp"
#include "catalog/tags.hpp"
#include "catalog/webhooks.hpp"

namespace wsp::catalog {

struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;
};

struct Catalog : ImageCatalog, RunCatalog, RenderCatalog, TagCatalog, PublishCatalog, WebhookCatalog,
                 CircuitCatalog, LockCatalog {
  ~Catalog() override = default;

  // Runs `work` inside one write transaction taken up front (BEGIN IMMEDIATE in
  // SQLite), so that reads inside it see what the writes will be checked
  // against. Commits when `work` returns, rolls back when it throws; a write
  // inside `work` joins the same transaction.
  virtual void write(const std::function<void()>& work) = 0;

  virtual int schema_version() = 0;

  // A second connection to the same catalog, with the same access, for another
  // thread (heartbeats).
  virtual std::unique_ptr<Catalog> reopen() = 0;

  // Inspection and copying, for `wsportfolio catalog` and the tests: the rows
  // of one read-only query (a write is refused), each value typed as the
  // backend holds it (integer, real, text or null), so that both backends
  // print the same rows alike.
  virtual QueryResult query(const std::string& sql) = 0;
  // Inserts `rows` into `table` as they are (ids kept), inside the current
  // write transaction, without firing the catalog's own triggers: what
  // `catalog migrate` copies is history, not new events.
  virtual void insert_rows(const std::string& table, const QueryResult& rows) = 0;
};

// How a command uses the catalog. A reader never creates, migrates or
// changes the file's journal mode, so that it works in a read-only folder;
// its writes fail, naming the file.
enum class Access { read_write, read_only };

// Opens the SQLite catalog at `file`: with read_write, creating and migrating
// it as needed; with read_only, an existing one as it is (an older schema is
// still brought up to date, where the file may be written). Throws
// CatalogError, naming the file, when it cannot be opened or is from a newer
// version.
std::unique_ptr<Catalog> open_sqlite_catalog(const std::filesystem::path& file, Access access = Access::read_write);

// Opens the PostgreSQL catalog at `url` (a libpq connection URI or key=value
// string), creating its tables in that database and migrating them as needed
// (read_write), or as they are (read_only: every transaction read-only).
// A URL carrying a password is refused: passwords come only from libpq's own
// PGPASSWORD, ~/.pgpass or passfile. Throws CatalogError, whose message never
// holds the URL's text beyond what catalog_label() shows.
std::unique_ptr<Catalog> open_postgres_catalog(const std::string& url, Access access = Access::read_write);

// Where a project's catalog lives: PostgreSQL when `url` is set, else the
// SQLite file.
struct CatalogLocation {
  std::string url;
  std::filesystem::path file;
  bool shared() const { return !url.empty(); }
};

// The location a project uses: $WSPORTFOLIO_CATALOG_URL, else the config's
// catalog.url, else `state_dir`/catalog.db.
CatalogLocation catalog_location(const std::string& configured_url, const std::filesystem::path& state_dir);

// Opens the catalog at `location`: the one function every command opens its catalog with.
std::unique_ptr<Catalog> open_catalog(const CatalogLocation& location, Access access = Access::read_write);

// Throws CatalogError when `url` is not a connection string libpq reads or
// carries a password; the message does not repeat the URL.
void check_catalog_url(const std::string& url);

// The location for messages: the file, or the URL's database, user and host.
std::string catalog_label(const CatalogLocation& location);

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int64_t now_ms();

// The schema version this build creates and migrates to.
int latest_schema_version();

}  // namespace wsp::catalog
