#include "tagging/timeline.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "tagging/scores.hpp"

namespace wsp::tagging {

namespace {

constexpr std::int64_t k_seconds_per_day = 86'400;
// About 31,700 years either side of 1970: far enough for any photo, near enough
// that no date arithmetic below can overflow.
constexpr std::int64_t k_max_abs_seconds = 1'000'000'000'000;
// RFC 8536 3.2: UT offsets run from -25 h (exclusive) to +26 h (exclusive).
constexpr std::int64_t k_min_utoff = -89'999;
constexpr std::int64_t k_max_utoff = 93'599;
constexpr std::size_t k_max_tzif_bytes = 1 << 20;
constexpr const char* k_zoneinfo_dir = "/usr/share/zoneinfo/";

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return a - floor_div(a, b) * b; }

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  std::int64_t era = floor_div(year, 400);
  std::int64_t year_of_era = year - era * 400;
  std::int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  std::int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;
}

std::int64_t civil_year_from_days(std::int64_t days) {
  days += 719'468;
  std::int64_t era = floor_div(days, 146'097);
  std::int64_t day_of_era = days - era * 146'097;
  std::int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  std::int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  std::int64_t shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  return year_of_era + era * 400 + (shifted_month >= 10 ? 1 : 0);
}

bool is_leap_year(std::int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(std::int64_t year, int month) {
  static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : k_days[month - 1];
}

// One end of a POSIX TZ daylight-saving rule: a day of the year and a local time.
struct RuleDate {
  enum class Kind { julian_no_leap, zero_based, month_week_day } kind = Kind::month_week_day;
  int day = 0;                   // Jn: 1..365; n: 0..365; Mm.w.d: weekday 0 (Sunday)..6
  int month = 0;                 // Mm.w.d only
  int week = 0;                  // Mm.w.d only: 1..5, 5 = the last
  std::int64_t time = 2 * 3600;  // local time of day, may be negative or past 24 h (RFC 8536)
};

// The TZ string of a TZif footer ("CET-1CEST,M3.5.0,M10.5.0/3"): the rule for
// instants after the last transition of the table.
struct PosixRule {
  std::int64_t std_offset = 0;  // seconds east of UTC (the string counts west)
  bool has_dst = false;
  std::int64_t dst_offset = 0;
  RuleDate start, end;  // start: into DST, in standard time; end: out of it, in DST time
};

class PosixParser {
public:
  explicit PosixParser(std::string_view text) : m_text(text) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    auto std_west = name() ? hms(24, true) : std::nullopt;
    if (!std_west) return std::nullopt;
    rule.std_offset = -*std_west;
    if (at_end()) return valid(rule);
    if (!name()) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!at_end() && peek() != ',') {
      auto dst_west = hms(24, true);
      if (!dst_west) return std::nullopt;
      rule.dst_offset = -*dst_west;
    }
    if (at_end()) {
      // No rule: the POSIX default is the implementation's; glibc uses the US rule.
      rule.start = {RuleDate::Kind::month_week_day, 0, 3, 2, 7200};
      rule.end = {RuleDate::Kind::month_week_day, 0, 11, 1, 7200};
      return valid(rule);
    }
    auto start = (take(',') ? date() : std::nullopt);
    auto end = (start && take(',')) ? date() : std::nullopt;
    if (!end || !at_end()) return std::nullopt;
    rule.start = *start;
    rule.end = *end;
    return valid(rule);
  }

private:
  static std::optional<PosixRule> valid(const PosixRule& rule) {
    auto in_range = [](std::int64_t offset) { return offset >= k_min_utoff && offset <= k_max_utoff; };
    if (!in_range(rule.std_offset) || (rule.has_dst && !in_range(rule.dst_offset))) return std::nullopt;
    return rule;
  }

  bool at_end() const { return m_pos >= m_text.size(); }
  char peek() const { return at_end() ? '\0' : m_text[m_pos]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++m_pos;
    return true;
  }

  // "CET" (three or more letters) or "<+0330>" (quoted: letters, digits, + and -).
  bool name() {
    std::size_t begin = m_pos;
    if (take('<')) {
      while (!at_end() && (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '+' || peek() == '-')) ++m_pos;
      std::size_t length = m_pos - begin - 1;
      return take('>') && length >= 3;
    }
    while (!at_end() && std::isalpha(static_cast<unsigned char>(peek()))) ++m_pos;
    return m_pos - begin >= 3;
  }

  std::optional<int> number(int max_digits) {
    int value = 0, digits = 0;
    while (!at_end() && std::isdigit(static_cast<unsigned char>(peek())) && digits < max_digits) {
      value = value * 10 + (peek() - '0');
      ++m_pos;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return value;
  }

  // [+-]hh[:mm[:ss]] in seconds.
  std::optional<std::int64_t> hms(int max_hours, bool allow_sign) {
    std::int64_t sign = 1;
    if (allow_sign) {
      if (take('-'))
        sign = -1;
      else
        take('+');
    }
    auto hours = number(3);
    if (!hours || *hours > max_hours) return std::nullopt;
    std::int64_t seconds = std::int64_t{*hours} * 3600;
    if (take(':')) {
      auto minutes = number(2);
      if (!minutes || *minutes > 59) return std::nullopt;
      seconds += std::int64_t{*minutes} * 60;
      if (take(':')) {
        auto secs = number(2);
        if (!secs || *secs > 59) return std::nullopt;
        seconds += *secs;
      }
    }
    return sign * seconds;
  }

  // Jn | n | Mm.w.d, then [/time].
  std::optional<RuleDate> date() {
    RuleDate date;
    if (take('J')) {
      auto day = number(3);
      if (!day || *day < 1 || *day > 365) return std::nullopt;
      date.kind = RuleDate::Kind::julian_no_leap;
      date.day = *day;
    } else if (take('M')) {
      auto month = number(2);
      auto week = (month && take('.')) ? number(1) : std::nullopt;
      auto weekday = (week && take('.')) ? number(1) : std::nullopt;
      if (!weekday || *month < 1 || *month > 12 || *week < 1 || *week > 5 || *weekday > 6) return std::nullopt;
      date = {RuleDate::Kind::month_week_day, *weekday, *month, *week, date.time};
    } else {
      auto day = number(3);
      if (!day || *day > 365) return std::nullopt;
      date.kind = RuleDate::Kind::zero_based;
      date.day = *day;
    }
    if (take('/')) {
      // RFC 8536 extends POSIX: the time may be negative and up to 167 hours.
      auto time = hms(167, true);
      if (!time) return std::nullopt;
      date.time = *time;
    }
    return date;
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
};

std::int64_t rule_day(const RuleDate& date, std::int64_t year) {
  std::int64_t january_first = days_from_civil(year, 1, 1);
  switch (date.kind) {
    case RuleDate::Kind::julian_no_leap:
      return january_first + date.day - 1 + (is_leap_year(year) && date.day >= 60 ? 1 : 0);
    case RuleDate::Kind::zero_based:
      return january_first + date.day;
    case RuleDate::Kind::month_week_day:
      break;
  }
  std::int64_t first = days_from_civil(year, date.month, 1);
  std::int64_t first_weekday = floor_mod(first + 4, 7);  // 1970-01-01 was a Thursday
  std::int64_t day = floor_mod(date.day - first_weekday, 7) + 7 * (date.week - 1);
  if (day >= days_in_month(year, date.month)) day -= 7;  // week 5: the last such weekday
  return first + day;
}

// The UTC instants of the year's switch into and out of daylight saving time.
std::pair<std::int64_t, std::int64_t> rule_instants(const PosixRule& rule, std::int64_t year) {
  std::int64_t start = rule_day(rule.start, year) * k_seconds_per_day + rule.start.time - rule.std_offset;
  std::int64_t end = rule_day(rule.end, year) * k_seconds_per_day + rule.end.time - rule.dst_offset;
  return {start, end};
}

std::int64_t rule_year_of(const PosixRule& rule, std::int64_t utc_seconds) {
  return civil_year_from_days(floor_div(utc_seconds + rule.std_offset, k_seconds_per_day));
}

std::int64_t rule_offset_at(const PosixRule& rule, std::int64_t utc_seconds) {
  if (!rule.has_dst) return rule.std_offset;
  utc_seconds = std::clamp(utc_seconds, -k_max_abs_seconds, k_max_abs_seconds);
  auto [start, end] = rule_instants(rule, rule_year_of(rule, utc_seconds));
  // Southern hemisphere rules start DST late in the year and end it early in the next.
  bool dst = start < end ? (start <= utc_seconds && utc_seconds < end) : !(end <= utc_seconds && utc_seconds < start);
  return dst ? rule.dst_offset : rule.std_offset;
}

std::optional<std::int64_t> rule_next_transition(const PosixRule& rule, std::int64_t utc_seconds) {
  if (!rule.has_dst) return std::nullopt;
  std::int64_t year = rule_year_of(rule, std::clamp(utc_seconds, -k_max_abs_seconds, k_max_abs_seconds));
  std::optional<std::int64_t> next;
  for (std::int64_t y = year - 1; y <= year + 1; ++y) {
    auto [start, end] = rule_instants(rule, y);
    for (std::int64_t instant : {start, end})
      if (instant > utc_seconds && (!next || instant < *next)) next = instant;
  }
  return next;
}

class ByteReader {
public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : m_bytes(bytes) {}

  std::size_t remaining() const { return m_bytes.size() - m_pos; }
  std::size_t position() const { return m_pos; }

  bool skip(std::uint64_t count) {
    if (count > remaining()) return false;
    m_pos += static_cast<std::size_t>(count);
    return true;
  }

  std::optional<std::uint64_t> unsigned_be(std::size_t size) {
    if (size > remaining()) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i) value = (value << 8) | m_bytes[m_pos + i];
    m_pos += size;
    return value;
  }

  std::optional<std::int64_t> signed_be(std::size_t size) {
    auto value = unsigned_be(size);
    if (!value) return std::nullopt;
    if (size == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(*value));
    return static_cast<std::int64_t>(*value);
  }

  std::optional<std::uint8_t> byte() {
    auto value = unsigned_be(1);
    if (!value) return std::nullopt;
    return static_cast<std::uint8_t>(*value);
  }

private:
  std::span<const std::uint8_t> m_bytes;
  std::size_t m_pos = 0;
};

struct TzifHeader {
  std::uint8_t version = 0;  // 0 for version 1, else '2', '3', '4'
  std::uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  std::uint64_t data_size(std::uint64_t time_size) const {
    return timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt;
  }
};

std::optional<TzifHeader> read_header(ByteReader& in) {
  TzifHeader header;
  for (char expected : {'T', 'Z', 'i', 'f'}) {
    auto c = in.byte();
    if (!c || *c != static_cast<std::uint8_t>(expected)) return std::nullopt;
  }
  auto version = in.byte();
  if (!version || !in.skip(15)) return std::nullopt;
  header.version = *version;
  for (auto* count :
       {&header.isutcnt, &header.isstdcnt, &header.leapcnt, &header.timecnt, &header.typecnt, &header.charcnt}) {
    auto value = in.unsigned_be(4);
    if (!value) return std::nullopt;
    *count = *value;
  }
  // A zone needs at least one local time type; a transition's type index is one byte.
  if (header.typecnt == 0 || header.typecnt > 256) return std::nullopt;
  return header;
}

}  // namespace

