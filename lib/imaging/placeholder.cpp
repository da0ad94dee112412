#include "imaging/placeholder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <zlib.h>

namespace wsp::imaging {
namespace {

constexpr std::string_view k_base83 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void encode83(std::string& out, int value, int length) {
  for (int i = 1; i <= length; ++i) {
    int divisor = 1;
    for (int k = 0; k < length - i; ++k) divisor *= 83;
    out.push_back(k_base83[(value / divisor) % 83]);
  }
}

double srgb_to_linear(int value) {
  double v = value / 255.0;
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

int linear_to_srgb(double value) {
  double v = std::clamp(value, 0.0, 1.0);
  return v <= 0.0031308 ? static_cast<int>(v * 12.92 * 255 + 0.5)
                        : static_cast<int>((1.055 * std::pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
}

double sign_pow(double value, double exponent) { return std::copysign(std::pow(std::abs(value), exponent), value); }

std::optional<int> decode83(std::string_view text) {
  int value = 0;
  for (char c : text) {
    auto digit = k_base83.find(c);
    if (digit == std::string_view::npos) return std::nullopt;
    value = value * 83 + static_cast<int>(digit);
  }
  return value;
}

struct BlurHashTerms {
  int x_components = 0;
  int y_components = 0;
  std::vector<std::array<double, 3>> factors;  // linear RGB, DC first
};

std::optional<BlurHashTerms> parse_blurhash(std::string_view hash) {
  if (hash.size() < 6) return std::nullopt;
  auto size_flag = decode83(hash.substr(0, 1));
  if (!size_flag) return std::nullopt;
  BlurHashTerms terms;
  terms.x_components = *size_flag % 9 + 1;
  terms.y_components = *size_flag / 9 + 1;
  const std::size_t count = std::size_t(terms.x_components) * terms.y_components;
  if (hash.size() != 4 + 2 * count) return std::nullopt;
  auto quantised_maximum = decode83(hash.substr(1, 1));
  auto dc = decode83(hash.substr(2, 4));
  if (!quantised_maximum || !dc) return std::nullopt;
  const double maximum = (*quantised_maximum + 1) / 166.0;
  terms.factors.push_back({srgb_to_linear(*dc >> 16), srgb_to_linear((*dc >> 8) & 255), srgb_to_linear(*dc & 255)});
  for (std::size_t k = 1; k < count; ++k) {
    auto value = decode83(hash.substr(4 + 2 * k, 2));
    if (!value) return std::nullopt;
    auto unquantise = [maximum](int q) { return sign_pow((q - 9) / 9.0, 2.0) * maximum; };
    terms.factors.push_back({unquantise(*value / (19 * 19)), unquantise((*value / 19) % 19), unquantise(*value % 19)});
  }
  return terms;
}


void append_be32(std::string& out, std::uint32_t value) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

// A PNG of 8-bit RGB pixels whose zlib stream holds stored (uncompressed)
// deflate blocks, checksummed by zlib. A placeholder of a few hundred bytes
// gains little from compression, and writing it here takes microseconds where
// a codec call took most of a millisecond per photo, on every publish.
std::string png_rgb8(std::span<const std::uint8_t> rgb, int width, int height) {
  const std::size_t row = std::size_t(width) * 3;
  std::string raw;
  raw.reserve((row + 1) * height);
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    raw.append(reinterpret_cast<const char*>(rgb.data()) + y * row, row);
  }
  std::string zlib = {0x78, 0x01};
  std::size_t at = 0;
  do {
    const std::size_t length = std::min<std::size_t>(65'535, raw.size() - at);
    zlib.push_back(at + length == raw.size() ? 1 : 0);  // BFINAL, BTYPE 00 (stored)
    for (std::size_t value : {length, ~length & 0xFFFF}) {
      zlib.push_back(static_cast<char>(value & 0xFF));
      zlib.push_back(static_cast<char>((value >> 8) & 0xFF));
    }
    zlib.append(raw, at, length);
    at += length;
  } while (at < raw.size());
  append_be32(zlib, static_cast<std::uint32_t>(
                        ::adler32(::adler32(0, nullptr, 0), reinterpret_cast<const Bytef*>(raw.data()), raw.size())));

  std::string png = "\x89PNG\r\n\x1a\n";
  auto chunk = [&png](std::string_view type, const std::string& data) {
    append_be32(png, static_cast<std::uint32_t>(data.size()));
    const std::string typed = std::string(type) + data;
    png += typed;
    append_be32(png, static_cast<std::uint32_t>(
                         ::crc32(::crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(typed.data()), typed.size())));
  };
  std::string header;
  append_be32(header, static_cast<std::uint32_t>(width));
  append_be32(header, static_cast<std::uint32_t>(height));
  header += {8, 2, 0, 0, 0};  // 8 bits, RGB, deflate, adaptive filtering, no interlace
  chunk("IHDR", header);
  chunk("IDAT", zlib);
  chunk("IEND", "");
  return png;
}
}  // namespace

std::string blurhash_encode(std::span<const std::uint8_t> rgb, int width, int height, int x_components,
                            int y_components) {
  if (width <= 0 || height <= 0 || rgb.size() < std::size_t(width) * height * 3) return "";
  x_components = std::clamp(x_components, 1, 9);
  y_components = std::clamp(y_components, 1, 9);
  std::vector<double> linear(rgb.size());
  for (std::size_t i = 0; i < std::size_t(width) * height * 3; ++i) linear[i] = srgb_to_linear(rgb[i]);

  std::vector<std::array<double, 3>> factors;
  for (int j = 0; j < y_components; ++j) {
    for (int i = 0; i < x_components; ++i) {
      std::array<double, 3> sum{0, 0, 0};
      for (int y = 0; y < height; ++y) {
        double basis_y = std::cos(std::numbers::pi * j * y / height);
        for (int x = 0; x < width; ++x) {
          double basis = std::cos(std::numbers::pi * i * x / width) * basis_y;
          const double* pixel = &linear[(std::size_t(y) * width + x) * 3];
          for (int c = 0; c < 3; ++c) sum[c] += basis * pixel[c];
        }
      }
      double scale = (i == 0 && j == 0 ? 1.0 : 2.0) / (double(width) * height);
      factors.push_back({sum[0] * scale, sum[1] * scale, sum[2] * scale});
    }
  }

  std::string hash;
  encode83(hash, (x_components - 1) + (y_components - 1) * 9, 1);
  double maximum = 1;
  if (factors.size() > 1) {
    double actual = 0;
    for (std::size_t k = 1; k < factors.size(); ++k)
      for (double v : factors[k]) actual = std::max(actual, std::abs(v));
    int quantised = static_cast<int>(std::clamp(std::floor(actual * 166 - 0.5), 0.0, 82.0));
    maximum = (quantised + 1) / 166.0;
    encode83(hash, quantised, 1);
  } else {
    encode83(hash, 0, 1);
  }
  const auto& dc = factors[0];
  encode83(hash, (linear_to_srgb(dc[0]) << 16) + (linear_to_srgb(dc[1]) << 8) + linear_to_srgb(dc[2]), 4);
  for (std::size_t k = 1; k < factors.size(); ++k) {
    auto quant = [&](double v) {
      return static_cast<int>(std::clamp(std::floor(sign_pow(v / maximum, 0.5) * 9 + 9.5), 0.0, 18.0));
    };
    encode83(hash, quant(factors[k][0]) * 19 * 19 + quant(factors[k][1]) * 19 + quant(factors[k][2]), 2);
  }
  return hash;
}

std::optional<std::vector<std::uint8_t>> blurhash_decode(std::string_view hash, int width, int height) {
  if (width < 1 || height < 1 || width > 256 || height > 256) return std::nullopt;
  auto terms = parse_blurhash(hash);
  if (!terms) return std::nullopt;
  // The cosines depend on x and on y separately: one table each instead of
  // two cosines per pixel per component.
  auto basis_table = [](int size, int components) {
    std::vector<double> table(std::size_t(size) * components);
    for (int p = 0; p < size; ++p)
      for (int k = 0; k < components; ++k)
        table[std::size_t(p) * components + k] = std::cos(std::numbers::pi * p * k / size);
    return table;
  };
  // Linear light to 8-bit sRGB through a table instead of a pow() per channel:
  // a step of 1/4095 is under one sRGB level even in the shadows.
  static const auto k_srgb_of_linear = [] {
    std::array<std::uint8_t, 4096> table{};
    for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::uint8_t>(linear_to_srgb(i / 4095.0));
    return table;
  }();
  const auto across = basis_table(width, terms->x_components);
  const auto down = basis_table(height, terms->y_components);
  std::vector<std::uint8_t> pixels(std::size_t(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      std::array<double, 3> colour{0, 0, 0};
      for (int j = 0; j < terms->y_components; ++j) {
        for (int i = 0; i < terms->x_components; ++i) {
          const double basis = across[std::size_t(x) * terms->x_components + i] * down[std::size_t(y) * terms->y_components + j];
          const auto& factor = terms->factors[std::size_t(j) * terms->x_components + i];
          for (int c = 0; c < 3; ++c) colour[c] += factor[c] * basis;
        }
      }
      for (int c = 0; c < 3; ++c)
        pixels[(std::size_t(y) * width + x) * 3 + c] = k_srgb_of_linear[std::lround(std::clamp(colour[c], 0.0, 1.0) * 4095)];
    }
  }
  return pixels;
}

std::string blurhash_average_colour(std::string_view hash) {
  if (!parse_blurhash(hash)) return "";
  auto dc = decode83(hash.substr(2, 4));
  return fmt::format("#{:06x}", *dc);
}

std::string blurhash_data_uri(std::string_view hash, int image_width, int image_height, int width) {
  if (image_width <= 0 || image_height <= 0) image_width = image_height = 1;
  width = std::clamp(width, 1, 256);
  const int height = std::clamp(static_cast<int>(std::lround(double(width) * image_height / image_width)), 1, 256);
  auto pixels = blurhash_decode(hash, width, height);
  if (!pixels) return "";
  return "data:image/png;base64," + base64_encode(png_rgb8(*pixels, width, height));
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(k_alphabet[(n >> shift) & 63]);
  }
  if (i + 1 == bytes.size()) {
    std::uint32_t n = std::uint8_t(bytes[i]) << 16;
    out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    std::uint32_t n = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8);
    out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], k_alphabet[(n >> 6) & 63], '='};
  }
  return out;
}

}  // namespace wsp::imaging
