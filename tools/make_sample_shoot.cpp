// make-sample-shoot: writes a folder of camera-like JPEGs for tests and for the
// wedding-300 benchmark (docs/BENCHMARKS.md), plus, on request, the broken files
// a real card dump contains. Every random choice is drawn up front from --seed,
// so the same arguments give byte-identical files, whatever the thread timing
// (with the same libvips, libjpeg and lcms2).
// A sidecar .shoot.json records what each file is meant to be (ground truth).

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <lcms2.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <vips/vips8>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using vips::VImage;

namespace {

constexpr std::string_view k_program = "make-sample-shoot";
constexpr std::string_view k_sidecar_name = ".shoot.json";
constexpr int k_max_threads = 2;

// The wedding day, in the form EXIF writes dates, and its local UTC offset.
constexpr std::string_view k_exif_date = "2024:06:15";
constexpr std::string_view k_iso_date = "2024-06-15";
constexpr std::string_view k_utc_offset = "+02:00";
constexpr int k_utc_offset_minutes = 120;

// Synthetic scenes are painted at this size and upscaled: their content is
// smooth, and painting 24 MP directly would cost seconds per image.
constexpr int k_base_long_side = 512;

// Noise is drawn once into a tile and reused at a random offset per image:
// vips_gaussnoise costs about a second per band at 24 MP, the tile a fraction.
// A size that is not a multiple of 8 keeps repeats off the JPEG block grid.
constexpr int k_noise_tile = 1031;

constexpr double k_burst_chance = 0.12;

class UsageError : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

// splitmix64: tiny, and unlike <random>'s distributions it yields the same
// numbers with every standard library, so a seed names the same shoot anywhere.
class Rng {
public:
  explicit Rng(std::uint64_t seed) : m_state(seed) {}

  std::uint64_t next()
  {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Inclusive of both ends.
  int between(int lo, int hi) { return lo + int(uniform() * (hi - lo + 1)); }
  bool chance(double p) { return uniform() < p; }
  int vips_seed() { return int(next() >> 33); }

private:
  std::uint64_t m_state;
};

struct Lens {
  std::string_view make, model;
  int short_mm, long_mm;
  double widest_f;
};

constexpr std::array<Lens, 6> k_lenses{{
    {"Canon", "RF24-70mm F2.8 L IS USM", 24, 70, 2.8},
    {"Canon", "RF70-200mm F2.8 L IS USM", 70, 200, 2.8},
    {"Canon", "RF85mm F1.2 L USM", 85, 85, 1.2},
    {"Canon", "RF35mm F1.8 MACRO IS STM", 35, 35, 1.8},
    {"Nikon", "NIKKOR Z 24-70mm f/2.8 S", 24, 70, 2.8},
    {"Nikon", "NIKKOR Z 50mm f/1.8 S", 50, 50, 1.8},
}};

struct CameraBody {
  std::string_view make, model, serial, firmware, owner, copyright;
  int clock_ahead_cs;         // the body's clock minus true time, centiseconds
  bool has_gps;               // paired with a phone, so it writes a location
  std::array<int, 2> lenses;  // indexes into k_lenses, the usual one first
};

// A main body, a second body whose clock was never set after a battery change,
// and the second shooter's camera without GPS.
constexpr int k_main_body = 0, k_second_body = 1;
constexpr std::array<CameraBody, 3> k_bodies{{
    {"Canon", "Canon EOS R5", "032021001537", "Firmware Version 1.8.1", "Alex Martin",
     "Copyright 2024 Alex Martin Photography", 0, true, {0, 1}},
    {"Canon", "Canon EOS R6", "083021002694", "Firmware Version 1.8.2", "Alex Martin",
     "Copyright 2024 Alex Martin Photography", (4 * 60 + 7) * 100, true, {2, 3}},
    {"NIKON CORPORATION", "NIKON Z 6_2", "6023417", "Ver.01.60", "Sam Okafor",
     "Sam Okafor for Alex Martin Photography", 0, false, {4, 5}},
}};

constexpr std::array<double, 14> k_f_stops{1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5,
                                           2.8, 3.2, 3.5, 4.0, 4.5, 5.0, 5.6};
constexpr std::array<int, 22> k_shutter_denominators{30,  40,  50,  60,   80,   100,  125,  160,
                                                     200, 250, 320, 400,  500,  640,  800,  1000,
                                                     1250, 1600, 2000, 2500, 3200, 4000};
constexpr std::array<int, 22> k_iso_speeds{100,  125,  160,  200,  250,  320,  400,  500,
                                           640,  800,  1000, 1250, 1600, 2000, 2500, 3200,
                                           4000, 5000, 6400, 8000, 10000, 12800};
constexpr std::array<int, 12> k_focal_stops{24, 28, 35, 40, 50, 60, 70, 85, 105, 135, 160, 200};

enum class Scene { getting_ready, ceremony, portrait, reception };

struct ScheduleSlot {
  Scene scene;
  std::string_view name;
  int start_minute, end_minute;     // local time of day
  double share;                     // fraction of the frames shot in it
  std::array<double, 3> body_odds;  // which camera takes an event
  int slowest_shutter, fastest_shutter;
  int lowest_iso, highest_iso;
  double flash_chance;
  double latitude, longitude;       // where it happens
};

constexpr std::array<ScheduleSlot, 4> k_schedule{{
    {Scene::getting_ready, "getting_ready", 11 * 60, 13 * 60 + 15, 0.20, {0.6, 0.0, 0.4},
     100, 250, 400, 3200, 0.0, 43.529680, 5.447410},
    {Scene::ceremony, "ceremony", 14 * 60, 14 * 60 + 45, 0.20, {0.45, 0.30, 0.25},
     200, 640, 200, 1600, 0.0, 43.526310, 5.445390},
    {Scene::portrait, "portrait", 15 * 60, 17 * 60 + 30, 0.25, {0.5, 0.5, 0.0},
     320, 4000, 100, 400, 0.0, 43.561180, 5.368920},
    {Scene::reception, "reception", 18 * 60, 23 * 60, 0.35, {0.45, 0.30, 0.25},
     50, 200, 1600, 12800, 0.35, 43.561040, 5.369500},
}};

constexpr bool schedule_follows_scenes()
{
  for (std::size_t i = 0; i < k_schedule.size(); ++i) {
    if (k_schedule[i].scene != Scene(i)) {
      return false;
    }
  }
  return true;
}
static_assert(schedule_follows_scenes(), "k_schedule is indexed by Scene");

struct Exposure {
  int shutter_denominator;  // ExposureTime is 1/shutter_denominator s
  double f_number;
  int iso;
  int focal_mm;
  int bias_thirds;          // exposure compensation in thirds of a stop
  bool flash;
  int program;              // EXIF ExposureProgram: 1 manual, 3 aperture priority
};

// What one camera event looks like: a single frame or a burst shares all of it.
struct Look {
  int slot = 0;
  int body = 0, lens = 0;
  Exposure exposure{};
  int orientation = 1;
  bool adobe_rgb = false;
  double latitude = 0, longitude = 0;
  std::uint64_t content_seed = 0;
};

struct Shot {
  std::string name;
  Look look;
  std::int64_t true_cs = 0;  // true time of day, centiseconds since midnight
  int event = 0;             // frames of one burst share it
  int burst = 0;             // 1-based burst number, 0 for a single frame
  int burst_frame = 0;
  std::uint64_t noise_seed = 0;
};

template <typename T, std::size_t N>
T pick_in_range(const std::array<T, N>& values, T lo, T hi, Rng& rng)
{
  std::vector<T> fitting;
  for (T v : values) {
    if (v >= lo && v <= hi) {
      fitting.push_back(v);
    }
  }
  return fitting.empty() ? values.front() : fitting[rng.between(0, int(fitting.size()) - 1)];
}

int pick_weighted(const std::array<double, 3>& odds, Rng& rng)
{
  double total = odds[0] + odds[1] + odds[2];
  double r = rng.uniform() * total;
  for (int i = 0; i < 3; ++i) {
    if (r < odds[i]) {
      return i;
    }
    r -= odds[i];
  }
  return 0;
}

Look draw_look(int slot_index, Rng& rng, std::optional<int> body_override = std::nullopt)
{
  const ScheduleSlot& slot = k_schedule[slot_index];
  Look look;
  look.slot = slot_index;
  look.body = body_override ? *body_override : pick_weighted(slot.body_odds, rng);
  const CameraBody& body = k_bodies[look.body];
  look.lens = body.lenses[rng.chance(0.65) ? 0 : 1];
  const Lens& lens = k_lenses[look.lens];

  Exposure& e = look.exposure;
  e.focal_mm = lens.short_mm == lens.long_mm
                   ? lens.short_mm
                   : pick_in_range(k_focal_stops, lens.short_mm, lens.long_mm, rng);
  auto widest = std::find_if(k_f_stops.begin(), k_f_stops.end(),
                             [&](double f) { return f >= lens.widest_f - 1e-6; });
  int first_stop = int(widest - k_f_stops.begin());
  e.f_number = k_f_stops[std::min<int>(first_stop + rng.between(0, 3), k_f_stops.size() - 1)];
  e.shutter_denominator = pick_in_range(k_shutter_denominators, slot.slowest_shutter,
                                        slot.fastest_shutter, rng);
  e.iso = pick_in_range(k_iso_speeds, slot.lowest_iso, slot.highest_iso, rng);
  e.flash = rng.chance(slot.flash_chance);
  e.program = e.flash ? 1 : 3;
  static constexpr std::array<int, 7> k_biases{-2, -1, 0, 0, 0, 1, 2};
  int bias = k_biases[rng.between(0, int(k_biases.size()) - 1)];
  e.bias_thirds = e.flash ? 0 : bias;

  look.latitude = slot.latitude + rng.uniform(-0.0003, 0.0003);
  look.longitude = slot.longitude + rng.uniform(-0.0003, 0.0003);
  look.content_seed = rng.next();
  return look;
}

struct Event {
  Look look;
  int size = 1;
  std::int64_t start_cs = 0;
  int interval_cs = 0;  // between frames of a burst
};

// Marks whole events (a burst keeps its orientation and colour space) until
// about `target` frames are marked.
template <typename Mark>
void mark_events(std::vector<Event>& events, int target, Rng& rng, Mark mark)
{
  std::vector<int> order(events.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = int(i);
  }
  for (std::size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[rng.between(0, int(i) - 1)]);
  }
  int marked = 0;
  for (int i : order) {
    if (marked + events[i].size <= target) {
      mark(events[i]);
      marked += events[i].size;
    }
  }
}

// Plans `count` frames over the day in schedule order: frames go to scenes by
// their share, a scene's events fall at sorted random times in its window, and
// some events are bursts of 3-5 frames a fraction of a second apart.
std::vector<Shot> plan_shoot(int count, std::uint64_t seed)
{
  Rng rng(seed);

  std::array<int, k_schedule.size()> frames_in{};
  for (int i = 0; i < count; ++i) {
    double q = (i + 0.5) / count;
    double cumulative = 0;
    std::size_t s = 0;
    for (; s + 1 < k_schedule.size(); ++s) {
      cumulative += k_schedule[s].share;
      if (q < cumulative) {
        break;
      }
    }
    ++frames_in[s];
  }

  std::array<std::vector<int>, k_schedule.size()> sizes;
  bool any_burst = false;
  for (std::size_t s = 0; s < k_schedule.size(); ++s) {
    int remaining = frames_in[s];
    while (remaining > 0) {
      int size = 1;
      if (remaining >= 3 && rng.chance(k_burst_chance)) {
        size = std::min(rng.between(3, 5), remaining);
        any_burst = true;
      }
      sizes[s].push_back(size);
      remaining -= size;
    }
  }
  // Small test shoots should still contain a burst to detect; without one,
  // every event is a single frame, so three of them can merge.
  auto busiest = std::max_element(frames_in.begin(), frames_in.end()) - frames_in.begin();
  std::vector<int>& busiest_sizes = sizes[busiest];
  if (!any_burst && count >= 8 && busiest_sizes.size() >= 3) {
    busiest_sizes.erase(busiest_sizes.end() - 3, busiest_sizes.end());
    busiest_sizes.insert(busiest_sizes.begin() + std::ptrdiff_t(busiest_sizes.size() / 2), 3);
  }

  std::vector<Event> events;
  for (std::size_t s = 0; s < k_schedule.size(); ++s) {
    const ScheduleSlot& slot = k_schedule[s];
    std::int64_t window_start = std::int64_t(slot.start_minute) * 60 * 100;
    std::int64_t window_end = std::int64_t(slot.end_minute) * 60 * 100;
    std::vector<std::int64_t> starts;
    for (std::size_t e = 0; e < sizes[s].size(); ++e) {
      starts.push_back(window_start + std::int64_t(rng.uniform() * double(window_end - window_start)));
    }
    std::sort(starts.begin(), starts.end());
    for (std::size_t e = 0; e < sizes[s].size(); ++e) {
      Event event;
      event.size = sizes[s][e];
      event.interval_cs = event.size > 1 ? rng.between(8, 20) : 0;
      event.start_cs = starts[e];
      if (!events.empty()) {
        const Event& previous = events.back();
        std::int64_t earliest = previous.start_cs +
                                std::int64_t(previous.size - 1) * previous.interval_cs + 200;
        event.start_cs = std::max(event.start_cs, earliest);
      }
      event.look = draw_look(int(s), rng);
      events.push_back(event);
    }
  }

  int rotated_target = count >= 2 ? std::max(1, int(std::lround(count / 7.0))) : 0;
  mark_events(events, rotated_target, rng,
              [&](Event& e) { e.look.orientation = rng.chance(0.7) ? 6 : 8; });
  int adobe_target = count >= 2 ? std::max(1, int(std::lround(count / 5.0))) : 0;
  mark_events(events, adobe_target, rng, [](Event& e) { e.look.adobe_rgb = true; });

  std::vector<Shot> shots;
  int bursts = 0;
  for (std::size_t e = 0; e < events.size(); ++e) {
    const Event& event = events[e];
    if (event.size > 1) {
      ++bursts;
    }
    for (int f = 0; f < event.size; ++f) {
      Shot shot;
      shot.name = fmt::format("IMG_{:04}.JPG", shots.size() + 1);
      shot.look = event.look;
      shot.true_cs = event.start_cs + std::int64_t(f) * event.interval_cs;
      shot.event = int(e);
      shot.burst = event.size > 1 ? bursts : 0;
      shot.burst_frame = f;
      shot.noise_seed = rng.next();
      shots.push_back(std::move(shot));
    }
  }
  return shots;
}

enum TiffType : std::uint16_t {
  k_byte = 1, k_ascii = 2, k_short = 3, k_long = 4, k_rational = 5, k_undefined = 7,
  k_srational = 10,
};

void put_le16(std::vector<std::uint8_t>& out, std::uint32_t v)
{
  out.push_back(std::uint8_t(v));
  out.push_back(std::uint8_t(v >> 8));
}

void put_le32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
  put_le16(out, v & 0xffff);
  put_le16(out, v >> 16);
}

