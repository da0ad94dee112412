#include "imaging/exif.hpp"
#include "imaging/probe.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using wsp::imaging::CameraFacts;
using wsp::imaging::icc_description;
using wsp::imaging::parse_exif;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint16_t k_byte = 1;
constexpr std::uint16_t k_ascii = 2;
constexpr std::uint16_t k_short = 3;
constexpr std::uint16_t k_long = 4;
constexpr std::uint16_t k_rational = 5;
constexpr std::uint16_t k_undefined = 7;
constexpr std::uint16_t k_srational = 10;

enum class Ifd { zero, exif, gps };

// Lays out a minimal TIFF block: header, IFD0, Exif IFD, GPS IFD, then the
// values too large to sit in their entries. The Exif and GPS pointers are
// added to IFD0 when those IFDs have entries.
class TiffBuilder {
public:
  explicit TiffBuilder(bool little_endian) : m_little_endian(little_endian) {}

  TiffBuilder& ascii(Ifd ifd, std::uint16_t tag, std::string_view text) {
    Bytes value(text.begin(), text.end());
    value.push_back(0);
    auto count = static_cast<std::uint32_t>(value.size());
    return raw(ifd, tag, k_ascii, count, std::move(value));
  }

  TiffBuilder& short_value(Ifd ifd, std::uint16_t tag, std::uint16_t value) {
    Bytes bytes;
    put16(bytes, value);
    return raw(ifd, tag, k_short, 1, std::move(bytes));
  }

  TiffBuilder& long_value(Ifd ifd, std::uint16_t tag, std::uint32_t value) {
    Bytes bytes;
    put32(bytes, value);
    return raw(ifd, tag, k_long, 1, std::move(bytes));
  }

  TiffBuilder& rational(Ifd ifd, std::uint16_t tag, std::uint32_t numerator, std::uint32_t denominator,
                        std::uint16_t type = k_rational) {
    Bytes bytes;
    put32(bytes, numerator);
    put32(bytes, denominator);
    return raw(ifd, tag, type, 1, std::move(bytes));
  }

  // value holds the encoded values; when it is longer than 4 bytes it goes to
  // the data area, otherwise inline. count is written as given, so it may lie.
  TiffBuilder& raw(Ifd ifd, std::uint16_t tag, std::uint16_t type, std::uint32_t count, Bytes value) {
    m_ifds[static_cast<std::size_t>(ifd)].push_back({tag, type, count, std::move(value), std::nullopt});
    return *this;
  }

  // An entry whose value offset is written verbatim instead of being laid out.
  TiffBuilder& with_offset(Ifd ifd, std::uint16_t tag, std::uint16_t type, std::uint32_t count,
                           std::uint32_t offset) {
    m_ifds[static_cast<std::size_t>(ifd)].push_back({tag, type, count, {}, offset});
    return *this;
  }

  Bytes build(bool exif_prefix = false) const {
    auto ifds = m_ifds;
    auto& ifd0 = ifds[0];
    std::size_t exif_pointer = 0, gps_pointer = 0;
    if (!ifds[1].empty()) {
      exif_pointer = ifd0.size();
      ifd0.push_back({0x8769, k_long, 1, Bytes(4), std::nullopt});
    }
    if (!ifds[2].empty()) {
      gps_pointer = ifd0.size();
      ifd0.push_back({0x8825, k_long, 1, Bytes(4), std::nullopt});
    }
    std::array<std::uint32_t, 3> ifd_offsets{};
    std::uint32_t next = 8;
    for (std::size_t i = 0; i < ifds.size(); ++i) {
      ifd_offsets[i] = next;
      if (i == 0 || !ifds[i].empty()) next += static_cast<std::uint32_t>(2 + 12 * ifds[i].size() + 4);
    }
    if (!ifds[1].empty()) ifd0[exif_pointer].value = encode32(ifd_offsets[1]);
    if (!ifds[2].empty()) ifd0[gps_pointer].value = encode32(ifd_offsets[2]);

    Bytes tiff;
    std::string_view byte_order = m_little_endian ? std::string_view("II*\0", 4) : std::string_view("MM\0*", 4);
    tiff.insert(tiff.end(), byte_order.begin(), byte_order.end());
    put32(tiff, 8);
    Bytes data;
    for (std::size_t i = 0; i < ifds.size(); ++i) {
      if (i != 0 && ifds[i].empty()) continue;
      put16(tiff, static_cast<std::uint16_t>(ifds[i].size()));
      for (const auto& entry : ifds[i]) {
        put16(tiff, entry.tag);
        put16(tiff, entry.type);
        put32(tiff, entry.count);
        if (entry.offset) {
          put32(tiff, *entry.offset);
        } else if (entry.value.size() <= 4) {
          Bytes inline_value = entry.value;
          inline_value.resize(4, 0);
          tiff.insert(tiff.end(), inline_value.begin(), inline_value.end());
        } else {
          put32(tiff, static_cast<std::uint32_t>(next + data.size()));
          data.insert(data.end(), entry.value.begin(), entry.value.end());
        }
      }
      put32(tiff, 0);
    }
    tiff.insert(tiff.end(), data.begin(), data.end());
    if (!exif_prefix) return tiff;
    Bytes prefixed = {'E', 'x', 'i', 'f', 0, 0};
    prefixed.insert(prefixed.end(), tiff.begin(), tiff.end());
    return prefixed;
  }

