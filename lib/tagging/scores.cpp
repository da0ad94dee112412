#include "tagging/scores.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <numeric>
#include <utility>

namespace wsp::tagging {
namespace {

constexpr int k_reference_edge = 512;
constexpr double k_highlight_clip = 250.0;
constexpr double k_shadow_clip = 5.0;

constexpr double k_mid_tones_low = 0.30;
constexpr double k_mid_tones_high = 0.62;
constexpr double k_allowed_highlights = 0.01;
constexpr double k_allowed_shadows = 0.02;
constexpr double k_overexposed_mean = 0.70;
constexpr double k_overexposed_highlights = 0.10;
constexpr double k_underexposed_mean = 0.20;
constexpr double k_underexposed_shadows = 0.30;

constexpr int k_palette_samples = 4096;
constexpr int k_kmeans_iterations = 30;
constexpr double k_merge_distance = 10.0;
constexpr std::uint64_t k_palette_seed = 0x5eed'c010'0a11'e77eULL;

constexpr int k_hash_size = 32;
constexpr int k_hash_block = 8;

bool is_valid(const Pixels& image) {
  return image.width > 0 && image.height > 0 &&
         image.rgb.size() == std::size_t(image.width) * std::size_t(image.height) * 3;
}

// Integer weights, so that a grey pixel's luma is exactly its value and the
// clipping thresholds are not at the mercy of rounding.
double luma_at(const Pixels& image, std::size_t pixel) {
  const std::uint8_t* p = &image.rgb[pixel * 3];
  return (2126 * p[0] + 7152 * p[1] + 722 * p[2]) / 10000.0;
}

std::vector<double> luma_of(const Pixels& image) {
  std::vector<double> luma(std::size_t(image.width) * image.height);
  for (std::size_t i = 0; i < luma.size(); ++i) luma[i] = luma_at(image, i);
  return luma;
}

double laplacian_variance(const std::vector<double>& luma, int width, int height) {
  if (width < 3 || height < 3) return 0;
  double sum = 0, sum_squares = 0;
  for (int y = 1; y + 1 < height; ++y) {
    const double* row = &luma[std::size_t(y) * width];
    const double* above = row - width;
    const double* below = row + width;
    for (int x = 1; x + 1 < width; ++x) {
      double value = row[x - 1] + row[x + 1] + above[x] + below[x] - 4 * row[x];
      sum += value;
      sum_squares += value * value;
    }
  }
  double count = double(width - 2) * (height - 2);
  double mean = sum / count;
  return std::max(0.0, sum_squares / count - mean * mean);
}

// splitmix64: tiny, and unlike <random>'s distributions it gives the same
// numbers with every standard library.
struct SeededRandom {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  int below(int n) { return int(next() % std::uint64_t(n)); }
};

using Lab = std::array<double, 3>;

constexpr double k_white_x = 0.95047, k_white_y = 1.0, k_white_z = 1.08883;
constexpr double k_lab_epsilon = 216.0 / 24389.0;
constexpr double k_lab_kappa = 24389.0 / 27.0;

const std::array<double, 256>& linear_table() {
  static const std::array<double, 256> table = [] {
    std::array<double, 256> t{};
    for (int i = 0; i < 256; ++i) {
      double v = i / 255.0;
      t[i] = v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
    }
    return t;
  }();
  return table;
}

double lab_f(double t) { return t > k_lab_epsilon ? std::cbrt(t) : (k_lab_kappa * t + 16) / 116; }
double lab_f_inverse(double f) {
  double cube = f * f * f;
  return cube > k_lab_epsilon ? cube : (116 * f - 16) / k_lab_kappa;
}

Lab lab_of(std::uint8_t r8, std::uint8_t g8, std::uint8_t b8) {
  const auto& lin = linear_table();
  double r = lin[r8], g = lin[g8], b = lin[b8];
  double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  double fx = lab_f(x / k_white_x), fy = lab_f(y / k_white_y), fz = lab_f(z / k_white_z);
  return {116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)};
}

std::uint8_t encode_srgb(double linear) {
  double v = std::clamp(linear, 0.0, 1.0);
  v = v <= 0.0031308 ? 12.92 * v : 1.055 * std::pow(v, 1 / 2.4) - 0.055;
  return std::uint8_t(std::lround(std::clamp(v, 0.0, 1.0) * 255));
}

std::array<std::uint8_t, 3> srgb_of(const Lab& lab) {
  double fy = (lab[0] + 16) / 116;
  double fx = fy + lab[1] / 500;
  double fz = fy - lab[2] / 200;
  double x = lab_f_inverse(fx) * k_white_x;
  double y = (lab[0] > k_lab_kappa * k_lab_epsilon ? fy * fy * fy : lab[0] / k_lab_kappa) * k_white_y;
  double z = lab_f_inverse(fz) * k_white_z;
  double r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
  double g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z;
  double b = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
  return {encode_srgb(r), encode_srgb(g), encode_srgb(b)};
}

double distance_squared(const Lab& a, const Lab& b) {
  double d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
  return d0 * d0 + d1 * d1 + d2 * d2;
}

struct NamedColour {
  std::string name;
  Lab lab;
};

// Reference swatches, several for a word whose meaning is broad (navy is
// both the web's 0,0,128 and a suit's greyer blue; grey runs from charcoal
// to silver; purple takes in plum), chosen for how the words are used of
// dresses, suits, flowers and venues rather than to match a standard list.
const std::vector<NamedColour>& named_colours() {
  static const std::vector<NamedColour> table = [] {
    struct Swatch {
      const char* name;
      std::uint8_t r, g, b;
    };
    constexpr Swatch swatches[] = {
        {"white", 255, 255, 255},    {"white", 248, 248, 245},    {"ivory", 243, 237, 220},  {"ivory", 255, 255, 240},
        {"ivory", 250, 240, 230},    {"black", 15, 15, 15},       {"black", 0, 0, 0},        {"grey", 128, 128, 128},
        {"grey", 190, 190, 190},     {"grey", 210, 210, 210},     {"grey", 80, 80, 80},      {"red", 200, 30, 40},
        {"red", 255, 0, 0},          {"burgundy", 128, 0, 32},    {"burgundy", 100, 20, 30}, {"pink", 240, 130, 170},
        {"pink", 255, 105, 180},     {"blush", 235, 190, 185},    {"blush", 255, 210, 205},  {"orange", 240, 130, 40},
        {"orange", 255, 165, 0},     {"gold", 212, 175, 55},      {"gold", 184, 134, 11},    {"yellow", 250, 220, 60},
        {"yellow", 255, 255, 0},     {"green", 50, 150, 60},      {"green", 0, 100, 0},      {"green", 30, 70, 40},
        {"green", 128, 128, 0},      {"sage", 156, 175, 136},     {"sage", 178, 190, 160},   {"teal", 0, 128, 128},
        {"teal", 64, 180, 170},      {"blue", 40, 90, 200},       {"blue", 0, 0, 255},       {"blue", 135, 206, 235},
        {"blue", 70, 130, 180},      {"navy", 20, 30, 90},        {"navy", 0, 0, 128},       {"navy", 25, 25, 112},
        {"purple", 110, 50, 150},    {"purple", 128, 0, 128},     {"purple", 75, 0, 130},    {"purple", 125, 75, 115},
        {"lavender", 190, 170, 220}, {"lavender", 230, 230, 250}, {"brown", 120, 75, 40},    {"brown", 139, 69, 19},
        {"brown", 70, 45, 30},       {"beige", 220, 200, 165},    {"beige", 210, 180, 140},
    };
    std::vector<NamedColour> colours;
    for (const Swatch& s : swatches) colours.push_back({s.name, lab_of(s.r, s.g, s.b)});
    return colours;
  }();
  return table;
}

const std::string& name_of(const Lab& lab) {
  const auto& table = named_colours();
  std::size_t nearest = 0;
  for (std::size_t i = 1; i < table.size(); ++i) {
    if (distance_squared(lab, table[i].lab) < distance_squared(lab, table[nearest].lab)) nearest = i;
  }
  return table[nearest].name;
}

// One random pixel per cell of a grid over the image, so that the sample
// covers the frame evenly and cannot alias with a regular pattern.
std::vector<Lab> sample_lab(const Pixels& image, SeededRandom& random) {
  const std::size_t pixels = std::size_t(image.width) * image.height;
  std::vector<Lab> samples;
  auto add = [&](std::size_t index) {
    const std::uint8_t* p = &image.rgb[index * 3];
    samples.push_back(lab_of(p[0], p[1], p[2]));
  };
  if (pixels <= std::size_t(k_palette_samples)) {
    samples.reserve(pixels);
    for (std::size_t i = 0; i < pixels; ++i) add(i);
    return samples;
  }
  double aspect = double(image.width) / image.height;
  int columns = std::clamp(int(std::sqrt(k_palette_samples * aspect)), 1, image.width);
  int rows = std::clamp(k_palette_samples / columns, 1, image.height);
  samples.reserve(std::size_t(columns) * rows);
  for (int row = 0; row < rows; ++row) {
    int y0 = int(std::int64_t(row) * image.height / rows);
    int y1 = int(std::int64_t(row + 1) * image.height / rows);
    for (int column = 0; column < columns; ++column) {
      int x0 = int(std::int64_t(column) * image.width / columns);
      int x1 = int(std::int64_t(column + 1) * image.width / columns);
      int x = x0 + random.below(x1 - x0);
      int y = y0 + random.below(y1 - y0);
      add(std::size_t(y) * image.width + x);
    }
  }
  return samples;
}

std::size_t nearest_centre(const Lab& colour, const std::vector<Lab>& centres) {
  std::size_t nearest = 0;
  double best = distance_squared(colour, centres[0]);
  for (std::size_t c = 1; c < centres.size(); ++c) {
    double d = distance_squared(colour, centres[c]);
    if (d < best) {
      best = d;
      nearest = c;
    }
  }
  return nearest;
}

// k-means++: each next centre is drawn with probability proportional to its
// squared distance from the centres so far; stops early when every sample
// already sits on a centre (fewer distinct colours than asked for).
std::vector<Lab> seed_centres(const std::vector<Lab>& samples, int colours, SeededRandom& random) {
  std::vector<Lab> centres{samples[random.below(int(samples.size()))]};
  std::vector<double> distances(samples.size());
  while (int(centres.size()) < colours) {
    double total = 0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      distances[i] = distance_squared(samples[i], centres[nearest_centre(samples[i], centres)]);
      total += distances[i];
    }
    if (total <= 0) break;
    double target = random.unit() * total;
    std::size_t chosen = samples.size();
    for (std::size_t i = 0; i < samples.size(); ++i) {
      if (distances[i] <= 0) continue;
      chosen = i;
      target -= distances[i];
      if (target < 0) break;
    }
    centres.push_back(samples[chosen]);
  }
  return centres;
}

