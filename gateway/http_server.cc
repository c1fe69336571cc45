#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <uv.h>

#include <cassert>
#include <mutex>
#include <set>
#include <thread>

#include "parser/email_address.h"

namespace postdesk {
namespace {

// After the response, unread input is drained this long before the socket closes, so that a
// client still sending (a body we never read) gets our response rather than a reset.
constexpr uint64_t kLingerMs = 1000;
constexpr size_t kReadBufferSize = 16 * 1024;

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(c)) return false;
  }
  return true;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Unknown";
}

// Where the request head ends: the index just past the LF of its last header line, followed by
// an empty line (CRLF or LF); npos while incomplete. Sets *next past the empty line.
size_t HeadEnd(std::string_view input, size_t* next) {
  for (size_t lf = input.find('\n'); lf != std::string_view::npos; lf = input.find('\n', lf + 1)) {
    std::string_view rest = input.substr(lf + 1);
    if (rest.substr(0, 1) == "\n") {
      *next = lf + 2;
      return lf + 1;
    }
    if (rest.substr(0, 2) == "\r\n") {
      *next = lf + 3;
      return lf + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

Result<HttpRequest> ParseHttpRequestHead(std::string_view head) {
  // RFC 9112 2.2: a bare CR is an error (a request smuggling vector); LF alone ends a line.
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r' && (i + 1 == head.size() || head[i + 1] != '\n')) {
      return Status::Error("bare CR");
    }
    if (head[i] == '\0') return Status::Error("NUL in the request head");
  }
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    head = lf == std::string_view::npos ? std::string_view() : head.substr(lf + 1);
  }
  size_t first = 0;
  while (first < lines.size() && lines[first].empty()) ++first;  // RFC 9112 2.2: ignored
  if (first == lines.size()) return Status::Error("no request line");

  // request-line = method SP request-target SP HTTP-version (RFC 9112 3)
  std::string_view line = lines[first];
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Status::Error("malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Status::Error("malformed method");
  if (target.empty() || (target[0] != '/' && target != "*")) {
    return Status::Error("request target must be a path");
  }
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return Status::Error("malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    return Status::Error("unsupported HTTP version");
  }

  size_t hosts = 0;
  for (size_t i = first + 1; i < lines.size(); ++i) {
    std::string_view header = lines[i];
    if (header.empty()) return Status::Error("empty line inside the head");
    if (header[0] == ' ' || header[0] == '\t') return Status::Error("obsolete line folding");
    size_t colon = header.find(':');
    // RFC 9112 5.1: no white space between the field name and the colon.
    if (colon == std::string_view::npos || !IsToken(header.substr(0, colon))) {
      return Status::Error("malformed header field");
    }
    if (EqualsIgnoreCase(header.substr(0, colon), "host")) ++hosts;
  }
  // RFC 9112 3.2: an HTTP/1.1 request without exactly one Host gets 400.
  if (version != "HTTP/1.0" && hosts != 1) return Status::Error("needs one Host header");

  HttpRequest request;
  request.method = std::string(method);
  size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  return request;
}

std::string SerializeHttpResponse(const HttpResponse& response, bool head_only,
                                  std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n";
  out.append(extra_headers);
  out += "\r\n";
  if (!head_only) out += response.body;
  return out;
}

class HttpServer::Impl {
 public:
  Impl(Options options, std::map<std::string, Handler> routes)
      : options_(std::move(options)),
        routes_(std::move(routes)),
        listener_(new uv_tcp_t),
        stop_async_(new uv_async_t),
        read_buffer_(new char[kReadBufferSize]) {
    uv_loop_init(&loop_);
    uv_tcp_init(&loop_, listener_);
    listener_->data = this;
    uv_async_init(&loop_, stop_async_,
                  [](uv_async_t* a) { static_cast<Impl*>(a->data)->OnStop(); });
    stop_async_->data = this;
  }

  ~Impl() {
    // Run() returned (or never ran): every handle is closed and freed.
    int rc = uv_loop_close(&loop_);
    assert(rc == 0);
    (void)rc;
  }

  Status Bind() {
    const ListenAddress& a = options_.listen;
    std::string where = a.host + ":" + std::to_string(a.port);
    sockaddr_storage addr{};
    unsigned flags = 0;
    if (uv_ip4_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
      if (uv_ip6_addr(a.host.c_str(), a.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
        return Status::Error("[http] listen " + where + ": not an IP address");
      }
      flags = UV_TCP_IPV6ONLY;
    }
    // libuv reports some bind errors only at listen: check both.
    int rc = uv_tcp_bind(listener_, reinterpret_cast<sockaddr*>(&addr), flags);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 128, &Impl::OnConnection);
    }
    if (rc != 0) return Status::Error("[http] listen " + where + ": " + uv_strerror(rc));
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return Status::Ok();
  }

  void StartThread() {
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  // Not started (Bind failed): closes the handles on this thread.
  void CloseUnstarted() {
    OnStop();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (!thread_.joinable()) return;
    uv_async_send(stop_async_);  // the async handle closes only in answer to this
    thread_.join();
  }

  uint16_t port() const { return port_; }

 private:
  struct Connection {
    uv_tcp_t tcp;
    uv_timer_t timer;
    Impl* server = nullptr;
    std::string input;
    bool responded = false;
    bool closing = false;
    int open_handles = 2;
  };
  struct Write {
    uv_write_t req;
    Connection* connection;
    std::string data;
  };

  template <typename Handle>
  static void CloseAndDelete(Handle* handle) {
    uv_close(reinterpret_cast<uv_handle_t*>(handle),
             [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
  }

  void OnStop() {
    if (listener_) CloseAndDelete(listener_);
    listener_ = nullptr;
    std::vector<Connection*> open(connections_.begin(), connections_.end());
    for (Connection* c : open) Close(c);
    if (stop_async_) CloseAndDelete(stop_async_);
    stop_async_ = nullptr;
  }

  static void OnConnection(uv_stream_t* listener, int status) {
    auto* self = static_cast<Impl*>(listener->data);
    if (status < 0) return;
    auto* c = new Connection;
    c->server = self;
    uv_tcp_init(&self->loop_, &c->tcp);
    uv_timer_init(&self->loop_, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    self->connections_.insert(c);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
        self->connections_.size() > self->options_.max_connections) {
      self->Close(c);
      return;
    }
    uv_timer_start(&c->timer, &Impl::OnTimer,
                   static_cast<uint64_t>(self->options_.request_timeout.count()), 0);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &Impl::OnAlloc, &Impl::OnRead);
  }

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    // One buffer for the loop: OnRead copies what it keeps before the next read.
    Impl* self = static_cast<Connection*>(handle->data)->server;
    *buf = uv_buf_init(self->read_buffer_.get(), kReadBufferSize);
  }

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    Impl* self = c->server;
    if (nread < 0) return self->Close(c);    // EOF or error: nothing more to say
    if (nread == 0 || c->responded) return;  // after the response, input is drained unread
    size_t room = self->options_.max_request_bytes + 1 - c->input.size();
    c->input.append(buf->base, std::min(static_cast<size_t>(nread), room));
    // RFC 9112 2.2: empty lines before the request line are ignored.
    size_t skip = 0;
    while (true) {
      if (c->input.compare(skip, 2, "\r\n") == 0) {
        skip += 2;
      } else if (skip < c->input.size() && c->input[skip] == '\n') {
        skip += 1;
      } else {
        break;
      }
    }
    c->input.erase(0, skip);
    size_t next = 0;
    size_t end = HeadEnd(c->input, &next);
    if (end != std::string::npos && next <= self->options_.max_request_bytes) {
      self->Dispatch(c, std::string_view(c->input).substr(0, end));
    } else if (c->input.size() > self->options_.max_request_bytes) {
      HttpResponse too_large{431, "text/plain; charset=utf-8", "request head too large\n"};
      self->Respond(c, too_large, false, {});
    }
  }

  static void OnTimer(uv_timer_t* timer) {
    auto* c = static_cast<Connection*>(timer->data);
    if (c->responded) return c->server->Close(c);  // the linger is over
    HttpResponse timeout{408, "text/plain; charset=utf-8", "request timeout\n"};
    c->server->Respond(c, timeout, false, {});
  }

  void Dispatch(Connection* c, std::string_view head) {
    Result<HttpRequest> request = ParseHttpRequestHead(head);
    if (!request.ok()) {
      return Respond(
          c,
          {400, "text/plain; charset=utf-8", "bad request: " + request.status().message() + "\n"},
          false, {});
    }
    bool head_only = request->method == "HEAD";
    if (request->method != "GET" && !head_only) {
      return Respond(c, {405, "text/plain; charset=utf-8", "method not allowed\n"}, false,
                     "Allow: GET, HEAD\r\n");
    }
    auto route = routes_.find(request->path);
    if (route == routes_.end()) {
      return Respond(c, {404, "text/plain; charset=utf-8", "not found\n"}, head_only, {});
    }
    HttpResponse response;
    try {
      response = route->second(request.value());
    } catch (...) {
      response = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
    Respond(c, response, head_only, {});
  }

  void Respond(Connection* c, const HttpResponse& response, bool head_only,
               std::string_view extra_headers) {
    c->responded = true;
    c->input.clear();
    c->input.shrink_to_fit();
    uv_timer_start(&c->timer, &Impl::OnTimer, kLingerMs, 0);
    auto* write = new Write;
    write->data = SerializeHttpResponse(response, head_only, extra_headers);
    write->connection = c;
    write->req.data = write;
    uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
    int rc = uv_write(&write->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                      [](uv_write_t* req, int status) {
                        auto* w = static_cast<Write*>(req->data);
                        Connection* conn = w->connection;
                        delete w;
                        if (conn->closing) return;  // cancelled by Close
                        if (status < 0) return conn->server->Close(conn);
                        conn->server->Shutdown(conn);
                      });
    if (rc != 0) {
      delete write;
      Close(c);
    }
  }

  // FIN after the response; the read side drains until the client closes or the linger ends.
  void Shutdown(Connection* c) {
    auto* req = new uv_shutdown_t;
    req->data = c;
    int rc = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c->tcp),
                         [](uv_shutdown_t* r, int) { delete r; });
    if (rc != 0) {
      delete req;
      Close(c);
    }
  }

  void Close(Connection* c) {
    if (c->closing) return;
    c->closing = true;
    connections_.erase(c);
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&c->tcp), reinterpret_cast<uv_handle_t*>(&c->timer)}) {
      uv_close(h, [](uv_handle_t* handle) {
        auto* conn = static_cast<Connection*>(handle->data);
        if (--conn->open_handles == 0) delete conn;  // both handles live in the Connection
      });
    }
  }

  const Options options_;
  const std::map<std::string, Handler> routes_;
  uv_loop_t loop_;
  uv_tcp_t* listener_;      // owned; freed in its close callback
  uv_async_t* stop_async_;  // owned; freed in its close callback
  std::unique_ptr<char[]> read_buffer_;
  std::set<Connection*> connections_;  // owned; each freed when both its handles closed
  uint16_t port_ = 0;
  std::mutex stop_mu_;
  std::thread thread_;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Options options,
                                                      std::map<std::string, Handler> routes) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(routes));
  Status bound = impl->Bind();
  if (!bound.ok()) {
    impl->CloseUnstarted();
    return bound;
  }
  impl->StartThread();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}

uint16_t HttpServer::port() const { return impl_->port(); }

}  // namespace postdesk