  Bytes encode32(std::uint32_t value) const {
    Bytes bytes;
    put32(bytes, value);
    return bytes;
  }

private:
  struct Entry {
    std::uint16_t tag;
    std::uint16_t type;
    std::uint32_t count;
    Bytes value;
    std::optional<std::uint32_t> offset;
  };

  void put16(Bytes& out, std::uint16_t value) const {
    if (m_little_endian) {
      out.push_back(static_cast<std::uint8_t>(value));
      out.push_back(static_cast<std::uint8_t>(value >> 8));
    } else {
      out.push_back(static_cast<std::uint8_t>(value >> 8));
      out.push_back(static_cast<std::uint8_t>(value));
    }
  }

  void put32(Bytes& out, std::uint32_t value) const {
    for (int i = 0; i < 4; ++i) {
      int shift = m_little_endian ? 8 * i : 8 * (3 - i);
      out.push_back(static_cast<std::uint8_t>(value >> shift));
    }
  }

  bool m_little_endian;
  std::array<std::vector<Entry>, 3> m_ifds;
};

TiffBuilder full_builder(bool little_endian) {
  TiffBuilder builder(little_endian);
  builder.ascii(Ifd::zero, 0x010F, "Canon")
      .ascii(Ifd::zero, 0x0110, "Canon EOS R5")
      .short_value(Ifd::zero, 0x0112, 6)
      .ascii(Ifd::zero, 0x0132, "2024:06:15 18:30:05")
      .ascii(Ifd::zero, 0x013B, "Jane Doe")
      .ascii(Ifd::zero, 0x8298, "(c) 2024 Jane Doe Photography")
      .rational(Ifd::exif, 0x829A, 1, 250)
      .rational(Ifd::exif, 0x829D, 28, 10)
      .short_value(Ifd::exif, 0x8827, 800)
      .ascii(Ifd::exif, 0x9003, "2024:06:15 14:02:03")
      .ascii(Ifd::exif, 0x9011, "+02:00")
      .ascii(Ifd::exif, 0x9291, "45")
      .rational(Ifd::exif, 0x920A, 85, 1)
      .ascii(Ifd::exif, 0xA430, "Studio Doe")
      .ascii(Ifd::exif, 0xA431, "012345678901")
      .ascii(Ifd::exif, 0xA434, "RF85mm F1.2 L USM")
      .raw(Ifd::gps, 0x0000, k_byte, 4, {2, 3, 0, 0})
      .raw(Ifd::gps, 0x0002, k_rational, 3, Bytes(24, 1));
  return builder;
}

