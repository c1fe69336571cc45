#include "gateway/tls_stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace postdesk {
namespace {

// Forward-secret AEAD suites only for TLS 1.2 (Mozilla's "intermediate" list); TLS 1.3's
// suites are all of that kind already.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Plaintext read from OpenSSL per call: one TLS record's worth.
constexpr size_t kReadChunk = 16 * 1024;

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool IsAddressLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<const TlsContext>> TlsContext::LoadServer(const std::string& cert_file,
                                                                 const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Status::Error("TLS: " + OpenSslError());
  auto context = std::shared_ptr<const TlsContext>(new TlsContext(ctx, true, false));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Sessions are not resumed across connections here; no cache to grow.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::Error("[tls] cert " + cert_file + ": " + OpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::Error("[tls] key " + key_file + ": " + OpenSslError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Status::Error("[tls] key " + key_file + " does not match cert " + cert_file);
  }
  return context;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::Client(const std::string& ca_file,
                                                             bool verify) {
  verify = verify || !ca_file.empty();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Status::Error("TLS: " + OpenSslError());
  auto context = std::shared_ptr<const TlsContext>(new TlsContext(ctx, false, verify));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A benchmark of a server's handshakes must not be flattered by resumption, and the
  // notification client keeps its connections open instead.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (verify) {
    int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                             : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    if (ok != 1) {
      return Status::Error("TLS CA " + (ca_file.empty() ? "(the system's)" : ca_file) + ": " +
                           OpenSslError());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return context;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsStream>> TlsStream::Create(std::shared_ptr<const TlsContext> context,
                                                     const std::string& server_name) {
  SSL* ssl = SSL_new(context->get());
  if (!ssl) return Status::Error("TLS: " + OpenSslError());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!in || !out) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    return Status::Error("TLS: out of memory");
  }
  SSL_set_bio(ssl, in, out);  // ssl owns both now
  if (context->is_server()) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
  }
  auto stream = std::unique_ptr<TlsStream>(new TlsStream(std::move(context), ssl, in, out));
  if (!stream->context_->is_server() && !server_name.empty()) {
    bool literal = IsAddressLiteral(server_name);
    // RFC 6066 3: SNI carries host names only, never an address literal.
    if (!literal) SSL_set_tlsext_host_name(ssl, server_name.c_str());
    if (stream->context_->verifies()) {
      int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
                       : SSL_set1_host(ssl, server_name.c_str());
      if (ok != 1) return Status::Error("TLS name " + server_name + ": " + OpenSslError());
    }
  }
  if (!stream->context_->is_server()) {
    Status s = stream->Advance(nullptr);  // the client speaks first: ClientHello
    if (!s.ok()) return s;
  }
  return stream;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

Status TlsStream::Feed(std::string_view ciphertext, std::string* plaintext) {
  while (!ciphertext.empty()) {
    int n = BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
    if (n <= 0) return Status::Error("TLS: cannot buffer input");
    ciphertext.remove_prefix(static_cast<size_t>(n));
  }
  return Advance(plaintext);
}

Status TlsStream::Advance(std::string* plaintext) {
  if (!handshake_done_) {
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Status::Ok();
      // Only a verifying client fails for its certificate check; others only record it.
      long verified = SSL_get_verify_result(ssl_);
      if (context_->verifies() && verified != X509_V_OK) {
        ERR_clear_error();
        return Status::Error(std::string("TLS handshake: certificate: ") +
                             X509_verify_cert_error_string(verified));
      }
      return Status::Error("TLS handshake: " + OpenSslError());
    }
    handshake_done_ = true;
  }
  if (plaintext) {
    char buf[kReadChunk];
    while (true) {
      int n = SSL_read(ssl_, buf, sizeof(buf));
      if (n > 0) {
        plaintext->append(buf, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
      if (err == SSL_ERROR_ZERO_RETURN) return Status::Error("TLS: closed by the peer");
      return Status::Error("TLS: " + OpenSslError());
    }
  }
  if (!pending_.empty()) {
    std::string held;
    held.swap(pending_);
    return Write(held);
  }
  return Status::Ok();
}

Status TlsStream::Write(std::string_view plaintext) {
  if (!handshake_done_) {
    pending_.append(plaintext);
    return Advance(nullptr);
  }
  while (!plaintext.empty()) {
    int n = SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size()));
    if (n <= 0) return Status::Error("TLS: " + OpenSslError());
    plaintext.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::string TlsStream::TakeOutput() {
  std::string out;
  char* data = nullptr;
  long size = BIO_get_mem_data(out_, &data);
  if (size > 0) out.assign(data, static_cast<size_t>(size));
  (void)BIO_reset(out_);
  return out;
}

std::string TlsStream::Describe() const {
  if (!handshake_done_) return "handshake";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

}  // namespace postdesk