struct ZoneRules {
  std::string name;
  std::vector<std::int64_t> transition_times;  // strictly ascending, UTC seconds
  std::vector<std::int64_t> offsets_after;     // the UT offset from each transition on
  std::int64_t initial_offset = 0;             // before the first transition: time type 0
  std::optional<PosixRule> footer;             // after the last transition
  std::int64_t min_offset = 0, max_offset = 0;

  std::int64_t offset_at(std::int64_t t) const {
    if (transition_times.empty()) return footer ? rule_offset_at(*footer, t) : initial_offset;
    if (t < transition_times.front()) return initial_offset;
    if (t > transition_times.back() && footer) return rule_offset_at(*footer, t);
    auto after = std::upper_bound(transition_times.begin(), transition_times.end(), t);
    return offsets_after[static_cast<std::size_t>(std::distance(transition_times.begin(), after)) - 1];
  }

  // The first instant after `t` at which the offset may change.
  std::optional<std::int64_t> next_transition(std::int64_t t) const {
    if (!transition_times.empty() && t < transition_times.back())
      return *std::upper_bound(transition_times.begin(), transition_times.end(), t);
    return footer ? rule_next_transition(*footer, t) : std::nullopt;
  }
};

namespace {

std::shared_ptr<const ZoneRules> parse_tzif(const std::string& name, std::span<const std::uint8_t> bytes) {
  ByteReader in(bytes);
  auto header = read_header(in);
  if (!header) return nullptr;
  std::size_t time_size = 4;
  if (header->version >= '2') {
    // Version 2+ repeats the data with 64-bit times after the version 1 block.
    if (!in.skip(header->data_size(4))) return nullptr;
    header = read_header(in);
    if (!header) return nullptr;
    time_size = 8;
  }
  if (header->data_size(time_size) > in.remaining()) return nullptr;

  auto rules = std::make_shared<ZoneRules>();
  rules->name = name;
  auto timecnt = static_cast<std::size_t>(header->timecnt);
  auto typecnt = static_cast<std::size_t>(header->typecnt);
  rules->transition_times.reserve(timecnt);
  for (std::size_t i = 0; i < timecnt; ++i) {
    auto time = in.signed_be(time_size);
    if (!time || (i > 0 && *time <= rules->transition_times.back())) return nullptr;
    rules->transition_times.push_back(*time);
  }
  std::vector<std::uint8_t> type_of_transition(timecnt);
  for (auto& type : type_of_transition) {
    auto index = in.byte();
    if (!index || *index >= typecnt) return nullptr;
    type = *index;
  }
  std::vector<std::int64_t> type_offsets(typecnt);
  for (auto& offset : type_offsets) {
    auto utoff = in.signed_be(4);
    if (!utoff || *utoff < k_min_utoff || *utoff > k_max_utoff || !in.skip(2)) return nullptr;  // isdst, desigidx
    offset = *utoff;
  }
  // Abbreviations, leap-second records (ignored: "right/" zones would be off by
  // the leap seconds so far) and the standard/wall and UT/local indicators.
  if (!in.skip(header->charcnt + header->leapcnt * (time_size + 4) + header->isstdcnt + header->isutcnt))
    return nullptr;

  rules->initial_offset = type_offsets[0];
  rules->offsets_after.reserve(timecnt);
  for (auto type : type_of_transition) rules->offsets_after.push_back(type_offsets[type]);
  rules->min_offset = *std::min_element(type_offsets.begin(), type_offsets.end());
  rules->max_offset = *std::max_element(type_offsets.begin(), type_offsets.end());

  if (time_size == 8 && in.remaining() > 0) {
    auto rest = bytes.subspan(in.position());
    if (rest[0] != '\n') return nullptr;
    auto close = std::find(rest.begin() + 1, rest.end(), std::uint8_t{'\n'});
    if (close == rest.end()) return nullptr;
    std::string footer(rest.begin() + 1, close);
    if (!footer.empty()) {
      rules->footer = PosixParser(footer).parse();
      if (!rules->footer) return nullptr;
      std::int64_t offsets[] = {rules->footer->std_offset,
                                rules->footer->has_dst ? rules->footer->dst_offset : rules->footer->std_offset};
      for (std::int64_t offset : offsets) {
        rules->min_offset = std::min(rules->min_offset, offset);
        rules->max_offset = std::max(rules->max_offset, offset);
      }
    }
  }
  return rules;
}

// A name of the zone database as the config accepts it ("Europe/Paris",
// "America/Argentina/Buenos_Aires", "Etc/GMT+5"): no dots, so never "..".
bool is_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || !std::isalpha(static_cast<unsigned char>(name.front())) ||
      name.back() == '/')
    return false;
  char previous = '\0';
  for (char c : name) {
    bool allowed = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '/';
    if (!allowed || (c == '/' && previous == '/')) return false;
    previous = c;
  }
  return true;
}

