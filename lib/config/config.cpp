#include "config/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <tuple>

#include <libpq-fe.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "util/files.hpp"
#include "util/text.hpp"

namespace wsp::config {
namespace {

// Where a value sits in the file, for messages and `config show`.
struct Place {
  std::string label;    // the file as the user named it, or "default"
  std::string key;      // display path with list indices: "sources[0].path"
  int line = 0;         // 1-based; 0 when unknown
  // Built-in values are "default"; their line in the embedded file means nothing to a user.
  std::string where() const { return line > 0 && label != "default" ? fmt::format("{}:{}", label, line) : label; }
};

[[noreturn]] void fail(const Place& place, const std::string& what) {
  throw ConfigError(fmt::format("{}: {}: {}", place.where(), place.key, what));
}

enum class Kind { Map, List, Value };

// Converts one YAML node into a field of Config, throwing ConfigError on bad values.
using Apply = std::function<void(Config&, const YAML::Node&, const Place&)>;

struct KeySpec {
  std::string_view path;  // dotted; "[]." descends into the items of a list
  Kind kind;
  Apply apply;            // for lists: appends an item; for maps: optional
  bool secret_env = false;
};

#define FIELD(expr) [](Config & c) -> auto& { return expr; }

std::string scalar_of(const YAML::Node& node, const Place& place, std::string_view expected) {
  if (!node.IsScalar()) fail(place, fmt::format("expected {}", expected));
  return node.Scalar();
}

template <typename Get>
Apply text(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) { get(c) = scalar_of(n, p, "a string"); };
}

// Where `text` stops being UTF-8 (overlong forms, surrogates and code points
// past U+10FFFF included), or npos when it is UTF-8 throughout.
std::size_t first_non_utf8(std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    const auto lead = static_cast<unsigned char>(text[at]);
    const std::size_t length = lead < 0x80 ? 1 : lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3
                               : lead >= 0xF0 && lead <= 0xF4                  ? 4
                                                                               : 0;
    if (length == 0 || at + length > text.size()) return at;
    char32_t code = length == 1 ? lead : lead & (0x7F >> length);
    for (std::size_t i = 1; i < length; ++i) {
      const auto next = static_cast<unsigned char>(text[at + i]);
      if ((next & 0xC0) != 0x80) return at;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr char32_t k_smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < k_smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return at;
    at += length;
  }
  return std::string_view::npos;
}

// Text that is drawn (Pango takes only UTF-8): a file saved in another
// encoding would fail at render time, image after image.
template <typename Get>
Apply utf8_text(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto value = scalar_of(n, p, "a string");
    if (auto bad = first_non_utf8(value); bad != std::string_view::npos)
      fail(p, fmt::format("not UTF-8 (byte {} is 0x{:02X}); save the file as UTF-8", bad + 1,
                          static_cast<unsigned char>(value[bad])));
    get(c) = std::move(value);
  };
}

template <typename Get>
Apply flag(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "true or false");
    bool value = false;
    if (!YAML::convert<bool>::decode(n, value)) fail(p, fmt::format("expected true or false, got '{}'", raw));
    get(c) = value;
  };
}

long long parse_whole(const std::string& raw, const Place& p, long long lo, long long hi) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(raw, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != raw.size()) fail(p, fmt::format("expected a whole number, got '{}'", raw));
  if (value < lo || value > hi) fail(p, fmt::format("{} is out of range ({} to {})", value, lo, hi));
  return value;
}

template <typename Get>
Apply whole(Get get, long long lo, long long hi) {
  return [get, lo, hi](Config& c, const YAML::Node& n, const Place& p) {
    using T = std::remove_reference_t<decltype(get(c))>;
    get(c) = static_cast<T>(parse_whole(scalar_of(n, p, "a whole number"), p, lo, hi));
  };
}

// An age in days or hours ("30d", "12h"); 0 alone is none.
template <typename Get>
Apply age_in_hours(Get get, long long most_days) {
  return [get, most_days](Config& c, const YAML::Node& n, const Place& p) {
    const auto raw = scalar_of(n, p, "an age such as 30d or 12h");
    const long long unit = raw.ends_with('d') ? 24 : raw.ends_with('h') ? 1 : 0;
    if (unit == 0 && raw != "0") fail(p, fmt::format("expected an age such as 30d or 12h, got '{}'", raw));
    const auto count = unit == 0 ? 0 : parse_whole(raw.substr(0, raw.size() - 1), p, 0, most_days * 24 / unit);
    get(c) = std::chrono::hours(count * unit);
  };
}

template <typename Get>
Apply number(Get get, double lo, double hi) {
  return [get, lo, hi](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a number");
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(raw, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != raw.size()) fail(p, fmt::format("expected a number, got '{}'", raw));
    if (value < lo || value > hi) fail(p, fmt::format("{} is out of range ({} to {})", raw, lo, hi));
    get(c) = value;
  };
}

void check_choice(const std::string& value, const std::vector<std::string>& allowed, const Place& p) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  auto hint = util::closest_match(value, allowed);
  fail(p, fmt::format("'{}' is not one of: {}{}", value, fmt::join(allowed, ", "),
                      hint ? fmt::format(" (did you mean '{}'?)", *hint) : ""));
}

template <typename Get>
Apply choice(Get get, std::vector<std::string> allowed) {
  return [get, allowed](Config& c, const YAML::Node& n, const Place& p) {
    auto value = scalar_of(n, p, "a string");
    check_choice(value, allowed, p);
    get(c) = value;
  };
}

std::vector<std::string> scalar_list(const YAML::Node& n, const Place& p) {
  if (!n.IsSequence()) fail(p, "expected a list, e.g. [a, b]");
  std::vector<std::string> items;
  for (const auto& item : n) {
    Place at = p;
    at.line = item.Mark().line + 1;
    items.push_back(scalar_of(item, at, "a list of plain values"));
  }
  return items;
}

template <typename Get>
Apply texts(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) { get(c) = scalar_list(n, p); };
}

