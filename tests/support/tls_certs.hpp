#pragma once

// Certificates and keys for the TLS tests, made once per run of the test binary (a CA of
// its own, EC P-256 keys) in a private temporary directory that is removed at exit. No key
// is ever committed.

#include <string>

namespace asyncio::testing {

struct TlsFiles {
    std::string directory;
    /// The test CA ("CN=asyncio-cpp test CA"): what a client must trust.
    std::string ca_cert;
    /// "CN=localhost", DNS:localhost and IP:127.0.0.1, issued by the test CA.
    std::string server_cert;
    std::string server_key;
    /// The same names, issued by the test CA, expired yesterday.
    std::string expired_cert;
    std::string expired_key;
    /// The same names, self-signed.
    std::string self_signed_cert;
    std::string self_signed_key;
    /// The same names, issued by another CA nobody trusts.
    std::string untrusted_cert;
    std::string untrusted_key;
    /// "CN=asyncio-cpp test client", issued by the test CA.
    std::string client_cert;
    std::string client_key;
};

/// The files, made on first use. Fails the calling test when they cannot be made.
const TlsFiles& tls_files();

}  // namespace asyncio::testing