std::shared_ptr<const ZoneRules> utc_rules() {
  static const std::shared_ptr<const ZoneRules> k_utc = [] {
    auto rules = std::make_shared<ZoneRules>();
    rules->name = "UTC";
    return rules;
  }();
  return k_utc;
}

std::shared_ptr<const ZoneRules> read_zone_file(const std::string& name) {
  std::ifstream in(k_zoneinfo_dir + name, std::ios::binary);
  if (!in) return nullptr;
  std::vector<std::uint8_t> bytes(k_max_tzif_bytes + 1);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  auto size = static_cast<std::size_t>(in.gcount());
  if (size > k_max_tzif_bytes) return nullptr;
  bytes.resize(size);
  return parse_tzif(name, bytes);
}

}  // namespace

std::optional<TimeZone> TimeZone::load(const std::string& name) {
  if (name == "UTC") return utc();
  if (!is_zone_name(name)) return std::nullopt;
  static std::mutex mutex;
  // Failures are cached too (as null): a per-image caller must not hit the disk each time.
  static std::unordered_map<std::string, std::shared_ptr<const ZoneRules>> cache;
  {
    std::lock_guard lock(mutex);
    if (auto found = cache.find(name); found != cache.end()) {
      if (!found->second) return std::nullopt;
      return TimeZone(found->second);
    }
  }
  auto rules = read_zone_file(name);  // outside the lock: two threads may both read, one wins
  std::lock_guard lock(mutex);
  auto [entry, inserted] = cache.emplace(name, std::move(rules));
  if (!entry->second) return std::nullopt;
  return TimeZone(entry->second);
}