void expect_full_facts(const CameraFacts& facts) {
  EXPECT_EQ(facts.make, "Canon");
  EXPECT_EQ(facts.model, "Canon EOS R5");
  EXPECT_EQ(facts.orientation, 6);
  EXPECT_EQ(facts.artist, "Jane Doe");
  EXPECT_EQ(facts.copyright, "(c) 2024 Jane Doe Photography");
  EXPECT_EQ(facts.shutter, "1/250");
  ASSERT_TRUE(facts.aperture.has_value());
  EXPECT_DOUBLE_EQ(*facts.aperture, 2.8);
  ASSERT_TRUE(facts.iso.has_value());
  EXPECT_EQ(*facts.iso, 800);
  EXPECT_EQ(facts.capture_time, "2024-06-15T14:02:03.450");
  EXPECT_EQ(facts.capture_offset, "+02:00");
  ASSERT_TRUE(facts.focal_length_mm.has_value());
  EXPECT_DOUBLE_EQ(*facts.focal_length_mm, 85.0);
  EXPECT_EQ(facts.owner, "Studio Doe");
  EXPECT_EQ(facts.serial, "012345678901");
  EXPECT_EQ(facts.lens, "RF85mm F1.2 L USM");
  EXPECT_TRUE(facts.has_gps);
}

CameraFacts parse(const Bytes& bytes) { return parse_exif(bytes); }

// A block with only the given Exif IFD text tag and a Make, for the tests of
// one field.
CameraFacts parse_with_exif_text(std::uint16_t tag, std::string_view text) {
  return parse(TiffBuilder(true).ascii(Ifd::zero, 0x010F, "Nikon").ascii(Ifd::exif, tag, text).build());
}

std::string shutter_for(std::uint32_t numerator, std::uint32_t denominator) {
  return parse(TiffBuilder(true).rational(Ifd::exif, 0x829A, numerator, denominator).build()).shutter;
}

TEST(Exif, ReadsAllFieldsLittleEndian) { expect_full_facts(parse(full_builder(true).build())); }

TEST(Exif, ReadsAllFieldsBigEndian) { expect_full_facts(parse(full_builder(false).build())); }

TEST(Exif, AcceptsExifPrefix) {
  expect_full_facts(parse(full_builder(true).build(true)));
  expect_full_facts(parse(full_builder(false).build(true)));
}

TEST(Exif, EmptyOrUnknownBlocksGiveDefaults) {
  for (const Bytes& bytes : {Bytes{}, Bytes{'E', 'x', 'i', 'f', 0, 0}, Bytes{'X', 'X', 42, 0, 8, 0, 0, 0, 0, 0}}) {
    auto facts = parse(bytes);
    EXPECT_EQ(facts.orientation, 1);
    EXPECT_TRUE(facts.make.empty());
    EXPECT_TRUE(facts.capture_time.empty());
    EXPECT_FALSE(facts.has_gps);
  }
  // A little-endian body behind a big-endian mark reads as garbage offsets.
  auto bytes = full_builder(true).build();
  bytes[0] = bytes[1] = 'M';
  EXPECT_NE(parse(bytes).make, "Canon");
}

TEST(Exif, OrientationSixIsKept) {
  EXPECT_EQ(parse(TiffBuilder(false).short_value(Ifd::zero, 0x0112, 6).build()).orientation, 6);
  EXPECT_EQ(parse(TiffBuilder(true).short_value(Ifd::zero, 0x0112, 8).build()).orientation, 8);
}

TEST(Exif, InvalidOrientationFallsBackToOne) {
  for (std::uint16_t value : {0, 9, 0xFFFF})
    EXPECT_EQ(parse(TiffBuilder(true).short_value(Ifd::zero, 0x0112, value).build()).orientation, 1) << value;
  // The right number in the wrong type is not trusted either.
  EXPECT_EQ(parse(TiffBuilder(true).rational(Ifd::zero, 0x0112, 6, 1).build()).orientation, 1);
}

TEST(Exif, GpsNeedsLatitudeOrLongitude) {
  EXPECT_TRUE(parse(TiffBuilder(true).raw(Ifd::gps, 0x0002, k_rational, 3, Bytes(24, 1)).build()).has_gps);
  EXPECT_TRUE(parse(TiffBuilder(false).raw(Ifd::gps, 0x0004, k_rational, 3, Bytes(24, 1)).build()).has_gps);
  // A GPS IFD with only a version (phones with location off write this).
  EXPECT_FALSE(parse(TiffBuilder(true).raw(Ifd::gps, 0x0000, k_byte, 4, {2, 3, 0, 0}).build()).has_gps);
  EXPECT_FALSE(parse(TiffBuilder(true).ascii(Ifd::zero, 0x010F, "Sony").build()).has_gps);
  // Latitude tags outside the GPS IFD do not count.
  EXPECT_FALSE(parse(TiffBuilder(true).raw(Ifd::exif, 0x0002, k_rational, 3, Bytes(24, 1)).build()).has_gps);
}

