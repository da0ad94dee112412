#pragma once
// The catalog's schema, one ordered list of steps shared by both backends:
// step N takes a catalog from version N to N + 1, in SQLite's dialect and in
// PostgreSQL's, so that a version number means the same tables everywhere
// and `catalog migrate` can copy one into the other.

#include <span>

namespace wsp::catalog {

struct Migration {
  const char* sql;  // SQLite
  // SQLite: a query that counts more than 0 when a catalog has this step
  // already though its version says not (a release that got it in an earlier step).
  const char* present = nullptr;
  const char* postgres = nullptr;
};

// Entries are never edited once released, only appended.
std::span<const Migration> migrations();

// The tables of the schema, parents before children, for copying and comparing.
std::span<const char* const> catalog_tables();

}  // namespace wsp::catalog