struct Cluster {
  Lab centre;
  std::size_t count;
};

std::vector<Cluster> kmeans(const std::vector<Lab>& samples, std::vector<Lab> centres) {
  std::vector<std::size_t> assignment(samples.size(), centres.size());
  for (int iteration = 0; iteration < k_kmeans_iterations; ++iteration) {
    bool changed = false;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      std::size_t c = nearest_centre(samples[i], centres);
      if (c != assignment[i]) {
        changed = true;
        assignment[i] = c;
      }
    }
    if (!changed) break;
    std::vector<Lab> sums(centres.size(), Lab{0, 0, 0});
    std::vector<std::size_t> counts(centres.size(), 0);
    for (std::size_t i = 0; i < samples.size(); ++i) {
      for (int k = 0; k < 3; ++k) sums[assignment[i]][k] += samples[i][k];
      ++counts[assignment[i]];
    }
    // An emptied cluster keeps its old centre; it is dropped below if it stays empty.
    for (std::size_t c = 0; c < centres.size(); ++c) {
      if (counts[c] == 0) continue;
      for (int k = 0; k < 3; ++k) centres[c][k] = sums[c][k] / double(counts[c]);
    }
  }
  std::vector<Cluster> clusters;
  std::vector<std::size_t> counts(centres.size(), 0);
  for (std::size_t c : assignment) ++counts[c];
  for (std::size_t c = 0; c < centres.size(); ++c) {
    if (counts[c] > 0) clusters.push_back({centres[c], counts[c]});
  }
  return clusters;
}