TEST(Exif, SubSecondsAreNormalisedToMilliseconds) {
  auto with_sub_sec = [](std::string_view sub_sec) {
    return parse(TiffBuilder(true)
                     .ascii(Ifd::exif, 0x9003, "2023:12:31 23:59:59")
                     .ascii(Ifd::exif, 0x9291, sub_sec)
                     .build())
        .capture_time;
  };
  EXPECT_EQ(with_sub_sec("5"), "2023-12-31T23:59:59.500");
  EXPECT_EQ(with_sub_sec("07"), "2023-12-31T23:59:59.070");
  EXPECT_EQ(with_sub_sec("123"), "2023-12-31T23:59:59.123");
  EXPECT_EQ(with_sub_sec("12345"), "2023-12-31T23:59:59.123");
  EXPECT_EQ(with_sub_sec("42  "), "2023-12-31T23:59:59.420");
  EXPECT_EQ(with_sub_sec("ab"), "2023-12-31T23:59:59");
  EXPECT_EQ(with_sub_sec(""), "2023-12-31T23:59:59");
}

TEST(Exif, CaptureTimeFallsBackToDateTime) {
  auto facts = parse(TiffBuilder(false)
                         .ascii(Ifd::zero, 0x0132, "2020:02:29 07:08:09")
                         .ascii(Ifd::exif, 0x9291, "250")
                         .build());
  // SubSecTimeOriginal belongs to DateTimeOriginal, not to DateTime.
  EXPECT_EQ(facts.capture_time, "2020-02-29T07:08:09");

  auto invalid_original = parse(TiffBuilder(true)
                                    .ascii(Ifd::zero, 0x0132, "2021:01:02 03:04:05")
                                    .ascii(Ifd::exif, 0x9003, "0000:00:00 00:00:00")
                                    .build());
  EXPECT_EQ(invalid_original.capture_time, "2021-01-02T03:04:05");
}

TEST(Exif, InvalidCaptureTimesAreLeftEmpty) {
  for (std::string_view text : {"0000:00:00 00:00:00", "    :  :     :  :  ", "", "2024:13:01 10:00:00",
                                "2023:02:29 10:00:00", "2024:06:15 24:00:00", "2024:06:15 10:60:00",
                                "2024:06:15", "2024:06:15 10:00:00 extra", "2024/06/15 10:00:00"})
    EXPECT_EQ(parse_with_exif_text(0x9003, text).capture_time, "") << text;
  EXPECT_EQ(parse_with_exif_text(0x9003, "2024-06-15T10:00:00").capture_time, "2024-06-15T10:00:00");
  EXPECT_EQ(parse_with_exif_text(0x9003, "2024:02:29 10:00:00 ").capture_time, "2024-02-29T10:00:00");
}

TEST(Exif, CaptureOffsetAcceptsOnlySignedHoursAndMinutes) {
  EXPECT_EQ(parse_with_exif_text(0x9011, "+02:00").capture_offset, "+02:00");
  EXPECT_EQ(parse_with_exif_text(0x9011, "-05:30").capture_offset, "-05:30");
  EXPECT_EQ(parse_with_exif_text(0x9011, " +13:45 ").capture_offset, "+13:45");
  for (std::string_view text : {"02:00", "+2:00", "+0200", "+02:60", "+25:00", "   :  ", "", "Z"})
    EXPECT_EQ(parse_with_exif_text(0x9011, text).capture_offset, "") << text;
}

