// TLS for SMTP over libuv (RFC 3207 STARTTLS, and implicit TLS on a submission-style port):
// OpenSSL 3 driven through memory BIOs, so the socket stays libuv's and no OpenSSL call ever
// blocks or touches a file descriptor.
//
// TlsContext owns an SSL_CTX built from a certificate chain and key (TLS 1.2 and 1.3 only,
// forward-secret AEAD ciphers); it is immutable once built and shared by every loop (OpenSSL's
// SSL_CTX is thread-safe for creating connections). A reload builds a new one.
//
// TlsStream is one connection's TLS state, on that connection's loop thread only: feed it what
// the socket delivered, get back plaintext; give it plaintext, take the ciphertext to send.
// A fatal TLS error comes back as a Status; the caller closes the connection.
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
  // For tests and the outbound client: verifies nothing unless `ca_file` is given.
  static Result<std::shared_ptr<const TlsContext>> Client(const std::string& ca_file = "");
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool is_server() const { return server_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

class TlsStream {
 public:
  // The stream keeps `context` alive for as long as it lives (a reload may replace it).
  static Result<std::unique_ptr<TlsStream>> Create(std::shared_ptr<const TlsContext> context);
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
