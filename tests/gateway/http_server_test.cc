#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace postdesk {
namespace {

using std::chrono::milliseconds;

// A blocking client socket to the server under test, with a receive timeout so that a server
// that never answers fails the test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { close(fd_); }

  bool connected() const { return connected_; }
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Everything until the server closes (or the timeout).
  std::string ReadAll() {
    std::string out;
    char buffer[4096];
    while (true) {
      ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return out;
      out.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Exchange(uint16_t port, std::string_view request) {
  Client client(port);
  client.Send(request);
  return client.ReadAll();
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServer::Options options = {}) {
    options.listen = {"127.0.0.1", 0};
    std::map<std::string, HttpServer::Handler> routes;
    routes["/metrics"] = [this](const HttpRequest& request) {
      ++calls_;
      last_query_ = request.query;
      return HttpResponse{200, "text/plain; version=0.0.4", "up 1\n"};
    };
    routes["/healthz"] = [](const HttpRequest&) {
      return HttpResponse{503, "text/plain; charset=utf-8", "redis: down\n"};
    };
    routes["/throws"] = [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler bug");
    };
    Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, std::move(routes));
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
  }
  uint16_t port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
  std::string last_query_;
};

TEST_F(HttpServerTest, GetAnswersWithTheHandlersBodyLengthAndConnectionClose) {
  StartServer();
  std::string response = Exchange(port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(response,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nup 1\n");
  EXPECT_EQ(last_query_, "x=1");
  EXPECT_EQ(StatusLine(Exchange(port(), "GET /healthz HTTP/1.0\r\n\r\n")),
            "HTTP/1.1 503 Service Unavailable");
}

TEST_F(HttpServerTest, HeadHasTheHeadersWithoutTheBody) {
  StartServer();
  std::string response = Exchange(port(), "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(StatusLine(response), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(response.substr(response.size() - 4), "\r\n\r\n");
}

TEST_F(HttpServerTest, UnknownPathIs404AndOtherMethods405) {
  StartServer();
  EXPECT_EQ(StatusLine(Exchange(port(), "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n")),
            "HTTP/1.1 404 Not Found");
  std::string post = Exchange(port(),
                              "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                              "\r\nabc");
  EXPECT_EQ(StatusLine(post), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(StatusLine(Exchange(port(), "get /metrics HTTP/1.1\r\nHost: a\r\n\r\n")),
            "HTTP/1.1 405 Method Not Allowed");  // methods are case-sensitive
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  StartServer();
  for (const char* bad : {
           "GET /metrics\r\n\r\n",                                 // no version
           "GET  /metrics HTTP/1.1\r\nHost: a\r\n\r\n",            // two spaces
           "GET /metrics HTTP/2.0\r\nHost: a\r\n\r\n",             // not HTTP/1.x
           "GET metrics HTTP/1.1\r\nHost: a\r\n\r\n",              // not a path
           "GET /metrics HTTP/1.1\r\n\r\n",                        // HTTP/1.1 without Host
           "GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
           "GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n",            // space before the colon
           "GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",  // obsolete folding
           "GET /metrics HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",       // bare CR
           "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
       }) {
    std::string response = Exchange(port(), bad);
    EXPECT_EQ(StatusLine(response), "HTTP/1.1 400 Bad Request") << bad;
    EXPECT_NE(response.find("Connection: close"), std::string::npos) << bad;
  }
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, AHeadOverTheLimitIs431AndOneWithinItIsServed) {
  HttpServer::Options options;
  options.max_request_bytes = 8192;
  StartServer(options);
  std::string big = "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(9000, 'a');
  EXPECT_EQ(StatusLine(Exchange(port(), big)), "HTTP/1.1 431 Request Header Fields Too Large");
  std::string fits =
      "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(7000, 'a') + "\r\n\r\n";
  EXPECT_EQ(StatusLine(Exchange(port(), fits)), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, ARequestSentByteByByteWithLfLineEndsIsServed) {
  StartServer();
  Client client(port());
  for (char c : std::string("\r\nGET /metrics HTTP/1.1\nHost: a\n\n")) {
    client.Send(std::string_view(&c, 1));
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(StatusLine(client.ReadAll()), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, AnIncompleteRequestTimesOutWith408) {
  HttpServer::Options options;
  options.request_timeout = milliseconds(200);
  StartServer(options);
  Client client(port());
  client.Send("GET /metrics HTTP/1.1\r\nHost: a\r\n");  // never the empty line
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(StatusLine(client.ReadAll()), "HTTP/1.1 408 Request Timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST_F(HttpServerTest, AHandlerThatThrowsGives500AndTheServerGoesOn) {
  StartServer();
  EXPECT_EQ(StatusLine(Exchange(port(), "GET /throws HTTP/1.1\r\nHost: a\r\n\r\n")),
            "HTTP/1.1 500 Internal Server Error");
  EXPECT_EQ(StatusLine(Exchange(port(), "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")),
            "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitAreClosedAtOnce) {
  HttpServer::Options options;
  options.max_connections = 2;
  StartServer(options);
  Client first(port()), second(port());
  first.Send("G");  // both held open, waiting for the rest of a request
  second.Send("G");
  std::this_thread::sleep_for(milliseconds(100));
  Client third(port());
  EXPECT_EQ(third.ReadAll(), "");  // closed without a response
  first.Send("ET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(StatusLine(first.ReadAll()), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, APortInUseFailsTheStartNamingIt) {
  StartServer();
  HttpServer::Options options;
  options.listen = {"127.0.0.1", port()};
  Result<std::unique_ptr<HttpServer>> second = HttpServer::Start(options, {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(port())),
            std::string::npos)
      << second.status().message();
}

TEST_F(HttpServerTest, StopClosesOpenConnectionsAndIsIdempotent) {
  StartServer();
  Client idle(port());
  idle.Send("GET /metr");
  std::this_thread::sleep_for(milliseconds(50));
  server_->Stop();
  EXPECT_EQ(idle.ReadAll(), "");
  server_->Stop();
  Client after(port());
  EXPECT_FALSE(after.connected());
}

TEST(HttpRequestHead, ParsesMethodPathAndQuery) {
  Result<HttpRequest> r = ParseHttpRequestHead("GET /metrics?a=b HTTP/1.1\r\nHost: x\r\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->path, "/metrics");
  EXPECT_EQ(r->query, "a=b");
  EXPECT_TRUE(ParseHttpRequestHead("GET / HTTP/1.0\n").ok());
  EXPECT_TRUE(ParseHttpRequestHead("GET / HTTP/1.1\r\nhOsT: x\r\nX-Empty:\r\n").ok());
  EXPECT_EQ(ParseHttpRequestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET").status().message(),
            "empty line inside the head");
  EXPECT_EQ(ParseHttpRequestHead(std::string("GET /\0 HTTP/1.0\r\n", 17)).status().message(),
            "NUL in the request head");
}

}  // namespace
}  // namespace postdesk
