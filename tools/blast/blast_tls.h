// Client-side TLS for postdesk-blast's STARTTLS (RFC 3207): OpenSSL 3 through memory BIOs, so
// the socket stays libuv's and no OpenSSL call blocks or touches a file descriptor.
//
// TlsClientContext owns one SSL_CTX, built on the main thread before the loops start and then
// only read (OpenSSL allows SSL_new from several threads on one SSL_CTX). By default it verifies
// nothing, since a benchmark mostly runs against a test certificate; with verification on, the
// chain must lead to the system's CAs (or a given CA file) and the certificate must name the
// server (RFC 6125 via OpenSSL's host check).
//
// TlsClientSession is one connection's TLS state, used only on that connection's loop: feed it
// the socket's bytes, get plaintext; write plaintext, take the ciphertext to send. A TLS failure
// (a handshake alert, a bad certificate, a record error) is returned as false with the reason;
// the caller closes the connection. Nothing throws.
#ifndef POSTDESK_TOOLS_BLAST_BLAST_TLS_H_
#define POSTDESK_TOOLS_BLAST_BLAST_TLS_H_

#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace postdesk::blast {

class TlsClientContext {
 public:
  struct Settings {
    bool verify = false;  // verify the chain and the name
    std::string ca_file;  // "" with verify: the system's default CA store
    std::string name;     // the name the certificate must carry (also sent as SNI)
  };
  // Null with `*error` set when OpenSSL cannot build the context or read the CA file.
  static std::unique_ptr<TlsClientContext> Create(const Settings& settings, std::string* error);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  const Settings& settings() const { return settings_; }

 private:
  TlsClientContext(SSL_CTX* ctx, Settings settings) : ctx_(ctx), settings_(std::move(settings)) {}
  SSL_CTX* ctx_;
  Settings settings_;
};

class TlsClientSession {
 public:
  // Starts the handshake: the ClientHello is ready in TakeOutput(). Null with `*error` set.
  static std::unique_ptr<TlsClientSession> Create(const TlsClientContext& context,
                                                  std::string* error);
  ~TlsClientSession();
  TlsClientSession(const TlsClientSession&) = delete;
  TlsClientSession& operator=(const TlsClientSession&) = delete;

  // Ciphertext from the server; decrypted data is appended to `plaintext`.
  bool Feed(std::string_view ciphertext, std::string* plaintext, std::string* error);
  // Plaintext to send (only once handshake_done()).
  bool Write(std::string_view plaintext, std::string* error);
  // Ciphertext for the socket (handshake records, encrypted data, alerts); empties it.
  std::string TakeOutput();

  bool handshake_done() const { return handshake_done_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384".
  std::string Describe() const;

 private:
  TlsClientSession(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
  bool Advance(std::string* plaintext, std::string* error);

  SSL* ssl_;
  BIO* in_;   // owned by ssl_
  BIO* out_;  // owned by ssl_
  bool handshake_done_ = false;
};

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_BLAST_TLS_H_