void put_be16(std::vector<std::uint8_t>& out, std::uint32_t v)
{
  out.push_back(std::uint8_t(v >> 8));
  out.push_back(std::uint8_t(v));
}

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v)
{
  put_be16(out, v >> 16);
  put_be16(out, v & 0xffff);
}

// One image file directory of a little-endian TIFF structure.
class TiffIfd {
public:
  struct Entry {
    std::uint16_t tag, type;
    std::uint32_t count;
    std::vector<std::uint8_t> data;
    int child = -1;  // index of the IFD this entry points to
  };

  void add_ascii(std::uint16_t tag, std::string_view text)
  {
    std::vector<std::uint8_t> data(text.begin(), text.end());
    data.push_back(0);
    auto count = std::uint32_t(data.size());
    add(tag, k_ascii, count, std::move(data));
  }
  void add_short(std::uint16_t tag, std::uint16_t value)
  {
    std::vector<std::uint8_t> data;
    put_le16(data, value);
    add(tag, k_short, 1, std::move(data));
  }
  void add_long(std::uint16_t tag, std::uint32_t value)
  {
    std::vector<std::uint8_t> data;
    put_le32(data, value);
    add(tag, k_long, 1, std::move(data));
  }
  void add_rationals(std::uint16_t tag, std::initializer_list<std::pair<std::uint32_t, std::uint32_t>> values)
  {
    std::vector<std::uint8_t> data;
    for (auto [num, den] : values) {
      put_le32(data, num);
      put_le32(data, den);
    }
    add(tag, k_rational, std::uint32_t(values.size()), std::move(data));
  }
  void add_srational(std::uint16_t tag, std::int32_t num, std::int32_t den)
  {
    std::vector<std::uint8_t> data;
    put_le32(data, std::uint32_t(num));
    put_le32(data, std::uint32_t(den));
    add(tag, k_srational, 1, std::move(data));
  }
  void add_bytes(std::uint16_t tag, std::uint16_t type, std::vector<std::uint8_t> data)
  {
    auto count = std::uint32_t(data.size());
    add(tag, type, count, std::move(data));
  }
  void add_child(std::uint16_t tag, int ifd_index)
  {
    add(tag, k_long, 1, std::vector<std::uint8_t>(4, 0));
    m_entries.back().child = ifd_index;
  }

