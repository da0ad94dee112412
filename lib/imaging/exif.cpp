#include "imaging/exif.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <string_view>
#include <vector>

namespace wsp::imaging {
namespace {

// Real IFDs hold a few dozen entries and real profiles a few dozen tags; larger
// counts mean corruption, and the caps bound the work a hostile file can cause.
constexpr std::uint32_t k_max_ifd_entries = 512;
constexpr std::uint32_t k_max_icc_tags = 1024;
constexpr std::uint32_t k_max_mluc_records = 1024;

// Exposures up to a quarter second are written as "1/x", longer ones as decimal
// seconds ("0.3", "0.5", "1.3"), the convention of camera displays and ExifTool.
// The small margin keeps 1/4 in the fraction branch despite rounding.
constexpr double k_fraction_shutter_limit_s = 0.25001;

constexpr std::uint16_t k_type_byte = 1;
constexpr std::uint16_t k_type_ascii = 2;
constexpr std::uint16_t k_type_short = 3;
constexpr std::uint16_t k_type_long = 4;
constexpr std::uint16_t k_type_rational = 5;
constexpr std::uint16_t k_type_sbyte = 6;
constexpr std::uint16_t k_type_undefined = 7;
constexpr std::uint16_t k_type_sshort = 8;
constexpr std::uint16_t k_type_slong = 9;
constexpr std::uint16_t k_type_srational = 10;
constexpr std::uint16_t k_type_float = 11;
constexpr std::uint16_t k_type_double = 12;
constexpr std::uint16_t k_type_ifd = 13;

constexpr std::uint16_t k_tag_make = 0x010F;
constexpr std::uint16_t k_tag_model = 0x0110;
constexpr std::uint16_t k_tag_orientation = 0x0112;
constexpr std::uint16_t k_tag_date_time = 0x0132;
constexpr std::uint16_t k_tag_artist = 0x013B;
constexpr std::uint16_t k_tag_copyright = 0x8298;
constexpr std::uint16_t k_tag_exif_ifd = 0x8769;
constexpr std::uint16_t k_tag_gps_ifd = 0x8825;
constexpr std::uint16_t k_tag_exposure_time = 0x829A;
constexpr std::uint16_t k_tag_f_number = 0x829D;
constexpr std::uint16_t k_tag_iso = 0x8827;
constexpr std::uint16_t k_tag_date_time_original = 0x9003;
constexpr std::uint16_t k_tag_offset_time_original = 0x9011;
constexpr std::uint16_t k_tag_focal_length = 0x920A;
constexpr std::uint16_t k_tag_sub_sec_time_original = 0x9291;
constexpr std::uint16_t k_tag_camera_owner_name = 0xA430;
constexpr std::uint16_t k_tag_body_serial_number = 0xA431;
constexpr std::uint16_t k_tag_lens_model = 0xA434;
constexpr std::uint16_t k_tag_gps_latitude = 0x0002;
constexpr std::uint16_t k_tag_gps_longitude = 0x0004;

constexpr std::uint32_t k_icc_header_size = 128;
constexpr std::uint32_t k_icc_sig_desc = 0x64657363;  // 'desc'
constexpr std::uint32_t k_icc_sig_mluc = 0x6D6C7563;  // 'mluc'

// Reads integers of either byte order out of a span; every access is checked
// and offsets are 64-bit so that offset + size cannot wrap.
class ByteReader {
public:
  ByteReader(std::span<const std::uint8_t> data, bool little_endian)
      : m_data(data), m_little_endian(little_endian) {}

  std::size_t size() const { return m_data.size(); }
  bool little_endian() const { return m_little_endian; }

  std::optional<std::span<const std::uint8_t>> bytes(std::uint64_t offset, std::uint64_t size) const {
    if (offset > m_data.size() || size > m_data.size() - offset) return std::nullopt;
    return m_data.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(size));
  }

  std::optional<std::uint16_t> u16(std::uint64_t offset) const {
    auto b = bytes(offset, 2);
    if (!b) return std::nullopt;
    const auto& v = *b;
    return static_cast<std::uint16_t>(m_little_endian ? v[0] | v[1] << 8 : v[0] << 8 | v[1]);
  }

