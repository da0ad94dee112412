// The S3 client against a real S3-compatible server on 127.0.0.1 (s3rver, from
// npm), with the AWS command line as an independent reader.

#include "net/s3.hpp"
#include "require_tool.hpp"
#include "temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace wsp::net;

constexpr const char* k_bucket = "portfolios";
constexpr const char* k_key_id = "S3RVER";  // s3rver's built-in account
constexpr const char* k_secret = "S3RVER";

std::string md5_hex(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(body.data(), body.size(), digest, &length, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Where npm put s3rver: WSP_NODE_MODULES, else the build tree's browser/node_modules
// (scripts/test installs it there beside playwright-core).
std::optional<fs::path> s3rver_cli() {
  std::vector<fs::path> roots;
  if (const char* modules = std::getenv("WSP_NODE_MODULES")) roots.emplace_back(modules);
  std::error_code error;
  auto exe = fs::read_symlink("/proc/self/exe", error);
  if (!error) roots.push_back(exe.parent_path().parent_path() / "browser" / "node_modules");
  for (const auto& root : roots) {
    auto cli = root / "@20minutes" / "s3rver" / "lib" / "cli.js";
    if (fs::exists(cli)) return cli;
  }
  return std::nullopt;
}

// Runs a program with extra environment variables; its exit code (-1 if it could not start).
int run(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env = {},
        const fs::path& output = "/dev/null") {
  pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    FILE* out = std::fopen(output.c_str(), "w");
    if (out) ::dup2(::fileno(out), 1);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// An s3rver on 127.0.0.1, on a port it picks, with one bucket; stopped (by its pid) at the end.
class S3rver {
public:
  S3rver(const fs::path& cli, const fs::path& data) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::string script = "require(" + nlohmann::json(cli.string()).dump() +
                         ").parseAsync(['node', 's3rver', '-d', " + nlohmann::json(data.string()).dump() +
                         ", '-a', '127.0.0.1', '-p', '0', '--silent', '--configure-bucket', '" + k_bucket + "'])";
    m_pid = ::fork();
    if (m_pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      // Its ListObjectsV2 hashes with an algorithm OpenSSL 3 keeps in the legacy provider.
      ::setenv("NODE_OPTIONS", "--openssl-legacy-provider", 1);
      ::execlp("node", "node", "-e", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string said;
    std::smatch match;
    std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::regex_search(said, match, listening) && std::chrono::steady_clock::now() < deadline) {
      pollfd waiting{fds[0], POLLIN, 0};
      if (::poll(&waiting, 1, 1000) <= 0) continue;
      char buffer[256];
      auto got = ::read(fds[0], buffer, sizeof buffer);
      if (got <= 0) break;
      said.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(fds[0]);
    if (match.empty()) throw std::runtime_error("s3rver did not start: " + said);
    m_endpoint = "http://127.0.0.1:" + match[1].str();
  }
  ~S3rver() {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
  }
  const std::string& endpoint() const { return m_endpoint; }

private:
  pid_t m_pid = -1;
  std::string m_endpoint;
};

class S3Store : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    ::setenv("no_proxy", "127.0.0.1,localhost", 1);
    auto cli = s3rver_cli();
    if (!cli) return;
    s_data = new wsp::testing::TempDir;
    s_server = new S3rver(*cli, s_data->path());
  }
  static void TearDownTestSuite() {
    delete s_server;
    delete s_data;
    s_server = nullptr;
    s_data = nullptr;
  }
  void SetUp() override {
    WSP_REQUIRE_TOOL(s_server, "s3rver is not installed (npm install --prefix BUILD/browser @20minutes/s3rver)");
  }

  S3Location location() const {
    S3Location out;
    out.endpoint = s_server->endpoint();
    out.bucket = k_bucket;
    out.path_style = true;
    return out;
  }

  // The AWS command line, reading what the client wrote.
  int aws(std::vector<std::string> args, const fs::path& output = "/dev/null") const {
    args.insert(args.begin(), {"aws", "--endpoint-url", s_server->endpoint()});
    return run(args,
               {{"AWS_ACCESS_KEY_ID", k_key_id}, {"AWS_SECRET_ACCESS_KEY", k_secret},
                {"AWS_DEFAULT_REGION", "us-east-1"}, {"AWS_CONFIG_FILE", "/dev/null"},
                {"AWS_SHARED_CREDENTIALS_FILE", "/dev/null"}},
               output);
  }

  HttpClient m_http;
  static inline wsp::testing::TempDir* s_data = nullptr;
  static inline S3rver* s_server = nullptr;
};

std::string photo_bytes(std::size_t size, int seed) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + static_cast<std::size_t>(seed)) % 251);
  return bytes;
}