  std::vector<Entry>& entries() { return m_entries; }
  const std::vector<Entry>& entries() const { return m_entries; }

  std::uint32_t size() const
  {
    std::uint32_t bytes = 2 + 12 * std::uint32_t(m_entries.size()) + 4;
    for (const Entry& e : m_entries) {
      if (e.data.size() > 4) {
        bytes += std::uint32_t((e.data.size() + 1) & ~std::size_t(1));
      }
    }
    return bytes;
  }

private:
  void add(std::uint16_t tag, std::uint16_t type, std::uint32_t count, std::vector<std::uint8_t> data)
  {
    m_entries.push_back({tag, type, count, std::move(data), -1});
  }

  std::vector<Entry> m_entries;
};

// Lays the IFDs out one after another behind an "II*\0" header; ifds[0] is
// IFD0 and the others are reached through add_child entries.
std::vector<std::uint8_t> serialise_tiff(std::vector<TiffIfd>& ifds)
{
  std::vector<std::uint32_t> offsets;
  std::uint32_t position = 8;
  for (TiffIfd& ifd : ifds) {
    std::sort(ifd.entries().begin(), ifd.entries().end(),
              [](const auto& a, const auto& b) { return a.tag < b.tag; });
    offsets.push_back(position);
    position += ifd.size();
  }

  std::vector<std::uint8_t> out{'I', 'I', 42, 0};
  put_le32(out, 8);
  for (std::size_t i = 0; i < ifds.size(); ++i) {
    const auto& entries = ifds[i].entries();
    std::uint32_t data_at = offsets[i] + 2 + 12 * std::uint32_t(entries.size()) + 4;
    put_le16(out, std::uint32_t(entries.size()));
    for (const auto& e : entries) {
      put_le16(out, e.tag);
      put_le16(out, e.type);
      put_le32(out, e.count);
      if (e.child >= 0) {
        put_le32(out, offsets.at(e.child));
      } else if (e.data.size() <= 4) {
        std::vector<std::uint8_t> inline_value = e.data;
        inline_value.resize(4, 0);
        out.insert(out.end(), inline_value.begin(), inline_value.end());
      } else {
        put_le32(out, data_at);
        data_at += std::uint32_t((e.data.size() + 1) & ~std::size_t(1));
      }
    }
    put_le32(out, 0);
    for (const auto& e : entries) {
      if (e.child < 0 && e.data.size() > 4) {
        out.insert(out.end(), e.data.begin(), e.data.end());
        if (e.data.size() % 2 != 0) {
          out.push_back(0);
        }
      }
    }
  }
  return out;
}

