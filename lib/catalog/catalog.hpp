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

#include "catalog/circuits.hpp"
#include "catalog/images.hpp"
#include "catalog/publishing.hpp"
#include "catalog/renders.hpp"
#include "catalog/runs.hpp"
#include "catalog/tags.hpp"
#include "catalog/webhooks.hpp"

namespace wsp::catalog {

struct Catalog : ImageCatalog, RunCatalog, RenderCatalog, TagCatalog, PublishCatalog, WebhookCatalog,
                 CircuitCatalog {
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

struct CatalogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::int64_t now_ms();

// The schema version this build creates and migrates to.
int latest_schema_version();

}  // namespace wsp::catalog