// k-means splits a large textured area (a suit, a sky) into several clusters
// of almost the same colour; a palette shows that colour once.
void merge_close_clusters(std::vector<Cluster>& clusters) {
  while (clusters.size() > 1) {
    std::size_t first = 0, second = 0;
    double best = k_merge_distance * k_merge_distance;
    for (std::size_t i = 0; i < clusters.size(); ++i) {
      for (std::size_t j = i + 1; j < clusters.size(); ++j) {
        double d = distance_squared(clusters[i].centre, clusters[j].centre);
        if (d < best) {
          best = d;
          first = i;
          second = j;
        }
      }
    }
    if (first == second) return;
    Cluster& a = clusters[first];
    const Cluster& b = clusters[second];
    double total = double(a.count + b.count);
    for (int k = 0; k < 3; ++k) a.centre[k] = (a.centre[k] * a.count + b.centre[k] * b.count) / total;
    a.count += b.count;
    clusters.erase(clusters.begin() + std::ptrdiff_t(second));
  }
}

// Weights of source pixels for each destination pixel when `source` samples
// are averaged down (or spread up) to `destination`: the overlap of each
// source pixel with the destination pixel's footprint, summing to 1.
std::vector<std::vector<std::pair<int, double>>> area_weights(int source, int destination) {
  std::vector<std::vector<std::pair<int, double>>> weights(destination);
  double scale = double(source) / destination;
  for (int d = 0; d < destination; ++d) {
    double begin = d * scale, end = (d + 1) * scale;
    for (int s = int(std::floor(begin)); s < source && s < end; ++s) {
      double overlap = std::min(end, s + 1.0) - std::max(begin, double(s));
      if (overlap > 0) weights[d].push_back({s, overlap / scale});
    }
  }
  return weights;
}