// "HH:MM:SS" of a time of day given in centiseconds.
std::string clock_time(std::int64_t cs)
{
  std::int64_t s = cs / 100;
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::int64_t camera_clock_cs(const Shot& shot)
{
  return shot.true_cs + k_bodies[shot.look.body].clock_ahead_cs;
}

std::pair<std::uint32_t, std::uint32_t> as_rational(double value, std::uint32_t denominator)
{
  return {std::uint32_t(std::lround(value * denominator)), denominator};
}

void add_gps_angle(TiffIfd& gps, std::uint16_t ref_tag, std::uint16_t tag, double degrees,
                   char positive, char negative)
{
  gps.add_ascii(ref_tag, std::string(1, degrees >= 0 ? positive : negative));
  double a = std::fabs(degrees);
  double whole = std::floor(a);
  double minutes = std::floor((a - whole) * 60);
  double seconds = ((a - whole) * 60 - minutes) * 60;
  gps.add_rationals(tag, {{std::uint32_t(whole), 1}, {std::uint32_t(minutes), 1}, as_rational(seconds, 100)});
}

std::vector<std::uint8_t> build_exif(const Shot& shot, int stored_width, int stored_height)
{
  const Look& look = shot.look;
  const CameraBody& body = k_bodies[look.body];
  const Lens& lens = k_lenses[look.lens];
  const Exposure& e = look.exposure;
  std::int64_t camera_cs = camera_clock_cs(shot);
  std::string stamp = fmt::format("{} {}", k_exif_date, clock_time(camera_cs));
  std::string subsec = fmt::format("{:02}", camera_cs % 100);

  std::vector<TiffIfd> ifds(body.has_gps ? 3 : 2);
  TiffIfd& ifd0 = ifds[0];
  ifd0.add_ascii(0x010F, body.make);
  ifd0.add_ascii(0x0110, body.model);
  ifd0.add_short(0x0112, std::uint16_t(look.orientation));
  ifd0.add_rationals(0x011A, {{72, 1}});
  ifd0.add_rationals(0x011B, {{72, 1}});
  ifd0.add_short(0x0128, 2);
  ifd0.add_ascii(0x0131, body.firmware);
  ifd0.add_ascii(0x0132, stamp);
  ifd0.add_ascii(0x013B, body.owner);
  ifd0.add_short(0x0213, 2);
  ifd0.add_ascii(0x8298, body.copyright);
  ifd0.add_child(0x8769, 1);
  if (body.has_gps) {
    ifd0.add_child(0x8825, 2);
  }

  TiffIfd& exif = ifds[1];
  exif.add_rationals(0x829A, {{1, std::uint32_t(e.shutter_denominator)}});
  exif.add_rationals(0x829D, {as_rational(e.f_number, 10)});
  exif.add_short(0x8822, std::uint16_t(e.program));
  exif.add_short(0x8827, std::uint16_t(std::min(e.iso, 65535)));
  exif.add_short(0x8830, 2);  // SensitivityType: recommended exposure index
  exif.add_bytes(0x9000, k_undefined, {'0', '2', '3', '2'});
  exif.add_ascii(0x9003, stamp);
  exif.add_ascii(0x9004, stamp);
  exif.add_ascii(0x9010, k_utc_offset);
  exif.add_ascii(0x9011, k_utc_offset);
  exif.add_ascii(0x9012, k_utc_offset);
  exif.add_bytes(0x9101, k_undefined, {1, 2, 3, 0});
  exif.add_srational(0x9204, e.bias_thirds, 3);
  exif.add_short(0x9207, 5);
  exif.add_short(0x9209, e.flash ? 0x9 : 0x10);
  exif.add_rationals(0x920A, {{std::uint32_t(e.focal_mm), 1}});
  exif.add_ascii(0x9290, subsec);
  exif.add_ascii(0x9291, subsec);
  exif.add_ascii(0x9292, subsec);
  exif.add_bytes(0xA000, k_undefined, {'0', '1', '0', '0'});
  // Cameras set to Adobe RGB write "uncalibrated" here and rely on the profile.
  exif.add_short(0xA001, look.adobe_rgb ? 0xFFFF : 1);
  exif.add_long(0xA002, std::uint32_t(stored_width));
  exif.add_long(0xA003, std::uint32_t(stored_height));
  exif.add_short(0xA402, e.program == 1 ? 1 : 0);
  exif.add_short(0xA403, 0);
  exif.add_short(0xA406, 0);
  exif.add_ascii(0xA430, body.owner);
  exif.add_ascii(0xA431, body.serial);
  exif.add_rationals(0xA432, {{std::uint32_t(lens.short_mm), 1},
                              {std::uint32_t(lens.long_mm), 1},
                              as_rational(lens.widest_f, 10),
                              as_rational(lens.widest_f, 10)});
  exif.add_ascii(0xA433, lens.make);
  exif.add_ascii(0xA434, lens.model);

  if (body.has_gps) {
    TiffIfd& gps = ifds[2];
    gps.add_bytes(0x0000, k_byte, {2, 3, 0, 0});
    add_gps_angle(gps, 0x0001, 0x0002, look.latitude, 'N', 'S');
    add_gps_angle(gps, 0x0003, 0x0004, look.longitude, 'E', 'W');
    gps.add_bytes(0x0005, k_byte, {0});
    gps.add_rationals(0x0006, {{185, 1}});
    std::int64_t utc_s = shot.true_cs / 100 - k_utc_offset_minutes * 60;
    gps.add_rationals(0x0007, {{std::uint32_t(utc_s / 3600), 1},
                               {std::uint32_t(utc_s / 60 % 60), 1},
                               {std::uint32_t(utc_s % 60), 1}});
    gps.add_ascii(0x001D, k_exif_date);
  }
  return serialise_tiff(ifds);
}

// Replaces whatever APPn/COM segments the encoder wrote with our own EXIF (and
// ICC profile), placing APP1 right after SOI as cameras do.
std::vector<std::uint8_t> assemble_jpeg(std::span<const std::uint8_t> encoded,
                                        std::span<const std::uint8_t> tiff,
                                        std::span<const std::uint8_t> icc)
{
  if (encoded.size() < 4 || encoded[0] != 0xFF || encoded[1] != 0xD8) {
    throw std::runtime_error("the JPEG encoder produced no SOI marker");
  }
  std::size_t pos = 2;
  while (pos + 4 <= encoded.size() && encoded[pos] == 0xFF) {
    std::uint8_t marker = encoded[pos + 1];
    bool metadata = (marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE;
    if (!metadata) {
      break;
    }
    pos += 2 + ((std::size_t(encoded[pos + 2]) << 8) | encoded[pos + 3]);
  }
  if (pos >= encoded.size()) {
    throw std::runtime_error("the JPEG encoder produced a malformed header");
  }

  constexpr std::string_view k_exif_header{"Exif\0\0", 6};
  constexpr std::string_view k_icc_header{"ICC_PROFILE\0", 12};
  if (tiff.size() + 2 + k_exif_header.size() > 0xFFFF || icc.size() + 4 + k_icc_header.size() > 0xFFFF) {
    throw std::runtime_error("metadata does not fit in one JPEG segment");
  }

  std::vector<std::uint8_t> out;
  out.reserve(encoded.size() + tiff.size() + icc.size() + 64);
  out.insert(out.end(), {0xFF, 0xD8, 0xFF, 0xE1});
  put_be16(out, std::uint32_t(2 + k_exif_header.size() + tiff.size()));
  out.insert(out.end(), k_exif_header.begin(), k_exif_header.end());
  out.insert(out.end(), tiff.begin(), tiff.end());
  if (!icc.empty()) {
    out.insert(out.end(), {0xFF, 0xE2});
    put_be16(out, std::uint32_t(2 + k_icc_header.size() + 2 + icc.size()));
    out.insert(out.end(), k_icc_header.begin(), k_icc_header.end());
    out.insert(out.end(), {1, 1});  // chunk 1 of 1
    out.insert(out.end(), icc.begin(), icc.end());
  }
  out.insert(out.end(), encoded.begin() + std::ptrdiff_t(pos), encoded.end());
  return out;
}

// An Adobe RGB (1998) compatible profile built from the published primaries,
// D65 white and 563/256 gamma, converting from sRGB through lcms2.
class AdobeRgb {
public:
  AdobeRgb()
  {
    cmsCIExyY d65{0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE primaries{{0.64, 0.33, 1.0}, {0.21, 0.71, 1.0}, {0.15, 0.06, 1.0}};
    cmsToneCurve* gamma = cmsBuildGamma(nullptr, 563.0 / 256.0);
    cmsToneCurve* curves[3] = {gamma, gamma, gamma};
    cmsHPROFILE profile = cmsCreateRGBProfile(&d65, &primaries, curves);
    cmsFreeToneCurve(gamma);
    if (!profile) {
      throw std::runtime_error("lcms2 could not create the Adobe RGB profile");
    }
    // Version 2 keeps the description a plain 'desc' tag, as in Adobe's own file.
    cmsSetProfileVersion(profile, 2.1);
    set_text(profile, cmsSigProfileDescriptionTag, "Adobe RGB (1998)");
    set_text(profile, cmsSigCopyrightTag, "No copyright, use freely");

    cmsUInt32Number size = 0;
    cmsSaveProfileToMem(profile, nullptr, &size);
    m_icc.resize(size);
    if (size < 128 || !cmsSaveProfileToMem(profile, m_icc.data(), &size)) {
      cmsCloseProfile(profile);
      throw std::runtime_error("lcms2 could not serialise the Adobe RGB profile");
    }
    // lcms2 stamps the header with the current time; a fixed date keeps the
    // files identical from run to run (the profile ID is not set, so no MD5 to fix).
    constexpr std::array<std::uint8_t, 12> k_created{0x07, 0xE8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0};
    std::copy(k_created.begin(), k_created.end(), m_icc.begin() + 24);
    cmsHPROFILE srgb = cmsCreate_sRGBProfile();
    m_transform = cmsCreateTransform(srgb, TYPE_RGB_8, profile, TYPE_RGB_8,
                                     INTENT_RELATIVE_COLORIMETRIC, cmsFLAGS_NOCACHE);
    cmsCloseProfile(srgb);
    cmsCloseProfile(profile);
    if (!m_transform) {
      throw std::runtime_error("lcms2 could not build the sRGB to Adobe RGB transform");
    }
  }
  ~AdobeRgb() { cmsDeleteTransform(m_transform); }
  AdobeRgb(const AdobeRgb&) = delete;
  AdobeRgb& operator=(const AdobeRgb&) = delete;

  std::span<const std::uint8_t> icc() const { return m_icc; }

  // Converts an 8-bit 3-band sRGB image; the result is in memory.
  VImage convert(const VImage& srgb) const
  {
    std::size_t size = 0;
    std::unique_ptr<void, decltype(&g_free)> pixels(srgb.write_to_memory(&size), g_free);
    std::vector<std::uint8_t> converted(size);
    {
      std::lock_guard lock(m_mutex);
      cmsDoTransform(m_transform, pixels.get(), converted.data(),
                     cmsUInt32Number(std::size_t(srgb.width()) * srgb.height()));
    }
    VipsImage* image = vips_image_new_from_memory_copy(converted.data(), converted.size(), srgb.width(),
                                                       srgb.height(), 3, VIPS_FORMAT_UCHAR);
    if (!image) {
      throw vips::VError();
    }
    return VImage(image).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  }

private:
  static void set_text(cmsHPROFILE profile, cmsTagSignature tag, const char* text)
  {
    cmsMLU* mlu = cmsMLUalloc(nullptr, 1);
    cmsMLUsetASCII(mlu, "en", "US", text);
    cmsWriteTag(profile, tag, mlu);
    cmsMLUfree(mlu);
  }

  std::vector<std::uint8_t> m_icc;
  cmsHTRANSFORM m_transform = nullptr;
  mutable std::mutex m_mutex;
};

struct Rgb {
  double r, g, b;
};

std::vector<double> channels(Rgb c) { return {c.r, c.g, c.b}; }

Rgb vary(Rgb c, Rng& rng, double amount)
{
  auto one = [&](double v) { return std::clamp(v + rng.uniform(-amount, amount), 0.0, 255.0); };
  double r = one(c.r), g = one(c.g), b = one(c.b);
  return {r, g, b};
}

struct Palette {
  Rgb top, bottom, floor;
  double horizon;             // where the floor starts, fraction of the height
  std::array<Rgb, 3> figures; // dress, suit, guest
  Rgb skin;
  std::array<Rgb, 4> accents; // flowers, foliage, drapes: soft out-of-focus shapes
  int lights;                 // small bright discs: candles, fairy lights, sun in leaves
  std::array<Rgb, 3> light_colours;
  double window_light;        // strength of the soft pool of light
};

Palette palette_for(Scene scene)
{
  switch (scene) {
  case Scene::getting_ready:
    return {{236, 224, 205}, {205, 185, 160}, {140, 100, 70}, 0.74,
            {{{246, 244, 238}, {240, 212, 218}, {150, 170, 205}}}, {224, 178, 148},
            {{{226, 140, 160}, {250, 248, 240}, {112, 140, 92}, {190, 160, 120}}},
            0, {{{255, 240, 210}, {255, 240, 210}, {255, 240, 210}}}, 0.45};
  case Scene::ceremony:
    return {{214, 218, 224}, {186, 178, 166}, {166, 156, 140}, 0.68,
            {{{248, 246, 240}, {44, 48, 62}, {110, 90, 120}}}, {220, 172, 140},
            {{{244, 242, 236}, {230, 168, 180}, {118, 150, 98}, {200, 190, 170}}},
            6, {{{255, 214, 150}, {255, 226, 170}, {255, 200, 130}}}, 0.30};
  case Scene::portrait:
    return {{160, 194, 232}, {214, 220, 222}, {92, 126, 68}, 0.60,
            {{{248, 246, 242}, {38, 44, 56}, {180, 130, 110}}}, {226, 180, 150},
            {{{62, 98, 56}, {84, 116, 62}, {236, 210, 140}, {130, 150, 90}}},
            10, {{{255, 240, 190}, {250, 250, 220}, {220, 240, 180}}}, 0.55};
  case Scene::reception:
    break;
  }
  return {{46, 36, 42}, {72, 52, 46}, {92, 72, 62}, 0.70,
          {{{232, 226, 218}, {30, 30, 40}, {170, 60, 90}}}, {210, 150, 120},
          {{{236, 230, 220}, {120, 40, 60}, {60, 40, 90}, {180, 120, 60}}},
          28, {{{255, 196, 110}, {255, 140, 200}, {140, 170, 255}}}, 0.35};
}

// Pixel coordinates in units of the image height, so circles stay round.
struct Plane {
  VImage x, y;
  double aspect;
};

VImage ellipse_distance2(const Plane& p, double cx, double cy, double rx, double ry)
{
  VImage u = p.x.linear(1.0 / rx, -cx / rx);
  VImage v = p.y.linear(1.0 / ry, -cy / ry);
  return u * u + v * v;
}

VImage paint(const VImage& image, const VImage& coverage, Rgb colour)
{
  return image + image.linear({-1, -1, -1}, channels(colour)) * coverage;
}

// A float image in memory that shapes are painted onto one at a time, each only
// over its bounding box: a shape costs its own area, and libvips never holds a
// pipeline of hundreds of operations, each with buffers of its own.
class Canvas {
public:
  explicit Canvas(const VImage& image) : m_image(image.cast(VIPS_FORMAT_FLOAT).copy_memory()) {}

  const VImage& image() const { return m_image; }

  // Replaces the picture with a whole-image step applied to it.
  void replace(const VImage& image) { m_image = image.cast(VIPS_FORMAT_FLOAT).copy_memory(); }

  // Paints an ellipse centred at (cx, cy) with radii rx and ry, in units of the
  // image height. `coverage` maps the squared normalised distance to 0..1 and
  // must be negligible beyond `reach` radii.
  template <typename Coverage>
  void paint_ellipse(double cx, double cy, double rx, double ry, double reach, Rgb colour,
                     Coverage coverage)
  {
    int w = m_image.width(), h = m_image.height();
    int left = std::max(0, int(std::floor((cx - rx * reach) * h)));
    int right = std::min(w, int(std::ceil((cx + rx * reach) * h)));
    int top = std::max(0, int(std::floor((cy - ry * reach) * h)));
    int bottom = std::min(h, int(std::ceil((cy + ry * reach) * h)));
    if (right <= left || bottom <= top) {
      return;
    }
    VImage xyz = VImage::xyz(right - left, bottom - top);
    VImage u = xyz[0].linear(1.0 / (rx * h), (left / double(h) - cx) / rx);
    VImage v = xyz[1].linear(1.0 / (ry * h), (top / double(h) - cy) / ry);
    VImage patch = m_image.extract_area(left, top, right - left, bottom - top);
    m_image.draw_image(paint(patch, coverage(u * u + v * v), colour).copy_memory(), left, top);
  }

private:
  VImage m_image;
};

// A plausible wedding-day frame painted from gradients and soft shapes: a wall
// or sky over a floor, out-of-focus accents, a pool of light, bokeh lights,
// standing figures, texture and vignetting. Frames of one burst share the seed
// and differ by a small pan.
VImage synthesise_scene(Scene scene, int width, int height, std::uint64_t seed, int burst_frame)
{
  double scale = std::min(1.0, double(k_base_long_side) / std::max(width, height));
  int bw = std::max(8, int(std::lround(width * scale)));
  int bh = std::max(8, int(std::lround(height * scale)));

  Rng rng(seed);
  Palette pal = palette_for(scene);
  double pan = burst_frame * 0.006;

  VImage xyz = VImage::xyz(bw, bh);
  Plane p{xyz[0] * (1.0 / bh), xyz[1] * (1.0 / bh), double(bw) / bh};

  Rgb top = vary(pal.top, rng, 18), bottom = vary(pal.bottom, rng, 18);
  VImage backdrop = p.y.linear({bottom.r - top.r, bottom.g - top.g, bottom.b - top.b},
                               channels(top));
  double horizon = pal.horizon + rng.uniform(-0.08, 0.08);
  VImage floor_cover = 1.0 / ((p.y.linear(-60.0, 60.0 * horizon)).exp() + 1.0);
  backdrop = paint(backdrop, floor_cover, vary(pal.floor, rng, 16));
  // The floor darkens towards the camera.
  double depth = 0.3 / std::max(0.1, 1.0 - horizon);
  backdrop = backdrop * (p.y.linear(-depth, depth * horizon) * floor_cover + 1.0);
  Canvas canvas(backdrop);

  auto soft = [](const VImage& d2) { return d2.linear(-2.0, 0.0).exp() * 0.85; };
  int accents = rng.between(3, 7);
  for (int i = 0; i < accents; ++i) {
    double cx = rng.uniform(0, p.aspect) - pan, cy = rng.uniform(0.05, horizon + 0.1);
    double r = rng.uniform(0.06, 0.22), stretch = rng.uniform(0.7, 1.6);
    Rgb colour = vary(pal.accents[rng.between(0, 3)], rng, 20);
    canvas.paint_ellipse(cx, cy, r * stretch, r, 2.2, colour, soft);
  }

  double lx = rng.uniform(0.1, p.aspect - 0.1) - pan, ly = rng.uniform(0.1, 0.5);
  double lr = rng.uniform(0.35, 0.7);
  VImage light = ellipse_distance2(p, lx, ly, lr, lr).linear(-1.0, 0.0).exp();
  VImage lit = canvas.image() * light.linear(pal.window_light, 1.0 - pal.window_light * 0.4);
  if (pal.lights > 0) {
    // Drawn as discs and blurred once, cheaper than a shape per light.
    VImage discs = VImage::black(bw, bh, VImage::option()->set("bands", 3)).copy_memory();
    int lights = pal.lights + rng.between(-pal.lights / 3, pal.lights / 3);
    for (int i = 0; i < lights; ++i) {
      Rgb colour = pal.light_colours[rng.between(0, 2)];
      int cx = int(rng.uniform(0, bw)) - int(pan * bh), cy = int(rng.uniform(0, bh * horizon));
      int r = std::max(1, int(rng.uniform(0.008, 0.035) * bh));
      discs.draw_circle(channels(colour), cx, cy, r, VImage::option()->set("fill", true));
    }
    lit = lit + discs.gaussblur(std::max(0.8, bh * 0.004)) * 0.55;
  }
  canvas.replace(lit);

  auto crisp = [](double k) {
    return [k](const VImage& d2) { return 1.0 / ((d2.linear(k, -k)).exp() + 1.0); };
  };
  int figures = rng.between(1, 3);
  double spacing = p.aspect / (figures + 1);
  for (int i = 0; i < figures; ++i) {
    double fx = spacing * (i + 1) + rng.uniform(-0.08, 0.08) - pan * 1.5;
    double height_scale = rng.uniform(0.85, 1.15);
    Rgb clothes = vary(pal.figures[(i + rng.between(0, 2)) % 3], rng, 10);
    double torso_ry = 0.16 * height_scale, torso_rx = 0.06 * height_scale;
    double skirt_ry = 0.22 * height_scale, skirt_rx = rng.uniform(0.07, 0.13) * height_scale;
    double ground = horizon + rng.uniform(0.05, 0.2);
    double skirt_cy = ground - skirt_ry * 0.8;
    double torso_cy = skirt_cy - skirt_ry * 0.7 - torso_ry * 0.4;
    double head_r = 0.045 * height_scale;
    double head_cy = torso_cy - torso_ry - head_r * 0.6;
    canvas.paint_ellipse(fx, skirt_cy, skirt_rx, skirt_ry, 1.4, clothes, crisp(14));
    canvas.paint_ellipse(fx, torso_cy, torso_rx, torso_ry, 1.4, clothes, crisp(14));
    canvas.paint_ellipse(fx, head_cy, head_r * 0.85, head_r, 1.5, vary(pal.skin, rng, 12), crisp(10));
  }

  int cell = std::max(4, bh / 5);
  VImage texture = VImage::perlin(bw, bh, VImage::option()->set("cell_size", cell)->set("seed", rng.vips_seed()));
  double half = p.aspect / 2;
  VImage vignette = ellipse_distance2(p, half, 0.5, half * 1.4, 0.7).linear(-0.35, 1.0);
  VImage finished = canvas.image() * texture.linear(0.08, 1.0) * vignette;

  return finished.cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .copy_memory();
}

// Brings any decodable photo to 8-bit sRGB without alpha, upright.
VImage load_as_srgb(const fs::path& file)
{
  VImage image = VImage::new_from_file(file.c_str()).autorot();
  if (image.get_typeof("icc-profile-data") != 0) {
    image = image.icc_transform("srgb", VImage::option()->set("embedded", true));
  } else {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  // After the conversion to 8 bits, so that alpha is on the 0-255 scale flatten assumes.
  if (image.has_alpha()) {
    image = image.flatten(VImage::option()->set("background", std::vector<double>{255.0}));
  }
  if (image.bands() > 3) {
    image = image.extract_band(0, VImage::option()->set("n", 3));
  }
  return image.cast(VIPS_FORMAT_UCHAR);
}

// A different region of the photo per event, at most the target size (the
// caller upscales), with the upright aspect of the target.
VImage crop_photo(const fs::path& file, int width, int height, std::uint64_t seed, int burst_frame)
{
  VImage source = load_as_srgb(file);
  double aspect = double(width) / height;
  double sw = source.width(), sh = source.height();
  double cw = sw / sh > aspect ? sh * aspect : sw;
  double ch = cw / aspect;

  Rng rng(seed);
  double fraction = rng.uniform(0.5, 1.0);
  cw *= fraction;
  ch *= fraction;
  double x = rng.uniform(0, sw - cw) + burst_frame * cw * 0.01;
  double y = rng.uniform(0, sh - ch);
  int left = std::clamp(int(x), 0, std::max(0, int(sw - cw)));
  int top = std::clamp(int(y), 0, std::max(0, int(sh - ch)));
  int crop_w = std::max(1, std::min(int(cw), int(sw) - left));
  int crop_h = std::max(1, std::min(int(ch), int(sh) - top));

  VImage region = source.extract_area(left, top, crop_w, crop_h);
  if (rng.chance(0.3)) {
    region = region.fliphor();
  }
  if (crop_w > width) {
    region = region.resize(double(width) / crop_w,
                           VImage::option()->set("vscale", double(height) / crop_h));
  }
  return region.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB)).copy_memory();
}

// Enlarges (or keeps) content to exactly width x height. Content arrives smooth
// (painted small, or a photo crop being enlarged), so bilinear is enough and a
// quarter cheaper than bicubic at 24 MP.
VImage resize_exact(const VImage& image, int width, int height)
{
  if (image.width() == width && image.height() == height) {
    return image;
  }
  VImage out = image.resize(double(width) / image.width(),
                            VImage::option()
                                ->set("vscale", double(height) / image.height())
                                ->set("kernel", VIPS_KERNEL_LINEAR));
  if (out.width() != width || out.height() != height) {
    // Rounding inside resize can leave a pixel over or under.
    out = out.embed(0, 0, std::max(width, out.width()), std::max(height, out.height()),
                    VImage::option()->set("extend", VIPS_EXTEND_COPY))
              .extract_area(0, 0, width, height);
  }
  return out;
}

struct RenderSettings {
  int width = 0, height = 0;  // stored (sensor) dimensions, landscape
  int quality = 92;
  std::vector<fs::path> photos;
  VImage noise_tile;          // 3 bands of unit-sigma Gaussian noise
  const AdobeRgb* adobe = nullptr;
};

double noise_sigma(int iso)
{
  double stops = std::clamp(std::log2(iso / 100.0) / 7.0, 0.0, 1.0);
  return 4.0 + 1.5 * stops;
}

// Renders one shot to the bytes of a camera-like JPEG file.
std::vector<std::uint8_t> render_shot(const Shot& shot, const RenderSettings& settings)
{
  const Look& look = shot.look;
  bool rotated = look.orientation != 1;
  int upright_w = rotated ? settings.height : settings.width;
  int upright_h = rotated ? settings.width : settings.height;

  VImage content =
      settings.photos.empty()
          ? synthesise_scene(k_schedule[look.slot].scene, upright_w, upright_h, look.content_seed,
                             shot.burst_frame)
          : crop_photo(settings.photos[std::size_t(shot.event) % settings.photos.size()], upright_w,
                       upright_h, look.content_seed, shot.burst_frame);
  if (look.adobe_rgb) {
    content = settings.adobe->convert(content);
  }
  // The sensor stores landscape pixels; Orientation 6 asks viewers to turn
  // them 90 degrees clockwise, 8 counter-clockwise, to show the upright frame.
  if (look.orientation == 6) {
    content = content.rot(VIPS_ANGLE_D270);
  } else if (look.orientation == 8) {
    content = content.rot(VIPS_ANGLE_D90);
  }
  content = resize_exact(content, settings.width, settings.height);

  // Noise is scaled to this frame's ISO and rounded to small integers; for
  // frames larger than the tile that is done on the tile, so that the
  // full-size work is an 8-bit add rather than float arithmetic.
  Rng rng(shot.noise_seed);
  auto to_iso = [&](const VImage& unit) {
    return unit.linear(noise_sigma(look.exposure.iso), 0.0).rint().cast(VIPS_FORMAT_CHAR);
  };
  const VImage& unit_tile = settings.noise_tile;
  bool scale_tile = double(settings.width) * settings.height > double(unit_tile.width()) * unit_tile.height();
  VImage tile = scale_tile ? to_iso(unit_tile).copy_memory() : unit_tile;
  int ox = rng.between(0, tile.width() - 1), oy = rng.between(0, tile.height() - 1);
  int across = (settings.width + ox) / tile.width() + 1;
  int down = (settings.height + oy) / tile.height() + 1;
  VImage noise = tile.replicate(across, down).extract_area(ox, oy, settings.width, settings.height);
  if (!scale_tile) {
    noise = to_iso(noise);
  }
  VImage out = (content + noise)
                   .cast(VIPS_FORMAT_UCHAR)
                   .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));

  void* buffer = nullptr;
  std::size_t size = 0;
  // libvips keeps full-resolution chroma at Q >= 90; with the noise that gives
  // the 7-10 MB per 24 MP that BENCHMARKS.md describes.
  out.write_to_buffer(".jpg", &buffer, &size,
                      VImage::option()->set("Q", settings.quality)->set("strip", true));
  std::unique_ptr<void, decltype(&g_free)> encoded(buffer, g_free);
  std::span<const std::uint8_t> icc;
  if (look.adobe_rgb) {
    icc = settings.adobe->icc();
  }
  return assemble_jpeg({static_cast<const std::uint8_t*>(encoded.get()), size},
                       build_exif(shot, settings.width, settings.height), icc);
}

