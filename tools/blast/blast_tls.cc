#include "tools/blast/blast_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <utility>

namespace postdesk::blast {
namespace {

constexpr size_t kReadChunk = 16 * 1024;  // one TLS record's worth of plaintext

std::string OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what) + ": unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return std::string(what) + ": " + text;
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

std::unique_ptr<TlsClientContext> TlsClientContext::Create(const Settings& settings,
                                                           std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    *error = OpenSslError("TLS");
    return nullptr;
  }
  auto context = std::unique_ptr<TlsClientContext>(new TlsClientContext(ctx, settings));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Every connection is a new session: a benchmark of the server's handshakes should not be
  // flattered by resumption that a stranger's MTA would not have.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (settings.verify) {
    int ok = settings.ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx)
                 : SSL_CTX_load_verify_locations(ctx, settings.ca_file.c_str(), nullptr);
    if (ok != 1) {
      *error = OpenSslError(settings.ca_file.empty() ? "TLS default CAs" : settings.ca_file);
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return context;
}

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsClientSession> TlsClientSession::Create(const TlsClientContext& context,
                                                           std::string* error) {
  SSL* ssl = SSL_new(context.get());
  if (!ssl) {
    *error = OpenSslError("TLS");
    return nullptr;
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!in || !out) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    *error = "TLS: out of memory";
    return nullptr;
  }
  SSL_set_bio(ssl, in, out);  // ssl owns both now
  SSL_set_connect_state(ssl);
  auto session = std::unique_ptr<TlsClientSession>(new TlsClientSession(ssl, in, out));
  const TlsClientContext::Settings& settings = context.settings();
  if (!settings.name.empty()) {
    bool literal = IsIpLiteral(settings.name);
    // RFC 6066 3: SNI carries host names only, never an address literal.
    if (!literal) SSL_set_tlsext_host_name(ssl, settings.name.c_str());
    if (settings.verify) {
      int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), settings.name.c_str())
                       : SSL_set1_host(ssl, settings.name.c_str());
      if (ok != 1) {
        *error = OpenSslError("TLS name " + settings.name);
        return nullptr;
      }
    }
  }
  if (!session->Advance(nullptr, error)) return nullptr;  // the ClientHello
  return session;
}

TlsClientSession::~TlsClientSession() { SSL_free(ssl_); }

bool TlsClientSession::Feed(std::string_view ciphertext, std::string* plaintext,
                            std::string* error) {
  while (!ciphertext.empty()) {
    int n = BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
    if (n <= 0) {
      *error = "TLS: cannot buffer input";
      return false;
    }
    ciphertext.remove_prefix(static_cast<size_t>(n));
  }
  return Advance(plaintext, error);
}

bool TlsClientSession::Advance(std::string* plaintext, std::string* error) {
  if (!handshake_done_) {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
      long verify = SSL_get_verify_result(ssl_);
      *error = verify != X509_V_OK ? std::string("TLS handshake: certificate: ") +
                                         X509_verify_cert_error_string(verify)
                                   : OpenSslError("TLS handshake");
      ERR_clear_error();
      return false;
    }
    handshake_done_ = true;
  }
  if (!plaintext) return true;
  char buf[kReadChunk];
  while (true) {
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      plaintext->append(buf, static_cast<size_t>(n));
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
    if (err == SSL_ERROR_ZERO_RETURN) {
      *error = "TLS: closed by the server";
      return false;
    }
    *error = OpenSslError("TLS");
    return false;
  }
}

bool TlsClientSession::Write(std::string_view plaintext, std::string* error) {
  while (!plaintext.empty()) {
    int n = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    if (n <= 0) {
      *error = OpenSslError("TLS write");
      return false;
    }
    plaintext.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string TlsClientSession::TakeOutput() {
  std::string out;
  char* data = nullptr;
  long size = BIO_get_mem_data(out_, &data);
  if (size > 0) out.assign(data, static_cast<size_t>(size));
  (void)BIO_reset(out_);
  return out;
}

std::string TlsClientSession::Describe() const {
  if (!handshake_done_) return "handshake";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace postdesk::blast