std::vector<double> area_resize(const std::vector<double>& plane, int width, int height, int size) {
  auto across = area_weights(width, size);
  auto down = area_weights(height, size);
  std::vector<double> rows(std::size_t(height) * size, 0.0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < size; ++x) {
      double sum = 0;
      for (auto [s, w] : across[x]) sum += w * plane[std::size_t(y) * width + s];
      rows[std::size_t(y) * size + x] = sum;
    }
  }
  std::vector<double> resized(std::size_t(size) * size, 0.0);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      double sum = 0;
      for (auto [s, w] : down[y]) sum += w * rows[std::size_t(s) * size + x];
      resized[std::size_t(y) * size + x] = sum;
    }
  }
  return resized;
}

bool better_pick(const FrameFacts& a, const FrameFacts& b) {
  if (a.eyes_closed != b.eyes_closed) return b.eyes_closed;
  if (a.face_sharpness != b.face_sharpness) return a.face_sharpness > b.face_sharpness;
  if (a.sharpness != b.sharpness) return a.sharpness > b.sharpness;
  if (a.exposure_error != b.exposure_error) return a.exposure_error < b.exposure_error;
  return a.image_id < b.image_id;
}

struct DisjointSets {
  std::vector<std::size_t> parent;
  explicit DisjointSets(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), std::size_t{0}); }
  std::size_t find(std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  // The smaller index stays the root, so a group's root is its first frame.
  void join(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

}  // namespace

TechnicalScores technical_scores(const Pixels& image) {
  TechnicalScores scores;
  if (!is_valid(image)) return scores;
  std::vector<double> luma = luma_of(image);

  int long_edge = std::max(image.width, image.height);
  scores.sharpness = laplacian_variance(luma, image.width, image.height) * long_edge / k_reference_edge;

  std::size_t highlights = 0, shadows = 0;
  double sum = 0;
  for (double value : luma) {
    sum += value;
    if (value >= k_highlight_clip) ++highlights;
    if (value <= k_shadow_clip) ++shadows;
  }
  double count = double(luma.size());
  scores.clipped_highlights = highlights / count;
  scores.clipped_shadows = shadows / count;
  scores.mean_luminance = sum / count / 255.0;

  scores.overexposed =
      scores.mean_luminance > k_overexposed_mean || scores.clipped_highlights > k_overexposed_highlights;
  scores.underexposed = scores.mean_luminance < k_underexposed_mean || scores.clipped_shadows > k_underexposed_shadows;

  double tone_error =
      std::max({0.0, k_mid_tones_low - scores.mean_luminance, scores.mean_luminance - k_mid_tones_high});
  double clip_error = std::max(0.0, scores.clipped_highlights - k_allowed_highlights) +
                      std::max(0.0, scores.clipped_shadows - k_allowed_shadows);
  scores.exposure_error = tone_error + clip_error;
  return scores;
}

std::vector<PaletteColour> palette(const Pixels& image, int colours) {
  if (!is_valid(image) || colours <= 0) return {};
  SeededRandom random{k_palette_seed};
  std::vector<Lab> samples = sample_lab(image, random);
  std::vector<Cluster> clusters = kmeans(samples, seed_centres(samples, colours, random));
  merge_close_clusters(clusters);
  std::stable_sort(clusters.begin(), clusters.end(),
                   [](const Cluster& a, const Cluster& b) { return a.count > b.count; });

  std::vector<PaletteColour> result;
  for (const Cluster& cluster : clusters) {
    auto [r, g, b] = srgb_of(cluster.centre);
    result.push_back({r, g, b, double(cluster.count) / double(samples.size()), name_of(cluster.centre)});
  }
  return result;
}

std::string dominant_colour_name(const std::vector<PaletteColour>& palette) {
  std::vector<std::pair<std::string, double>> totals;
  for (const PaletteColour& colour : palette) {
    auto it = std::find_if(totals.begin(), totals.end(), [&](const auto& t) { return t.first == colour.name; });
    if (it == totals.end()) {
      totals.push_back({colour.name, colour.share});
    } else {
      it->second += colour.share;
    }
  }
  std::string dominant;
  double best = -1;
  for (const auto& [name, share] : totals) {
    if (share > best) {
      best = share;
      dominant = name;
    }
  }
  return dominant;
}

const std::vector<std::string>& colour_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const NamedColour& colour : named_colours()) {
      if (std::find(list.begin(), list.end(), colour.name) == list.end()) list.push_back(colour.name);
    }
    return list;
  }();
  return names;
}

