// HttpServer: a minimal HTTP/1.1 server for the operations endpoints ([http] listen: /metrics
// and /healthz), on its own libuv loop and thread, so that a scrape never runs on an SMTP loop.
//
// GET and HEAD only, on a fixed table of paths: another method gets 405, an unknown path 404, a
// request head that breaks RFC 9112 (request line, header syntax, a missing Host in HTTP/1.1, a
// bare CR) 400, a head over max_request_bytes 431, and one not complete within request_timeout
// 408. Every response carries Content-Length and Connection: close; the body of a request is
// never read. Connections past max_connections are closed at once. Everything is bounded:
// connections, bytes per request, time per connection.
//
// Start() binds on the calling thread (a port in use fails the start, naming it) and then runs
// the loop on the server's thread; handlers run there too and must not block for long. An
// exception from a handler becomes a 500, never crosses the loop. Stop() (any thread but the
// server's, idempotent; also the destructor) closes every connection and joins the thread.
#ifndef POSTDESK_GATEWAY_HTTP_SERVER_H_
#define POSTDESK_GATEWAY_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/config.h"
#include "parser/result.h"

namespace postdesk {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD" by the time a handler sees it
  std::string path;    // without the query
  std::string query;   // after '?', may be empty
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The request head (request line and header lines, up to the empty line) parsed by RFC 9112's
// rules; a Status names what is wrong.
Result<HttpRequest> ParseHttpRequestHead(std::string_view head);

// "HTTP/1.1 404 Not Found\r\n..." with Content-Length and Connection: close; without the body
// for HEAD.
std::string SerializeHttpResponse(const HttpResponse& response, bool head_only,
                                  std::string_view extra_headers = {});

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  struct Options {
    ListenAddress listen;  // port 0: any free port (tests)
    size_t max_request_bytes = 8192;
    std::chrono::milliseconds request_timeout{std::chrono::seconds(5)};
    size_t max_connections = 64;
  };

  static Result<std::unique_ptr<HttpServer>> Start(Options options,
                                                   std::map<std::string, Handler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Stop();
  uint16_t port() const;  // the bound port

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_HTTP_SERVER_H_