template <typename Get>
Apply choices(Get get, std::vector<std::string> allowed) {
  return [get, allowed](Config& c, const YAML::Node& n, const Place& p) {
    auto items = scalar_list(n, p);
    for (const auto& item : items) check_choice(item, allowed, p);
    get(c) = items;
  };
}

template <typename Get>
Apply wholes(Get get, long long lo, long long hi) {
  return [get, lo, hi](Config& c, const YAML::Node& n, const Place& p) {
    std::vector<int> values;
    for (const auto& raw : scalar_list(n, p)) values.push_back(static_cast<int>(parse_whole(raw, p, lo, hi)));
    if (values.empty()) fail(p, "needs at least one value");
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    get(c) = values;
  };
}

// "HH:MM" on a 24-hour clock, to minutes after midnight.
template <typename Get>
Apply clock_time(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a time like \"13:30\"");
    static const std::regex k_clock(R"(([01]?\d|2[0-3]):([0-5]\d))");
    std::smatch m;
    if (!std::regex_match(raw, m, k_clock)) fail(p, fmt::format("expected a time like \"13:30\", got '{}'", raw));
    get(c) = std::stoi(m[1]) * 60 + std::stoi(m[2]);
  };
}

// "+HH:MM[:SS]" or "-HH:MM[:SS]" to signed seconds.
template <typename Get>
Apply clock_offset(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "an offset like \"+00:07:30\"");
    static const std::regex k_offset(R"(([+-])(\d{1,2}):([0-5]\d)(?::([0-5]\d))?)");
    std::smatch m;
    if (!std::regex_match(raw, m, k_offset))
      fail(p, fmt::format("expected an offset like \"+00:07:30\" or \"-01:00\", got '{}'", raw));
    int seconds = std::stoi(m[2]) * 3600 + std::stoi(m[3]) * 60 + (m[4].matched ? std::stoi(m[4]) : 0);
    get(c) = m[1] == "-" ? -seconds : seconds;
  };
}

template <typename Get>
Apply time_zone(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "an IANA time zone like Europe/Paris");
    if (raw.empty()) {  // the machine's, filled in by apply_derived_defaults
      get(c).clear();
      return;
    }
    static const std::regex k_zone(R"([A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*)");
    // A zone is a TZif file of the zone database, not one of its folders ("Europe").
    auto is_zone_file = [](const std::string& name) {
      std::ifstream in(std::filesystem::path("/usr/share/zoneinfo") / name, std::ios::binary);
      char magic[4] = {};
      return in.read(magic, 4) && std::string_view(magic, 4) == "TZif";
    };
    bool known = std::regex_match(raw, k_zone) && (raw == "UTC" || is_zone_file(raw));
    if (!known) fail(p, fmt::format("unknown time zone '{}' (expected an IANA name like Europe/Paris)", raw));
    get(c) = raw;
  };
}

template <typename Get>
Apply env_name(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "an environment variable name");
    static const std::regex k_env(R"([A-Za-z_][A-Za-z0-9_]*)");
    // A value that is not a variable name may be the secret itself: never echo it.
    if (!std::regex_match(raw, k_env))
      fail(p, "expected the name of an environment variable holding the secret (the value itself is not accepted)");
    get(c) = raw;
  };
}

// A PostgreSQL connection URL, read by libpq itself. A password in it is
// refused without echoing the value: it would land in `config show`, logs
// and process lists; libpq takes it from PGPASSWORD or ~/.pgpass instead.
template <typename Get>
Apply database_address(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a PostgreSQL URL");
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(raw.c_str(), &error);
    PQfreemem(error);
    if (!options) fail(p, "expected a PostgreSQL URL (postgresql://user@host:port/database)");
    bool password = false;
    for (auto* option = options; option->keyword; ++option)
      if (std::string_view(option->keyword) == "password" && option->val && *option->val) password = true;
    PQconninfoFree(options);
    if (password) fail(p, "a password in the URL is not accepted: give it through PGPASSWORD, ~/.pgpass or passfile=");
    get(c) = raw;
  };
}

template <typename Get>
Apply web_address(Get get) {
  return [get](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a URL");
    static const std::regex k_url(R"(https?://[^\s/@]+(@[^\s/]+)?(/\S*)?)");
    if (!std::regex_match(raw, k_url)) fail(p, "expected an http:// or https:// URL");
    if (raw.find('@') != std::string::npos && raw.find('@') < raw.find('/', 8))
      fail(p, "credentials in URLs are not accepted: reference them by environment variable");
    get(c) = raw;
  };
}

template <typename Get>
Apply list_of(Get get) {
  return [get](Config& c, const YAML::Node&, const Place&) { get(c).emplace_back(); };
}

// A number that may be left out (no limit): `none` or empty says so explicitly.
template <typename Get>
Apply optional_number(Get get, double lo, double hi) {
  return [get, lo, hi](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a number or none");
    if (raw.empty() || raw == "none" || raw == "~" || raw == "null") {
      get(c).reset();
      return;
    }
    double value = 0;
    auto apply = number([&](Config&) -> double& { return value; }, lo, hi);
    apply(c, n, p);
    get(c) = value;
  };
}

template <typename Get>
Apply optional_whole(Get get, int lo, int hi) {
  return [get, lo, hi](Config& c, const YAML::Node& n, const Place& p) {
    auto raw = scalar_of(n, p, "a whole number or none");
    if (raw.empty() || raw == "none" || raw == "~" || raw == "null") {
      get(c).reset();
      return;
    }
    int value = 0;
    whole([&](Config&) -> int& { return value; }, lo, hi)(c, n, p);
    get(c) = value;
  };
}

template <typename Get>
Apply optional_map(Get get) {
  return [get](Config& c, const YAML::Node&, const Place&) {
    if (!get(c)) get(c).emplace();
  };
}