TEST(Exif, ShutterIsWrittenAsPhotographersDo) {
  EXPECT_EQ(shutter_for(1, 250), "1/250");
  EXPECT_EQ(shutter_for(10, 2500), "1/250");
  EXPECT_EQ(shutter_for(1, 8000), "1/8000");
  EXPECT_EQ(shutter_for(1, 4), "1/4");
  EXPECT_EQ(shutter_for(3, 1000), "1/333");
  EXPECT_EQ(shutter_for(2, 1), "2");
  EXPECT_EQ(shutter_for(30, 1), "30");
  EXPECT_EQ(shutter_for(20, 10), "2");
  EXPECT_EQ(shutter_for(13, 10), "1.3");
  EXPECT_EQ(shutter_for(5, 10), "0.5");
  EXPECT_EQ(shutter_for(3, 10), "0.3");
  EXPECT_EQ(shutter_for(25, 10), "2.5");
  EXPECT_EQ(shutter_for(0, 1), "");
  EXPECT_EQ(shutter_for(1, 0), "");
}

TEST(Exif, RationalsWithZeroDenominatorAreAbsent) {
  auto facts = parse(TiffBuilder(true)
                         .rational(Ifd::exif, 0x829D, 28, 0)
                         .rational(Ifd::exif, 0x920A, 50, 0)
                         .build());
  EXPECT_FALSE(facts.aperture.has_value());
  EXPECT_FALSE(facts.focal_length_mm.has_value());

  auto signed_facts = parse(TiffBuilder(false)
                                .rational(Ifd::exif, 0x829D, 56, 10, k_srational)
                                .rational(Ifd::exif, 0x920A, 0xFFFFFFCE, 1, k_srational)
                                .build());
  ASSERT_TRUE(signed_facts.aperture.has_value());
  EXPECT_DOUBLE_EQ(*signed_facts.aperture, 5.6);
  // -50 mm is nonsense, not a lens.
  EXPECT_FALSE(signed_facts.focal_length_mm.has_value());
}

TEST(Exif, IsoTakesFirstValueOfShortOrLong) {
  auto shorts = parse(TiffBuilder(true).raw(Ifd::exif, 0x8827, k_short, 2, {0x90, 0x01, 0x20, 0x03}).build());
  ASSERT_TRUE(shorts.iso.has_value());
  EXPECT_EQ(*shorts.iso, 400);
  auto longs = parse(TiffBuilder(false).long_value(Ifd::exif, 0x8827, 102400).build());
  ASSERT_TRUE(longs.iso.has_value());
  EXPECT_EQ(*longs.iso, 102400);
  EXPECT_FALSE(parse(TiffBuilder(true).short_value(Ifd::exif, 0x8827, 0).build()).iso.has_value());
}

TEST(Exif, StringsStopAtNulAndAreTrimmed) {
  Bytes make = {'F', 'U', 'J', 'I', 'F', 'I', 'L', 'M', 0, 'j', 'u', 'n', 'k', 0, 0, 0};
  auto facts = parse(TiffBuilder(true)
                         .raw(Ifd::zero, 0x010F, k_ascii, 16, make)
                         .ascii(Ifd::zero, 0x0110, "X-T5      ")
                         .raw(Ifd::exif, 0xA434, k_undefined, 6, Bytes{'X', 'F', '3', '5', ' ', ' '})
                         .build());
  EXPECT_EQ(facts.make, "FUJIFILM");
  EXPECT_EQ(facts.model, "X-T5");
  EXPECT_EQ(facts.lens, "XF35");
}

TEST(Exif, TagsAreReadOnlyFromTheirOwnIfd) {
  auto facts = parse(TiffBuilder(true)
                         .ascii(Ifd::zero, 0xA434, "lens in IFD0")
                         .ascii(Ifd::exif, 0x010F, "make in Exif IFD")
                         .build());
  EXPECT_EQ(facts.lens, "");
  EXPECT_EQ(facts.make, "");
}

TEST(Exif, TruncatedBlocksNeverCrash) {
  for (bool little_endian : {true, false}) {
    for (bool exif_prefix : {true, false}) {
      auto whole = full_builder(little_endian).build(exif_prefix);
      for (std::size_t length = 0; length < whole.size(); ++length) {
        // A copy of exactly `length` bytes, so that the sanitizer sees any
        // read past the end.
        Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(length));
        auto facts = parse(prefix);
        EXPECT_GE(facts.orientation, 1);
        EXPECT_LE(facts.orientation, 8);
        // The GPS latitude is the last value of the block.
        EXPECT_FALSE(facts.has_gps) << length;
      }
      expect_full_facts(parse(whole));
    }
  }
}