std::string system_error_text() { return std::strerror(errno); }

fs::path temp_name_for(const fs::path& target)
{
  return target.parent_path() / fmt::format(".{}.part-{}", target.filename().string(), ::getpid());
}

void rename_into_place(const fs::path& temp, const fs::path& target)
{
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw std::runtime_error(fmt::format("cannot rename into {}: {}", target.string(), ec.message()));
  }
}

// Writes under a hidden temporary name and renames, so a reader never sees a
// half-written file (except the one we truncate on purpose).
void write_atomically(const fs::path& target, std::span<const std::uint8_t> bytes)
{
  fs::path temp = temp_name_for(target);
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) {
    throw std::runtime_error(fmt::format("cannot create {}: {}", temp.string(), system_error_text()));
  }
  bool written = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  std::string error = written ? "" : system_error_text();
  if (std::fclose(f) != 0 && written) {
    written = false;
    error = system_error_text();
  }
  if (!written) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw std::runtime_error(fmt::format("cannot write {}: {}", target.string(), error));
  }
  rename_into_place(temp, target);
}

void symlink_atomically(const fs::path& link, const fs::path& points_to)
{
  fs::path temp = temp_name_for(link);
  std::error_code ec;
  fs::remove(temp, ec);
  fs::create_symlink(points_to, temp, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot create symlink {}: {}", link.string(), ec.message()));
  }
  rename_into_place(temp, link);
}

