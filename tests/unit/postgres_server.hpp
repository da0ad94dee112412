#pragma once
// A real PostgreSQL 15 server for the catalog's contract tests: the one the
// ctest fixture started (its admin URL in WSP_TEST_POSTGRES), else one this
// process starts on first use with tests/pg_cluster.sh and stops at exit.
// Each test gets a database of its own.

#include <optional>
#include <string>

namespace wsp::testing {

// The server's admin URL, or nothing when no server could be started (the
// reason in `why`).
std::optional<std::string> postgres_server(std::string* why = nullptr);

// A new, empty database on the server; its URL.
std::string fresh_postgres_database();

// Runs statements on `url` outside the catalog (to tamper, or to look); the
// first column of the first row, "" when none; throws with the server's message.
std::string postgres_exec(const std::string& url, const std::string& sql);

}  // namespace wsp::testing