TEST(Exif, IfdPointingAtItselfIsWalkedOnce) {
  // IFD0 sits at offset 8; its Exif and GPS pointers lead back to it. Walked
  // again as the Exif IFD, its ExposureTime-numbered entry would give a shutter.
  auto facts = parse(TiffBuilder(true)
                         .ascii(Ifd::zero, 0x010F, "Leica")
                         .rational(Ifd::zero, 0x829A, 1, 60)
                         .raw(Ifd::zero, 0x0002, k_rational, 3, Bytes(24, 1))
                         .long_value(Ifd::zero, 0x8769, 8)
                         .long_value(Ifd::zero, 0x8825, 8)
                         .build());
  EXPECT_EQ(facts.make, "Leica");
  EXPECT_EQ(facts.shutter, "");
  EXPECT_FALSE(facts.has_gps);
}

TEST(Exif, ExifAndGpsSharingAnIfdAreWalkedOnce) {
  // The GPS pointer leads to the Exif IFD, which follows IFD0's two entries
  // (this pointer and the Exif one). Walked again as the GPS IFD, its 0x0002
  // entry would count as a latitude.
  auto pointed = TiffBuilder(false)
                     .rational(Ifd::exif, 0x829A, 1, 125)
                     .raw(Ifd::exif, 0x0002, k_rational, 3, Bytes(24, 1))
                     .long_value(Ifd::zero, 0x8825, 8 + 2 + 12 * 2 + 4)
                     .build();
  auto facts = parse(pointed);
  EXPECT_EQ(facts.shutter, "1/125");
  EXPECT_FALSE(facts.has_gps);
}

TEST(Exif, CountOverflowIsRejected) {
  // 0x20000001 rationals are 2^32 + 8 bytes: wrapped to 32 bits that would be
  // 8 bytes at offset 8, a readable "rational" made of the IFD itself.
  auto facts = parse(TiffBuilder(true)
                         .ascii(Ifd::zero, 0x0110, "Z 9")
                         .with_offset(Ifd::exif, 0x829D, k_rational, 0x20000001, 8)
                         .with_offset(Ifd::exif, 0x829A, k_rational, 0x20000000, 8)
                         .with_offset(Ifd::exif, 0xA434, k_ascii, 0xFFFFFFFF, 8)
                         .short_value(Ifd::exif, 0x8827, 64)
                         .build());
  EXPECT_EQ(facts.model, "Z 9");
  EXPECT_FALSE(facts.aperture.has_value());
  EXPECT_EQ(facts.shutter, "");
  EXPECT_EQ(facts.lens, "");
  ASSERT_TRUE(facts.iso.has_value());
  EXPECT_EQ(*facts.iso, 64);
}

TEST(Exif, ValueOffsetsOutsideTheBlockAreSkipped) {
  auto facts = parse(TiffBuilder(false)
                         .with_offset(Ifd::zero, 0x010F, k_ascii, 10, 0xFFFFFFF8)
                         .with_offset(Ifd::zero, 0x0110, k_ascii, 10, 1000)
                         .with_offset(Ifd::zero, 0x8769, k_long, 1, 0)
                         .ascii(Ifd::zero, 0x013B, "still read")
                         .build());
  EXPECT_EQ(facts.make, "");
  EXPECT_EQ(facts.model, "");
  EXPECT_EQ(facts.artist, "still read");
}

TEST(Exif, IfdPointersOutsideTheBlockAreIgnored) {
  auto facts = parse(TiffBuilder(true)
                         .ascii(Ifd::zero, 0x010F, "Pentax")
                         .long_value(Ifd::zero, 0x8769, 0xFFFFFFFF)
                         .long_value(Ifd::zero, 0x8825, 0xFFFFFFF0)
                         .build());
  EXPECT_EQ(facts.make, "Pentax");
  EXPECT_FALSE(facts.has_gps);
}