std::optional<TimeZone> TimeZone::from_tzif(const std::string& name, std::span<const std::uint8_t> tzif) {
  auto rules = parse_tzif(name, tzif);
  if (!rules) return std::nullopt;
  return TimeZone(std::move(rules));
}

TimeZone TimeZone::utc() { return TimeZone(utc_rules()); }

const std::string& TimeZone::name() const { return m_rules->name; }

std::int64_t TimeZone::offset_at_utc(std::int64_t utc_seconds) const { return m_rules->offset_at(utc_seconds); }

CivilTime TimeZone::civil_time(std::int64_t utc_ms) const {
  using namespace std::chrono;
  const std::int64_t utc_seconds = floor_div(utc_ms, 1000);
  const sys_seconds local{seconds(utc_seconds + offset_at_utc(utc_seconds))};
  const auto day = floor<days>(local);
  const year_month_day date{day};
  const hh_mm_ss time{local - day};
  return {int(date.year()),         int(unsigned(date.month())),      int(unsigned(date.day())),
          int(time.hours().count()), int(time.minutes().count()), int(time.seconds().count())};
}

std::optional<std::int64_t> TimeZone::utc_from_local(std::int64_t local_seconds) const {
  if (local_seconds < -k_max_abs_seconds || local_seconds > k_max_abs_seconds) return std::nullopt;
  const ZoneRules& rules = *m_rules;
  // Every answer t satisfies t + offset(t) == local, so it lies in [first, last].
  std::int64_t first = local_seconds - rules.max_offset;
  std::int64_t last = local_seconds - rules.min_offset;
  // Walk the spans of constant offset across that window, earliest first: the
  // first span holding its candidate gives the earlier instant of an overlap.
  std::int64_t span_start = first;
  std::int64_t offset = rules.offset_at(first);
  std::optional<std::int64_t> after_gap;
  while (true) {
    auto next = rules.next_transition(span_start);
    std::int64_t candidate = local_seconds - offset;
    if (candidate >= span_start && (!next || candidate < *next)) return candidate;
    if (!next || *next > last) break;
    std::int64_t next_offset = rules.offset_at(*next);
    // The wall time falls in the gap this transition opens: read it with the old offset.
    if (!after_gap && local_seconds - offset >= *next && local_seconds - next_offset < *next)
      after_gap = local_seconds - offset;
    span_start = *next;
    offset = next_offset;
  }
  if (after_gap) return after_gap;
  return local_seconds - rules.offset_at(local_seconds);  // unreachable for consistent data
}

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

