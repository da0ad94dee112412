#pragma once
// The `google_vision` provider: Cloud Vision's images:annotate with
// LABEL_DETECTION, FACE_DETECTION and IMAGE_PROPERTIES. What is sent: the
// analysis image only, re-encoded without any metadata (plain_jpeg), up to
// 16 photos per request; the key travels only as the `key` query parameter.
// Labels become keywords, and scenes through tagging.google_vision.labels.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "net/http.hpp"
#include "tagging/tagger.hpp"

namespace wsp::tagging {

inline constexpr std::size_t k_vision_batch = 16;  // images per images:annotate request

// The request body for these JPEGs, in order.
nlohmann::json vision_request_body(const std::vector<std::string>& jpegs);

// Reads an images:annotate response for `count` photos, in order: one Answer
// each. An `error` inside one response fails only that photo (INVALID_ARGUMENT
// is a verdict on it; other codes are transient); an HTTP failure or an
// unreadable body fails them all.
std::vector<Answer> read_vision_answers(const net::HttpResponse& response, std::size_t count,
                                        const config::Config& config);

std::unique_ptr<Provider> make_google_vision_provider(const config::Config& config, std::optional<std::string> key,
                                                      net::HttpSettings http = {});
// Reads the key from tagging.google_vision.api_key_env / api_key_file.
std::unique_ptr<Provider> make_google_vision_provider(const config::Config& config);

}  // namespace wsp::tagging