TEST(Exif, OverstatedEntryCountStopsAtTheEnd) {
  auto bytes = TiffBuilder(true).ascii(Ifd::zero, 0x010F, "Olympus").short_value(Ifd::zero, 0x0112, 3).build();
  bytes[8] = 0xFF;
  bytes[9] = 0xFF;
  auto facts = parse(bytes);
  EXPECT_EQ(facts.make, "Olympus");
  EXPECT_EQ(facts.orientation, 3);
}

void put_be32(Bytes& out, std::uint32_t value) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

void put_be16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_text(Bytes& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

// A profile with a 'cprt' tag followed by a 'desc' tag holding element.
Bytes icc_profile(const Bytes& desc_element) {
  Bytes cprt;
  put_text(cprt, "text");
  put_be32(cprt, 0);
  put_text(cprt, "No copyright");
  Bytes profile(128, 0);
  std::copy_n("acsp", 4, profile.begin() + 36);
  put_be32(profile, 2);
  std::uint32_t data_start = 128 + 4 + 2 * 12;
  put_text(profile, "cprt");
  put_be32(profile, data_start);
  put_be32(profile, static_cast<std::uint32_t>(cprt.size()));
  put_text(profile, "desc");
  put_be32(profile, static_cast<std::uint32_t>(data_start + cprt.size()));
  put_be32(profile, static_cast<std::uint32_t>(desc_element.size()));
  profile.insert(profile.end(), cprt.begin(), cprt.end());
  profile.insert(profile.end(), desc_element.begin(), desc_element.end());
  std::uint32_t size = static_cast<std::uint32_t>(profile.size());
  for (std::size_t i = 0; i < 4; ++i) profile[i] = static_cast<std::uint8_t>(size >> (24 - 8 * i));
  return profile;
}

Bytes v2_desc(std::string_view ascii) {
  Bytes element;
  put_text(element, "desc");
  put_be32(element, 0);
  put_be32(element, static_cast<std::uint32_t>(ascii.size() + 1));
  put_text(element, ascii);
  element.push_back(0);
  // The Unicode and ScriptCode parts, empty.
  put_be32(element, 0);
  put_be32(element, 0);
  put_be16(element, 0);
  element.push_back(0);
  element.resize(element.size() + 67, 0);
  return element;
}

struct MlucRecord {
  std::string_view language;
  std::string_view country;
  std::u16string text;
};

Bytes v4_mluc(const std::vector<MlucRecord>& records) {
  Bytes element;
  put_text(element, "mluc");
  put_be32(element, 0);
  put_be32(element, static_cast<std::uint32_t>(records.size()));
  put_be32(element, 12);
  std::uint32_t string_offset = static_cast<std::uint32_t>(16 + 12 * records.size());
  Bytes strings;
  for (const auto& record : records) {
    put_text(element, record.language);
    put_text(element, record.country);
    put_be32(element, static_cast<std::uint32_t>(record.text.size() * 2));
    put_be32(element, static_cast<std::uint32_t>(string_offset + strings.size()));
    for (char16_t unit : record.text) put_be16(strings, unit);
  }
  element.insert(element.end(), strings.begin(), strings.end());
  return element;
}

TEST(IccDescription, ReadsV2TextDescription) {
  EXPECT_EQ(icc_description(icc_profile(v2_desc("Adobe RGB (1998)"))), "Adobe RGB (1998)");
  EXPECT_EQ(icc_description(icc_profile(v2_desc("sRGB IEC61966-2.1  "))), "sRGB IEC61966-2.1");
}

TEST(IccDescription, ReadsV4MultiLocalizedPreferringEnglish) {
  auto profile = icc_profile(v4_mluc({{"de", "DE", u"Bildschirm P3"}, {"en", "US", u"Display P3"}}));
  EXPECT_EQ(icc_description(profile), "Display P3");
  auto first_only = icc_profile(v4_mluc({{"fr", "FR", u"\u00C9cran P3"}, {"ja", "JP", u"P3"}}));
  EXPECT_EQ(icc_description(first_only), "\xC3\x89" "cran P3");
}

TEST(IccDescription, DecodesUtf16BeyondAscii) {
  auto profile = icc_profile(v4_mluc({{"en", "GB", u"Wide \u03B3 \U0001F4F7"}}));
  EXPECT_EQ(icc_description(profile), "Wide \xCE\xB3 \xF0\x9F\x93\xB7");
  // An unpaired high surrogate becomes U+FFFD rather than invalid UTF-8.
  auto broken = icc_profile(v4_mluc({{"en", "US", std::u16string{u'A', char16_t(0xD83D), u'B'}}}));
  EXPECT_EQ(icc_description(broken), "A\xEF\xBF\xBD" "B");
}

TEST(IccDescription, MissingOrMalformedGivesEmpty) {
  EXPECT_EQ(icc_description(Bytes{}), "");
  EXPECT_EQ(icc_description(Bytes(132, 0)), "");
  // A 'desc' tag of an unknown type.
  Bytes other_type;
  put_text(other_type, "XYZ ");
  put_be32(other_type, 0);
  EXPECT_EQ(icc_description(icc_profile(other_type)), "");
  // ASCII length running past the element.
  auto element = v2_desc("sRGB");
  element[11] = 0xF0;
  EXPECT_EQ(icc_description(icc_profile(element)), "");
  // 'desc' tag offset pointing past the profile.
  auto profile = icc_profile(v2_desc("sRGB"));
  profile[128 + 4 + 12 + 4] = 0x7F;
  EXPECT_EQ(icc_description(profile), "");
  // Record size smaller than a record.
  auto mluc = v4_mluc({{"en", "US", u"Display P3"}});
  mluc[15] = 4;
  EXPECT_EQ(icc_description(icc_profile(mluc)), "");
}

TEST(IccDescription, TruncatedProfilesNeverCrash) {
  auto v2 = icc_profile(v2_desc("Adobe RGB (1998)"));
  auto v4 = icc_profile(v4_mluc({{"en", "US", u"Display P3"}}));
  for (const auto& whole : {v2, v4}) {
    for (std::size_t length = 0; length < whole.size(); ++length) {
      Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(length));
      auto description = icc_description(prefix);
      EXPECT_TRUE(description.empty()) << length << ": " << description;
    }
    EXPECT_FALSE(icc_description(whole).empty());
  }
}