// "YYYY-MM-DDTHH:MM:SS[.fff]" to milliseconds since 1970 as if the wall time were UTC.
std::optional<std::int64_t> wall_time_ms(std::string_view text) {
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':')
    return std::nullopt;
  auto year = text.substr(0, 4), month = text.substr(5, 2), day = text.substr(8, 2);
  auto hour = text.substr(11, 2), minute = text.substr(14, 2), second = text.substr(17, 2);
  for (auto field : {year, month, day, hour, minute, second})
    if (!all_digits(field)) return std::nullopt;
  int y = to_int(year), mo = to_int(month), d = to_int(day);
  int h = to_int(hour), mi = to_int(minute), s = to_int(second);
  // Second 60 is a leap second; it reads as the first second of the next minute.
  if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60)
    return std::nullopt;
  std::int64_t millis = 0;
  if (text.size() > 19) {
    auto fraction = text.substr(20);
    if (text[19] != '.' || !all_digits(fraction) || fraction.size() > 9) return std::nullopt;
    std::string padded(fraction.substr(0, 3));
    padded.resize(3, '0');
    millis = to_int(padded);
  }
  std::int64_t seconds = days_from_civil(y, mo, d) * k_seconds_per_day + h * 3600 + mi * 60 + s;
  return seconds * 1000 + millis;
}

