#include "serve_command.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "selfsup/clip/search_service.h"
#include "selfsup/core/error.h"
#include "selfsup/core/runtime.h"

namespace selfsup::cli {
namespace {

// The search page: no external assets (works offline), a grid that reflows on a phone; clicking a
// result searches for images like it.
const char* kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>selfsup search</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#fafafa;color:#222}
form{display:flex;gap:.5rem;max-width:40rem;margin:0 auto 1rem}
input[type=text]{flex:1;font-size:1.1rem;padding:.5rem;border:1px solid #bbb;border-radius:.3rem}
button{font-size:1.1rem;padding:.5rem 1rem}
#status{text-align:center;color:#666;min-height:1.5em}
#results{display:grid;grid-template-columns:repeat(auto-fill,minmax(8rem,1fr));gap:.75rem}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:.3rem;padding:.3rem;text-align:center;cursor:pointer}
figure img{width:100%;image-rendering:pixelated}
figcaption{font-size:.8rem;color:#555;word-break:break-all}
</style></head><body>
<form id="search"><input id="q" type="text" name="q" placeholder="describe an image, e.g. a red heart" autofocus>
<button type="submit">Search</button></form>
<div id="status"></div><div id="results"></div>
<script>
const results = document.getElementById('results'), status = document.getElementById('status');
function show(data, what) {
  results.textContent = '';
  if (data.error) { status.textContent = data.error; return; }
  status.textContent = data.results.length + ' results for ' + what + ' (' + data.milliseconds.toFixed(1) + ' ms)';
  for (const r of data.results) {
    const f = document.createElement('figure'); f.className = 'result'; f.dataset.id = r.id;
    const img = document.createElement('img'); img.src = r.image; img.alt = r.path; img.loading = 'lazy';
    const c = document.createElement('figcaption'); c.textContent = r.score.toFixed(3) + ' ' + (r.label || '');
    f.append(img, c); f.title = r.path;
    f.addEventListener('click', () => similar(r.id, r.path));
    results.append(f);
  }
}
async function query(url, what) {
  status.textContent = 'searching...';
  try { show(await (await fetch(url)).json(), what); } catch (e) { status.textContent = 'error: ' + e; }
}
function similar(id, path) { query('/search/similar?id=' + id, 'images like ' + path); }
function run(q) {
  if (!q) return;
  history.replaceState(null, '', '#q=' + encodeURIComponent(q));  // a link to this search
  query('/search?q=' + encodeURIComponent(q), '"' + q + '"');
}
document.getElementById('search').addEventListener('submit', e => {
  e.preventDefault();
  run(document.getElementById('q').value.trim());
});
const linked = new URLSearchParams(location.hash.slice(1)).get('q');
if (linked) { document.getElementById('q').value = linked; run(linked); }
</script></body></html>
)HTML";

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}, {"status", status}});
}

nlohmann::json hits_json(const std::vector<clip::Hit>& hits) {
  auto out = nlohmann::json::array();
  for (const auto& h : hits)
    out.push_back({{"rank", h.rank}, {"score", h.score}, {"id", h.id}, {"path", h.path}, {"label", h.label},
                   {"image", "/image/" + std::to_string(h.id)}});
  return out;
}

// A query parameter as an integer in its own range; BadRequest otherwise.
int64_t int_param(const httplib::Request& req, const std::string& name, int64_t fallback) {
  if (!req.has_param(name.c_str())) return fallback;
  const auto text = req.get_param_value(name.c_str());
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw clip::BadRequest(400, name + "=" + text.substr(0, 40) + ": expected an integer");
}

}  // namespace

ServeCommand::ServeCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("serve", "Serve CLIP search over HTTP: a web page, a JSON API, thumbnails, health and metrics\n"
                                     "(docs/clip.md, \"Search service\")");
  cmd_->add_option("--checkpoint", checkpoint_, "the CLIP checkpoint that built the index")->required();
  cmd_->add_option("--index", index_, "index file written by selfsup embed")->required();
  cmd_->add_option("--captions", captions_, "a text file of captions (one per line) for image -> caption queries");
  cmd_->add_option("--host", host_, "address to listen on (127.0.0.1: this machine only; 0.0.0.0: the network)")
      ->capture_default_str();
  cmd_->add_option("--port", port_, "port (0: any free port, printed at start)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd_->add_option("--threads", threads_, "request threads")->capture_default_str()->check(CLI::Range(1, 256));
  cmd_->add_option("--max-k", max_k_, "largest k a query may ask for")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd_->add_flag("--exact", exact_, "scan every image even when the index is approximate (IVF, HNSW)");
  cmd_->add_option("--nprobe", nprobe_, "IVF index: cells to search (default: the one stored at build)");
  cmd_->add_option("--ef-search", ef_search_, "HNSW index: search beam (default: the one stored at build)");
}

