#include "net/sigv4.hpp"
#include "util/hash.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace wsp::net;

// The shared test data lives beside the clone; a worktree elsewhere names it in the environment.
fs::path shared_dir() {
  const char* from_environment = std::getenv("WSP_SHARED_DIR");
  return from_environment && *from_environment ? fs::path(from_environment) : fs::path(WSP_SHARED_DIR);
}

const fs::path k_suite = shared_dir() / "testdata" / "sigv4";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::chrono::sys_seconds parse_timestamp(const std::string& text) {
  std::tm utc{};
  std::istringstream in(text);
  in >> std::get_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  return std::chrono::sys_seconds{std::chrono::seconds{timegm(&utc)}};
}

// A request of the suite as written in request.txt, kept as text so that the
// signed request can be rebuilt around it and compared byte for byte.
struct SuiteRequest {
  std::string method, target, version;  // request line; the target may hold spaces
  std::vector<std::string> header_lines;
  std::string body;
  SigningRequest signing;
};

SuiteRequest parse_request(const std::string& text) {
  SuiteRequest out;
  std::vector<std::string> lines;
  std::size_t start = 0;
  std::size_t blank = std::string::npos;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.empty() && !lines.empty()) {
      blank = end + 1;
      break;
    }
    lines.push_back(line);
    start = end + 1;
  }
  if (blank != std::string::npos && blank <= text.size()) out.body = text.substr(blank);

  const std::string& request_line = lines.at(0);
  out.method = request_line.substr(0, request_line.find(' '));
  out.version = request_line.substr(request_line.rfind(' ') + 1);
  out.target = request_line.substr(out.method.size() + 1, request_line.size() - out.method.size() - out.version.size() - 2);

  out.signing.method = out.method;
  auto question = out.target.find('?');
  out.signing.path = uri_decode(out.target.substr(0, question));
  if (question != std::string::npos) {
    std::string query = out.target.substr(question + 1);
    std::size_t at = 0;
    while (at <= query.size()) {
      std::size_t end = query.find('&', at);
      if (end == std::string::npos) end = query.size();
      std::string pair = query.substr(at, end - at);
      auto equals = pair.find('=');
      out.signing.query.push_back({uri_decode(pair.substr(0, equals)),
                                   equals == std::string::npos ? "" : uri_decode(pair.substr(equals + 1))});
      at = end + 1;
    }
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    out.header_lines.push_back(lines[i]);
    if (lines[i][0] == ' ' || lines[i][0] == '\t') {  // obs-fold: a continuation of the previous value
      out.signing.headers.back().value += " " + lines[i];
      continue;
    }
    auto colon = lines[i].find(':');
    out.signing.headers.push_back({lines[i].substr(0, colon), lines[i].substr(colon + 1)});
  }
  out.signing.payload_hash = wsp::util::sha256_hex(out.body);
  return out;
}

SigningScope parse_context(const nlohmann::json& context) {
  SigningScope scope;
  scope.credentials.access_key_id = context["credentials"]["access_key_id"];
  scope.credentials.secret_access_key = context["credentials"]["secret_access_key"];
  scope.credentials.session_token = context["credentials"].value("token", "");
  scope.region = context["region"];
  scope.service = context["service"];
  scope.time = parse_timestamp(context["timestamp"]);
  scope.normalize_path = context.value("normalize", true);
  scope.content_sha256_header = context.value("sign_body", false);
  scope.omit_session_token = context.value("omit_session_token", false);
  scope.expires = std::chrono::seconds(context.value("expiration_in_seconds", 3600));
  return scope;
}

std::string rebuild(const SuiteRequest& request, const std::string& target, const Headers& added) {
  std::string out = request.method + " " + target + " " + request.version + "\n";
  for (const auto& line : request.header_lines) out += line + "\n";
  for (const auto& header : added) out += header.name + ":" + header.value + "\n";
  return out + "\n" + request.body;
}

std::vector<fs::path> suite_cases() {
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(k_suite))
    if (entry.is_directory()) cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

