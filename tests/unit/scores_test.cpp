// The local tagger's measurements, on images made here with known properties:
// blurred copies of a scene, exposure shifts, flat colour areas, shifted and
// brightened copies, and bursts of frames with capture times.

#include "tagging/scores.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using wsp::tagging::FrameFacts;
using wsp::tagging::Group;
using wsp::tagging::Pixels;

struct TestRandom {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  int between(int low, int high) { return low + int(next() % std::uint64_t(high - low + 1)); }
};

std::uint8_t clamp_byte(double value) { return std::uint8_t(std::clamp(std::lround(value), 0L, 255L)); }

Pixels blank(int width, int height) {
  return {width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
}

Pixels flat(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  Pixels image = blank(width, height);
  for (std::size_t i = 0; i < image.rgb.size(); i += 3) {
    image.rgb[i] = r;
    image.rgb[i + 1] = g;
    image.rgb[i + 2] = b;
  }
  return image;
}

// A made-up photograph: a diagonal gradient behind a few dozen discs and
// rectangles, laid out relative to the frame so that the same seed draws the
// same scene at any size. Edges are anti-aliased by the share of each pixel a
// shape covers, as in a photograph shrunk from the camera's resolution.
// Tones stay within 35..215.
Pixels scene(int width, int height, std::uint64_t seed) {
  struct Shape {
    bool disc;
    double cx, cy, rx, ry;
    double rgb[3];
  };
  TestRandom random{seed};
  std::vector<Shape> shapes;
  for (int i = 0; i < 40; ++i) {
    Shape s{random.next() % 2 == 0,
            random.unit() * width,
            random.unit() * height,
            (0.03 + 0.12 * random.unit()) * width,
            (0.03 + 0.12 * random.unit()) * height,
            {}};
    for (double& c : s.rgb) c = random.between(35, 215);
    shapes.push_back(s);
  }
  int tone_a = random.between(60, 190), tone_b = random.between(60, 190);
  Pixels image = blank(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double px = x + 0.5, py = y + 0.5;
      double t = (px / width + py / height) / 2;
      double base = tone_a * (1 - t) + tone_b * t;
      double rgb[3] = {base, base, base / 2 + 40};
      for (const Shape& s : shapes) {
        double dx = px - s.cx, dy = py - s.cy, coverage;
        if (std::abs(dx) > s.rx + 1 || std::abs(dy) > s.ry + 1) continue;
        if (s.disc) {
          // Signed distance to the ellipse in pixels, to first order.
          double f = std::hypot(dx / s.rx, dy / s.ry);
          double gradient = std::hypot(dx / (s.rx * s.rx), dy / (s.ry * s.ry)) / std::max(f, 1e-9);
          coverage = f == 0 ? 1 : std::clamp(0.5 - (f - 1) / gradient, 0.0, 1.0);
        } else {
          coverage = std::clamp(s.rx - std::abs(dx) + 0.5, 0.0, 1.0) * std::clamp(s.ry - std::abs(dy) + 0.5, 0.0, 1.0);
        }
        for (int c = 0; c < 3; ++c) rgb[c] += coverage * (s.rgb[c] - rgb[c]);
      }
      std::uint8_t* out = &image.rgb[(std::size_t(y) * width + x) * 3];
      for (int c = 0; c < 3; ++c) out[c] = clamp_byte(rgb[c]);
    }
  }
  return image;
}

// Separable box blur of the given radius, edges clamped.
Pixels box_blur(const Pixels& image, int radius) {
  auto pass = [radius](const Pixels& in, bool horizontal) {
    Pixels out = blank(in.width, in.height);
    for (int y = 0; y < in.height; ++y) {
      for (int x = 0; x < in.width; ++x) {
        for (int c = 0; c < 3; ++c) {
          int sum = 0;
          for (int k = -radius; k <= radius; ++k) {
            int sx = horizontal ? std::clamp(x + k, 0, in.width - 1) : x;
            int sy = horizontal ? y : std::clamp(y + k, 0, in.height - 1);
            sum += in.rgb[(std::size_t(sy) * in.width + sx) * 3 + c];
          }
          out.rgb[(std::size_t(y) * in.width + x) * 3 + c] = clamp_byte(double(sum) / (2 * radius + 1));
        }
      }
    }
    return out;
  };
  return pass(pass(image, true), false);
}

