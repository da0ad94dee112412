// `wsportfolio catalog`: look inside the project's catalog whichever backend
// holds it (query, dump), and move a project from its SQLite file to a shared
// PostgreSQL database (migrate --to).

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "catalog/migrations.hpp"
#include "cli/commands.hpp"

namespace wsp::cli {
namespace {

struct CatalogOptions {
  std::string folder;
  std::string sql;
  std::string table;
  std::string to;
};

// A value as the sqlite3 shell prints it: text as it is, null as nothing.
std::string shown(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Every row of `table`, each one JSON object text, sorted: the same rows give
// the same lines on either backend.
std::vector<std::string> table_lines(catalog::Catalog& catalog, const std::string& table) {
  auto result = catalog.query(fmt::format("SELECT * FROM {}", table));
  std::vector<std::string> lines;
  for (const auto& row : result.rows) {
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t c = 0; c < row.size(); ++c) object[result.columns[c]] = row[c];
    lines.push_back(json_text(object));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

int run_query(const CatalogOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config, catalog::Access::read_only);
  auto result = catalog->query(options.sql);
  for (const auto& row : result.rows) {
    if (context.global.json) {
      std::cout << json_text(nlohmann::json(row)) << '\n';
      continue;
    }
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) line += (c ? "|" : "") + shown(row[c]);
    std::cout << line << '\n';
  }
  return k_exit_ok;
}

int run_dump(const CatalogOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  auto catalog = open_existing_catalog(config, catalog::Access::read_only);
  for (const char* table : catalog::catalog_tables()) {
    if (!options.table.empty() && options.table != table) continue;
    for (const auto& line : table_lines(*catalog, table)) std::cout << "{\"table\":\"" << table << "\",\"row\":" << line << "}\n";
  }
  return k_exit_ok;
}

int run_migrate(const CatalogOptions& options, const Context& context) {
  auto config = load_project(context, existing_folder(options.folder));
  const auto file = config.state_dir() / "catalog.db";
  if (!std::filesystem::exists(file))
    throw UsageError(fmt::format("{}: no SQLite catalog to migrate", file.string()));
  try {
    catalog::check_catalog_url(options.to);
  } catch (const catalog::CatalogError& e) {
    throw UsageError(e.what());
  }
  const auto label = catalog::catalog_label({options.to, {}});
  auto source = catalog::open_sqlite_catalog(file, catalog::Access::read_only);
  auto target = catalog::open_postgres_catalog(options.to);
  if (source->schema_version() != target->schema_version())
    throw UsageError(fmt::format("{}: schema {} differs from {}'s {}", label, target->schema_version(), file.string(),
                                 source->schema_version()));
  // Copying into a catalog in use would mix two projects: only into an empty one.
  for (const char* table : catalog::catalog_tables())
    if (!target->query(fmt::format("SELECT 1 FROM {} LIMIT 1", table)).rows.empty())
      throw UsageError(fmt::format("{}: table {} is not empty; migrate only into a new database", label, table));
  std::int64_t rows = 0;
  target->write([&] {
    for (const char* table : catalog::catalog_tables()) {
      auto result = source->query(fmt::format("SELECT * FROM {}", table));
      target->insert_rows(table, result);
      rows += static_cast<std::int64_t>(result.rows.size());
    }
  });
  // What landed is read back and compared, table by table.
  for (const char* table : catalog::catalog_tables())
    if (table_lines(*source, table) != table_lines(*target, table))
      throw std::runtime_error(fmt::format("{}: table {} differs from {} after copying", label, table, file.string()));
  context.terminal.info(fmt::format("catalog: {} rows of {} copied to {}; set catalog.url (or WSPORTFOLIO_CATALOG_URL) "
                                    "to use it",
                                    rows, file.string(), label));
  context.terminal.emit(JsonLine().add("event", "catalog.migrated").add("rows", rows));
  return k_exit_ok;
}

}  // namespace

Runner define_catalog(CLI::App& command) {
  auto options = std::make_shared<CatalogOptions>();
  command.require_subcommand(1);
  auto* query = command.add_subcommand("query", "Print the rows of one read-only SQL query, columns joined by |");
  query->add_option("sql", options->sql, "The query")->required();
  auto* dump = command.add_subcommand("dump", "Print every row of every table as JSON lines, sorted");
  dump->add_option("--table", options->table, "Only this table");
  auto* migrate = command.add_subcommand("migrate", "Copy the project's SQLite catalog into a new PostgreSQL one");
  migrate->add_option("--to", options->to, "The PostgreSQL URL (no password: PGPASSWORD or ~/.pgpass)")->required();
  for (auto* sub : {query, dump, migrate})
    sub->add_option("-C,--project", options->folder, "Project folder (default: the current folder)");
  return [options, query, dump, migrate](const Context& context) {
    if (query->parsed()) return run_query(*options, context);
    if (dump->parsed()) return run_dump(*options, context);
    if (migrate->parsed()) return run_migrate(*options, context);
    return k_exit_usage;
  };
}

}  // namespace wsp::cli
