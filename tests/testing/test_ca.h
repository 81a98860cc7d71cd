// A test CA and the certificates it signs, made with the openssl CLI at test time (so nothing in
// the tree expires): for tests of TLS and mTLS on the gRPC port.
#ifndef MUSIC_TESTS_TESTING_TEST_CA_H_
#define MUSIC_TESTS_TESTING_TEST_CA_H_

#include <cstdlib>
#include <fstream>
#include <string>

namespace music::testing {

/// Writes, into `dir`, each name prefixed with `prefix`: a CA (ca.pem, ca.key), a server
/// certificate for localhost and 127.0.0.1 (server.pem, server.key) and a client certificate
/// whose URI SAN is `client_uri` (client.pem, client.key), both signed by the CA, P-256, valid
/// ten years. False when openssl fails.
inline bool MakeTestCertificates(const std::string& dir, const std::string& prefix,
                                 const std::string& client_uri) {
  const std::string d = dir + "/" + prefix;
  std::ofstream(d + "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                     "extendedKeyUsage=serverAuth\n";
  std::ofstream(d + "client.ext") << "subjectAltName=URI:" << client_uri << "\n"
                                  << "extendedKeyUsage=clientAuth\n";
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
  std::ofstream(d + "make-certs.sh")
      << "set -e; cd '" << dir << "'; p='" << prefix << "'\n"
      << "openssl req -x509" << ec
      << "-keyout ${p}ca.key -out ${p}ca.pem -days 3650 -subj /CN=${p}test-ca\n"
      << "for who in server client; do\n"
      << "  openssl req" << ec << "-keyout ${p}$who.key -out ${p}$who.csr -subj /CN=${p}$who\n"
      << "  openssl x509 -req -in ${p}$who.csr -CA ${p}ca.pem -CAkey ${p}ca.key -CAcreateserial"
      << " -out ${p}$who.pem -days 3650 -extfile ${p}$who.ext\n"
      << "done 2>/dev/null\n";
  return std::system(("bash '" + d + "make-certs.sh'").c_str()) == 0;
}

}  // namespace music::testing

#endif  // MUSIC_TESTS_TESTING_TEST_CA_H_
