// Which catalog a project uses: the one place that chooses between the
// embedded SQLite file and a shared PostgreSQL database.

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

#include <fmt/format.h>

#include "catalog/catalog.hpp"

namespace wsp::catalog {

CatalogLocation catalog_location(const std::string& configured_url, const std::filesystem::path& state_dir) {
  CatalogLocation location;
  const char* from_environment = std::getenv("WSPORTFOLIO_CATALOG_URL");
  location.url = from_environment && *from_environment ? from_environment : configured_url;
  location.file = state_dir / "catalog.db";
  return location;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

bool others_at_work(RunCatalog& catalog, std::int64_t within_ms) {
  const auto me = static_cast<std::int64_t>(::getpid());
  const std::string host = host_name();
  auto runs = catalog.runs_alive(within_ms);
  return std::any_of(runs.begin(), runs.end(), [&](const RunRecord& run) { return run.pid != me || run.host != host; });
}

std::string this_process() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return fmt::format("pid {}", ::getpid());
  return fmt::format("pid {} on {}", ::getpid(), name);
}

std::unique_ptr<Catalog> open_catalog(const CatalogLocation& location, Access access) {
  if (location.shared()) return open_postgres_catalog(location.url, access);
  return open_sqlite_catalog(location.file, access);
}

}  // namespace wsp::catalog