TEST(SigV4Suite, EveryCaseHeaderForm) {
  auto cases = suite_cases();
  ASSERT_GE(cases.size(), 38u) << "the suite at " << k_suite << " is missing";
  for (const auto& folder : cases) {
    SCOPED_TRACE(folder.filename().string());
    auto request = parse_request(slurp(folder / "request.txt"));
    auto scope = parse_context(nlohmann::json::parse(slurp(folder / "context.json")));
    auto signed_request = sign_with_header(request.signing, scope);
    EXPECT_EQ(signed_request.canonical_request, slurp(folder / "header-canonical-request.txt"));
    EXPECT_EQ(signed_request.string_to_sign, slurp(folder / "header-string-to-sign.txt"));
    EXPECT_EQ(signed_request.signature, slurp(folder / "header-signature.txt"));
    EXPECT_EQ(rebuild(request, request.target, signed_request.added_headers),
              slurp(folder / "header-signed-request.txt"));
  }
}

TEST(SigV4Suite, EveryCaseQueryForm) {
  for (const auto& folder : suite_cases()) {
    SCOPED_TRACE(folder.filename().string());
    auto request = parse_request(slurp(folder / "request.txt"));
    auto scope = parse_context(nlohmann::json::parse(slurp(folder / "context.json")));
    auto signed_request = sign_with_query(request.signing, scope);
    EXPECT_EQ(signed_request.canonical_request, slurp(folder / "query-canonical-request.txt"));
    EXPECT_EQ(signed_request.string_to_sign, slurp(folder / "query-string-to-sign.txt"));
    EXPECT_EQ(signed_request.signature, slurp(folder / "query-signature.txt"));
    std::string separator = request.target.find('?') == std::string::npos ? "?" : "&";
    EXPECT_EQ(rebuild(request, request.target + separator + encode_query(signed_request.added_query), {}),
              slurp(folder / "query-signed-request.txt"));
  }
}

// S3's own worked examples (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
SigningScope s3_example_scope() {
  SigningScope scope;
  scope.credentials = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  scope.region = "us-east-1";
  scope.service = "s3";
  scope.time = std::chrono::sys_days{std::chrono::year{2013} / 5 / 24};
  return scope;
}