  std::optional<std::uint32_t> u32(std::uint64_t offset) const {
    auto b = bytes(offset, 4);
    if (!b) return std::nullopt;
    const auto& v = *b;
    std::uint32_t result = 0;
    for (int i = 0; i < 4; ++i) {
      std::uint32_t byte = m_little_endian ? v[3 - i] : v[i];
      result = result << 8 | byte;
    }
    return result;
  }

private:
  std::span<const std::uint8_t> m_data;
  bool m_little_endian;
};

struct IfdEntry {
  std::uint16_t tag = 0;
  std::uint16_t type = 0;
  std::uint32_t count = 0;
  std::span<const std::uint8_t> value;  // count values of type, inside the block
};

struct Rational {
  std::int64_t numerator = 0;
  std::int64_t denominator = 0;
};

// Size of one value of a TIFF field type; 0 for types this parser does not know,
// whose entries are skipped.
std::uint64_t type_size(std::uint16_t type) {
  switch (type) {
    case k_type_byte:
    case k_type_ascii:
    case k_type_sbyte:
    case k_type_undefined: return 1;
    case k_type_short:
    case k_type_sshort: return 2;
    case k_type_long:
    case k_type_slong:
    case k_type_float:
    case k_type_ifd: return 4;
    case k_type_rational:
    case k_type_srational:
    case k_type_double: return 8;
    default: return 0;
  }
}

std::optional<IfdEntry> read_entry(const ByteReader& tiff, std::uint64_t entry_offset) {
  auto tag = tiff.u16(entry_offset);
  auto type = tiff.u16(entry_offset + 2);
  auto count = tiff.u32(entry_offset + 4);
  if (!tag || !type || !count) return std::nullopt;
  std::uint64_t size = type_size(*type);
  if (size == 0 || *count == 0) return std::nullopt;
  // 64-bit product: a count near 2^32 must not wrap into a small, plausible size.
  std::uint64_t total = size * *count;
  std::optional<std::span<const std::uint8_t>> value;
  if (total <= 4) {
    value = tiff.bytes(entry_offset + 8, total);
  } else if (auto offset = tiff.u32(entry_offset + 8)) {
    value = tiff.bytes(*offset, total);
  }
  if (!value) return std::nullopt;
  return IfdEntry{*tag, *type, *count, *value};
}

// Calls on_entry for each readable entry of the IFD at offset. Offsets already
// in visited are ignored, so IFDs that point at themselves or at each other
// are walked once.
template <typename OnEntry>
void walk_ifd(const ByteReader& tiff, std::uint32_t offset, std::vector<std::uint32_t>& visited,
              OnEntry&& on_entry) {
  // Offsets below 8 point into the TIFF header itself.
  if (offset < 8 || std::find(visited.begin(), visited.end(), offset) != visited.end()) return;
  visited.push_back(offset);
  auto count = tiff.u16(offset);
  if (!count) return;
  std::uint32_t entries = std::min<std::uint32_t>(*count, k_max_ifd_entries);
  for (std::uint32_t i = 0; i < entries; ++i) {
    std::uint64_t entry_offset = std::uint64_t{offset} + 2 + std::uint64_t{i} * 12;
    if (entry_offset + 12 > tiff.size()) break;
    if (auto entry = read_entry(tiff, entry_offset)) on_entry(*entry);
  }
}

std::optional<std::uint32_t> first_unsigned(const ByteReader& tiff, const IfdEntry& entry) {
  ByteReader value(entry.value, tiff.little_endian());
  switch (entry.type) {
    case k_type_byte:
    case k_type_undefined: return entry.value[0];
    case k_type_short: return value.u16(0);
    case k_type_long:
    case k_type_ifd: return value.u32(0);
    default: return std::nullopt;
  }
}

std::optional<Rational> first_rational(const ByteReader& tiff, const IfdEntry& entry) {
  if (entry.type != k_type_rational && entry.type != k_type_srational) return std::nullopt;
  ByteReader value(entry.value, tiff.little_endian());
  auto numerator = value.u32(0);
  auto denominator = value.u32(4);
  if (!numerator || !denominator) return std::nullopt;
  if (entry.type == k_type_rational) return Rational{*numerator, *denominator};
  return Rational{static_cast<std::int32_t>(*numerator), static_cast<std::int32_t>(*denominator)};
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view k_blank = " \t\r\n";
  auto first = text.find_first_not_of(k_blank);
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(k_blank);
  return text.substr(first, last - first + 1);
}

// Text up to the first NUL, trimmed: cameras pad fixed-size fields with spaces.
// BYTE and UNDEFINED are accepted too because some writers use them for ASCII.
std::string text_value(const IfdEntry& entry) {
  if (entry.type != k_type_ascii && entry.type != k_type_byte && entry.type != k_type_undefined) return {};
  std::string_view text(reinterpret_cast<const char*>(entry.value.data()), entry.value.size());
  text = text.substr(0, text.find('\0'));
  return std::string(trim(text));
}

std::optional<double> positive_value(std::optional<Rational> rational) {
  if (!rational || rational->denominator == 0) return std::nullopt;
  double value = static_cast<double>(rational->numerator) / static_cast<double>(rational->denominator);
  if (!(value > 0)) return std::nullopt;
  return value;
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view digits) {
  int value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return value;
}

int days_in_month(int year, int month) {
  constexpr std::array<int, 12> k_days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : k_days[static_cast<std::size_t>(month - 1)];
}

// "YYYY:MM:DD HH:MM:SS" to "YYYY-MM-DDTHH:MM:SS"; empty for the blank or zeroed
// placeholders cameras write when their clock was never set.
std::string iso_date_time(std::string_view exif_text) {
  auto text = trim(exif_text);
  if (text.size() != 19) return {};
  auto separator_ok = [&](std::size_t i, std::string_view allowed) {
    return allowed.find(text[i]) != std::string_view::npos;
  };
  if (!separator_ok(4, ":-") || !separator_ok(7, ":-") || !separator_ok(10, " T") || text[13] != ':' ||
      text[16] != ':')
    return {};
  auto year = text.substr(0, 4), month = text.substr(5, 2), day = text.substr(8, 2);
  auto hour = text.substr(11, 2), minute = text.substr(14, 2), second = text.substr(17, 2);
  for (auto field : {year, month, day, hour, minute, second})
    if (!all_digits(field)) return {};
  int y = to_int(year), mo = to_int(month), d = to_int(day);
  if (y == 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return {};
  // 60 is a leap second.
  if (to_int(hour) > 23 || to_int(minute) > 59 || to_int(second) > 60) return {};
  std::string result;
  result.reserve(23);
  result.append(year).append("-").append(month).append("-").append(day);
  result.append("T").append(hour).append(":").append(minute).append(":").append(second);
  return result;
}

// SubSecTime digits are a decimal fraction of a second ("5" is half a second);
// they are normalised to milliseconds so that capture times compare as strings.
std::string milliseconds_suffix(std::string_view sub_sec) {
  auto digits = trim(sub_sec);
  if (digits.empty() || !all_digits(digits)) return {};
  std::string millis(digits.substr(0, 3));
  millis.resize(3, '0');
  return "." + millis;
}

std::string utc_offset(std::string_view exif_text) {
  auto text = trim(exif_text);
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':') return {};
  auto hours = text.substr(1, 2), minutes = text.substr(4, 2);
  if (!all_digits(hours) || !all_digits(minutes)) return {};
  // Real offsets run from -12:00 to +14:00.
  if (to_int(hours) > 14 || to_int(minutes) > 59) return {};
  return std::string(text);
}

std::string shutter_text(std::optional<Rational> exposure) {
  if (!exposure || exposure->numerator <= 0 || exposure->denominator <= 0) return {};
  std::int64_t gcd = std::gcd(exposure->numerator, exposure->denominator);
  std::int64_t n = exposure->numerator / gcd, d = exposure->denominator / gcd;
  if (d == 1) return std::to_string(n);
  if (static_cast<double>(n) / static_cast<double>(d) <= k_fraction_shutter_limit_s) {
    // Writers that store decimal seconds (3/1000) still get the nearest 1/x.
    return "1/" + std::to_string((d + n / 2) / n);
  }
  std::int64_t tenths = (n * 10 + d / 2) / d;
  std::string result = std::to_string(tenths / 10);
  if (tenths % 10 != 0) result += "." + std::to_string(tenths % 10);
  return result;
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | code_point >> 6);
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | code_point >> 12);
    out += static_cast<char>(0x80 | (code_point >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | code_point >> 18);
    out += static_cast<char>(0x80 | (code_point >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (code_point >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Unpaired surrogates become U+FFFD so the result is always valid UTF-8.
std::string utf16be_to_utf8(std::span<const std::uint8_t> bytes) {
  constexpr std::uint32_t k_replacement = 0xFFFD;
  std::string out;
  std::size_t units = bytes.size() / 2;
  auto unit_at = [&](std::size_t i) -> std::uint32_t { return bytes[2 * i] << 8 | bytes[2 * i + 1]; };
  for (std::size_t i = 0; i < units; ++i) {
    std::uint32_t unit = unit_at(i);
    if (unit == 0) break;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      std::uint32_t low = i + 1 < units ? unit_at(i + 1) : 0;
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
        ++i;
      } else {
        append_utf8(out, k_replacement);
      }
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      append_utf8(out, k_replacement);
    } else {
      append_utf8(out, unit);
    }
  }
  return out;
}

// ICC v2 textDescriptionType: 'desc', 4 reserved bytes, ASCII length including
// the NUL, the ASCII text; the Unicode and ScriptCode parts after it are ignored.
std::string text_description(const ByteReader& element) {
  auto length = element.u32(8);
  if (!length) return {};
  auto ascii = element.bytes(12, *length);
  if (!ascii) return {};
  std::string_view text(reinterpret_cast<const char*>(ascii->data()), ascii->size());
  return std::string(trim(text.substr(0, text.find('\0'))));
}

// ICC v4 multiLocalizedUnicodeType: 'mluc', 4 reserved bytes, record count,
// record size, then records of language, country, byte length and offset (from
// the start of the element) of a UTF-16BE string.
std::string multi_localized_description(const ByteReader& element) {
  auto record_count = element.u32(8);
  auto record_size = element.u32(12);
  if (!record_count || !record_size || *record_size < 12) return {};
  std::optional<std::uint64_t> chosen;
  std::uint32_t records = std::min(*record_count, k_max_mluc_records);
  for (std::uint32_t i = 0; i < records; ++i) {
    std::uint64_t record = 16 + std::uint64_t{i} * *record_size;
    auto language = element.bytes(record, 12);
    if (!language) break;
    if (!chosen) chosen = record;
    if ((*language)[0] == 'e' && (*language)[1] == 'n') {
      chosen = record;
      break;
    }
  }
  if (!chosen) return {};
  auto length = element.u32(*chosen + 4);
  auto offset = element.u32(*chosen + 8);
  if (!length || !offset) return {};
  auto text = element.bytes(*offset, *length);
  if (!text) return {};
  return std::string(trim(utf16be_to_utf8(*text)));
}

}  // namespace

CameraFacts parse_exif(std::span<const std::uint8_t> exif) {
  CameraFacts facts;
  constexpr std::array<std::uint8_t, 6> k_exif_prefix = {'E', 'x', 'i', 'f', 0, 0};
  if (exif.size() >= k_exif_prefix.size() && std::equal(k_exif_prefix.begin(), k_exif_prefix.end(), exif.begin()))
    exif = exif.subspan(k_exif_prefix.size());
  if (exif.size() < 8) return facts;
  bool little_endian;
  if (exif[0] == 'I' && exif[1] == 'I' && exif[2] == 42 && exif[3] == 0) {
    little_endian = true;
  } else if (exif[0] == 'M' && exif[1] == 'M' && exif[2] == 0 && exif[3] == 42) {
    little_endian = false;
  } else {
    return facts;
  }
  // Offsets inside the block are relative to the byte-order mark.
  ByteReader tiff(exif, little_endian);
  auto ifd0 = tiff.u32(4);
  if (!ifd0) return facts;

  std::vector<std::uint32_t> visited;
  std::optional<std::uint32_t> exif_ifd, gps_ifd;
  std::string date_time, date_time_original, sub_sec_original, offset_original;
  std::optional<Rational> exposure_time;

  walk_ifd(tiff, *ifd0, visited, [&](const IfdEntry& entry) {
    switch (entry.tag) {
      case k_tag_make: facts.make = text_value(entry); break;
      case k_tag_model: facts.model = text_value(entry); break;
      case k_tag_artist: facts.artist = text_value(entry); break;
      case k_tag_copyright: facts.copyright = text_value(entry); break;
      case k_tag_date_time: date_time = text_value(entry); break;
      case k_tag_orientation: {
        auto orientation = first_unsigned(tiff, entry);
        bool valid = orientation && *orientation >= 1 && *orientation <= 8;
        facts.orientation = valid ? static_cast<int>(*orientation) : 1;
        break;
      }
      case k_tag_exif_ifd: exif_ifd = first_unsigned(tiff, entry); break;
      case k_tag_gps_ifd: gps_ifd = first_unsigned(tiff, entry); break;
      default: break;
    }
  });

  if (exif_ifd) {
    walk_ifd(tiff, *exif_ifd, visited, [&](const IfdEntry& entry) {
      switch (entry.tag) {
        case k_tag_exposure_time: exposure_time = first_rational(tiff, entry); break;
        case k_tag_f_number: facts.aperture = positive_value(first_rational(tiff, entry)); break;
        case k_tag_focal_length: facts.focal_length_mm = positive_value(first_rational(tiff, entry)); break;
        case k_tag_iso: {
          // 0 is what some cameras write when the sensitivity is unknown.
          auto iso = first_unsigned(tiff, entry);
          facts.iso = iso && *iso > 0 ? std::optional<int>(static_cast<int>(*iso)) : std::nullopt;
          break;
        }
        case k_tag_date_time_original: date_time_original = text_value(entry); break;
        case k_tag_offset_time_original: offset_original = text_value(entry); break;
        case k_tag_sub_sec_time_original: sub_sec_original = text_value(entry); break;
        case k_tag_camera_owner_name: facts.owner = text_value(entry); break;
        case k_tag_body_serial_number: facts.serial = text_value(entry); break;
        case k_tag_lens_model: facts.lens = text_value(entry); break;
        default: break;
      }
    });
  }

  if (gps_ifd) {
    walk_ifd(tiff, *gps_ifd, visited, [&](const IfdEntry& entry) {
      if (entry.tag == k_tag_gps_latitude || entry.tag == k_tag_gps_longitude) facts.has_gps = true;
    });
  }

  facts.capture_time = iso_date_time(date_time_original);
  if (!facts.capture_time.empty()) {
    facts.capture_time += milliseconds_suffix(sub_sec_original);
  } else {
    // DateTime is when the file was last written, a fair stand-in for cameras
    // without DateTimeOriginal; its sub-seconds live in another tag, not used.
    facts.capture_time = iso_date_time(date_time);
  }
  facts.capture_offset = utc_offset(offset_original);
  facts.shutter = shutter_text(exposure_time);
  return facts;
}

std::string icc_description(std::span<const std::uint8_t> icc) {
  ByteReader profile(icc, false);
  auto tag_count = profile.u32(k_icc_header_size);
  if (!tag_count) return {};
  std::uint32_t tags = std::min(*tag_count, k_max_icc_tags);
  for (std::uint32_t i = 0; i < tags; ++i) {
    std::uint64_t entry = k_icc_header_size + 4 + std::uint64_t{i} * 12;
    auto signature = profile.u32(entry);
    auto offset = profile.u32(entry + 4);
    auto size = profile.u32(entry + 8);
    if (!signature || !offset || !size) return {};
    if (*signature != k_icc_sig_desc) continue;
    auto element_bytes = profile.bytes(*offset, *size);
    if (!element_bytes) return {};
    ByteReader element(*element_bytes, false);
    auto type = element.u32(0);
    if (type == k_icc_sig_desc) return text_description(element);
    if (type == k_icc_sig_mluc) return multi_localized_description(element);
    return {};
  }
  return {};
}

}  // namespace wsp::imaging