// Averages 2x2 blocks, as a shrink-on-load decode would.
Pixels half_size(const Pixels& image) {
  Pixels out = blank(image.width / 2, image.height / 2);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int k = 0; k < 4; ++k) {
          sum += image.rgb[(std::size_t(2 * y + k / 2) * image.width + 2 * x + k % 2) * 3 + c];
        }
        out.rgb[(std::size_t(y) * out.width + x) * 3 + c] = clamp_byte(sum / 4.0);
      }
    }
  }
  return out;
}

Pixels map_values(const Pixels& image, double scale, double offset) {
  Pixels out = image;
  for (auto& value : out.rgb) value = clamp_byte(value * scale + offset);
  return out;
}

Pixels add_noise(const Pixels& image, int amplitude, std::uint64_t seed) {
  TestRandom random{seed};
  Pixels out = image;
  for (auto& value : out.rgb) value = clamp_byte(value + random.between(-amplitude, amplitude));
  return out;
}

// The scene moved by (dx, dy) pixels, edges repeated.
Pixels shifted(const Pixels& image, int dx, int dy) {
  Pixels out = blank(image.width, image.height);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      int sx = std::clamp(x - dx, 0, image.width - 1), sy = std::clamp(y - dy, 0, image.height - 1);
      for (int c = 0; c < 3; ++c) {
        out.rgb[(std::size_t(y) * image.width + x) * 3 + c] = image.rgb[(std::size_t(sy) * image.width + sx) * 3 + c];
      }
    }
  }
  return out;
}

double sharpness(const Pixels& image) { return wsp::tagging::technical_scores(image).sharpness; }

TEST(Sharpness, DropsMonotonicallyWithBlurRadius) {
  Pixels sharp = scene(512, 384, 1);
  double previous = sharpness(sharp);
  ASSERT_GT(previous, 0);
  double first_blur = sharpness(box_blur(sharp, 1));
  EXPECT_LT(first_blur, 0.5 * previous) << "a one-pixel blur is clearly visible";
  for (int radius : {1, 2, 3, 5, 8}) {
    double blurred = sharpness(box_blur(sharp, radius));
    EXPECT_LT(blurred, previous) << "radius " << radius;
    previous = blurred;
  }
}

TEST(Sharpness, RanksSharpOverBlurredForManyScenes) {
  for (std::uint64_t seed = 10; seed < 16; ++seed) {
    Pixels sharp = scene(384, 512, seed);
    EXPECT_GT(sharpness(sharp), sharpness(box_blur(sharp, 1))) << "seed " << seed;
  }
}

// The documented factor: a 256-px copy scores within 1.5x of the 512-px original.
TEST(Sharpness, RoughlyIndependentOfImageSize) {
  for (std::uint64_t seed = 20; seed < 24; ++seed) {
    Pixels large = scene(512, 384, seed);
    double reference = sharpness(large);
    for (const Pixels& small : {half_size(large), scene(256, 192, seed)}) {
      double ratio = sharpness(small) / reference;
      EXPECT_GT(ratio, 1 / 1.5) << "seed " << seed;
      EXPECT_LT(ratio, 1.5) << "seed " << seed;
    }
  }
}

TEST(Sharpness, ZeroForFlatTinyAndInvalidImages) {
  EXPECT_EQ(sharpness(flat(64, 64, 120, 80, 40)), 0);
  EXPECT_EQ(sharpness(scene(2, 2, 3)), 0);
  Pixels broken{10, 10, std::vector<std::uint8_t>(5)};
  auto scores = wsp::tagging::technical_scores(broken);
  EXPECT_EQ(scores.sharpness, 0);
  EXPECT_EQ(scores.mean_luminance, 0);
  EXPECT_FALSE(scores.overexposed || scores.underexposed);
}

