// `selfsup serve` against a real server on loopback: a tiny CLIP model trained and an index built
// in the test, the server started on an ephemeral port, queried with cpp-httplib's client.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "run_cli.h"
#include "selfsup/clip/search_service.h"
#include "test_util.h"

namespace fs = std::filesystem;

TEST(Utf8, AcceptsWellFormedAndRejectsTheRest) {
  using selfsup::clip::valid_utf8;
  EXPECT_TRUE(valid_utf8("a red heart"));
  EXPECT_TRUE(valid_utf8("c\xC3\xA9sar \xE2\x9D\xA4 \xF0\x9F\x91\x8B"));  // é, ❤, 👋
  EXPECT_FALSE(valid_utf8("\xFF\xFE"));
  EXPECT_FALSE(valid_utf8("\xC3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

namespace {

// A running `selfsup serve`, stopped (SIGTERM) at scope exit.
class Server {
 public:
  Server(const std::string& args, const std::string& log) : log_(log) {
    const std::string cmd = std::string("exec ") + SELFSUP_BINARY + " serve " + args + " --port 0 > " + log + " 2>&1";
    const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
    EXPECT_EQ(posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);
    const std::regex listening(R"(http://127\.0\.0\.1:(\d+)/)");
    for (int i = 0; i < 600 && port == 0; ++i) {  // the model loads in about a second
      std::ifstream in(log);
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      std::smatch m;
      if (std::regex_search(text, m, listening)) port = std::stoi(m[1].str());
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Server() { stop(); }
  // Exit status once stopped, for the clean-shutdown check.
  int stop() {
    if (pid_ <= 0) return -1;  // never kill(-1, ...): that signals every process of the user
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  pid_t pid() const { return pid_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }
  int port = 0;

 private:
  pid_t pid_ = -1;
  std::string log_;
};

nlohmann::json body_json(const httplib::Result& r) { return nlohmann::json::parse(r->body); }

// A 32x32 PNG whose header claims `side` x `side` pixels: a decompression bomb's first bytes.
std::string png_claiming(uint32_t side, const std::string& real_png) {
  std::string bytes = real_png;
  for (int i = 0; i < 4; ++i) {
    bytes[16 + i] = static_cast<char>((side >> (24 - 8 * i)) & 0xFF);  // IHDR width
    bytes[20 + i] = static_cast<char>((side >> (24 - 8 * i)) & 0xFF);  // IHDR height
  }
  return bytes;
}

}  // namespace

TEST(ServeEndToEnd, ApiAnswersLikeSearchAndRefusesBadRequests) {
  const auto root = selfsup::test_util::tmp_dir("serve");
  selfsup::test_util::write_caption_pairs(root + "/pairs");
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_tiny_test.yaml";
  auto r = run_cli("train " + recipe + " data.root=" + root + "/pairs run_dir=" + root + "/runs eval.at_end=false");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string ckpt = root + "/runs/clip_tiny_test/checkpoint.pt";
  r = run_cli("embed --checkpoint " + ckpt + " --images " + root + "/pairs/Images --out " + root + "/index.bin");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ofstream(root + "/captions.txt") << "a red square\na blue stripe\na green square\n";

  Server server("--checkpoint " + ckpt + " --index " + root + "/index.bin --captions " + root + "/captions.txt --max-k 5",
                root + "/serve.log");
  ASSERT_GT(server.port, 0) << "the server did not start; see " << root << "/serve.log";
  auto c = server.client();

  // The same ranking as `selfsup search` for the same query.
  const auto cli = run_cli("search --index " + root + "/index.bin --checkpoint " + ckpt + " -k 3 \"a red square\"");
  auto res = c.Get("/search?q=a%20red%20square&k=3");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto hits = body_json(res)["results"];
  ASSERT_EQ(hits.size(), 3u);
  std::istringstream lines(cli.output);
  for (const auto& hit : hits) {
    std::string line;
    std::getline(lines, line);
    EXPECT_NE(line.find(hit["path"].get<std::string>()), std::string::npos) << cli.output << "\n" << res->body;
  }
  EXPECT_NE(hits[0]["path"].get<std::string>().find("red_square"), std::string::npos);

  // Similar images, an upload (with its nearest captions), a thumbnail.
  res = c.Get("/search/similar?id=" + std::to_string(hits[0]["id"].get<int>()) + "&k=1");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(body_json(res)["results"][0]["id"], hits[0]["id"]);
  std::ifstream png_file(root + "/pairs/Images/blue_stripe.png", std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(png_file)), {});
  res = c.Post("/search/image?k=2", png, "image/png");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(body_json(res)["results"][0]["path"].get<std::string>().find("blue_stripe"), std::string::npos);
  EXPECT_EQ(body_json(res)["captions"].size(), 2u);
  res = c.Get("/image/0");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(res->body.substr(1, 3), "PNG");
  res = c.Get("/");
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("<form id=\"search\""), std::string::npos);

  // Bad requests: 4xx with a JSON error, and the server goes on serving.
  const std::vector<std::pair<std::string, int>> bad_gets{
      {"/search?k=3", 400},                 // no q
      {"/search?q=red&k=0", 400},           // k too small
      {"/search?q=red&k=6", 400},           // k above --max-k
      {"/search?q=red&k=1e9", 400},         // not an integer
      {"/search?q=%FF%FE", 400},            // not UTF-8
      {"/search?q=" + std::string(1200, 'a'), 413},
      {"/search/similar?id=6", 404},
      {"/image/6", 404},
      {"/image/-1", 404},
      {"/image/../../etc/passwd", 404},
      {"/nothing", 404}};
  for (const auto& [path, status] : bad_gets) {
    res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, status) << path << ": " << res->body;
    EXPECT_TRUE(body_json(res).contains("error")) << path << ": " << res->body;
  }
  const std::vector<std::pair<std::string, int>> bad_uploads{
      {"not an image", 415},
      {png_claiming(10000, png), 413},   // 100 Mpx claimed: refused before decoding
      {png_claiming(100000, png), 415},  // past the decoder's own limit
      {std::string(11 << 20, 'x'), 413}, // larger than the upload limit
      {"", 400}};
  for (const auto& [body, status] : bad_uploads) {
    res = c.Post("/search/image?k=2", body, "application/octet-stream");
    ASSERT_TRUE(res) << body.size() << " bytes";
    EXPECT_EQ(res->status, status) << body.substr(0, 20) << ": " << res->body;
    EXPECT_TRUE(body_json(res).contains("error")) << res->body;
  }
  res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok\n");

  // Concurrent queries are answered (and encoded in shared batches).
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&] {
      auto own = server.client();
      for (int i = 0; i < 5; ++i)
        if (auto r2 = own.Get("/search?q=a%20green%20stripe&k=2"); r2 && r2->status == 200) ++answered;
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered, 40);
  res = c.Get("/metrics");
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("selfsup_index_images 6"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("selfsup_requests{route=\"search\",result=\"ok\"} 41"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("quantile=\"0.99\""), std::string::npos) << res->body;

  // Under load: 4 clients querying back to back for 3 s — no failed request, memory flat
  // (bench/serve_load.cpp; exit 1 otherwise).
  const auto load = run_command(std::string(SELFSUP_BENCH_SERVE) + " load --port " + std::to_string(server.port) +
                                " --clients 4 --seconds 3 --k 5 --pid " + std::to_string(server.pid()) + " 2>&1");
  EXPECT_EQ(load.code, 0) << load.output;
  EXPECT_NE(load.output.find(" 0 failed"), std::string::npos) << load.output;

  // The page in a real browser (headless Chromium): a search linked as /#q=... runs on load, the
  // results appear in the DOM with their thumbnails, and the console stays silent (no script error,
  // no failed image load).
  const std::string err = root + "/chromium.err";
  const auto dom = run_command("timeout 120 chromium-headless-shell --no-sandbox --disable-gpu --virtual-time-budget=10000 "
                               "--enable-logging=stderr --v=0 --dump-dom 'http://127.0.0.1:" + std::to_string(server.port) +
                               "/#q=a%20red%20square' 2>" + err);
  ASSERT_EQ(dom.code, 0) << dom.output << selfsup::test_util::read_text_file(err);
  EXPECT_NE(dom.output.find("5 results for \"a red square\""), std::string::npos) << dom.output;
  const auto first = dom.output.find("<figure class=\"result\"");
  ASSERT_NE(first, std::string::npos) << dom.output;
  const auto first_tag = dom.output.substr(first, dom.output.find('>', first) - first);
  EXPECT_NE(first_tag.find("red_square.png"), std::string::npos) << first_tag;
  EXPECT_NE(dom.output.find("<img src=\"/image/"), std::string::npos) << dom.output;
  const auto log = selfsup::test_util::read_text_file(err);
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;

  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeEndToEnd, BusyPortAndMismatchedIndexExitTwo) {
  const auto root = selfsup::test_util::tmp_dir("serve_bad");
  auto r = run_cli("serve --checkpoint " + root + "/missing.pt --index " + root + "/missing.bin --port 0");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.pt"), std::string::npos) << r.output;
}
