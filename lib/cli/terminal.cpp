#include "cli/terminal.hpp"

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>


namespace wsp::cli {

JsonLine& JsonLine::add(std::string_view name, std::string_view value) { return add_json(name, nlohmann::ordered_json(std::string(value))); }

JsonLine& JsonLine::add(std::string_view name, std::int64_t value) { return add_json(name, nlohmann::ordered_json(value)); }

JsonLine& JsonLine::add(std::string_view name, double value) { return add_json(name, nlohmann::ordered_json(value)); }

JsonLine& JsonLine::add(std::string_view name, bool value) { return add_json(name, nlohmann::ordered_json(value)); }

JsonLine& JsonLine::add(std::string_view name, const std::vector<std::string>& values) {
  return add_json(name, nlohmann::ordered_json(values));
}

JsonLine& JsonLine::add(std::string_view name, const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> values;
  for (const auto& path : paths) values.push_back(path.string());
  return add(name, values);
}

JsonLine& JsonLine::add_json(std::string_view name, nlohmann::ordered_json value) {
  m_object[std::string(name)] = std::move(value);
  return *this;
}

JsonLine& JsonLine::add_raw(std::string_view name, std::string_view json) {
  return add_json(name, nlohmann::ordered_json::parse(json));
}

std::string JsonLine::str() const {
  return m_object.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Terminal::Terminal(const GlobalOptions& options)
    : m_json(options.json), m_quiet(options.quiet), m_verbose(options.verbose) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  m_progress = tty && !options.no_progress && !options.quiet;
  m_color = options.color == "always" || (options.color == "auto" && tty && !(std::getenv("NO_COLOR") && *std::getenv("NO_COLOR")));
}

Terminal::~Terminal() { finish_progress(); }

void Terminal::info(std::string_view message) {
  if (m_quiet) return;
  clear_progress();
  fmt::print(stderr, "{}\n", message);
}

void Terminal::detail(std::string_view message) {
  if (m_verbose > 0) info(message);
}

void Terminal::warn(std::string_view message) {
  clear_progress();
  fmt::print(stderr, "{}{}\n", m_color ? "\033[33mwarning:\033[0m " : "warning: ", message);
  if (m_json) emit(JsonLine().add("event", "warning").add("message", message));
}

void Terminal::error(std::string_view message) {
  clear_progress();
  fmt::print(stderr, "{}{}\n", m_color ? "wsportfolio: \033[31merror:\033[0m " : "wsportfolio: error: ", message);
}

void Terminal::emit(const JsonLine& line) {
  if (!m_json) return;
  fmt::print(stdout, "{}\n", line.str());
  std::fflush(stdout);
}

void Terminal::stage_started(std::string_view stage, std::size_t total) {
  finish_progress();
  m_stage = stage;
  m_total = total;
  m_done = 0;
  m_bytes = 0;
  m_started = std::chrono::steady_clock::now();
  emit(JsonLine().add("event", "stage.started").add("stage", stage).add("total", total));
}

void Terminal::item_done(std::string_view stage, std::string_view file, std::string_view outcome, std::int64_t bytes) {
  ++m_done;
  m_bytes += bytes;
  emit(JsonLine().add("event", "item").add("stage", stage).add("file", file).add("outcome", outcome));
  if (m_verbose > 0) detail(fmt::format("{}: {}: {}", stage, file, outcome));
  draw_progress(false);
}

void Terminal::item_problem(std::string_view stage, std::string_view file, std::string_view reason) {
  clear_progress();
  // Ingest rejects bad input; later stages fail on what they could not do.
  const char* label = stage == "ingest" ? "rejected:" : "failed:";
  fmt::print(stderr, "{}{}{} {}: {}\n", m_color ? "\033[31m" : "", label, m_color ? "\033[0m" : "", file, reason);
  emit(JsonLine().add("event", "problem").add("stage", stage).add("file", file).add("reason", reason));
}

void Terminal::draw_progress(bool force) {
  if (!m_progress || m_total == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && m_bar_shown && now - m_last_draw < std::chrono::milliseconds(100)) return;
  m_last_draw = now;
  double elapsed = std::chrono::duration<double>(now - m_started).count();
  double rate = elapsed > 0 ? m_done / elapsed : 0;
  const std::size_t left = m_total > m_done ? m_total - m_done : 0;
  double eta = rate > 0 ? left / rate : 0;
  constexpr int k_width = 30;
  int filled = static_cast<int>(k_width * std::min(m_done, m_total) / std::max<std::size_t>(m_total, 1));
  fmt::print(stderr, "\r{:<8} [{:=<{}}{:<{}}] {}/{}  {:.1f}/s  ETA {:.0f}s \033[K", m_stage, "", filled, "",
             k_width - filled, m_done, m_total, rate, eta);
  std::fflush(stderr);
  m_bar_shown = true;
}

void Terminal::clear_progress() {
  if (!m_bar_shown) return;
  fmt::print(stderr, "\r\033[K");
  m_bar_shown = false;
}

void Terminal::finish_progress() {
  if (m_bar_shown) {
    draw_progress(true);
    fmt::print(stderr, "\n");
    m_bar_shown = false;
  }
}

}  // namespace wsp::cli
