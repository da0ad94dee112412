#pragma once
// The `openai` provider: any server speaking OpenAI's Chat Completions API
// (OpenAI itself, or Ollama, vLLM, LM Studio, LocalAI on the studio's own
// machine). What is sent: the analysis image only, re-encoded here as a JPEG
// with no metadata at all, as a `data:image/jpeg;base64,` URL with
// `detail: low`, the prompt, and a JSON schema (`strict`) whose scene enum is
// tagging.scenes. The key, when there is one, travels only in the
// Authorization header.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "net/http.hpp"
#include "tagging/scores.hpp"
#include "tagging/tagger.hpp"
#include "util/result.hpp"

namespace wsp::tagging {

// The analysis pixels as a baseline JPEG, at most `max_side` pixels on the
// long side, with no EXIF, XMP, IPTC, ICC or comment: nothing but pixels.
util::Result<std::string> plain_jpeg(const Pixels& pixels, int max_side);

// The instructions the model is given, and the schema its answer must match.
std::string openai_prompt(const config::Config& config);
nlohmann::json openai_schema(const config::Config& config);

// What one request counts against tagging.openai.tokens_per_minute before
// its answer tells: the low-detail image (85 tokens), the instructions and
// schema at about 4 characters a token, and the most the answer may take.
std::int64_t openai_rate_tokens(const config::Config& config);

// The Chat Completions request body for one photo.
nlohmann::json openai_request_body(const config::Config& config, std::string_view jpeg);

// Reads a Chat Completions response: the observation, or why not (refusal,
// answer cut short, invalid JSON, outside the schema: permanent; no answer,
// 429, 5xx, timeout: transient). Token usage is read whenever it is there.
Answer read_openai_answer(const net::HttpResponse& response, const config::Config& config);

// `key` empty: no Authorization header (local servers need none).
std::unique_ptr<Provider> make_openai_provider(const config::Config& config, std::optional<std::string> key,
                                               net::HttpSettings http = {});
// Reads the key from tagging.openai.api_key_env / api_key_file.
std::unique_ptr<Provider> make_openai_provider(const config::Config& config);

}  // namespace wsp::tagging