void append_png_chunk(std::vector<std::uint8_t>& out, const char* type, std::span<const std::uint8_t> data)
{
  put_be32(out, std::uint32_t(data.size()));
  std::size_t crc_from = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  uLong crc = crc32(0L, out.data() + crc_from, uInt(4 + data.size()));
  put_be32(out, std::uint32_t(crc));
}

// A valid greyscale PNG of width x height black pixels: a decompression bomb
// in the small (a few hundred KB on disc, hundreds of MB decoded). The rows
// are deflated one at a time so memory stays at one row.
std::vector<std::uint8_t> make_huge_png(int width, int height)
{
  z_stream zs{};
  // Run-length matching finds the same long runs of zeros as the default
  // strategy, in half the time.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15, 9, Z_RLE) != Z_OK) {
    throw std::runtime_error("zlib deflateInit failed");
  }
  std::vector<std::uint8_t> row(std::size_t(width) + 1, 0);  // filter byte 0, then pixels
  std::vector<std::uint8_t> idat;
  std::array<std::uint8_t, 1 << 16> chunk{};
  for (int y = 0; y < height; ++y) {
    int flush = y + 1 == height ? Z_FINISH : Z_NO_FLUSH;
    zs.next_in = row.data();
    zs.avail_in = uInt(row.size());
    do {
      zs.next_out = chunk.data();
      zs.avail_out = uInt(chunk.size());
      if (deflate(&zs, flush) == Z_STREAM_ERROR) {
        deflateEnd(&zs);
        throw std::runtime_error("zlib deflate failed");
      }
      idat.insert(idat.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    } while (zs.avail_out == 0);
  }
  deflateEnd(&zs);

  std::vector<std::uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put_be32(ihdr, std::uint32_t(width));
  put_be32(ihdr, std::uint32_t(height));
  ihdr.insert(ihdr.end(), {8, 0, 0, 0, 0});  // 8-bit greyscale, deflate, no interlace
  append_png_chunk(png, "IHDR", ihdr);
  append_png_chunk(png, "IDAT", idat);
  append_png_chunk(png, "IEND", {});
  return png;
}