const std::vector<std::string> k_positions{"top-left", "top-right", "bottom-left", "bottom-right", "center"};
const std::vector<std::string> k_providers{"local", "openai", "google_vision"};
const std::vector<std::string> k_events{
    "ingest.completed", "render.completed", "tag.completed", "run.started",       "run.completed",
    "run.failed",       "images.rejected",  "images.failed", "review.needed",     "publish.completed",
    "publish.failed",   "verify.failed",    "test.ping"};

// An alt text template may use only the placeholders the tagger fills.
void check_alt_text(const Config& config) {
  static const std::vector<std::string> k_placeholders{"scene", "orientation", "colours", "people", "title", "credit"};
  const std::string& text = config.tagging.alt_text;
  for (auto open = text.find('{'); open != std::string::npos; open = text.find('{', open + 1)) {
    auto close = text.find('}', open);
    auto name = text.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1);
    if (close == std::string::npos || std::find(k_placeholders.begin(), k_placeholders.end(), name) == k_placeholders.end()) {
      auto hint = util::closest_match(name, k_placeholders);
      throw ConfigError(fmt::format("{}: tagging.alt_text: unknown placeholder '{{{}}}' (known: {{{}}}){}",
                                    config.config_file.string(), name, fmt::join(k_placeholders, "} {"),
                                    hint ? fmt::format("; did you mean '{{{}}}'?", *hint) : ""));
    }
  }
}

// A width no enabled format can hold would fail every photo at render time;
// the formats are known only once the whole file is read.
void check_widths_fit_formats(const Config& config) {
  const auto& render = config.render;
  std::string where = config.config_file.string();
  for (const auto& origin : config.origins)
    if (origin.key == "render.widths") where = origin.where;
  for (auto [format, name, enabled] : {std::tuple{"jpeg", "JPEG", render.jpeg.enabled},
                                       std::tuple{"webp", "WebP", render.webp.enabled},
                                       std::tuple{"avif", "AVIF", render.avif.enabled}}) {
    if (!enabled) continue;
    for (int width : render.widths)
      if (width > longest_side_of(format))
        throw ConfigError(fmt::format("{}: render.widths: {} px is wider than {} can hold ({} px); use a smaller "
                                      "width or disable render.formats.{}",
                                      where, width, name, longest_side_of(format), format));
  }
}

}  // namespace

int longest_side_of(std::string_view format) {
  if (format == "webp") return 16383;
  if (format == "avif") return 16384;
  return 65500;
}

