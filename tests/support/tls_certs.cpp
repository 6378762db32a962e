#include "support/tls_certs.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace asyncio::testing {
namespace {

struct KeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
    void operator()(X509* cert) const { X509_free(cert); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("making the test certificates: ") + what);
}

Key new_key() {
    Key key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509V3_CTX& context, int nid, const char* value) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
    check(extension != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
}

struct CertSpec {
    std::string common_name;
    bool is_ca = false;
    const char* subject_alt_name = nullptr;
    long valid_from = -3600;  // seconds from now
    long valid_until = 86400;
};

/// A certificate for `key`, issued by `issuer` (self-signed when null).
Cert make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 1;
    Cert cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509* x = cert.get();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), spec.valid_from);
    X509_gmtime_adj(X509_getm_notAfter(x), spec.valid_until);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
    add_extension(x, context, NID_basic_constraints,
                  spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_extension(x, context, NID_key_usage,
                  spec.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_extension(x, context, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) add_extension(x, context, NID_authority_key_identifier, "keyid:always");
    if (!spec.is_ca) add_extension(x, context, NID_ext_key_usage, "serverAuth,clientAuth");
    if (spec.subject_alt_name != nullptr) {
        add_extension(x, context, NID_subject_alt_name, spec.subject_alt_name);
    }
    check(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

void write_cert(const std::string& path, X509* cert) {
    FILE* file = std::fopen(path.c_str(), "w");
    check(file != nullptr, "fopen");
    const bool ok = PEM_write_X509(file, cert) == 1;
    std::fclose(file);
    check(ok, "PEM_write_X509");
}

void write_key(const std::string& path, EVP_PKEY* key) {
    FILE* file = std::fopen(path.c_str(), "w");
    check(file != nullptr, "fopen");
    const bool ok = PEM_write_PrivateKey(file, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    std::fclose(file);
    check(ok, "PEM_write_PrivateKey");
}

std::string made_directory;

void remove_directory() {
    std::error_code ignored;
    if (!made_directory.empty()) std::filesystem::remove_all(made_directory, ignored);
}

TlsFiles make_files() {
    char pattern[] = "/tmp/asyncio-tls-test-XXXXXX";  // mkdtemp: mode 0700
    check(::mkdtemp(pattern) != nullptr, "mkdtemp");
    made_directory = pattern;
    std::atexit(remove_directory);

    TlsFiles files;
    files.directory = pattern;
    const auto path = [&](const char* name) { return files.directory + "/" + name; };
    const char* names = "DNS:localhost,IP:127.0.0.1";

    const Key ca_key = new_key();
    const Cert ca = make_cert({"asyncio-cpp test CA", true}, ca_key.get(), nullptr, nullptr);
    files.ca_cert = path("ca.pem");
    write_cert(files.ca_cert, ca.get());

    const auto issue = [&](const char* stem, const CertSpec& spec, X509* issuer,
                           EVP_PKEY* issuer_key, std::string& cert_path, std::string& key_path) {
        const Key key = new_key();
        const Cert cert = make_cert(spec, key.get(), issuer, issuer_key);
        cert_path = path((std::string(stem) + ".pem").c_str());
        key_path = path((std::string(stem) + ".key").c_str());
        write_cert(cert_path, cert.get());
        write_key(key_path, key.get());
    };
    issue("server", {"localhost", false, names}, ca.get(), ca_key.get(), files.server_cert,
          files.server_key);
    issue("expired", {"localhost", false, names, -2 * 86400, -86400}, ca.get(), ca_key.get(),
          files.expired_cert, files.expired_key);
    issue("self_signed", {"localhost", false, names}, nullptr, nullptr, files.self_signed_cert,
          files.self_signed_key);
    issue("client", {"asyncio-cpp test client", false, nullptr}, ca.get(), ca_key.get(),
          files.client_cert, files.client_key);

    const Key other_ca_key = new_key();
    const Cert other_ca =
        make_cert({"asyncio-cpp untrusted CA", true}, other_ca_key.get(), nullptr, nullptr);
    issue("untrusted", {"localhost", false, names}, other_ca.get(), other_ca_key.get(),
          files.untrusted_cert, files.untrusted_key);
    return files;
}

}  // namespace

const TlsFiles& tls_files() {
    static const TlsFiles files = [] {
        try {
            return make_files();
        } catch (const std::exception& error) {
            ADD_FAILURE() << error.what();
            return TlsFiles{};
        }
    }();
    return files;
}

}  // namespace asyncio::testing