bool has_photo_extension(const fs::path& file)
{
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// JPEG and PNG files under `dir`, sorted. Wallpaper packages ship one picture
// at several sizes ("contents/images/1920x1080.png"): only the largest counts.
std::vector<fs::path> find_photos(const fs::path& dir)
{
  static const std::regex k_size_name{R"((\d+)x(\d+)\.(png|jpe?g))", std::regex::icase};
  std::vector<fs::path> photos;
  std::map<fs::path, std::pair<long long, fs::path>> largest_in_dir;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot read {}: {}", dir.string(), ec.message()));
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      throw std::runtime_error(fmt::format("cannot read {}: {}", dir.string(), ec.message()));
    }
    const fs::directory_entry& entry = *it;
    std::error_code stat_ec;
    if (!entry.is_regular_file(stat_ec) || !has_photo_extension(entry.path()) ||
        entry.file_size(stat_ec) < 10 * 1024) {
      continue;
    }
    std::smatch m;
    std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, k_size_name)) {
      long long area = std::stoll(m[1]) * std::stoll(m[2]);
      auto& best = largest_in_dir[entry.path().parent_path()];
      if (area > best.first) {
        best = {area, entry.path()};
      }
    } else {
      photos.push_back(entry.path());
    }
  }
  for (const auto& [parent, best] : largest_in_dir) {
    photos.push_back(best.second);
  }
  std::sort(photos.begin(), photos.end());
  return photos;
}

std::string iso_time(std::int64_t cs)
{
  return fmt::format("{}T{}.{:02}", k_iso_date, clock_time(cs), cs % 100);
}

std::string human_bytes(std::uintmax_t bytes)
{
  if (bytes >= 1000 * 1000) {
    return fmt::format("{:.1f} MB", double(bytes) / 1e6);
  }
  return fmt::format("{:.0f} KB", double(bytes) / 1e3);
}

struct Options {
  fs::path out;
  int count = 12;
  double megapixels = 2.0;
  std::uint64_t seed = 1;
  std::optional<fs::path> photos;
  bool with_bad_files = false;
  int quality = 92;
};

enum class JobKind { photo, truncated };

struct Job {
  Shot shot;
  JobKind kind = JobKind::photo;
  std::uintmax_t bytes = 0;
  std::string line;
};

struct BadFile {
  std::string name, kind, note;
};

std::string describe(const Job& job, const RenderSettings& settings)
{
  const Look& look = job.shot.look;
  const Exposure& e = look.exposure;
  if (job.kind == JobKind::truncated) {
    return fmt::format("{:<22} valid JPEG cut to 60%: {}", job.shot.name, human_bytes(job.bytes));
  }
  std::string flags;
  if (look.orientation != 1) {
    flags += fmt::format(" rotated({})", look.orientation);
  }
  if (look.adobe_rgb) {
    flags += " AdobeRGB";
  }
  if (job.shot.burst != 0) {
    flags += fmt::format(" burst{}.{}", job.shot.burst, job.shot.burst_frame + 1);
  }
  return fmt::format("{:<22} {}x{} {:<13} {}.{:02} {:<13} 1/{} f/{:.1f} ISO {} {}mm  {}{}",
                     job.shot.name, settings.width, settings.height,
                     k_bodies[look.body].model, clock_time(camera_clock_cs(job.shot)),
                     camera_clock_cs(job.shot) % 100, k_schedule[look.slot].name,
                     e.shutter_denominator, e.f_number, e.iso, e.focal_mm, human_bytes(job.bytes),
                     flags);
}