namespace {

// Every key of wsportfolio.yaml. The order is the order of `config show`.
const std::vector<KeySpec>& key_table() {
  static const std::vector<KeySpec> k_keys{
      {"version", Kind::Value, whole(FIELD(c.version), 1, 1)},
      {"project", Kind::Map, nullptr},
      {"project.title", Kind::Value, text(FIELD(c.project.title))},
      {"project.slug", Kind::Value, text(FIELD(c.project.slug))},
      {"project.timezone", Kind::Value, time_zone(FIELD(c.project.timezone))},
      {"project.credit", Kind::Value, text(FIELD(c.project.credit))},
      {"sources", Kind::List, list_of(FIELD(c.sources))},
      {"sources[].path", Kind::Value, text(FIELD(c.sources.back().path))},
      {"sources[].recursive", Kind::Value, flag(FIELD(c.sources.back().recursive))},
      {"sources[].include", Kind::Value, texts(FIELD(c.sources.back().include))},
      {"sources[].exclude", Kind::Value, texts(FIELD(c.sources.back().exclude))},
      {"limits", Kind::Map, nullptr},
      {"limits.max_pixels", Kind::Value, whole(FIELD(c.limits.max_pixels), 1, 10'000'000'000LL)},
      {"timeline", Kind::List, list_of(FIELD(c.timeline))},
      {"timeline[].scene", Kind::Value, text(FIELD(c.timeline.back().scene))},
      {"timeline[].from", Kind::Value, clock_time(FIELD(c.timeline.back().from_minute))},
      {"timeline[].to", Kind::Value, clock_time(FIELD(c.timeline.back().to_minute))},
      {"cameras", Kind::List, list_of(FIELD(c.cameras))},
      {"cameras[].serial", Kind::Value, text(FIELD(c.cameras.back().serial))},
      {"cameras[].model", Kind::Value, text(FIELD(c.cameras.back().model))},
      {"cameras[].offset", Kind::Value, clock_offset(FIELD(c.cameras.back().offset_seconds))},
      {"tagging", Kind::Map, nullptr},
      {"tagging.providers", Kind::Value, choices(FIELD(c.tagging.providers), k_providers)},
      {"tagging.min_confidence", Kind::Value, number(FIELD(c.tagging.min_confidence), 0.0, 1.0)},
      {"tagging.scenes", Kind::Value, texts(FIELD(c.tagging.scenes))},
      {"tagging.alt_text", Kind::Value, text(FIELD(c.tagging.alt_text))},
      {"tagging.language", Kind::Value, text(FIELD(c.tagging.language))},
      {"tagging.max_cost", Kind::Value, optional_number(FIELD(c.tagging.max_cost), 0.0, 1e9)},
      {"tagging.faces", Kind::Value, choice(FIELD(c.tagging.faces), {"auto", "on", "off"})},
      {"tagging.vocabulary", Kind::List, list_of(FIELD(c.tagging.vocabulary))},
      {"tagging.vocabulary[].word", Kind::Value, text(FIELD(c.tagging.vocabulary.back().word))},
      {"tagging.vocabulary[].text", Kind::Value, text(FIELD(c.tagging.vocabulary.back().text))},
      {"tagging.openai", Kind::Map, nullptr},
      {"tagging.openai.model", Kind::Value, text(FIELD(c.tagging.openai.model))},
      {"tagging.openai.api_key_env", Kind::Value, env_name(FIELD(c.tagging.openai.api_key.env)), true},
      {"tagging.openai.api_key_file", Kind::Value, text(FIELD(c.tagging.openai.api_key.file))},
      {"tagging.openai.base_url", Kind::Value, web_address(FIELD(c.tagging.openai.base_url))},
      {"tagging.openai.concurrency", Kind::Value, whole(FIELD(c.tagging.openai.concurrency), 1, 256)},
      {"tagging.openai.requests_per_minute", Kind::Value,
       whole(FIELD(c.tagging.openai.requests_per_minute), 0, 1'000'000)},
      {"tagging.openai.tokens_per_minute", Kind::Value,
       whole(FIELD(c.tagging.openai.tokens_per_minute), 0, 1'000'000'000)},
      {"tagging.openai.timeout_seconds", Kind::Value, whole(FIELD(c.tagging.openai.timeout_seconds), 1, 3600)},
      {"tagging.openai.prices", Kind::Map, nullptr},
      {"tagging.openai.prices.input_per_million", Kind::Value,
       number(FIELD(c.tagging.openai.prices.input_per_million), 0.0, 1e6)},
      {"tagging.openai.prices.output_per_million", Kind::Value,
       number(FIELD(c.tagging.openai.prices.output_per_million), 0.0, 1e6)},
      {"tagging.google_vision", Kind::Map, nullptr},
      {"tagging.google_vision.api_key_env", Kind::Value, env_name(FIELD(c.tagging.google_vision.api_key.env)), true},
      {"tagging.google_vision.api_key_file", Kind::Value, text(FIELD(c.tagging.google_vision.api_key.file))},
      {"tagging.google_vision.base_url", Kind::Value, web_address(FIELD(c.tagging.google_vision.base_url))},
      {"tagging.google_vision.concurrency", Kind::Value, whole(FIELD(c.tagging.google_vision.concurrency), 1, 64)},
      {"tagging.google_vision.requests_per_minute", Kind::Value,
       whole(FIELD(c.tagging.google_vision.requests_per_minute), 0, 1'000'000)},
      {"tagging.google_vision.batch_wait_ms", Kind::Value, whole(FIELD(c.tagging.google_vision.batch_wait_ms), 0, 60'000)},
      {"tagging.google_vision.timeout_seconds", Kind::Value,
       whole(FIELD(c.tagging.google_vision.timeout_seconds), 1, 3600)},
      {"tagging.google_vision.price_per_thousand", Kind::Value,
       number(FIELD(c.tagging.google_vision.price_per_thousand), 0.0, 1e6)},
      {"tagging.google_vision.labels", Kind::List, list_of(FIELD(c.tagging.google_vision.labels))},
      {"tagging.google_vision.labels[].label", Kind::Value, text(FIELD(c.tagging.google_vision.labels.back().label))},
      {"tagging.google_vision.labels[].scene", Kind::Value, text(FIELD(c.tagging.google_vision.labels.back().scene))},
      {"render", Kind::Map, nullptr},
      {"render.widths", Kind::Value, wholes(FIELD(c.render.widths), 16, 16384)},
      {"render.formats", Kind::Map, nullptr},
      {"render.formats.jpeg", Kind::Map, nullptr},
      {"render.formats.jpeg.enabled", Kind::Value, flag(FIELD(c.render.jpeg.enabled))},
      {"render.formats.jpeg.quality", Kind::Value, whole(FIELD(c.render.jpeg.quality), 1, 100)},
      {"render.formats.webp", Kind::Map, nullptr},
      {"render.formats.webp.enabled", Kind::Value, flag(FIELD(c.render.webp.enabled))},
      {"render.formats.webp.quality", Kind::Value, whole(FIELD(c.render.webp.quality), 1, 100)},
      {"render.formats.webp.effort", Kind::Value, whole(FIELD(c.render.webp.effort), 0, 6)},
      {"render.formats.avif", Kind::Map, nullptr},
      {"render.formats.avif.enabled", Kind::Value, flag(FIELD(c.render.avif.enabled))},
      {"render.formats.avif.quality", Kind::Value, whole(FIELD(c.render.avif.quality), 1, 100)},
      {"render.formats.avif.effort", Kind::Value, whole(FIELD(c.render.avif.effort), 0, 9)},
      {"render.sharpen", Kind::Value, flag(FIELD(c.render.sharpen))},
      {"render.metadata", Kind::Map, nullptr},
      {"render.metadata.keep", Kind::Value, choices(FIELD(c.render.keep_metadata), {"copyright", "artist"})},
      {"render.watermark", Kind::Map, optional_map(FIELD(c.render.watermark))},
      {"render.watermark.text", Kind::Value, utf8_text(FIELD(c.render.watermark->text))},
      {"render.watermark.image", Kind::Value, text(FIELD(c.render.watermark->image))},
      {"render.watermark.font", Kind::Value, text(FIELD(c.render.watermark->font))},
      {"render.watermark.size", Kind::Value, number(FIELD(c.render.watermark->size), 0.005, 0.5)},
      {"render.watermark.position", Kind::Value, choice(FIELD(c.render.watermark->position), k_positions)},
      {"render.watermark.opacity", Kind::Value, number(FIELD(c.render.watermark->opacity), 0.0, 1.0)},
      {"render.watermark.margin", Kind::Value, number(FIELD(c.render.watermark->margin), 0.0, 0.25)},
      {"render.watermark.min_width", Kind::Value, whole(FIELD(c.render.watermark->min_width), 0, 16384)},
      {"render.placeholder", Kind::Value, choice(FIELD(c.render.placeholder), {"blurhash", "lqip", "none"})},
      {"render.analysis_size", Kind::Value, whole(FIELD(c.render.analysis_size), 64, 2048)},
      {"publish", Kind::Map, nullptr},
      {"publish.targets", Kind::List, list_of(FIELD(c.publish.targets))},
      {"publish.targets[].name", Kind::Value, text(FIELD(c.publish.targets.back().name))},
      {"publish.targets[].type", Kind::Value, choice(FIELD(c.publish.targets.back().type), {"local", "s3"})},
      {"publish.targets[].path", Kind::Value, text(FIELD(c.publish.targets.back().path))},
      {"publish.targets[].bucket", Kind::Value, text(FIELD(c.publish.targets.back().bucket))},
      {"publish.targets[].region", Kind::Value, text(FIELD(c.publish.targets.back().region))},
      {"publish.targets[].endpoint", Kind::Value, web_address(FIELD(c.publish.targets.back().endpoint))},
      {"publish.targets[].prefix", Kind::Value, text(FIELD(c.publish.targets.back().prefix))},
      {"publish.targets[].path_style", Kind::Value, flag(FIELD(c.publish.targets.back().path_style))},
      {"publish.targets[].profile", Kind::Value, text(FIELD(c.publish.targets.back().profile))},
      {"publish.targets[].public_url", Kind::Value, web_address(FIELD(c.publish.targets.back().public_url))},
      {"publish.targets[].max_age", Kind::Value, whole(FIELD(c.publish.targets.back().max_age), 0, 31536000)},
      {"publish.targets[].multipart_threshold_mb", Kind::Value,
       whole(FIELD(c.publish.targets.back().multipart_threshold_mb), 5, 1 << 20)},
      {"publish.targets[].part_size_mb", Kind::Value, whole(FIELD(c.publish.targets.back().part_size_mb), 5, 5120)},
      {"publish.targets[].select", Kind::Map, nullptr},
      {"publish.targets[].select.min_rating", Kind::Value, optional_whole(FIELD(c.publish.targets.back().select.min_rating), 0, 5)},
      {"publish.targets[].select.labels", Kind::Value, texts(FIELD(c.publish.targets.back().select.labels))},
      {"publish.targets[].select.picks_only", Kind::Value, flag(FIELD(c.publish.targets.back().select.picks_only))},
      {"publish.targets[].select.best_of_bursts", Kind::Value, flag(FIELD(c.publish.targets.back().select.best_of_bursts))},
      {"publish.targets[].access_key_env", Kind::Value, env_name(FIELD(c.publish.targets.back().access_key.env)), true},
      {"publish.targets[].access_key_file", Kind::Value, text(FIELD(c.publish.targets.back().access_key.file))},
      {"publish.targets[].secret_key_env", Kind::Value, env_name(FIELD(c.publish.targets.back().secret_key.env)), true},
      {"publish.targets[].secret_key_file", Kind::Value, text(FIELD(c.publish.targets.back().secret_key.file))},
      {"publish.purge", Kind::Map, optional_map(FIELD(c.publish.purge))},
      {"publish.purge.type", Kind::Value, choice(FIELD(c.publish.purge->type), {"cloudflare", "cloudfront", "fastly"})},
      {"publish.purge.zone_id", Kind::Value, text(FIELD(c.publish.purge->zone_id))},
      {"publish.purge.distribution_id", Kind::Value, text(FIELD(c.publish.purge->distribution_id))},
      {"publish.purge.service_id", Kind::Value, text(FIELD(c.publish.purge->service_id))},
      {"publish.purge.api_token_env", Kind::Value, env_name(FIELD(c.publish.purge->api_token.env)), true},
      {"publish.purge.api_token_file", Kind::Value, text(FIELD(c.publish.purge->api_token.file))},
      {"publish.purge.secret_key_env", Kind::Value, env_name(FIELD(c.publish.purge->secret_key.env)), true},
      {"publish.purge.secret_key_file", Kind::Value, text(FIELD(c.publish.purge->secret_key.file))},
      {"publish.purge.api_base", Kind::Value, web_address(FIELD(c.publish.purge->api_base))},
      {"publish.purge.soft", Kind::Value, flag(FIELD(c.publish.purge->soft))},
      {"publish.stall_seconds", Kind::Value, whole(FIELD(c.publish.stall_seconds), 0, 3600)},
      {"publish.request_timeout_seconds", Kind::Value, whole(FIELD(c.publish.request_timeout_seconds), 1, 86'400)},
      {"publish.gallery", Kind::Map, nullptr},
      {"publish.gallery.template", Kind::Value, text(FIELD(c.publish.gallery_template))},
      {"publish.gallery.downloads", Kind::Value, choice(FIELD(c.publish.gallery_downloads), {"none", "originals"})},
      {"webhooks", Kind::List, list_of(FIELD(c.webhooks))},
      {"webhooks[].url", Kind::Value, web_address(FIELD(c.webhooks.back().url))},
      {"webhooks[].secret_env", Kind::Value, env_name(FIELD(c.webhooks.back().secret.env)), true},
      {"webhooks[].secret_file", Kind::Value, text(FIELD(c.webhooks.back().secret.file))},
      {"webhooks[].events", Kind::Value, choices(FIELD(c.webhooks.back().events), k_events)},
      {"webhooks[].allow_http", Kind::Value, flag(FIELD(c.webhooks.back().allow_http))},
      {"webhooks[].timeout_seconds", Kind::Value, whole(FIELD(c.webhooks.back().timeout_seconds), 1, 300)},
      {"webhook_retention", Kind::Value, age_in_hours(FIELD(c.webhook_retention), 3650)},
      {"pipeline", Kind::Map, nullptr},
      {"pipeline.jobs", Kind::Value, whole(FIELD(c.pipeline.jobs), 0, 1024)},
      {"pipeline.max_inflight_images", Kind::Value, whole(FIELD(c.pipeline.max_inflight_images), 0, 4096)},
      {"pipeline.retries", Kind::Value, whole(FIELD(c.pipeline.retries), 0, 100)},
      {"network", Kind::Map, nullptr},
      {"network.connect_timeout_seconds", Kind::Value, whole(FIELD(c.network.connect_timeout_seconds), 1, 600)},
      {"network.stall_seconds", Kind::Value, whole(FIELD(c.network.stall_seconds), 1, 3600)},
      {"network.stall_bytes_per_second", Kind::Value, whole(FIELD(c.network.stall_bytes_per_second), 1, 1 << 30)},
      {"watch", Kind::Map, nullptr},
      {"watch.stable_ms", Kind::Value, whole(FIELD(c.watch.stable_ms), 0, 3'600'000)},
      {"watch.poll_seconds", Kind::Value, whole(FIELD(c.watch.poll_seconds), 0, 86'400)},
      {"catalog", Kind::Map, nullptr},
      {"catalog.url", Kind::Value, database_address(FIELD(c.catalog.url))},
  };
  return k_keys;
}

#undef FIELD

const KeySpec* find_key(std::string_view path) {
  for (const auto& spec : key_table())
    if (spec.path == path) return &spec;
  return nullptr;
}

// The keys allowed directly under `parent` ("" for the top level).
std::vector<std::string> children_of(std::string_view parent) {
  std::vector<std::string> names;
  for (const auto& spec : key_table()) {
    std::string_view path = spec.path;
    if (!parent.empty()) {
      if (!path.starts_with(parent) || path.size() <= parent.size() || path[parent.size()] != '.') continue;
      path.remove_prefix(parent.size() + 1);
    }
    if (path.find('.') == std::string_view::npos && path.find('[') == std::string_view::npos)
      names.emplace_back(path);
  }
  return names;
}

std::string printable(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string masked_secret_env(const std::string& name) {
  return fmt::format("{} ({})", name, std::getenv(name.c_str()) ? "set" : "not set");
}

class Loader {
public:
  Loader(Config& config, std::string label) : m_config(config), m_label(std::move(label)) {}

  void load(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("{}:{}: invalid YAML: {}", m_label, e.mark.line + 1, e.msg));
    }
    if (root.IsNull()) return;
    if (!root.IsMap()) throw ConfigError(fmt::format("{}:1: expected a mapping of keys at the top level", m_label));
    walk_map(root, "", "");
  }

private:
  void walk_map(const YAML::Node& map, const std::string& schema_prefix, const std::string& display_prefix) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      Place place{m_label, "", entry.first.Mark().line + 1};
      if (!entry.first.IsScalar()) {
        place.key = display_prefix.empty() ? "(key)" : display_prefix;
        fail(place, "keys must be plain names");
      }
      const std::string name = entry.first.Scalar();
      const std::string schema_path = schema_prefix.empty() ? name : schema_prefix + "." + name;
      place.key = display_prefix.empty() ? name : display_prefix + "." + name;
      if (!seen.insert(name).second) fail(place, "appears twice");
      const KeySpec* spec = find_key(schema_path);
      if (!spec) fail(place, unknown_key_message(name, schema_prefix));
      apply(*spec, entry.second, place, schema_path);
    }
  }

  static std::string unknown_key_message(const std::string& name, const std::string& parent) {
    auto known = children_of(parent);
    auto hint = util::closest_match(name, known);
    std::string message = fmt::format("unknown key '{}'", name);
    if (hint) message += fmt::format(" (did you mean '{}'?)", *hint);
    static const std::regex k_secretish(R"(.*(key|token|secret|password)$)", std::regex::icase);
    if (std::regex_match(name, k_secretish))
      message += "; secrets are referenced by environment variable (`*_env`) or file (`*_file`), never written here";
    return message;
  }

  void apply(const KeySpec& spec, const YAML::Node& node, const Place& place, const std::string& schema_path) {
    switch (spec.kind) {
      case Kind::Map:
        if (node.IsNull()) return;
        if (!node.IsMap()) fail(place, "expected a mapping of keys");
        if (spec.apply) spec.apply(m_config, node, place);
        walk_map(node, schema_path, place.key);
        return;
      case Kind::List: {
        if (node.IsNull()) return;
        if (!node.IsSequence()) fail(place, "expected a list of entries (each starting with '- ')");
        // A list in a later layer replaces the earlier one as a whole.
        clear_list(schema_path, place.key);
        std::size_t index = 0;
        for (const auto& item : node) {
          Place at{m_label, fmt::format("{}[{}]", place.key, index++), item.Mark().line + 1};
          if (!item.IsMap()) fail(at, "expected a mapping of keys");
          spec.apply(m_config, item, at);
          walk_map(item, schema_path + "[]", at.key);
        }
        return;
      }
      case Kind::Value:
        spec.apply(m_config, node, place);
        record(place, spec.secret_env ? masked_secret_env(node.Scalar()) : printable(node));
        return;
    }
  }

  void clear_list(const std::string& schema_path, const std::string& display_key) {
    if (schema_path == "sources") m_config.sources.clear();
    else if (schema_path == "timeline") m_config.timeline.clear();
    else if (schema_path == "cameras") m_config.cameras.clear();
    else if (schema_path == "tagging.vocabulary") m_config.tagging.vocabulary.clear();
    else if (schema_path == "tagging.google_vision.labels") m_config.tagging.google_vision.labels.clear();
    else if (schema_path == "publish.targets") m_config.publish.targets.clear();
    else if (schema_path == "webhooks") m_config.webhooks.clear();
    std::erase_if(m_config.origins, [&](const Origin& o) { return o.key.starts_with(display_key + "["); });
  }

  void record(const Place& place, std::string value) {
    auto it = std::find_if(m_config.origins.begin(), m_config.origins.end(),
                           [&](const Origin& o) { return o.key == place.key; });
    Origin origin{place.key, std::move(value), place.where()};
    if (it != m_config.origins.end()) *it = std::move(origin);
    else m_config.origins.push_back(std::move(origin));
  }

  Config& m_config;
  std::string m_label;
};

std::string machine_timezone() {
  if (const char* tz = std::getenv("TZ"); tz && *tz && *tz != ':' && std::filesystem::exists(
                                                std::filesystem::path("/usr/share/zoneinfo") / tz))
    return tz;
  if (auto text = util::read_text_file("/etc/timezone"); text.ok()) {
    auto zone = *text;
    while (!zone.empty() && std::isspace(static_cast<unsigned char>(zone.back()))) zone.pop_back();
    if (!zone.empty()) return zone;
  }
  std::error_code error;
  auto target = std::filesystem::read_symlink("/etc/localtime", error);
  if (!error) {
    auto text = target.string();
    if (auto at = text.find("zoneinfo/"); at != std::string::npos) return text.substr(at + 9);
  }
  return "UTC";
}

std::string slug_of(const std::string& name) {
  std::string slug;
  for (unsigned char c : name) {
    if (std::isalnum(c)) slug.push_back(static_cast<char>(std::tolower(c)));
    else if (!slug.empty() && slug.back() != '-') slug.push_back('-');
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "portfolio" : slug;
}

// Records a value the defaults derived, replacing an empty one from a file.
void note_derived(Config& config, const std::string& key, const std::string& value) {
  auto it = std::find_if(config.origins.begin(), config.origins.end(), [&](const Origin& o) { return o.key == key; });
  if (it != config.origins.end()) *it = {key, value, "derived"};
  else config.origins.push_back({key, value, "derived"});
}

// Where a key's value was set in a config file ("wsportfolio.yaml:12"); empty
// for a built-in or derived value.
std::string where_set(const Config& config, const std::string& key) {
  auto it = std::find_if(config.origins.begin(), config.origins.end(), [&](const Origin& o) { return o.key == key; });
  if (it != config.origins.end() && it->where != "default" && it->where != "derived") return it->where;
  return {};
}

// A local target is a folder the gallery is written into, and a folder the
// scan never enters: as the project folder, the state folder, a source or a
// folder holding one, either the photos would be fenced off as output or the
// gallery's renders taken for photos. The built-in target, in the state
// folder, is fenced whatever the sources say.
void check_target_folder(const Config& config, std::size_t index) {
  namespace fs = std::filesystem;
  const auto& target = config.publish.targets[index];
  const auto key = fmt::format("publish.targets[{}].path", index);
  const auto where = where_set(config, key);
  if (where.empty()) return;
  auto folder_of = [](const fs::path& path) {
    auto text = path.lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
  };
  // `inner` is `outer` or inside it.
  auto within = [&](const fs::path& inner, const fs::path& outer) {
    const auto a = folder_of(inner), b = folder_of(outer);
    return a == b || (a.size() > b.size() && a.starts_with(b) && (b == "/" || a[b.size()] == '/'));
  };
  const fs::path root = config.in_project(target.path);
  std::string what;
  if (within(config.project_dir, root)) what = "the project folder";
  else if (within(config.state_dir(), root)) what = "the state folder (.wsportfolio)";
  for (std::size_t i = 0; what.empty() && i < config.sources.size(); ++i)
    if (within(config.in_project(config.sources[i].path), root))
      what = within(root, config.in_project(config.sources[i].path))
                 ? fmt::format("the folder of sources[{}]", i)
                 : fmt::format("a folder holding sources[{}] ({})", i, config.sources[i].path);
  if (what.empty()) return;
  throw ConfigError(fmt::format("{}: {}: '{}' is {}; a local target needs a folder of its own, such as ./public",
                                where, key, target.path, what));
}

}  // namespace

// `config show` lists keys in the order of the key table, list items in order.
void sort_origins(Config& config) {
  auto rank = [](const std::string& key) {
    static const std::regex k_index(R"(\[\d+\])");
    auto schema_key = std::regex_replace(key, k_index, "[]");
    const auto& table = key_table();
    for (std::size_t i = 0; i < table.size(); ++i)
      if (table[i].path == schema_key) return i;
    return table.size();
  };
  std::stable_sort(config.origins.begin(), config.origins.end(), [&](const Origin& a, const Origin& b) {
    auto ra = rank(a.key), rb = rank(b.key);
    return ra != rb ? ra < rb : a.key < b.key;
  });
}

Config parse_config(const std::string& yaml_text, const std::string& file_label) {
  Config config;
  Loader(config, "default").load(default_config_text());
  Loader(config, file_label).load(yaml_text);
  sort_origins(config);
  return config;
}

void apply_derived_defaults(Config& config) {
  auto folder_name = std::filesystem::weakly_canonical(config.project_dir).filename().string();
  if (config.project.title.empty()) {
    config.project.title = folder_name;
    note_derived(config, "project.title", folder_name);
  }
  if (config.project.slug.empty()) {
    config.project.slug = slug_of(folder_name);
    note_derived(config, "project.slug", config.project.slug);
  }
  if (config.project.timezone.empty()) {
    config.project.timezone = machine_timezone();
    note_derived(config, "project.timezone", config.project.timezone);
  }
  if (config.sources.empty()) {
    config.sources.emplace_back();
    config.sources.back().path = ".";
    note_derived(config, "sources[0].path", ".");
  }
  if (config.publish.targets.empty()) {
    auto& site = config.publish.targets.emplace_back();
    site.name = "site";
    site.type = "local";
    site.path = ".wsportfolio/public";
    note_derived(config, "publish.targets[0]", "{name: site, type: local, path: .wsportfolio/public}");
  }
  for (std::size_t i = 0; i < config.publish.targets.size(); ++i) {
    auto& target = config.publish.targets[i];
    auto key = fmt::format("publish.targets[{}]", i);
    if (target.name.empty()) throw ConfigError(fmt::format("{}: {}.name: every target needs a name", config.config_file.string(), key));
    if (target.type == "local" && target.path.empty())
      throw ConfigError(fmt::format("{}: {}.path: a local target needs a path", config.config_file.string(), key));
    if (target.type == "local") check_target_folder(config, i);
    if (target.type == "s3" && target.bucket.empty())
      throw ConfigError(fmt::format("{}: {}.bucket: an s3 target needs a bucket", config.config_file.string(), key));
    if (target.type == "s3" && target.access_key.empty() != target.secret_key.empty())
      throw ConfigError(fmt::format("{}: {}: an s3 target names both its keys (access_key_env or access_key_file, "
                                    "secret_key_env or secret_key_file) or neither (then AWS_ACCESS_KEY_ID and "
                                    "AWS_SECRET_ACCESS_KEY, else the shared credentials file's profile)",
                                    config.config_file.string(), key));
  }
  if (const auto& purge = config.publish.purge) {
    const std::string& file = config.config_file.string();
    if (purge->type.empty()) throw ConfigError(fmt::format("{}: publish.purge.type: cloudflare, cloudfront or fastly", file));
    if (purge->type == "cloudflare" && purge->zone_id.empty())
      throw ConfigError(fmt::format("{}: publish.purge.zone_id: a Cloudflare purge needs the zone's id", file));
    if (purge->type == "cloudfront" && purge->distribution_id.empty())
      throw ConfigError(fmt::format("{}: publish.purge.distribution_id: a CloudFront purge needs the distribution's id", file));
    if (purge->type != "cloudfront" && purge->api_token.empty())
      throw ConfigError(fmt::format("{}: publish.purge: a {} purge needs its API token (api_token_env or api_token_file)",
                                    file, purge->type));
    if (std::none_of(config.publish.targets.begin(), config.publish.targets.end(),
                     [](const auto& target) { return !target.public_url.empty(); }))
      throw ConfigError(fmt::format("{}: publish.purge: no target has a public_url, so there is nothing to purge", file));
  }
  for (std::size_t i = 0; i < config.timeline.size(); ++i) {
    const auto& entry = config.timeline[i];
    if (entry.scene.empty())
      throw ConfigError(fmt::format("{}: timeline[{}].scene: every timeline entry needs a scene", config.config_file.string(), i));
    if (std::find(config.tagging.scenes.begin(), config.tagging.scenes.end(), entry.scene) == config.tagging.scenes.end())
      throw ConfigError(fmt::format("{}: timeline[{}].scene: '{}' is not in tagging.scenes ({})", config.config_file.string(), i,
                                    entry.scene, fmt::join(config.tagging.scenes, ", ")));
  }
  for (std::size_t i = 0; i < config.cameras.size(); ++i)
    if (config.cameras[i].serial.empty() && config.cameras[i].model.empty())
      throw ConfigError(fmt::format("{}: cameras[{}]: a camera needs a serial or a model", config.config_file.string(), i));
  for (std::size_t i = 0; i < config.tagging.vocabulary.size(); ++i)
    if (config.tagging.vocabulary[i].word.empty() || config.tagging.vocabulary[i].text.empty())
      throw ConfigError(fmt::format("{}: tagging.vocabulary[{}]: an entry needs a word and its text",
                                    config.config_file.string(), i));
  for (std::size_t i = 0; i < config.webhooks.size(); ++i) {
    // Signed events are not secret but name the studio's clients: plain
    // http:// only where nothing leaves the machine, unless asked for.
    static const std::regex k_loopback(R"(http://(127(\.\d{1,3}){3}|localhost|\[::1\])(:\d+)?([/?#].*)?)",
                                       std::regex::icase);
    const auto& webhook = config.webhooks[i];
    if (webhook.url.starts_with("http://") && !webhook.allow_http && !std::regex_match(webhook.url, k_loopback))
      throw ConfigError(fmt::format("{}: webhooks[{}].url: plain http:// is only for a loopback host (127.0.0.1, ::1, "
                                    "localhost); use https:// or set allow_http: true",
                                    config.config_file.string(), i));
  }
  check_alt_text(config);
  if (auto& mark = config.render.watermark) {
    if (mark->text.empty() && mark->image.empty())
      throw ConfigError(fmt::format("{}: render.watermark: needs text or image", config.config_file.string()));
    if (!mark->image.empty()) {
      // A logo named relative to the project is found wherever the command runs.
      mark->image = config.in_project(mark->image).string();
      if (!std::filesystem::is_regular_file(mark->image))
        throw ConfigError(fmt::format("{}: render.watermark.image: {}: no such file", config.config_file.string(),
                                      mark->image));
    }
  }
  if (!config.render.jpeg.enabled && !config.render.webp.enabled && !config.render.avif.enabled)
    throw ConfigError(fmt::format("{}: render.formats: at least one format must be enabled", config.config_file.string()));
  check_widths_fit_formats(config);
  sort_origins(config);
}

Config load_config(const std::string& explicit_path, const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  fs::path file = explicit_path;
  if (file.empty()) {
    if (const char* env = std::getenv("WSPORTFOLIO_CONFIG"); env && *env) file = env;
  }
  // A folder named on the command line may be a project of its own; otherwise
  // the current folder's project holds it.
  for (const auto& base : {folder, fs::path(".")}) {
    if (!file.empty()) break;
    if (!base.empty() && fs::exists(base / "wsportfolio.yaml")) file = (base / "wsportfolio.yaml").lexically_normal();
  }
  Config config;
  if (file.empty()) {
    config = parse_config("", "default");
    config.project_dir = fs::absolute(folder.empty() ? fs::current_path() : folder);
  } else {
    auto text = util::read_text_file(file);
    if (!text.ok()) throw ConfigError(text.message());
    config = parse_config(*text, file.string());
    config.config_file = fs::absolute(file);
    config.project_dir = config.config_file.parent_path();
  }
  config.project_dir = config.project_dir.lexically_normal();
  if (config.project_dir.has_filename() == false && config.project_dir != config.project_dir.root_path())
    config.project_dir = config.project_dir.parent_path();
  apply_derived_defaults(config);
  return config;
}

std::optional<std::string> resolve_secret(const SecretRef& ref, const std::filesystem::path& project_dir) {
  if (!ref.env.empty()) {
    if (const char* value = std::getenv(ref.env.c_str()); value && *value) return std::string(value);
  }
  if (!ref.file.empty()) {
    auto path = std::filesystem::path(ref.file);
    if (path.is_relative()) path = project_dir / path;
    if (auto text = util::read_text_file(path); text.ok()) {
      auto secret = *text;
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
      if (!secret.empty()) return secret;
    }
  }
  return std::nullopt;
}

}  // namespace wsp::config
