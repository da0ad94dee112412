#pragma once
// The catalog's backends for parameterised tests: each test runs on a SQLite
// file and on a database of its own on the test PostgreSQL server.

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "catalog/catalog.hpp"
#include "postgres_server.hpp"
#include "require_tool.hpp"

namespace wsp::testing {

enum class Backend { sqlite, postgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "sqlite" : "postgres";
}

inline auto all_backends() { return ::testing::Values(Backend::sqlite, Backend::postgres); }

// Where one backend's catalog is: a file, or a database URL.
struct CatalogPlace {
  Backend backend = Backend::sqlite;
  std::filesystem::path file;
  std::string url;

  std::unique_ptr<catalog::Catalog> open(catalog::Access access = catalog::Access::read_write) const {
    return backend == Backend::sqlite ? catalog::open_sqlite_catalog(file, access)
                                      : catalog::open_postgres_catalog(url, access);
  }
  // The name a catalog error gives this catalog.
  std::string label() const { return catalog::catalog_label({url, file}); }
};

// A new catalog place: the file catalog.db in `dir`, or a new database.
inline CatalogPlace new_place(Backend backend, const std::filesystem::path& dir) {
  CatalogPlace place{backend, dir / "catalog.db", {}};
  if (backend == Backend::postgres) place.url = fresh_postgres_database();
  return place;
}

}  // namespace wsp::testing

// Ends the test (skipped, or failed in CI) when the backend has no server.
#define WSP_REQUIRE_BACKEND(backend)                                                                    \
  do {                                                                                                  \
    if ((backend) == wsp::testing::Backend::postgres) {                                                 \
      std::string why;                                                                                  \
      WSP_REQUIRE_TOOL(wsp::testing::postgres_server(&why), "a PostgreSQL 15 server is needed: " << why); \
    }                                                                                                   \
  } while (0)