// "+HH:MM" to seconds east of UTC.
std::optional<std::int64_t> utc_offset_seconds(std::string_view text) {
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return std::nullopt;
  auto hours = text.substr(1, 2), minutes = text.substr(4, 2);
  if (!all_digits(hours) || !all_digits(minutes) || to_int(hours) > 14 || to_int(minutes) > 59) return std::nullopt;
  std::int64_t seconds = to_int(hours) * 3600 + to_int(minutes) * 60;
  return text[0] == '-' ? -seconds : seconds;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

ClockCorrection clock_correction_for(const imaging::CameraFacts& facts,
                                     const std::vector<config::CameraClock>& cameras) {
  if (!facts.serial.empty())
    for (std::size_t i = 0; i < cameras.size(); ++i)
      if (cameras[i].serial == facts.serial) return {ClockMatch::serial, i, cameras[i].offset_seconds};
  if (!facts.model.empty())
    for (std::size_t i = 0; i < cameras.size(); ++i)
      if (cameras[i].serial.empty() && equals_ignoring_case(cameras[i].model, facts.model))
        return {ClockMatch::model, i, cameras[i].offset_seconds};
  return {};
}

std::optional<CaptureInstant> capture_instant(const imaging::CameraFacts& facts, const TimeZone& project_zone,
                                              const std::vector<config::CameraClock>& cameras) {
  auto wall_ms = wall_time_ms(facts.capture_time);
  if (!wall_ms) return std::nullopt;
  auto camera_offset = utc_offset_seconds(facts.capture_offset);
  auto to_utc_ms = [&](std::int64_t local_ms) -> std::optional<std::int64_t> {
    if (camera_offset) return local_ms - *camera_offset * 1000;
    auto utc_seconds = project_zone.utc_from_local(floor_div(local_ms, 1000));
    if (!utc_seconds) return std::nullopt;
    return *utc_seconds * 1000 + floor_mod(local_ms, 1000);
  };
  CaptureInstant instant;
  instant.offset_source = camera_offset ? OffsetSource::camera : OffsetSource::project_zone;
  instant.correction = clock_correction_for(facts, cameras);
  auto camera_utc = to_utc_ms(*wall_ms);
  auto corrected_utc = to_utc_ms(*wall_ms + std::int64_t{instant.correction.offset_seconds} * 1000);
  if (!camera_utc || !corrected_utc) return std::nullopt;
  instant.camera_utc_ms = *camera_utc;
  instant.utc_ms = *corrected_utc;
  return instant;
}

std::optional<std::int64_t> capture_utc_ms(const imaging::CameraFacts& facts, const TimeZone& project_zone,
                                           const std::vector<config::CameraClock>& cameras) {
  auto instant = capture_instant(facts, project_zone, cameras);
  if (!instant) return std::nullopt;
  return instant->utc_ms;
}

namespace {

// The entry holding a local second of the day: the one that started most
// recently, ties going to the later entry of the list.
std::optional<std::size_t> entry_at(const std::vector<config::TimelineEntry>& timeline, std::int64_t second_of_day) {
  second_of_day = floor_mod(second_of_day, k_seconds_per_day);
  std::optional<std::size_t> best;
  std::int64_t best_elapsed = 0;
  for (std::size_t i = 0; i < timeline.size(); ++i) {
    std::int64_t from = floor_mod(timeline[i].from_minute, 1440) * 60;
    std::int64_t to = floor_mod(timeline[i].to_minute, 1440) * 60;
    if (from == to) continue;
    // Both measured forwards from the start, an entry past midnight needs no special case.
    std::int64_t length = floor_mod(to - from, k_seconds_per_day);
    std::int64_t elapsed = floor_mod(second_of_day - from, k_seconds_per_day);
    if (elapsed >= length) continue;
    if (!best || elapsed <= best_elapsed) {
      best = i;
      best_elapsed = elapsed;
    }
  }
  return best;
}

}  // namespace

std::optional<SceneMatch> scene_from_timeline(const std::vector<config::TimelineEntry>& timeline, std::int64_t utc_ms,
                                              const TimeZone& zone) {
  std::int64_t utc_seconds = floor_div(utc_ms, 1000);
  std::int64_t second_of_day = floor_mod(utc_seconds + zone.offset_at_utc(utc_seconds), k_seconds_per_day);
  auto entry = entry_at(timeline, second_of_day);
  if (!entry) return std::nullopt;
  const std::string& scene = timeline[*entry].scene;
  auto differs_at = [&](std::int64_t second) {
    auto other = entry_at(timeline, second);
    return !other || timeline[*other].scene != scene;
  };
  // The scene is constant between entry edges, so probing the window's ends and
  // both sides of every edge inside it finds any change within the margin.
  bool near_change = differs_at(second_of_day - k_timeline_edge_margin_seconds) ||
                     differs_at(second_of_day + k_timeline_edge_margin_seconds);
  for (const auto& item : timeline) {
    for (int minute : {item.from_minute, item.to_minute}) {
      std::int64_t edge = floor_mod(minute, 1440) * 60;
      std::int64_t delta =
          floor_mod(edge - second_of_day + k_seconds_per_day / 2, k_seconds_per_day) - k_seconds_per_day / 2;
      if (std::abs(delta) > k_timeline_edge_margin_seconds) continue;
      if (differs_at(second_of_day + delta) || differs_at(second_of_day + delta - 1)) near_change = true;
    }
  }
  return SceneMatch{scene, near_change ? k_timeline_edge_confidence : k_timeline_confidence};
}

namespace {

constexpr int k_runner_up_exclusion_seconds = 10;
constexpr std::int64_t k_moment_gap_ms = 60'000;
constexpr std::size_t k_max_examples = 5;

// A camera frame and a reference frame with similar hashes, close enough in time
// to be the same moment at some offset within the search range.
struct CandidatePair {
  std::int64_t delta_ms = 0;  // reference time - camera time
  std::size_t frame = 0;      // index in the camera's frames
  std::size_t reference = 0;  // index in the reference frames
  int distance = 0;
};

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return -floor_div(-a, b); }

std::vector<CandidatePair> candidate_pairs(const std::vector<const TimedFrame*>& frames,
                                           const std::vector<const TimedFrame*>& reference) {
  constexpr std::int64_t k_window_ms = std::int64_t{k_align_max_offset_seconds} * 1000 + k_align_tolerance_ms;
  std::vector<CandidatePair> pairs;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::int64_t t = frames[i]->utc_ms;
    auto first = std::lower_bound(reference.begin(), reference.end(), t - k_window_ms,
                                  [](const TimedFrame* f, std::int64_t value) { return f->utc_ms < value; });
    for (auto it = first; it != reference.end() && (*it)->utc_ms <= t + k_window_ms; ++it) {
      int distance = hamming_distance(frames[i]->phash, (*it)->phash);
      if (distance <= k_align_max_hash_distance)
        pairs.push_back({(*it)->utc_ms - t, i, static_cast<std::size_t>(it - reference.begin()), distance});
    }
  }
  return pairs;  // grouped by frame, ascending delta within a frame
}

