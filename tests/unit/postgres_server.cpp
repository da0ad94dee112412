#include "postgres_server.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <libpq-fe.h>
#include <unistd.h>

namespace wsp::testing {
namespace {

std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A cluster this process started; stopped when the process exits.
class OwnCluster {
public:
  OwnCluster() {
    char pattern[] = "/tmp/wsp-pg-XXXXXX";
    if (!::mkdtemp(pattern)) return;
    m_dir = pattern;
    const std::string script = std::string(WSP_SOURCE_DIR) + "/tests/pg_cluster.sh";
    const std::string command = "bash " + shell_quoted(script) + " start " + shell_quoted(m_dir) + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> out(::popen(command.c_str(), "r"), ::pclose);
    std::string output;
    char buffer[512];
    while (out && std::fgets(buffer, sizeof buffer, out.get())) output += buffer;
    const int status = out ? ::pclose(out.release()) : -1;
    if (status != 0) {
      m_error = "cannot start a PostgreSQL 15 server for the tests: " + output;
      return;
    }
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    m_url = output.substr(output.rfind('\n') == std::string::npos ? 0 : output.rfind('\n') + 1);
  }
  ~OwnCluster() {
    if (m_dir.empty()) return;
    const std::string script = std::string(WSP_SOURCE_DIR) + "/tests/pg_cluster.sh";
    [[maybe_unused]] int ignored = std::system(("bash " + shell_quoted(script) + " stop " + shell_quoted(m_dir)).c_str());
  }
  std::string m_dir, m_url, m_error;
};

}  // namespace

std::optional<std::string> postgres_server(std::string* why) {
  if (const char* given = std::getenv("WSP_TEST_POSTGRES"); given && *given) return std::string(given);
  static OwnCluster cluster;
  if (cluster.m_url.empty()) {
    if (why) *why = cluster.m_error.empty() ? "cannot start a PostgreSQL 15 server for the tests" : cluster.m_error;
    return std::nullopt;
  }
  return cluster.m_url;
}

std::string postgres_exec(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> db(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(db.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(db.get()));
  std::unique_ptr<PGresult, void (*)(PGresult*)> result(PQexec(db.get(), sql.c_str()), PQclear);
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(PQresultErrorMessage(result.get()));
  if (status == PGRES_TUPLES_OK && PQntuples(result.get()) > 0) return PQgetvalue(result.get(), 0, 0);
  return {};
}

std::string fresh_postgres_database() {
  static std::atomic<int> counter{0};
  auto server = postgres_server();
  if (!server) throw std::runtime_error("no PostgreSQL server for the tests");
  const std::string name = "wsp_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  postgres_exec(*server, "CREATE DATABASE " + name);
  const auto at = server->find("/postgres");
  if (at == std::string::npos) throw std::runtime_error("the test server's URL names no postgres database");
  return server->substr(0, at) + "/" + name + server->substr(at + 9);
}

}  // namespace wsp::testing