// A TIFF keeps its EXIF in the file's own IFDs, where libvips does not look:
// capture time and camera come from there, as from a JPEG's APP1. The tags
// are written by exiftool, as a photographer's software would.
TEST(ProbeHeader, TiffSourceGivesItsCameraFacts) {
  WSP_REQUIRE_TOOL(std::system("exiftool -ver >/dev/null 2>&1") == 0, "exiftool is needed to tag the TIFF");
  wsp::imaging::start_imaging();
  wsp::testing::TempDir dir;
  vips::VImage image = vips::VImage::black(64, 48, vips::VImage::option()->set("bands", 3))
                           .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  for (const char* name : {"frame.tif", "frame.jpg"}) {
    SCOPED_TRACE(name);
    const auto file = dir.path() / name;
    image.write_to_file(file.c_str());
    const std::string command =
        "exiftool -q -overwrite_original -Make=Nikon -Model='Z 8' -SerialNumber=3001234 "
        "'-DateTimeOriginal=2026:06:13 14:05:09' -OffsetTimeOriginal=+02:00 -ISO=400 -FNumber=2.8 "
        "-ExposureTime=1/250 -Artist='Ada Lovelace' '" + file.string() + "'";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto header = wsp::imaging::probe_header(bytes, 1'000'000);
    ASSERT_TRUE(header.ok()) << header.message();
    const CameraFacts& facts = header->camera;
    EXPECT_EQ(facts.make, "Nikon");
    EXPECT_EQ(facts.model, "Z 8");
    EXPECT_EQ(facts.serial, "3001234");
    EXPECT_EQ(facts.capture_time, "2026-06-13T14:05:09");
    EXPECT_EQ(facts.capture_offset, "+02:00");
    EXPECT_EQ(facts.iso, 400);
    EXPECT_EQ(facts.aperture, 2.8);
    EXPECT_EQ(facts.shutter, "1/250");
    EXPECT_EQ(facts.artist, "Ada Lovelace");
    EXPECT_EQ(header->width, 64);
  }
}

}  // namespace