// How many of the camera's frames land on a similar reference frame, for every
// offset of the range (index 0 = -k_align_max_offset_seconds).
std::vector<int> frames_matched_per_offset(const std::vector<CandidatePair>& pairs) {
  constexpr int k_offsets = 2 * k_align_max_offset_seconds + 1;
  std::vector<int> change(k_offsets + 1, 0);
  auto add = [&](std::int64_t lo, std::int64_t hi) {
    ++change[static_cast<std::size_t>(lo + k_align_max_offset_seconds)];
    --change[static_cast<std::size_t>(hi + k_align_max_offset_seconds + 1)];
  };
  // A frame counts once per offset however many reference frames it lands on,
  // so each frame adds the union of the offset intervals its pairs allow.
  std::optional<std::pair<std::int64_t, std::int64_t>> open;
  std::size_t open_frame = 0;
  for (const auto& pair : pairs) {
    std::int64_t lo =
        std::max<std::int64_t>(-k_align_max_offset_seconds, ceil_div(pair.delta_ms - k_align_tolerance_ms, 1000));
    std::int64_t hi =
        std::min<std::int64_t>(k_align_max_offset_seconds, floor_div(pair.delta_ms + k_align_tolerance_ms, 1000));
    if (lo > hi) continue;
    if (open && open_frame == pair.frame && lo <= open->second + 1) {
      open->second = std::max(open->second, hi);
      continue;
    }
    if (open) add(open->first, open->second);
    open = {lo, hi};
    open_frame = pair.frame;
  }
  if (open) add(open->first, open->second);
  std::vector<int> counts(k_offsets);
  int running = 0;
  for (int i = 0; i < k_offsets; ++i)
    counts[static_cast<std::size_t>(i)] = running += change[static_cast<std::size_t>(i)];
  return counts;
}

struct OffsetFit {
  std::int64_t hash_distance_sum = 0;
  std::int64_t residual_sum_ms = 0;
  std::vector<const CandidatePair*> matches;  // the best pair of each matched frame
};

// At one offset, each matched frame's best pair: the closest hash, then the closest time.
OffsetFit fit_at(std::int64_t offset_seconds, const std::vector<CandidatePair>& by_delta, std::size_t frame_count) {
  std::int64_t shift_ms = offset_seconds * 1000;
  auto first = std::lower_bound(by_delta.begin(), by_delta.end(), shift_ms - k_align_tolerance_ms,
                                [](const CandidatePair& p, std::int64_t value) { return p.delta_ms < value; });
  std::vector<const CandidatePair*> best(frame_count, nullptr);
  for (auto it = first; it != by_delta.end() && it->delta_ms <= shift_ms + k_align_tolerance_ms; ++it) {
    const CandidatePair*& current = best[it->frame];
    auto key = [&](const CandidatePair& p) { return std::pair(p.distance, std::abs(p.delta_ms - shift_ms)); };
    if (!current || key(*it) < key(*current)) current = &*it;
  }
  OffsetFit fit;
  for (const CandidatePair* pair : best) {
    if (!pair) continue;
    fit.hash_distance_sum += pair->distance;
    fit.residual_sum_ms += std::abs(pair->delta_ms - shift_ms);
    fit.matches.push_back(pair);
  }
  return fit;
}

