// TLS for SMTP over libuv (RFC 3207 STARTTLS, and implicit TLS on a submission-style port):
// OpenSSL 3 driven through memory BIOs, so the socket stays libuv's and no OpenSSL call ever
// blocks or touches a file descriptor. Its own library (postdesk_tls), shared by the gateway's
// server side, the notification client and postdesk-blast.
//
// TlsContext owns an SSL_CTX: a server's from a certificate chain and key (TLS 1.2 and 1.3 only,
// forward-secret AEAD ciphers), or a client's, which verifies the server only when asked to. It
// is immutable once built and shared by every loop (OpenSSL's SSL_CTX is thread-safe for
// creating connections). A reload builds a new one.
//
// TlsStream is one connection's TLS state, on that connection's loop thread only: feed it what
// the socket delivered, get back plaintext; give it plaintext, take the ciphertext to send.
// A fatal TLS error (an alert, a certificate that does not verify, a broken record) comes back
// as a Status naming the reason; the caller closes the connection. Nothing throws.
#ifndef POSTDESK_GATEWAY_TLS_STREAM_H_
#define POSTDESK_GATEWAY_TLS_STREAM_H_

#include <memory>
#include <string>
#include <string_view>

#include "parser/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace postdesk {

class TlsContext {
 public:
  // Fails naming the file and OpenSSL's reason (unreadable, key does not match...).
  static Result<std::shared_ptr<const TlsContext>> LoadServer(const std::string& cert_file,
                                                              const std::string& key_file);
  // A client's. With `ca_file` or `verify`, the server's chain must lead to `ca_file`'s CAs
  // (the system's when it is "") and its certificate must carry the name given to
  // TlsStream::Create (RFC 6125, by OpenSSL's host check); otherwise nothing is verified (a
  // smarthost on a private network, a benchmark against a test certificate). Sessions are
  // never resumed: every connection does a full handshake.
  static Result<std::shared_ptr<const TlsContext>> Client(const std::string& ca_file = "",
                                                          bool verify = false);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }
  bool verifies() const { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server, bool verify)
      : ctx_(ctx), server_(server), verify_(verify) {}
  SSL_CTX* ctx_;
  bool server_;
  bool verify_;  // a client's that checks the server's chain and name
};

class TlsStream {
 public:
  // The stream keeps `context` alive for as long as it lives (a reload may replace it). A
  // client's stream starts the handshake (the ClientHello is in TakeOutput()); `server_name` is
  // sent as SNI unless it is an address literal, and verified when the context verifies.
  static Result<std::unique_ptr<TlsStream>> Create(std::shared_ptr<const TlsContext> context,
                                                   const std::string& server_name = "");
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Ciphertext from the peer; decrypted application data is appended to `plaintext`.
  Status Feed(std::string_view ciphertext, std::string* plaintext);
  // Plaintext to send; held until the handshake is done, then encrypted.
  Status Write(std::string_view plaintext);
  // Ciphertext ready for the socket (handshake records and encrypted data); empties it.
  std::string TakeOutput();

  bool handshake_done() const { return handshake_done_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", for logs and the Received: header's comment.
  std::string Describe() const;

 private:
  TlsStream(std::shared_ptr<const TlsContext> context, SSL* ssl, BIO* in, BIO* out)
      : context_(std::move(context)), ssl_(ssl), in_(in), out_(out) {}
  Status Advance(std::string* plaintext);  // handshake, then reads, then pending writes

  std::shared_ptr<const TlsContext> context_;
  SSL* ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
  bool handshake_done_ = false;
  std::string pending_;  // plaintext written before the handshake finished
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_TLS_STREAM_H_