// Numbers as the human line prints them (f/2.8, six decimals of GPS), not the
// nearest double's seventeen digits.
double rounded(double value, int decimals)
{
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string sidecar_json(const Options& options, const RenderSettings& settings,
                         const std::string& source, const std::vector<Job>& jobs,
                         const std::vector<BadFile>& bad_files)
{
  using Json = nlohmann::ordered_json;
  Json truth = {{"generator", k_program},         {"seed", options.seed},
                {"count", options.count},          {"megapixels", options.megapixels},
                {"width", settings.width},         {"height", settings.height},
                {"quality", options.quality},      {"content", source},
                {"utc_offset", k_utc_offset},      {"cameras", Json::array()},
                {"files", Json::array()},          {"bad_files", Json::array()}};
  for (const CameraBody& b : k_bodies) {
    truth["cameras"].push_back({{"serial", b.serial}, {"make", b.make}, {"model", b.model}, {"owner", b.owner},
                                {"clock_ahead_seconds", b.clock_ahead_cs / 100}, {"gps", b.has_gps}});
  }
  for (const Job& job : jobs) {
    if (job.kind != JobKind::photo) {
      continue;
    }
    const Shot& s = job.shot;
    const Look& look = s.look;
    const CameraBody& body = k_bodies[look.body];
    Json gps = nullptr;
    if (body.has_gps) {
      gps = {{"latitude", rounded(look.latitude, 6)}, {"longitude", rounded(look.longitude, 6)}};
    }
    truth["files"].push_back({{"name", s.name},
                              {"scene", k_schedule[look.slot].name},
                              {"capture_time", iso_time(camera_clock_cs(s))},
                              {"offset", k_utc_offset},
                              {"true_time", iso_time(s.true_cs)},
                              {"camera_serial", body.serial},
                              {"camera_model", body.model},
                              {"lens", k_lenses[look.lens].model},
                              {"orientation", look.orientation},
                              {"adobe_rgb", look.adobe_rgb},
                              {"width", settings.width},
                              {"height", settings.height},
                              {"burst", s.burst},
                              {"gps", gps},
                              {"iso", look.exposure.iso},
                              {"shutter", fmt::format("1/{}", look.exposure.shutter_denominator)},
                              {"f_number", rounded(look.exposure.f_number, 1)},
                              {"focal_mm", look.exposure.focal_mm},
                              {"bytes", job.bytes}});
  }
  for (const BadFile& bad : bad_files) {
    truth["bad_files"].push_back({{"name", bad.name}, {"kind", bad.kind}, {"note", bad.note}});
  }
  // A folder or file name that is not UTF-8 (the --photos folder) still gives
  // valid JSON: its invalid bytes become U+FFFD.
  return truth.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

// Renders the jobs on up to two threads, one image per thread at a time, and
// prints their lines in file order. Throws the first failure after the others stop.
void render_all(std::vector<Job>& jobs, const RenderSettings& settings, const fs::path& dir)
{
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::string first_error;
  std::vector<bool> done(jobs.size(), false);
  std::size_t next_to_print = 0;

  auto work = [&] {
    for (;;) {
      std::size_t i = next++;
      if (i >= jobs.size() || failed) {
        break;
      }
      Job& job = jobs[i];
      try {
        std::vector<std::uint8_t> bytes = render_shot(job.shot, settings);
        if (job.kind == JobKind::truncated) {
          bytes.resize(bytes.size() * 6 / 10);
        }
        write_atomically(dir / job.shot.name, bytes);
        job.bytes = bytes.size();
        job.line = describe(job, settings);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        if (!failed.exchange(true)) {
          first_error = fmt::format("{}: {}", job.shot.name, e.what());
        }
        break;
      }
      std::lock_guard lock(mutex);
      done[i] = true;
      while (next_to_print < jobs.size() && done[next_to_print]) {
        fmt::print("{}\n", jobs[next_to_print].line);
        ++next_to_print;
      }
      std::fflush(stdout);
    }
    vips_thread_shutdown();
  };

  std::size_t threads = std::min<std::size_t>(k_max_threads, jobs.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(work);
  }
  work();
  for (std::thread& t : pool) {
    t.join();
  }
  if (failed) {
    throw std::runtime_error(first_error);
  }
}

std::vector<BadFile> write_bad_files(const fs::path& dir)
{
  std::vector<BadFile> bad;
  write_atomically(dir / "empty.jpg", {});
  bad.push_back({"empty.jpg", "empty", "zero bytes"});

  std::string_view notes =
      "Shot list - Martin / Okafor wedding\n"
      "11:00 getting ready (hotel), 14:00 ceremony, 15:00 portraits, 18:00 reception\n"
      "Second shooter: Sam. Remember the grandparents' table.\n";
  write_atomically(dir / "notes.jpg",
                   {reinterpret_cast<const std::uint8_t*>(notes.data()), notes.size()});
  bad.push_back({"notes.jpg", "not_an_image", "plain text with a .jpg name"});

  constexpr int k_huge_width = 15000, k_huge_height = 14000;
  write_atomically(dir / "huge.png", make_huge_png(k_huge_width, k_huge_height));
  bad.push_back({"huge.png", "huge_png",
                 fmt::format("{}x{} 8-bit greyscale, {:.0f} megapixels", k_huge_width,
                             k_huge_height, k_huge_width * double(k_huge_height) / 1e6)});

  symlink_atomically(dir / "loop.jpg", "loop.jpg");
  bad.push_back({"loop.jpg", "symlink_loop", "symlink to itself"});
  symlink_atomically(dir / "again", ".");
  bad.push_back({"again", "directory_loop", "symlink to its own directory"});
  return bad;
}

// The extra shots of --with-bad-files come from their own random stream, so
// the regular files do not change when they are asked for.
std::vector<Job> extra_jobs(std::uint64_t seed)
{
  Rng rng(seed ^ 0x6261645f66696c65ULL);
  std::vector<Job> jobs;

  // Event numbers only pick the source photo; these stay clear of the plan's.
  Job first_dance;
  first_dance.shot.name = "Première danse 01.jpg";
  first_dance.shot.look = draw_look(int(Scene::reception), rng, k_main_body);
  first_dance.shot.true_cs = (std::int64_t(21 * 3600 + 4 * 60 + 12) * 100) + 35;
  first_dance.shot.event = 100000;
  first_dance.shot.noise_seed = rng.next();
  jobs.push_back(first_dance);

  Job truncated;
  truncated.kind = JobKind::truncated;
  truncated.shot.name = "truncated.jpg";
  truncated.shot.look = draw_look(int(Scene::portrait), rng, k_second_body);
  truncated.shot.true_cs = std::int64_t(16 * 3600 + 21 * 60 + 40) * 100;
  truncated.shot.event = 100001;
  truncated.shot.noise_seed = rng.next();
  jobs.push_back(truncated);
  return jobs;
}

VImage make_noise_tile(std::uint64_t seed)
{
  Rng rng(seed ^ 0x6e6f697365ULL);
  std::vector<VImage> bands;
  for (int b = 0; b < 3; ++b) {
    bands.push_back(VImage::gaussnoise(k_noise_tile, k_noise_tile,
                                       VImage::option()
                                           ->set("sigma", 1.0)
                                           ->set("mean", 0.0)
                                           ->set("seed", rng.vips_seed())));
  }
  return VImage::bandjoin(bands).copy_memory();
}

int run(const Options& options)
{
  auto started = std::chrono::steady_clock::now();

  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec || !fs::is_directory(options.out)) {
    throw std::runtime_error(fmt::format("cannot create output directory {}: {}",
                                         options.out.string(),
                                         ec ? ec.message() : "not a directory"));
  }

  RenderSettings settings;
  settings.quality = options.quality;
  settings.width = std::max(3, int(std::lround(std::sqrt(options.megapixels * 1e6 * 1.5))));
  settings.height = std::max(2, int(std::lround(settings.width / 1.5)));

  std::string source = "synthetic";
  if (options.photos) {
    if (!fs::is_directory(*options.photos)) {
      throw UsageError(fmt::format("--photos {}: not a directory", options.photos->string()));
    }
    settings.photos = find_photos(*options.photos);
    if (settings.photos.empty()) {
      throw UsageError(fmt::format("--photos {}: no JPEG or PNG photos in it", options.photos->string()));
    }
    source = fmt::format("photos from {}", options.photos->string());
  } else {
    for (const char* dir : {"/usr/share/wallpapers", "/usr/share/backgrounds"}) {
      if (fs::is_directory(dir)) {
        settings.photos = find_photos(dir);
        if (!settings.photos.empty()) {
          source = fmt::format("photos from {}", dir);
          break;
        }
      }
    }
  }

  AdobeRgb adobe;
  settings.adobe = &adobe;
  settings.noise_tile = make_noise_tile(options.seed);

  std::vector<Job> jobs;
  for (Shot& shot : plan_shoot(options.count, options.seed)) {
    jobs.push_back({std::move(shot), JobKind::photo, 0, {}});
  }
  if (options.with_bad_files) {
    for (Job& job : extra_jobs(options.seed)) {
      jobs.push_back(std::move(job));
    }
  }

  fmt::print("{}: {} images of {}x{} ({}) into {}\n", k_program, options.count, settings.width,
             settings.height, source, options.out.string());
  std::fflush(stdout);
  render_all(jobs, settings, options.out);

  std::vector<BadFile> bad_files;
  if (options.with_bad_files) {
    bad_files = write_bad_files(options.out);
    for (const BadFile& bad : bad_files) {
      fmt::print("{:<22} {}\n", bad.name, bad.note);
    }
    for (const Job& job : jobs) {
      if (job.kind == JobKind::truncated) {
        bad_files.insert(bad_files.begin(), {job.shot.name, "truncated_jpeg", "valid JPEG cut at 60%"});
      }
    }
  }

  std::string json = sidecar_json(options, settings, source, jobs, bad_files);
  write_atomically(options.out / k_sidecar_name,
                   {reinterpret_cast<const std::uint8_t*>(json.data()), json.size()});

  std::uintmax_t total = 0;
  int photos = 0, rotated = 0, adobe_rgb = 0, bursts = 0;
  for (const Job& job : jobs) {
    total += job.bytes;
    if (job.kind == JobKind::photo) {
      ++photos;
      rotated += job.shot.look.orientation != 1;
      adobe_rgb += job.shot.look.adobe_rgb;
      bursts += job.shot.burst_frame == 0 && job.shot.burst != 0;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("{} photos ({} rotated, {} Adobe RGB, {} bursts), {} bad files, {} in {:.2f} s; "
             "ground truth in {}\n",
             photos, rotated, adobe_rgb, bursts, bad_files.size(), human_bytes(total), seconds,
             (options.out / k_sidecar_name).string());
  return 0;
}

}  // namespace

int main(int argc, char** argv)
{
  Options options;
  CLI::App app{"Writes a folder of camera-like wedding JPEGs (with EXIF, rotated frames, "
               "Adobe RGB profiles) and a .shoot.json describing them.",
               std::string(k_program)};
  app.add_option("--out", options.out, "Output directory (created)")->required();
  app.add_option("--count", options.count, "Number of images")
      ->check(CLI::Range(1, 9999))
      ->capture_default_str();
  app.add_option("--megapixels", options.megapixels, "Image size in megapixels, 3:2")
      ->check(CLI::Range(0.01, 200.0))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Random seed; the same seed gives the same files")
      ->capture_default_str();
  app.add_option("--photos", options.photos,
                 "Directory of JPEG/PNG photos to crop from (default: /usr/share/wallpapers or "
                 "/usr/share/backgrounds if they hold any, else synthetic content)");
  app.add_flag("--with-bad-files", options.with_bad_files,
               "Add truncated, empty, non-image, huge, oddly named and looping files");
  app.add_option("--quality", options.quality, "JPEG quality")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError too; every real usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (VIPS_INIT(argv[0]) != 0) {
    fmt::print(stderr, "{}: error: cannot start libvips: {}\n", k_program, vips_error_buffer());
    return 1;
  }
  // Parallelism comes from rendering two images at once; the operation cache
  // would only hold on to memory between unrelated images.
  vips_concurrency_set(1);
  vips_cache_set_max(0);

  int status = 1;
  try {
    status = run(options);
  } catch (const UsageError& e) {
    fmt::print(stderr, "{}: error: {}\n", k_program, e.what());
    status = 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", k_program, e.what());
    status = 1;
  }
  vips_shutdown();
  return status;
}