std::uint64_t perceptual_hash(const Pixels& image) {
  if (!is_valid(image)) return 0;
  std::vector<double> small = area_resize(luma_of(image), image.width, image.height, k_hash_size);

  std::array<std::array<double, k_hash_size>, k_hash_block> cosines{};
  for (int u = 0; u < k_hash_block; ++u) {
    for (int x = 0; x < k_hash_size; ++x) {
      cosines[u][x] = std::cos(std::numbers::pi * (2 * x + 1) * u / (2.0 * k_hash_size));
    }
  }
  // Only the 8 lowest frequencies are needed, so each pass computes 8 terms.
  std::array<std::array<double, k_hash_block>, k_hash_size> by_row{};
  for (int y = 0; y < k_hash_size; ++y) {
    for (int u = 0; u < k_hash_block; ++u) {
      double sum = 0;
      for (int x = 0; x < k_hash_size; ++x) sum += small[std::size_t(y) * k_hash_size + x] * cosines[u][x];
      by_row[y][u] = sum;
    }
  }
  std::array<double, k_hash_block * k_hash_block> coefficients{};
  for (int v = 0; v < k_hash_block; ++v) {
    for (int u = 0; u < k_hash_block; ++u) {
      double sum = 0;
      for (int y = 0; y < k_hash_size; ++y) sum += by_row[y][u] * cosines[v][y];
      coefficients[v * k_hash_block + u] = sum;
    }
  }

  // Rounding leaves residues of ~1e-12 where a flat image has none; without
  // this every flat frame (a lens cap, a black slide) would hash differently.
  for (double& c : coefficients) {
    if (std::abs(c) < 1e-6) c = 0;
  }
  // The DC term is the mean brightness: left out so that exposure does not move the hash.
  std::vector<double> ac(coefficients.begin() + 1, coefficients.end());
  std::nth_element(ac.begin(), ac.begin() + std::ptrdiff_t(ac.size() / 2), ac.end());
  double median = ac[ac.size() / 2];
  std::uint64_t hash = 0;
  for (std::size_t i = 1; i < coefficients.size(); ++i) {
    if (coefficients[i] > median) hash |= std::uint64_t{1} << i;
  }
  return hash;
}