const std::vector<std::string> k_awkward_keys{
    "anna-ben-2026/Mariée à l'église 01.jpg",
    "anna-ben-2026/a+b~c=d.jpg",
    "anna-ben-2026/\"quoted\" name.webp",
    "anna-ben-2026/sub folder/100% joy.jpg",
    "anna-ben-2026/semi;colon:and,comma&amp.avif",
};

// s3rver (5.0.0) escapes the text of its XML answers twice (he.escape, then its
// XML builder), so that in its listings "l'église" reads "l&#x27;église" and
// "&" reads "&amp;" -- to the AWS command line as well. Objects under such keys
// are stored and read back correctly; only its listings are wrong.
bool escaped_twice_by_s3rver(const std::string& key) { return key.find_first_of("&'") != std::string::npos; }

TEST_F(S3Store, AwkwardKeysRoundTrip) {
  S3Client client(m_http, location(), {k_key_id, k_secret, ""});
  std::vector<std::future<wsp::util::Result<std::string>>> uploads;
  for (std::size_t i = 0; i < k_awkward_keys.size(); ++i) {
    auto promise = std::make_shared<std::promise<wsp::util::Result<std::string>>>();
    uploads.push_back(promise->get_future());
    client.put_object({k_awkward_keys[i], photo_bytes(20'000 + i * 1000, static_cast<int>(i)), "image/jpeg",
                       "public, max-age=31536000, immutable"},
                      [promise](wsp::util::Result<std::string> etag) { promise->set_value(std::move(etag)); });
  }
  for (std::size_t i = 0; i < uploads.size(); ++i) {
    auto etag = uploads[i].get();
    ASSERT_TRUE(etag.ok()) << etag.message();
    EXPECT_EQ(*etag, md5_hex(photo_bytes(20'000 + i * 1000, static_cast<int>(i)))) << k_awkward_keys[i];
  }

  for (std::size_t i = 0; i < k_awkward_keys.size(); ++i) {
    auto head = client.head_object(k_awkward_keys[i]);
    ASSERT_TRUE(head.ok()) << head.message();
    ASSERT_TRUE(head->has_value()) << k_awkward_keys[i];
    EXPECT_EQ((*head)->size, static_cast<std::int64_t>(20'000 + i * 1000));
  }

  auto listed = client.list_objects("anna-ben-2026/");
  ASSERT_TRUE(listed.ok()) << listed.message();
  std::vector<std::string> keys;
  for (const auto& object : *listed) keys.push_back(object.key);
  std::sort(keys.begin(), keys.end());
  ASSERT_EQ(keys.size(), k_awkward_keys.size());
  for (const auto& key : k_awkward_keys) {
    if (escaped_twice_by_s3rver(key)) continue;
    EXPECT_TRUE(std::binary_search(keys.begin(), keys.end(), key)) << key << " is not listed";
  }

  // The AWS command line, reading the same listing, sees the same keys.
  wsp::testing::TempDir folder;
  if (aws({"s3api", "list-objects-v2", "--bucket", k_bucket, "--prefix", "anna-ben-2026/"},
          folder.path() / "list.json") == 0) {
    std::vector<std::string> seen_by_aws;
    auto listing = nlohmann::json::parse(slurp(folder.path() / "list.json"));
    for (const auto& object : listing["Contents"])
      seen_by_aws.push_back(object["Key"]);
    std::sort(seen_by_aws.begin(), seen_by_aws.end());
    EXPECT_EQ(keys, seen_by_aws);
  }
}

TEST_F(S3Store, TheAwsCommandLineReadsWhatWasWritten) {
  WSP_REQUIRE_TOOL(run({"aws", "--version"}) == 0, "the aws command line is not installed");
  S3Client client(m_http, location(), {k_key_id, k_secret, ""});
  wsp::testing::TempDir folder;
  for (std::size_t i = 0; i < k_awkward_keys.size(); ++i) {
    std::string key = "readback/" + k_awkward_keys[i];
    std::string body = photo_bytes(5'000 + i, static_cast<int>(i) + 7);
    auto etag = client.put_object({key, body, "image/jpeg", ""});
    ASSERT_TRUE(etag.ok()) << etag.message();
    auto copy = folder.path() / ("copy" + std::to_string(i));
    ASSERT_EQ(aws({"s3api", "get-object", "--bucket", k_bucket, "--key", key, copy.string()}), 0) << key;
    EXPECT_EQ(slurp(copy), body) << key;
  }
}

TEST_F(S3Store, AWrongSecretIsRefused) {
  S3Client impostor(m_http, location(), {k_key_id, "not-the-secret", ""});
  auto put = impostor.put_object({"wrong/secret.jpg", "bytes", "image/jpeg", ""});
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.message().find("SignatureDoesNotMatch"), std::string::npos) << put.message();
  EXPECT_EQ(put.message().find("not-the-secret"), std::string::npos) << put.message();
  EXPECT_FALSE(impostor.list_objects("").ok());

  S3Client client(m_http, location(), {k_key_id, k_secret, ""});
  auto head = client.head_object("wrong/secret.jpg");
  ASSERT_TRUE(head.ok()) << head.message();
  EXPECT_FALSE(head->has_value());
}

TEST_F(S3Store, ListingPagesThroughEveryObject) {
  S3Client client(m_http, location(), {k_key_id, k_secret, ""});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.put_object({"pages/" + std::to_string(i) + ".jpg", "x", "", ""}).ok());
  auto listed = client.list_objects("pages/", 2);
  ASSERT_TRUE(listed.ok()) << listed.message();
  ASSERT_EQ(listed->size(), 5u);
  EXPECT_EQ((*listed)[4].key, "pages/4.jpg");
  EXPECT_EQ((*listed)[4].size, 1);
}

TEST_F(S3Store, DeleteObjectsRemovesThem) {
  S3Client client(m_http, location(), {k_key_id, k_secret, ""});
  std::vector<std::string> keys{"stale/a.jpg", "stale/Mariée b.jpg", "stale/c&d.jpg"};
  for (const auto& key : keys) ASSERT_TRUE(client.put_object({key, "old", "", ""}).ok());
  ASSERT_EQ(client.list_objects("stale/")->size(), 3u);
  auto report = client.delete_objects(keys);
  ASSERT_TRUE(report.ok()) << report.message();
  EXPECT_TRUE(report->errors.empty());
  EXPECT_EQ(report->deleted.size(), keys.size());
  for (const auto& key : keys) {
    if (escaped_twice_by_s3rver(key)) continue;
    EXPECT_NE(std::find(report->deleted.begin(), report->deleted.end(), key), report->deleted.end()) << key;
  }
  auto left = client.list_objects("stale/");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  EXPECT_FALSE(client.head_object("stale/a.jpg")->has_value());
}

// The multipart ETag as S3 documents it, worked out here with Python's hashlib:
// md5(md5("a" x 10) || md5("b" x 3)) in binary, then "-2".
TEST(S3Multipart, CompositeEtagIsTheMd5OfThePartsMd5s) {
  EXPECT_EQ(md5_hex(std::string(10, 'a')), "e09c80c42fda55f9d992e59ca6b3307d");
  EXPECT_EQ(composite_etag({md5_hex(std::string(10, 'a')), md5_hex(std::string(3, 'b'))}),
            "568bd1f3a3ef4a720453555306037d4b-2");
  EXPECT_NE(composite_etag({md5_hex(std::string(3, 'b')), md5_hex(std::string(10, 'a'))}),
            "568bd1f3a3ef4a720453555306037d4b-2");
}

// Virtual-hosted requests are checked by their URLs here and by S3's own signed
// example in sigv4_test.cpp: s3rver signs a virtual-hosted request over
// "/bucket/key" (as SigV2 did), where AWS signs the path sent, "/key".
TEST(S3Urls, PathStyleAndVirtualHosted) {
  HttpClient http;
  S3Location aws;
  aws.region = "eu-west-3";
  aws.bucket = "portfolios";
  S3Client virtual_hosted(http, aws, {"AKID", "secret", ""});
  EXPECT_EQ(virtual_hosted.object_url("anna-ben/Mariée 01.jpg"),
            "https://portfolios.s3.eu-west-3.amazonaws.com/anna-ben/Mari%C3%A9e%2001.jpg");
  EXPECT_EQ(virtual_hosted.object_url(""), "https://portfolios.s3.eu-west-3.amazonaws.com/");

  S3Location minio;
  minio.endpoint = "http://127.0.0.1:9000/";
  minio.bucket = "portfolios";
  minio.path_style = true;
  S3Client path_style(http, minio, {"AKID", "secret", ""});
  EXPECT_EQ(path_style.object_url("a+b.jpg"), "http://127.0.0.1:9000/portfolios/a%2Bb.jpg");

  auto request = path_style.signed_request("GET", "", {{"list-type", "2"}, {"prefix", "a b/"}}, {}, "");
  EXPECT_EQ(request.url, "http://127.0.0.1:9000/portfolios?list-type=2&prefix=a%20b%2F");
  auto has = [&](const std::string& name) {
    return std::any_of(request.headers.begin(), request.headers.end(), [&](const Header& h) { return h.name == name; });
  };
  EXPECT_TRUE(has("Host"));
  EXPECT_TRUE(has("x-amz-content-sha256"));
  EXPECT_TRUE(has("Authorization"));
}

// Sets variables for one test and puts the previous values back.
class EnvironmentGuard {
public:
  void set(const std::string& name, const std::string& value) {
    remember(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unset(const std::string& name) {
    remember(name);
    ::unsetenv(name.c_str());
  }
  ~EnvironmentGuard() {
    for (const auto& [name, value] : m_saved)
      if (value)
        ::setenv(name.c_str(), value->c_str(), 1);
      else
        ::unsetenv(name.c_str());
  }

private:
  void remember(const std::string& name) {
    for (const auto& saved : m_saved)
      if (saved.first == name) return;
    const char* value = std::getenv(name.c_str());
    m_saved.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

TEST(S3Credentials, FromTheVariablesTheTargetNames) {
  EnvironmentGuard env;
  env.set("WSP_TEST_S3_KEY", "AKIDNAMED");
  env.set("WSP_TEST_S3_SECRET", "named/secret");
  env.set("AWS_ACCESS_KEY_ID", "AKIDOTHER");
  env.set("AWS_SECRET_ACCESS_KEY", "other");
  auto credentials = load_credentials({"WSP_TEST_S3_KEY", "WSP_TEST_S3_SECRET", "", {}, {}, ""});
  ASSERT_TRUE(credentials.ok()) << credentials.message();
  EXPECT_EQ(credentials->access_key_id, "AKIDNAMED");
  EXPECT_EQ(credentials->secret_access_key, "named/secret");

  env.unset("WSP_TEST_S3_SECRET");
  auto missing = load_credentials({"WSP_TEST_S3_KEY", "WSP_TEST_S3_SECRET", "", {}, {}, ""});
  ASSERT_FALSE(missing.ok());  // never a silent fall back to another account's keys
  EXPECT_NE(missing.message().find("WSP_TEST_S3_SECRET (secret_key_env) is not set"), std::string::npos)
      << missing.message();
}

TEST(S3Credentials, FromFilesTheTargetNames) {
  EnvironmentGuard env;
  wsp::testing::TempDir folder;
  std::ofstream(folder.path() / "key") << "AKIDFILE\n";
  std::ofstream(folder.path() / "secret") << "  file-secret \n";
  auto credentials = load_credentials({"", "", "", folder.path() / "key", folder.path() / "secret", ""});
  ASSERT_TRUE(credentials.ok()) << credentials.message();
  EXPECT_EQ(credentials->access_key_id, "AKIDFILE");
  EXPECT_EQ(credentials->secret_access_key, "file-secret");
  auto missing = load_credentials({"", "", "", folder.path() / "key", folder.path() / "nope", ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope"), std::string::npos) << missing.message();
}

TEST(S3Credentials, FromAwsVariablesThenTheSharedFile) {
  EnvironmentGuard env;
  wsp::testing::TempDir folder;
  auto file = folder.path() / "credentials";
  std::ofstream(file) << "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-secret\n\n"
                         "# the studio's R2 account\n[studio]\naws_access_key_id=AKIDSTUDIO\n"
                         "aws_secret_access_key=studio-secret\naws_session_token = studio-token\n";
  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  env.set("AWS_SESSION_TOKEN", "env-token");
  env.set("AWS_SHARED_CREDENTIALS_FILE", file.string());
  env.unset("AWS_PROFILE");
  auto from_env = load_credentials({});
  ASSERT_TRUE(from_env.ok()) << from_env.message();
  EXPECT_EQ(from_env->access_key_id, "AKIDENV");
  EXPECT_EQ(from_env->session_token, "env-token");

  env.unset("AWS_ACCESS_KEY_ID");
  env.unset("AWS_SECRET_ACCESS_KEY");
  auto from_default = load_credentials({});
  ASSERT_TRUE(from_default.ok()) << from_default.message();
  EXPECT_EQ(from_default->access_key_id, "AKIDDEFAULT");

  env.set("AWS_PROFILE", "studio");
  auto from_profile = load_credentials({});
  ASSERT_TRUE(from_profile.ok()) << from_profile.message();
  EXPECT_EQ(from_profile->access_key_id, "AKIDSTUDIO");
  EXPECT_EQ(from_profile->secret_access_key, "studio-secret");
  EXPECT_EQ(from_profile->session_token, "studio-token");

  CredentialSource absent;
  absent.profile = "nobody";
  auto nothing = load_credentials(absent);
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.message().find("[nobody]"), std::string::npos) << nothing.message();
}

}  // namespace
