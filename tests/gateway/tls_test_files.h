// TlsFiles: throwaway self-signed certificates for the gateway's TLS tests, made with the openssl
// tool once per test binary in a fresh temporary directory. The first certificate names
// mx.postdesk.test, localhost and 127.0.0.1 (subjectAltName, which hostname checks read before
// the CN); the second is of another key, so that verifying against it fails. Any failure to
// make them aborts the test binary: no TLS test could mean anything without them.
#ifndef POSTDESK_TESTS_GATEWAY_TLS_TEST_FILES_H_
#define POSTDESK_TESTS_GATEWAY_TLS_TEST_FILES_H_

#include <cstdlib>
#include <string>

#include "tests/temp_dir.h"

namespace postdesk {

class TlsFiles {
 public:
  static const TlsFiles& Get() {
    static TlsFiles files;
    return files;
  }
  std::string cert, key;
  std::string other_cert;  // of another key: verifying a peer against it fails

 private:
  TlsFiles() {
    std::string dir = MakeTempDir("pd-tls");
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    other_cert = dir + "/other.pem";
    Make(cert, key);
    Make(other_cert, dir + "/other-key.pem");
  }
  static void Make(const std::string& cert_file, const std::string& key_file) {
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=mx.postdesk.test "
        "-addext subjectAltName=DNS:mx.postdesk.test,DNS:localhost,IP:127.0.0.1 -keyout " +
        key_file + " -out " + cert_file + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) std::abort();
  }
};

}  // namespace postdesk

#endif  // POSTDESK_TESTS_GATEWAY_TLS_TEST_FILES_H_