std::optional<ClockProposal> align_camera(const std::string& camera, const std::vector<const TimedFrame*>& frames,
                                          const std::vector<const TimedFrame*>& reference) {
  auto pairs = candidate_pairs(frames, reference);
  auto counts = frames_matched_per_offset(pairs);
  int best_count = *std::max_element(counts.begin(), counts.end());
  if (best_count < k_align_min_pairs) return std::nullopt;

  // Every offset with the most matches is a candidate; a burst makes a plateau
  // of them, and the closest hashes then the smallest residuals pick its centre.
  std::sort(pairs.begin(), pairs.end(),
            [](const CandidatePair& a, const CandidatePair& b) { return a.delta_ms < b.delta_ms; });
  std::optional<std::int64_t> chosen;
  OffsetFit chosen_fit;
  for (std::size_t index = 0; index < counts.size(); ++index) {
    if (counts[index] != best_count) continue;
    std::int64_t offset = static_cast<std::int64_t>(index) - k_align_max_offset_seconds;
    OffsetFit fit = fit_at(offset, pairs, frames.size());
    auto key = [](const OffsetFit& f, std::int64_t o) {
      return std::tuple(f.hash_distance_sum, f.residual_sum_ms, std::abs(o), o);
    };
    if (!chosen || key(fit, offset) < key(chosen_fit, *chosen)) {
      chosen = offset;
      chosen_fit = std::move(fit);
    }
  }

  ClockProposal proposal;
  proposal.camera = camera;
  proposal.offset_seconds = static_cast<int>(*chosen);
  proposal.camera_frames = static_cast<int>(frames.size());
  proposal.matched_pairs = static_cast<int>(chosen_fit.matches.size());
  for (std::size_t index = 0; index < counts.size(); ++index) {
    std::int64_t offset = static_cast<std::int64_t>(index) - k_align_max_offset_seconds;
    if (std::abs(offset - *chosen) > k_runner_up_exclusion_seconds)
      proposal.runner_up_pairs = std::max(proposal.runner_up_pairs, counts[index]);
  }

  std::vector<std::int64_t> reference_times;
  for (const CandidatePair* pair : chosen_fit.matches) reference_times.push_back(reference[pair->reference]->utc_ms);
  std::sort(reference_times.begin(), reference_times.end());
  for (std::size_t i = 0; i < reference_times.size(); ++i)
    if (i == 0 || reference_times[i] - reference_times[i - 1] > k_moment_gap_ms) ++proposal.moments;

  // Matches are in frame order, which is time order; take examples spread over the day.
  const auto& matches = chosen_fit.matches;
  std::size_t examples = std::min(k_max_examples, matches.size());
  for (std::size_t k = 0; k < examples; ++k) {
    std::size_t at = examples == 1 ? 0 : k * (matches.size() - 1) / (examples - 1);
    const CandidatePair& pair = *matches[at];
    std::int64_t camera_ms = frames[pair.frame]->utc_ms;
    proposal.examples.push_back(
        {camera_ms, camera_ms + *chosen * 1000, reference[pair.reference]->utc_ms, pair.distance});
  }

  // A heuristic, not a probability: several pairs from several moments make a
  // coincidence unlikely; another offset with nearly as many pairs makes it a guess.
  double matched = proposal.matched_pairs;
  double strength = (1.0 - std::exp(-matched / 6.0)) * (1.0 - std::exp(-proposal.moments / 1.5));
  double distinctness = 1.0 - std::min(1.0, proposal.runner_up_pairs / matched);
  proposal.confidence = std::clamp(strength * distinctness, 0.0, 1.0);
  return proposal;
}

}  // namespace

ClockAlignment propose_clock_offsets(const std::vector<TimedFrame>& frames) {
  std::map<std::string, std::vector<const TimedFrame*>> by_camera;
  for (const auto& frame : frames) by_camera[frame.camera].push_back(&frame);
  ClockAlignment alignment;
  std::size_t most = 0;
  for (auto& [camera, list] : by_camera) {
    std::sort(list.begin(), list.end(), [](const TimedFrame* a, const TimedFrame* b) { return a->utc_ms < b->utc_ms; });
    if (list.size() > most) {
      most = list.size();
      alignment.reference_camera = camera;
    }
  }
  for (const auto& [camera, list] : by_camera) {
    if (camera == alignment.reference_camera) continue;
    if (auto proposal = align_camera(camera, list, by_camera.at(alignment.reference_camera)))
      alignment.proposals.push_back(std::move(*proposal));
    else
      alignment.without_proposal.push_back(camera);
  }
  return alignment;
}

}  // namespace wsp::tagging
