#ifndef NET_BSSL_H
#define NET_BSSL_H
/* net/bssl.h: the one way into BoringSSL.
 *
 * Debian installs OpenSSL's headers in /usr/include/openssl and BoringSSL's
 * (android-libboringssl-dev) in /usr/include/android/openssl. The build puts
 * the latter first; this header stops the build if OpenSSL's were picked
 * anyway, because mixing the two links but misbehaves at run time. Include it
 * instead of any <openssl/...> header. */
#include <openssl/base.h>
#ifndef OPENSSL_IS_BORINGSSL
#error "OpenSSL headers were found instead of BoringSSL's: install android-libboringssl-dev and keep /usr/include/android first on the include path"
#endif
#include <openssl/aead.h>
#include <openssl/base64.h>
#include <openssl/bytestring.h>
#include <openssl/crypto.h>
#include <openssl/curve25519.h>
#include <openssl/digest.h>
#include <openssl/err.h>
#include <openssl/hkdf.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#endif
