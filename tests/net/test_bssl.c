/* net/bssl.h: the BoringSSL functions our code calls are BoringSSL's at run
 * time, in a process that also holds OpenSSL 3 (Criterion's libgit2 ->
 * libssh2 -> libcrypto.so.3). tests/crypto_binding.c checks every import of
 * every test executable; this names the ones core/, net/, stun/ and relay/
 * call (SHA-256, HMAC, the AEAD, randomness, constant-time helpers, base64,
 * TLS) and checks, through the very function pointers this executable uses,
 * that dladdr places each in BoringSSL's directory. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "net/bssl.h"

#ifndef ATMOS_BORINGSSL_LIBDIR
#error "tests/CMakeLists.txt defines ATMOS_BORINGSSL_LIBDIR"
#endif

typedef void (*t_fn)(void);

struct t_named_fn {
	const char *name;
	t_fn fn;
};

#define T_FN(f) {#f, (t_fn)f}

static const char *t_lib_of(t_fn fn)
{
	void *addr;
	Dl_info di;
	/* ISO C has no function-to-object pointer conversion; POSIX dladdr
	 * takes the address's bytes. */
	memcpy(&addr, &fn, sizeof addr);
	return dladdr(addr, &di) ? di.dli_fname : NULL;
}

Test(bssl, functions_we_call_are_boringssls)
{
	static const struct t_named_fn fns[] = {
		T_FN(SHA256),           T_FN(SHA1),          T_FN(HMAC),
		T_FN(EVP_sha256),       T_FN(EVP_sha1),      T_FN(EVP_aead_chacha20_poly1305),
		T_FN(EVP_AEAD_CTX_init), T_FN(EVP_AEAD_CTX_seal), T_FN(EVP_AEAD_CTX_open),
		T_FN(EVP_AEAD_CTX_cleanup), T_FN(EVP_EncodeBlock), T_FN(EVP_DecodeBase64),
		T_FN(RAND_bytes),       T_FN(CRYPTO_memcmp), T_FN(OPENSSL_cleanse),
		T_FN(SSL_CTX_new),      T_FN(SSL_new),       T_FN(SSL_read),
	};
	char dir[PATH_MAX];
	cr_assert_not_null(realpath(ATMOS_BORINGSSL_LIBDIR, dir));
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		const char *lib = t_lib_of(fns[i].fn);
		char rp[PATH_MAX];
		cr_assert_not_null(lib, "dladdr(%s) failed", fns[i].name);
		cr_assert_not_null(realpath(lib, rp), "%s: %s", fns[i].name, lib);
		size_t dl = strlen(dir);
		cr_expect(!strncmp(rp, dir, dl) && rp[dl] == '/', "%s is in %s, not in BoringSSL's %s", fns[i].name, rp,
			  dir);
	}
}

Test(bssl, sha256_is_right)
{
	/* FIPS 180-2 B.1: SHA-256("abc"). */
	static const uint8_t want[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
					 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
					 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	uint8_t got[32];
	SHA256((const uint8_t *)"abc", 3, got);
	cr_assert_arr_eq(got, want, 32);
}