int hamming_distance(std::uint64_t a, std::uint64_t b) { return std::popcount(a ^ b); }

double region_sharpness(const Pixels& image, int left, int top, int width, int height) {
  if (!is_valid(image)) return 0;
  const int x0 = std::clamp(left, 0, image.width), y0 = std::clamp(top, 0, image.height);
  const int x1 = std::clamp(left + std::max(0, width), 0, image.width);
  const int y1 = std::clamp(top + std::max(0, height), 0, image.height);
  std::vector<double> luma;
  luma.reserve(std::size_t(x1 - x0) * std::size_t(y1 - y0));
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) luma.push_back(luma_at(image, std::size_t(y) * image.width + x));
  return laplacian_variance(luma, x1 - x0, y1 - y0);
}

std::vector<Group> group_near_duplicates(std::vector<FrameFacts> frames, std::int64_t window_ms, int max_distance) {
  // Timed frames first, by time then id; untimed after them, by id. Sorting
  // makes the result independent of the input order.
  std::sort(frames.begin(), frames.end(), [](const FrameFacts& a, const FrameFacts& b) {
    bool a_timed = a.capture_utc_ms.has_value(), b_timed = b.capture_utc_ms.has_value();
    if (a_timed != b_timed) return a_timed;
    if (a_timed && *a.capture_utc_ms != *b.capture_utc_ms) return *a.capture_utc_ms < *b.capture_utc_ms;
    return a.image_id < b.image_id;
  });
  std::size_t timed = 0;
  while (timed < frames.size() && frames[timed].capture_utc_ms) ++timed;

  DisjointSets sets(frames.size());
  for (std::size_t i = 0; i < timed; ++i) {
    for (std::size_t j = i + 1; j < timed; ++j) {
      // Times are sorted, so the first frame past the window ends the scan.
      if (*frames[j].capture_utc_ms - *frames[i].capture_utc_ms > window_ms) break;
      if (hamming_distance(frames[i].phash, frames[j].phash) <= max_distance) sets.join(i, j);
    }
  }
  for (std::size_t i = timed; i < frames.size(); ++i) {
    for (std::size_t j = i + 1; j < frames.size(); ++j) {
      if (hamming_distance(frames[i].phash, frames[j].phash) <= max_distance / 2) sets.join(i, j);
    }
  }

  // Roots are the first frame of each group, so visiting frames in order
  // yields groups in the documented order.
  std::vector<Group> groups;
  std::vector<std::size_t> group_of_root(frames.size(), frames.size());
  std::vector<std::size_t> best_of_group;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::size_t root = sets.find(i);
    if (group_of_root[root] == frames.size()) {
      group_of_root[root] = groups.size();
      groups.push_back({{}, frames[i].image_id});
      best_of_group.push_back(i);
    }
    std::size_t g = group_of_root[root];
    groups[g].members.push_back(frames[i].image_id);
    if (better_pick(frames[i], frames[best_of_group[g]])) {
      best_of_group[g] = i;
      groups[g].best = frames[i].image_id;
    }
  }
  std::erase_if(groups, [](const Group& group) { return group.members.size() < 2; });
  return groups;
}

}  // namespace wsp::tagging
