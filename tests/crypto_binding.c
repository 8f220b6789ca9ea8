/* Compiled into every unit test executable (tests/CMakeLists.txt): the
 * symbols the executable imports that live in a libcrypto or libssl resolve
 * to BoringSSL's, never to OpenSSL's.
 *
 * Why it can go wrong: Debian's Criterion needs libgit2, which needs libssh2,
 * which needs OpenSSL 3's libcrypto.so.3; our code needs BoringSSL's
 * libcrypto.so.0 and libssl.so.0 (android-libboringssl-dev). Both export
 * SHA256, HMAC, EVP_*, RAND_bytes, ... and BoringSSL's symbols carry no
 * version, so the dynamic linker binds each of our references to the first
 * definition in the process's search order. BoringSSL is first because the
 * executable needs it directly while OpenSSL is a dependency of a dependency,
 * and ld.so searches breadth-first (ld.so(8), "the global scope"). This test
 * turns that into a checked fact for every test process: it reads the
 * executable's own dynamic symbol table, resolves each undefined symbol the
 * way ld.so does for it (dlsym(RTLD_DEFAULT)), and asks dladdr which library
 * the address is in: every symbol BoringSSL defines, and every symbol found
 * in any libcrypto or libssl, must come from BoringSSL's directory.
 *
 * The reverse direction is not ours to fix and is left as it is: OpenSSL's
 * own libcrypto.so.3 and libssh2 see BoringSSL first too, so the OpenSSL
 * code Criterion's libgit2 runs at start-up (libssh2_init) partly calls
 * BoringSSL. No test of ours calls into libgit2, libssh2 or OpenSSL. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATMOS_BORINGSSL_LIBDIR
#error "tests/CMakeLists.txt defines ATMOS_BORINGSSL_LIBDIR"
#endif

/* Reads the whole file at path; NULL on failure. */
static uint8_t *t_slurp(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 1 << 20;
			uint8_t *nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	*out_len = len;
	return buf;
}

/* Whether path names a libcrypto or libssl (any version, any directory). */
static bool t_is_crypto_lib(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return !strncmp(base, "libcrypto.so", 12) || !strncmp(base, "libssl.so", 9);
}

/* Whether path is a file in dir, after resolving links on both. */
static bool t_in_dir(const char *path, const char *dir)
{
	char rp[PATH_MAX], rd[PATH_MAX];
	if (!realpath(path, rp) || !realpath(dir, rd))
		return false;
	size_t dl = strlen(rd);
	return !strncmp(rp, rd, dl) && rp[dl] == '/' && !strchr(rp + dl + 1, '/');
}

Test(crypto_binding, imports_bind_to_boringssl_not_openssl)
{
	size_t len = 0;
	uint8_t *img = t_slurp("/proc/self/exe", &len);
	cr_assert_not_null(img, "cannot read /proc/self/exe");
	Elf64_Ehdr eh;
	cr_assert_geq(len, sizeof eh);
	memcpy(&eh, img, sizeof eh);
	cr_assert(!memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64, "not a 64-bit ELF");
	cr_assert_eq(eh.e_shentsize, sizeof(Elf64_Shdr));
	cr_assert_leq(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), len);

	/* BoringSSL's two libraries, when this executable loaded them. */
	void *bssl[2] = {dlopen(ATMOS_BORINGSSL_LIBDIR "/libcrypto.so.0", RTLD_NOW | RTLD_NOLOAD),
			 dlopen(ATMOS_BORINGSSL_LIBDIR "/libssl.so.0", RTLD_NOW | RTLD_NOLOAD)};
	unsigned num_checked = 0;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh, strsh;
		memcpy(&sh, img + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
		if (sh.sh_type != SHT_DYNSYM)
			continue;
		cr_assert_lt(sh.sh_link, eh.e_shnum);
		memcpy(&strsh, img + eh.e_shoff + (size_t)sh.sh_link * sizeof strsh, sizeof strsh);
		cr_assert_leq(sh.sh_offset + sh.sh_size, len);
		cr_assert_leq(strsh.sh_offset + strsh.sh_size, len);
		const char *strtab = (const char *)img + strsh.sh_offset;
		for (size_t k = 0; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
			Elf64_Sym sym;
			memcpy(&sym, img + sh.sh_offset + k * sizeof sym, sizeof sym);
			if (sym.st_shndx != SHN_UNDEF || !sym.st_name || sym.st_name >= strsh.sh_size)
				continue;
			const char *name = strtab + sym.st_name;
			void *addr = dlsym(RTLD_DEFAULT, name);
			Dl_info di;
			if (!addr || !dladdr(addr, &di) || !di.dli_fname)
				continue; /* weak and unresolved (__gmon_start__ ...) */
			num_checked++;
			/* Whatever BoringSSL defines must come from BoringSSL... */
			bool bssl_has = false;
			for (int l = 0; l < 2 && !bssl_has; l++) {
				void *a = bssl[l] ? dlsym(bssl[l], name) : NULL;
				Dl_info ai;
				bssl_has = a && dladdr(a, &ai) && ai.dli_fname && t_in_dir(ai.dli_fname, ATMOS_BORINGSSL_LIBDIR);
			}
			/* ... and whatever comes from a libcrypto or libssl too. */
			if (bssl_has || t_is_crypto_lib(di.dli_fname))
				cr_expect(t_in_dir(di.dli_fname, ATMOS_BORINGSSL_LIBDIR),
					  "%s resolves into %s, not BoringSSL's in " ATMOS_BORINGSSL_LIBDIR, name,
					  di.dli_fname);
		}
	}
	for (int l = 0; l < 2; l++)
		if (bssl[l])
			dlclose(bssl[l]);
	free(img);
	cr_assert_gt(num_checked, 0, "no imported symbol found: the check read nothing");
}