bool ServeCommand::run(int& exit_code) {
  if (!*cmd_) return false;
  exit_code = serve();
  return true;
}

int ServeCommand::serve() {
  configure_threads(0);
  clip::ServiceLimits limits;
  limits.max_k = max_k_;
  clip::SearchService service(checkpoint_, index_, captions_, limits);
  service.set_search_options(exact_, nprobe_, ef_search_);
  const int64_t default_k = std::min<int64_t>(12, limits.max_k);

  httplib::Server server;
  const int threads = threads_;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server.set_payload_max_length(limits.max_upload_bytes + 4096);
  server.set_read_timeout(10, 0);
  server.set_write_timeout(10, 0);
  server.set_keep_alive_max_count(100);

  // Every handler: time it, answer BadRequest with its status and anything else with a 500, and
  // never let an exception reach the server loop.
  auto handle = [&service](const std::string& route, auto&& body) {
    return [&service, route, body](const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      bool ok = true;
      try {
        body(req, res, start);
      } catch (const clip::BadRequest& e) {
        ok = false;
        send_error(res, e.status, e.what());
      } catch (const std::exception& e) {
        ok = false;
        send_error(res, 500, std::string("internal error: ") + e.what());
      }
      service.record(route, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), ok);
    };
  };
  auto elapsed_ms = [](std::chrono::steady_clock::time_point start) {
    return 1000 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  server.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kPage, "text/html; charset=utf-8"); });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  server.Get("/metrics", [&service](const httplib::Request&, httplib::Response& res) {
    res.set_content(service.metrics_text(), "text/plain; version=0.0.4");
  });
  server.Get("/search", handle("search", [&, default_k](const httplib::Request& req, httplib::Response& res, auto start) {
    if (!req.has_param("q")) throw clip::BadRequest(400, "q: give a sentence to search for (/search?q=a+red+heart&k=12)");
    const auto q = req.get_param_value("q");
    const int64_t k = int_param(req, "k", default_k);
    const auto hits = service.search_text(q, k);
    send_json(res, 200, {{"query", q}, {"k", k}, {"results", hits_json(hits)}, {"milliseconds", elapsed_ms(start)}});
  }));
  server.Get("/search/similar", handle("similar", [&](const httplib::Request& req, httplib::Response& res, auto start) {
    if (!req.has_param("id")) throw clip::BadRequest(400, "id: give the id of an indexed image (/search/similar?id=3)");
    const int64_t id = int_param(req, "id", 0), k = int_param(req, "k", default_k);
    const auto hits = service.search_similar(id, k);
    send_json(res, 200, {{"id", id}, {"k", k}, {"results", hits_json(hits)}, {"milliseconds", elapsed_ms(start)}});
  }));
  server.Post("/search/image", handle("image_search", [&](const httplib::Request& req, httplib::Response& res, auto start) {
    const int64_t k = int_param(req, "k", default_k);
    const auto [hits, captions] = service.search_image(req.body, k);
    auto caps = nlohmann::json::array();
    for (const auto& c : captions) caps.push_back({{"rank", c.rank}, {"score", c.score}, {"caption", c.caption}});
    send_json(res, 200, {{"k", k}, {"results", hits_json(hits)}, {"captions", caps}, {"milliseconds", elapsed_ms(start)}});
  }));
  // Ids only (digits): a path from the request never reaches the file system.
  server.Get(R"(/image/(\d{1,12}))", handle("image", [&](const httplib::Request& req, httplib::Response& res, auto) {
    res.set_content(service.thumbnail(std::stoll(req.matches[1].str())), "image/png");
    res.set_header("Cache-Control", "max-age=3600");
  }));
  const size_t max_upload = limits.max_upload_bytes;
  server.set_error_handler([max_upload](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already answered
    if (res.status == 404) send_error(res, 404, "no such page: " + req.path.substr(0, 100));
    else if (res.status == 413) send_error(res, 413, "request body larger than " + std::to_string(max_upload) + " bytes");
    else send_error(res, res.status, "request refused (" + std::to_string(res.status) + ")");
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });

  const int port = port_ == 0 ? server.bind_to_any_port(host_) : (server.bind_to_port(host_, port_) ? port_ : -1);
  if (port < 0) throw Error("--port " + std::to_string(port_) + ": cannot listen on " + host_ + " (port in use, or not an address of this machine)");
  std::cout << "index: " << service.index_summary() << std::endl;
  std::cout << "serving " << service.size() << " images on http://" << host_ << ":" << port << "/ ("
            << (host_ == "127.0.0.1" || host_ == "localhost" ? "this machine only; --host 0.0.0.0 to serve the network"
                                                             : "reachable from the network")
            << "); Ctrl-C stops" << std::endl;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::thread stopper([&] {
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  server.listen_after_bind();
  g_stop = true;
  stopper.join();
  std::cout << "stopped" << std::endl;
  return 0;
}

}  // namespace selfsup::cli