TEST(Exposure, ClippedSharesUseLumaThresholds) {
  Pixels image = blank(10, 10);
  // Rows of grey levels: 0, 5, 6, 249, 250, 255 and the rest mid-grey.
  const int levels[10] = {0, 5, 6, 249, 250, 255, 128, 128, 128, 128};
  for (int y = 0; y < 10; ++y) {
    for (int i = 0; i < 30; ++i) image.rgb[std::size_t(y) * 30 + i] = std::uint8_t(levels[y]);
  }
  auto scores = wsp::tagging::technical_scores(image);
  EXPECT_DOUBLE_EQ(scores.clipped_shadows, 0.2);
  EXPECT_DOUBLE_EQ(scores.clipped_highlights, 0.2);
  EXPECT_NEAR(scores.mean_luminance, (0 + 5 + 6 + 249 + 250 + 255 + 4 * 128) / 10.0 / 255, 1e-9);
}

TEST(Exposure, FlagsOverAndUnderExposedCopies) {
  Pixels normal = scene(512, 341, 30);
  auto good = wsp::tagging::technical_scores(normal);
  EXPECT_FALSE(good.overexposed);
  EXPECT_FALSE(good.underexposed);
  EXPECT_EQ(good.exposure_error, 0);

  auto over = wsp::tagging::technical_scores(map_values(normal, 1.6, 70));
  EXPECT_TRUE(over.overexposed);
  EXPECT_FALSE(over.underexposed);
  EXPECT_GT(over.exposure_error, 0.1);

  auto under = wsp::tagging::technical_scores(map_values(normal, 0.3, -10));
  EXPECT_TRUE(under.underexposed);
  EXPECT_FALSE(under.overexposed);
  EXPECT_GT(under.exposure_error, 0.1);
}

TEST(Exposure, ErrorGrowsWithDistanceFromMidTones) {
  Pixels normal = scene(256, 256, 31);
  double previous = 0;
  for (int offset : {40, 70, 100, 130}) {
    double brighter = wsp::tagging::technical_scores(map_values(normal, 1, offset)).exposure_error;
    EXPECT_GT(brighter, previous) << "+" << offset;
    previous = brighter;
  }
  previous = 0;
  for (double scale : {0.5, 0.35, 0.2, 0.1}) {
    double darker = wsp::tagging::technical_scores(map_values(normal, scale, 0)).exposure_error;
    EXPECT_GT(darker, previous) << "x" << scale;
    previous = darker;
  }
}

// 70% of the frame a navy suit (with fabric noise), 30% an ivory dress.
Pixels navy_and_ivory(int width, int height) {
  Pixels image = blank(width, height);
  TestRandom random{40};
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      bool navy = x < width * 7 / 10;
      int base[3] = {navy ? 28 : 240, navy ? 36 : 234, navy ? 82 : 216};
      for (int c = 0; c < 3; ++c) {
        image.rgb[(std::size_t(y) * width + x) * 3 + c] = clamp_byte(base[c] + random.between(-6, 6));
      }
    }
  }
  return image;
}

TEST(Palette, NavyAndIvoryWithTheirShares) {
  auto colours = wsp::tagging::palette(navy_and_ivory(500, 400));
  ASSERT_EQ(colours.size(), 2u);
  EXPECT_EQ(colours[0].name, "navy");
  EXPECT_NEAR(colours[0].share, 0.7, 0.03);
  EXPECT_EQ(colours[1].name, "ivory");
  EXPECT_NEAR(colours[1].share, 0.3, 0.03);
  EXPECT_NEAR(colours[0].r, 28, 4);
  EXPECT_NEAR(colours[0].b, 82, 4);
  EXPECT_EQ(wsp::tagging::dominant_colour_name(colours), "navy");
}

TEST(Palette, SmallImageUsesEveryPixel) {
  auto colours = wsp::tagging::palette(navy_and_ivory(50, 40));
  ASSERT_EQ(colours.size(), 2u);
  EXPECT_NEAR(colours[0].share, 0.7, 1e-9);
  EXPECT_NEAR(colours[1].share, 0.3, 1e-9);
}

