#pragma once
// What the user sees: human text on stderr (with a progress bar on a terminal)
// and, with --json, one JSON object per line on stdout for machines.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/observer.hpp"

namespace wsp::cli {

struct GlobalOptions {
  std::string config;  // -c/--config
  int jobs = 0;        // -j/--jobs; 0: from config, then all cores
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_progress = false;
  std::string color = "auto";
};

// A JSON object built field by field, in the order the fields are added.
// Text that is not valid UTF-8 (a file name from an old card) keeps the line
// valid JSON: each bad byte becomes U+FFFD.
class JsonLine {
public:
  JsonLine& add(std::string_view key, std::string_view value);
  JsonLine& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, std::int64_t value);
  JsonLine& add(std::string_view key, int value) { return add(key, std::int64_t(value)); }
  JsonLine& add(std::string_view key, std::size_t value) { return add(key, static_cast<std::int64_t>(value)); }
  JsonLine& add(std::string_view key, double value);
  JsonLine& add(std::string_view key, bool value);
  // An array of strings; paths as they are (absolute or relative).
  JsonLine& add(std::string_view key, const std::vector<std::string>& values);
  JsonLine& add(std::string_view key, const std::vector<std::filesystem::path>& paths);
  JsonLine& add_json(std::string_view key, nlohmann::ordered_json value);
  // `json` is JSON text (an object, array or value) taken as it is.
  JsonLine& add_raw(std::string_view key, std::string_view json);
  std::string str() const;

private:
  nlohmann::ordered_json m_object = nlohmann::ordered_json::object();
};

class Terminal final : public pipeline::Observer {
public:
  explicit Terminal(const GlobalOptions& options);
  ~Terminal() override;

  void info(std::string_view message);     // hidden by -q
  void detail(std::string_view message);   // shown with -v
  void warn(std::string_view message);
  void error(std::string_view message);    // always shown
  void emit(const JsonLine& line);         // stdout, only with --json
  bool json() const { return m_json; }
  bool styled() const { return m_color; }

  void stage_started(std::string_view stage, std::size_t total) override;
  void item_done(std::string_view stage, std::string_view file, std::string_view outcome, std::int64_t bytes) override;
  void item_problem(std::string_view stage, std::string_view file, std::string_view reason) override;
  void warning(std::string_view message) override { warn(message); }
  void finish_progress();

private:
  void draw_progress(bool force);
  void clear_progress();

  bool m_json;
  bool m_quiet;
  int m_verbose;
  bool m_progress;
  bool m_color;
  std::string m_stage;
  std::size_t m_total = 0;
  std::size_t m_done = 0;
  std::int64_t m_bytes = 0;
  bool m_bar_shown = false;
  std::chrono::steady_clock::time_point m_started;
  std::chrono::steady_clock::time_point m_last_draw;
};

}  // namespace wsp::cli