TEST(SigV4S3, GetObjectExampleFromTheS3Documentation) {
  SigningRequest request{"GET", "/test.txt", {}, {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"}},
                         wsp::util::sha256_hex("")};
  auto signed_request = sign_with_header(request, s3_example_scope());
  EXPECT_EQ(signed_request.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(signed_request.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(signed_request.added_headers.back().value,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3, PutObjectExampleEncodesTheKeyOnce) {
  SigningRequest request{"PUT",
                         "/test$file.text",
                         {},
                         {{"Host", "examplebucket.s3.amazonaws.com"},
                          {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                          {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                         wsp::util::sha256_hex("Welcome to Amazon S3.")};
  auto signed_request = sign_with_header(request, s3_example_scope());
  EXPECT_NE(signed_request.canonical_request.find("\n/test%24file.text\n"), std::string::npos);
  EXPECT_EQ(signed_request.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4S3, PresignedGetExampleFromTheS3Documentation) {
  SigningRequest request{"GET", "/test.txt", {}, {{"Host", "examplebucket.s3.amazonaws.com"}},
                         std::string(k_unsigned_payload)};
  auto scope = s3_example_scope();
  scope.expires = std::chrono::seconds(86400);
  auto signed_request = sign_with_query(request, scope);
  EXPECT_EQ(signed_request.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
  EXPECT_TRUE(signed_request.canonical_request.ends_with("\nhost\nUNSIGNED-PAYLOAD"));
}

TEST(SigV4S3, KeysAreEncodedOnceSegmentBySegment) {
  EXPECT_EQ(encode_path("/portfolios/anna-ben-2026/Mariée à l'église 01.jpg"),
            "/portfolios/anna-ben-2026/Mari%C3%A9e%20%C3%A0%20l%27%C3%A9glise%2001.jpg");
  EXPECT_EQ(encode_path("/b/a+b~c=d\"e f.jpg"), "/b/a%2Bb~c%3Dd%22e%20f.jpg");
  // A key that already looks encoded is a key with a percent sign in it.
  EXPECT_EQ(encode_path("/b/100%25.jpg"), "/b/100%2525.jpg");
}

TEST(SigV4S3, KeysRoundTrip) {
  for (std::string key : {"Mariée à l'église 01.jpg", "a+b~c=d.jpg", "\"quoted\" 'single'.jpg", "100%.jpg",
                          "日本/写真 1.jpg", "sp ace/plus+/tilde~/eq=/semi;colon:.jpg"}) {
    EXPECT_EQ(uri_decode(uri_encode(key, true)), key);
    EXPECT_EQ(uri_decode(uri_encode(key, false)), key);
    std::string encoded = uri_encode(key, false);
    EXPECT_EQ(encoded.find_first_of(" +=\"'/"), std::string::npos) << encoded;
  }
}

TEST(SigV4S3, PathIsNeverNormalised) {
  SigningRequest request{"GET", "/bucket/a//./b/../c.jpg", {}, {{"host", "s3.example.com"}},
                         std::string(k_unsigned_payload)};
  auto scope = s3_example_scope();
  auto signed_request = sign_with_header(request, scope);
  EXPECT_NE(signed_request.canonical_request.find("\n/bucket/a//./b/../c.jpg\n"), std::string::npos);
  scope.normalize_path = true;
  EXPECT_NE(sign_with_header(request, scope).canonical_request.find("\n/bucket/a/c.jpg\n"), std::string::npos);
}

TEST(SigV4S3, ContentSha256IsSentAndSignedOnEveryRequest) {
  for (std::string payload : {std::string(k_unsigned_payload), wsp::util::sha256_hex("photo bytes")}) {
    SigningRequest request{"PUT", "/bucket/k.jpg", {}, {{"host", "s3.example.com"}}, payload};
    auto signed_request = sign_with_header(request, s3_example_scope());
    auto header = std::find_if(signed_request.added_headers.begin(), signed_request.added_headers.end(),
                               [](const Header& h) { return h.name == "x-amz-content-sha256"; });
    ASSERT_NE(header, signed_request.added_headers.end());
    EXPECT_EQ(header->value, payload);
    EXPECT_NE(signed_request.canonical_request.find("x-amz-content-sha256:" + payload + "\n"), std::string::npos);
    EXPECT_TRUE(signed_request.canonical_request.ends_with("\n" + payload));
    EXPECT_NE(signed_request.added_headers.back().value.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date"),
              std::string::npos);
  }
}

TEST(SigV4S3, SessionTokenIsSentAndSigned) {
  auto scope = s3_example_scope();
  scope.credentials.session_token = "FwoGZXIvYXdzE+token/with=chars";
  SigningRequest request{"HEAD", "/bucket/k.jpg", {}, {{"host", "s3.example.com"}}, wsp::util::sha256_hex("")};
  auto with_token = sign_with_header(request, scope);
  EXPECT_EQ(with_token.added_headers.front().name, "X-Amz-Security-Token");
  EXPECT_EQ(with_token.added_headers.front().value, scope.credentials.session_token);
  EXPECT_NE(with_token.canonical_request.find("x-amz-security-token:" + scope.credentials.session_token),
            std::string::npos);
  EXPECT_NE(with_token.signature, sign_with_header(request, s3_example_scope()).signature);
}

TEST(SigV4S3, QueryParametersAreSortedAfterEncoding) {
  SigningRequest request{"GET", "/bucket", {{"prefix", "a b/"}, {"list-type", "2"}, {"continuation-token", "x+y="}},
                         {{"host", "s3.example.com"}}, wsp::util::sha256_hex("")};
  auto signed_request = sign_with_header(request, s3_example_scope());
  EXPECT_NE(signed_request.canonical_request.find("\ncontinuation-token=x%2By%3D&list-type=2&prefix=a%20b%2F\n"),
            std::string::npos);
  EXPECT_EQ(encode_query(request.query), "prefix=a%20b%2F&list-type=2&continuation-token=x%2By%3D");
}

}  // namespace