TEST(Palette, DeterministicSortedAndSummingToOne) {
  Pixels image = scene(512, 384, 41);
  auto first = wsp::tagging::palette(image);
  auto second = wsp::tagging::palette(image);
  ASSERT_FALSE(first.empty());
  ASSERT_LE(first.size(), 5u);
  ASSERT_EQ(first.size(), second.size());
  double total = 0;
  std::set<std::string> known(wsp::tagging::colour_names().begin(), wsp::tagging::colour_names().end());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].r, second[i].r);
    EXPECT_EQ(first[i].g, second[i].g);
    EXPECT_EQ(first[i].b, second[i].b);
    EXPECT_EQ(first[i].share, second[i].share);
    EXPECT_EQ(first[i].name, second[i].name);
    EXPECT_TRUE(known.count(first[i].name)) << first[i].name;
    if (i > 0) {
      EXPECT_GE(first[i - 1].share, first[i].share);
    }
    total += first[i].share;
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_LE(wsp::tagging::palette(image, 3).size(), 3u);
}

TEST(Palette, FlatColourIsOneNamedEntry) {
  struct Case {
    std::uint8_t r, g, b;
    const char* name;
  };
  for (const Case& c :
       {Case{255, 255, 255, "white"}, Case{0, 0, 0, "black"}, Case{128, 0, 32, "burgundy"}, Case{150, 170, 130, "sage"},
        Case{0, 0, 128, "navy"}, Case{230, 190, 180, "blush"}, Case{210, 170, 60, "gold"}}) {
    auto colours = wsp::tagging::palette(flat(80, 60, c.r, c.g, c.b));
    ASSERT_EQ(colours.size(), 1u) << c.name;
    EXPECT_EQ(colours[0].name, c.name);
    EXPECT_DOUBLE_EQ(colours[0].share, 1.0);
    EXPECT_NEAR(colours[0].r, c.r, 1);
    EXPECT_NEAR(colours[0].g, c.g, 1);
    EXPECT_NEAR(colours[0].b, c.b, 1);
  }
}

TEST(Palette, NamesAreTheDocumentedTwenty) {
  EXPECT_EQ(wsp::tagging::colour_names(),
            (std::vector<std::string>{"white", "ivory",  "black",  "grey",     "red",   "burgundy", "pink",
                                      "blush", "orange", "gold",   "yellow",   "green", "sage",     "teal",
                                      "blue",  "navy",   "purple", "lavender", "brown", "beige"}));
}

TEST(Palette, EmptyForEmptyImageOrNoColours) {
  EXPECT_TRUE(wsp::tagging::palette(Pixels{}).empty());
  EXPECT_TRUE(wsp::tagging::palette(scene(32, 32, 1), 0).empty());
  EXPECT_EQ(wsp::tagging::dominant_colour_name({}), "");
}

TEST(DominantColourName, SumsSharesOfClustersWithTheSameName) {
  std::vector<wsp::tagging::PaletteColour> colours = {
      {0, 0, 0, 0.4, "ivory"}, {0, 0, 0, 0.35, "sage"}, {0, 0, 0, 0.25, "sage"}};
  EXPECT_EQ(wsp::tagging::dominant_colour_name(colours), "sage");
}

int distance(const Pixels& a, const Pixels& b) {
  return wsp::tagging::hamming_distance(wsp::tagging::perceptual_hash(a), wsp::tagging::perceptual_hash(b));
}

TEST(PerceptualHash, IdenticalImagesHashIdentically) {
  Pixels image = scene(512, 384, 50);
  EXPECT_EQ(wsp::tagging::perceptual_hash(image), wsp::tagging::perceptual_hash(Pixels(image)));
  EXPECT_NE(wsp::tagging::perceptual_hash(image), 0u);
  EXPECT_EQ(wsp::tagging::perceptual_hash(image) & 1u, 0u) << "the DC bit is always clear";
  EXPECT_EQ(wsp::tagging::perceptual_hash(Pixels{}), 0u);
}

TEST(PerceptualHash, FlatImagesHashToZero) {
  EXPECT_EQ(wsp::tagging::perceptual_hash(flat(512, 384, 0, 0, 0)), 0u);
  EXPECT_EQ(wsp::tagging::perceptual_hash(flat(300, 200, 90, 140, 200)), 0u);
  EXPECT_EQ(wsp::tagging::perceptual_hash(flat(1, 1, 255, 255, 255)), 0u);
}

