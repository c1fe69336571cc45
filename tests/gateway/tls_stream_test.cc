#include "gateway/tls_stream.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/gateway/tls_test_files.h"

namespace postdesk {
namespace {

// Moves bytes between the two ends until neither has anything to say.
void Pump(TlsStream& client, TlsStream& server, std::string* at_client, std::string* at_server) {
  for (int i = 0; i < 20; ++i) {
    std::string to_server = client.TakeOutput();
    std::string to_client = server.TakeOutput();
    if (to_server.empty() && to_client.empty()) return;
    ASSERT_TRUE(server.Feed(to_server, at_server).ok());
    ASSERT_TRUE(client.Feed(to_client, at_client).ok());
  }
  FAIL() << "the TLS conversation did not settle";
}

TEST(TlsStream, HandshakeThenDataBothWaysOverTls13) {
  auto server_ctx = TlsContext::LoadServer(TlsFiles::Get().cert, TlsFiles::Get().key);
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().message();
  auto client_ctx = TlsContext::Client(TlsFiles::Get().cert);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.status().message();
  auto server = TlsStream::Create(server_ctx.value());
  auto client = TlsStream::Create(client_ctx.value());
  ASSERT_TRUE(server.ok() && client.ok());

  // The server's greeting is written before the handshake (implicit TLS): it is held.
  ASSERT_TRUE(server.value()->Write("220 mx.postdesk.test ESMTP\r\n").ok());
  std::string at_client, at_server;
  Pump(*client.value(), *server.value(), &at_client, &at_server);
  EXPECT_TRUE(server.value()->handshake_done());
  EXPECT_EQ(server.value()->Describe().rfind("TLSv1.3 ", 0), 0u) << server.value()->Describe();
  EXPECT_EQ(at_client, "220 mx.postdesk.test ESMTP\r\n");

  ASSERT_TRUE(client.value()->Write("EHLO client.test\r\n").ok());
  Pump(*client.value(), *server.value(), &at_client, &at_server);
  EXPECT_EQ(at_server, "EHLO client.test\r\n");
}

// Runs a handshake to its end; the client's status (the server's may fail too, on the alert).
Status ClientHandshake(TlsStream& client, TlsStream& server) {
  std::string at_client, at_server;
  for (int i = 0; i < 20 && !client.handshake_done(); ++i) {
    (void)server.Feed(client.TakeOutput(), &at_server);
    Status s = client.Feed(server.TakeOutput(), &at_client);
    if (!s.ok()) return s;
  }
  return client.handshake_done() ? Status::Ok() : Status::Error("the handshake did not settle");
}

TEST(TlsStream, VerifyingClientChecksTheNameItWasGiven) {
  auto server_ctx = TlsContext::LoadServer(TlsFiles::Get().cert, TlsFiles::Get().key);
  auto client_ctx = TlsContext::Client(TlsFiles::Get().cert);  // trusts the server's chain
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  struct Case {
    const char* name;
    const char* error;  // "" when the handshake succeeds
  };
  for (const Case& c :
       {Case{"mx.postdesk.test", ""},
        Case{"other.postdesk.test", "TLS handshake: certificate: hostname mismatch"},
        Case{"192.0.2.1", "TLS handshake: certificate: IP address mismatch"}}) {
    auto server = TlsStream::Create(server_ctx.value());
    auto client = TlsStream::Create(client_ctx.value(), c.name);
    ASSERT_TRUE(server.ok() && client.ok()) << c.name;
    Status s = ClientHandshake(*client.value(), *server.value());
    EXPECT_EQ(s.ok() ? "" : s.message(), c.error) << c.name;
  }
}

TEST(TlsStream, ClientThatVerifiesNothingAcceptsAnyName) {
  auto server_ctx = TlsContext::LoadServer(TlsFiles::Get().cert, TlsFiles::Get().key);
  auto client_ctx = TlsContext::Client();
  ASSERT_TRUE(server_ctx.ok() && client_ctx.ok());
  auto server = TlsStream::Create(server_ctx.value());
  auto client = TlsStream::Create(client_ctx.value(), "other.postdesk.test");
  ASSERT_TRUE(server.ok() && client.ok());
  Status s = ClientHandshake(*client.value(), *server.value());
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(TlsStream, PlaintextWhereTlsIsExpectedIsAnError) {
  auto server_ctx = TlsContext::LoadServer(TlsFiles::Get().cert, TlsFiles::Get().key);
  ASSERT_TRUE(server_ctx.ok());
  auto server = TlsStream::Create(server_ctx.value());
  ASSERT_TRUE(server.ok());
  std::string plaintext;
  Status s = server.value()->Feed("EHLO client.test\r\n", &plaintext);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("TLS handshake: ", 0), 0u) << s.message();
  EXPECT_TRUE(plaintext.empty());
}

TEST(TlsContext, MissingOrMismatchedFilesAreNamed) {
  auto missing = TlsContext::LoadServer("/nonexistent/cert.pem", TlsFiles::Get().key);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().rfind("[tls] cert /nonexistent/cert.pem: ", 0), 0u);
  auto swapped = TlsContext::LoadServer(TlsFiles::Get().key, TlsFiles::Get().cert);
  EXPECT_FALSE(swapped.ok());
}

}  // namespace
}  // namespace postdesk
