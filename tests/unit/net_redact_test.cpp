#include "net/redact.hpp"

#include <gtest/gtest.h>

namespace {

using namespace wsp::net;

TEST(NetRedact, SecretQueryParametersAndPasswords) {
  EXPECT_EQ(redact_url("https://user:pa55word@s3.example.com/bucket/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                       "&X-Amz-Credential=AKIDEXAMPLE%2F20150830&X-Amz-Signature=abc123&prefix=photos"
                       "&api_key=k123&X-Amz-Security-Token=tok"),
            "https://user:[REDACTED]@s3.example.com/bucket/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&prefix=photos&api_key=[REDACTED]"
            "&X-Amz-Security-Token=[REDACTED]");
  EXPECT_EQ(redact_url("https://vision.googleapis.com/v1/images:annotate?key=AIzaSyExample"),
            "https://vision.googleapis.com/v1/images:annotate?key=[REDACTED]");
  EXPECT_EQ(redact_url("http://127.0.0.1:8080/gallery/index.html"), "http://127.0.0.1:8080/gallery/index.html");
  EXPECT_EQ(redact_url("https://h/p?a=1&b"), "https://h/p?a=1&b");
}

TEST(NetRedact, SecretHeaders) {
  EXPECT_EQ(redact_header({"Authorization", "Bearer abc"}), "Authorization: [REDACTED]");
  EXPECT_EQ(redact_header({"fastly-key", "f123"}), "fastly-key: [REDACTED]");
  EXPECT_EQ(redact_header({"X-Amz-Security-Token", "t"}), "X-Amz-Security-Token: [REDACTED]");
  EXPECT_EQ(redact_header({"Content-Type", "image/jpeg"}), "Content-Type: image/jpeg");
  EXPECT_TRUE(is_secret_header("PROXY-AUTHORIZATION"));
  EXPECT_FALSE(is_secret_header("x-amz-content-sha256"));
}

TEST(NetRedact, TheRequestsOwnSecretsAnywhereInText) {
  Redactor redactor("https://api.example.com/v1?token=a/b+c%3D&page=2",
                    {{"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
                                       "SignedHeaders=host, Signature=5da7c1a2acd57cee"},
                     {"Fastly-Key", "fastly-secret-1"},
                     {"Accept", "application/json"}});
  std::string text = redactor(
      "server said: signature 5da7c1a2acd57cee does not match for AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request; "
      "your key fastly-secret-1 is wrong; token a/b+c= or a%2Fb%2Bc%3D; Accept application/json");
  for (auto secret : {"5da7c1a2acd57cee", "AKIDEXAMPLE", "fastly-secret-1", "a/b+c=", "a%2Fb%2Bc%3D"})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << text;
  EXPECT_NE(text.find("application/json"), std::string::npos);
}

TEST(NetRedact, WhatLooksLikeACredentialInUnknownText) {
  Redactor redactor;
  EXPECT_EQ(redactor("> Authorization: Bearer xyz.123\n> Host: h"), "> Authorization: [REDACTED]\n> Host: h");
  EXPECT_EQ(redactor("{\"Fastly-Key\": \"abc\"}"), "{\"Fastly-Key\": [REDACTED]");
  EXPECT_EQ(redactor("GET /k?X-Amz-Signature=ff00&x=1 failed"), "GET /k?X-Amz-Signature=[REDACTED]&x=1 failed");
  EXPECT_EQ(redactor("use Bearer abc.def-ghi now"), "use Bearer [REDACTED] now");
  EXPECT_EQ(redactor("monkey=banana"), "monkey=banana");
}

}  // namespace