TEST(PerceptualHash, SmallDistanceForBrightenedShiftedOrResizedCopies) {
  for (std::uint64_t seed = 51; seed < 55; ++seed) {
    Pixels image = scene(512, 384, seed);
    EXPECT_LE(distance(image, map_values(image, 1.0, 15)), 6) << "brightened, seed " << seed;
    EXPECT_LE(distance(image, map_values(image, 1.1, 0)), 6) << "more contrast, seed " << seed;
    EXPECT_LE(distance(image, shifted(image, 4, 3)), 6) << "shifted, seed " << seed;
    EXPECT_LE(distance(image, half_size(image)), 6) << "half size, seed " << seed;
    EXPECT_LE(distance(image, add_noise(image, 10, seed)), 6) << "noisy, seed " << seed;
  }
}

TEST(PerceptualHash, LargeDistanceForUnrelatedImages) {
  std::vector<Pixels> images;
  for (std::uint64_t seed = 60; seed < 66; ++seed) images.push_back(scene(512, 384, seed));
  for (std::size_t i = 0; i < images.size(); ++i) {
    for (std::size_t j = i + 1; j < images.size(); ++j) {
      EXPECT_GE(distance(images[i], images[j]), 20) << i << " vs " << j;
    }
  }
}

TEST(HammingDistance, CountsDifferingBits) {
  EXPECT_EQ(wsp::tagging::hamming_distance(0, 0), 0);
  EXPECT_EQ(wsp::tagging::hamming_distance(0, ~std::uint64_t{0}), 64);
  EXPECT_EQ(wsp::tagging::hamming_distance(0b1011, 0b0110), 3);
}

FrameFacts facts_of(std::int64_t id, std::optional<std::int64_t> time, const Pixels& image) {
  auto scores = wsp::tagging::technical_scores(image);
  return {id, time, wsp::tagging::perceptual_hash(image), scores.sharpness, scores.exposure_error};
}

TEST(GroupNearDuplicates, BurstGroupsAndPicksTheSharpestFrame) {
  const std::int64_t t0 = 1'781'350'000'000;  // 2026-06-13, mid-ceremony
  Pixels moment = scene(512, 341, 70);
  std::vector<FrameFacts> frames;
  // Four frames 0.3 s apart: camera shake blurs all but frame 3.
  const int blur[4] = {2, 1, 0, 3};
  for (int i = 0; i < 4; ++i) {
    Pixels frame = add_noise(shifted(moment, i, 0), 3, 100 + i);
    if (blur[i] > 0) frame = box_blur(frame, blur[i]);
    frames.push_back(facts_of(1 + i, t0 + 300 * i, frame));
  }
  // A second photographer's unrelated frame at the same moment.
  frames.push_back(facts_of(5, t0 + 450, scene(512, 341, 71)));
  // The same framing ten minutes later: its own pair, not part of the burst.
  frames.push_back(facts_of(6, t0 + 600'000, moment));
  frames.push_back(facts_of(7, t0 + 600'400, box_blur(moment, 1)));

  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].members, (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(groups[0].best, 3);
  EXPECT_EQ(groups[1].members, (std::vector<std::int64_t>{6, 7}));
  EXPECT_EQ(groups[1].best, 6);
}

TEST(GroupNearDuplicates, TimeWindowChainsThroughNeighbours) {
  std::vector<FrameFacts> frames;
  for (int i = 0; i < 5; ++i) frames.push_back({10 + i, 2500 * i, 0xF0F0, 1.0, 0});
  frames.push_back({20, 2500 * 4 + 3001, 0xF0F0, 1.0, 0});
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].members, (std::vector<std::int64_t>{10, 11, 12, 13, 14}));
}

TEST(GroupNearDuplicates, HashDistanceLimitIsInclusive) {
  std::vector<FrameFacts> frames = {{1, 0, 0, 1, 0}, {2, 100, 0x3FF, 1, 0}, {3, 200, 0x7FF00000, 1, 0}};
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].members, (std::vector<std::int64_t>{1, 2})) << "10 bits apart joins, 11 does not";
}

TEST(GroupNearDuplicates, UntimedFramesGroupByHashAloneAtHalfTheDistance) {
  std::vector<FrameFacts> frames = {
      {1, std::nullopt, 0, 1, 0},
      {2, std::nullopt, 0x1F, 2, 0},    // 5 bits from frame 1: joins
      {3, std::nullopt, 0x3F00, 3, 0},  // 6 bits from frame 1, 11 from frame 2: alone
      {4, 0, 0, 9, 0},                  // timed: never joins untimed frames
      {5, 1000, 0x1, 1, 0},             // joins 4 by time and hash
  };
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].members, (std::vector<std::int64_t>{4, 5}));
  EXPECT_EQ(groups[0].best, 4);
  EXPECT_EQ(groups[1].members, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(groups[1].best, 2);
}

TEST(GroupNearDuplicates, BestBreaksTiesByExposureThenId) {
  std::vector<FrameFacts> frames = {
      {7, 0, 0, 5.0, 0.2}, {3, 100, 0, 5.0, 0.1}, {9, 200, 0, 5.0, 0.1}, {1, 300, 0, 4.0, 0.0}};
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].best, 3);
  frames[1].exposure_error = 0.3;
  EXPECT_EQ(wsp::tagging::group_near_duplicates(frames)[0].best, 9);
}

TEST(GroupNearDuplicates, ABlinkLosesTheBestPickToOpenEyes) {
  // Frame 2 is the sharpest of the burst, but someone blinked in it.
  std::vector<FrameFacts> frames = {{1, 0, 0, 5.0, 0.1}, {2, 300, 0, 9.0, 0.0}, {3, 600, 0, 4.0, 0.0}};
  frames[1].eyes_closed = true;
  frames[0].face_sharpness = frames[1].face_sharpness = frames[2].face_sharpness = 100;
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].best, 1) << "the sharpest frame with open eyes";
  // Everyone blinked: then the usual order holds.
  frames[0].eyes_closed = frames[2].eyes_closed = true;
  EXPECT_EQ(wsp::tagging::group_near_duplicates(frames)[0].best, 2);
}

TEST(GroupNearDuplicates, TheSharpestFaceWinsOverTheSharpestFrame) {
  // Frame 1 is sharper overall (the background), frame 2 has the face in focus.
  std::vector<FrameFacts> frames = {{1, 0, 0, 9.0, 0.0}, {2, 300, 0, 5.0, 0.0}, {3, 600, 0, 7.0, 0.0}};
  frames[0].face_sharpness = 40;
  frames[1].face_sharpness = 120;
  auto groups = wsp::tagging::group_near_duplicates(frames);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].best, 2);
}

TEST(GroupNearDuplicates, IndependentOfInputOrder) {
  std::vector<FrameFacts> frames;
  TestRandom random{80};
  for (int i = 0; i < 40; ++i) {
    std::optional<std::int64_t> time;
    if (i % 7 != 0) time = std::int64_t(random.between(0, 20'000));
    frames.push_back({i, time, std::uint64_t{1} << random.between(0, 3), random.unit(), random.unit(),
                      random.between(0, 3) == 0, random.between(0, 2) == 0 ? 0.0 : random.unit()});
  }
  auto expected = wsp::tagging::group_near_duplicates(frames);
  ASSERT_FALSE(expected.empty());
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = frames.size() - 1; i > 0; --i) std::swap(frames[i], frames[random.next() % (i + 1)]);
    auto groups = wsp::tagging::group_near_duplicates(frames);
    ASSERT_EQ(groups.size(), expected.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      EXPECT_EQ(groups[g].members, expected[g].members);
      EXPECT_EQ(groups[g].best, expected[g].best);
    }
  }
}

TEST(GroupNearDuplicates, NothingToGroup) {
  EXPECT_TRUE(wsp::tagging::group_near_duplicates({}).empty());
  EXPECT_TRUE(wsp::tagging::group_near_duplicates({{1, 0, 0, 1, 0}}).empty());
}

}  // namespace
