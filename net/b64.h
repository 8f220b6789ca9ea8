#ifndef NET_B64_H
#define NET_B64_H
/* net/b64.h: base64 (RFC 4648 §4) and base64url (§5) for keys and join codes.
 *
 * Why not BoringSSL's EVP_DecodeBase64: it takes only the standard alphabet
 * with padding, and its table lookups index memory by secret bytes. Join
 * codes arrive in either alphabet, padded or not (people paste them through
 * chat clients and URL bars), and carry a bearer key, so the decoder here:
 *   - accepts '+' or '-' for 62 and '/' or '_' for 63, in any mix;
 *   - accepts the input with its '=' padding or without it, but never with
 *     a wrong amount of padding or a length that is 1 mod 4;
 *   - rejects non-canonical encodings (unused low bits of the last symbol
 *     not zero), so one byte string has exactly one spelling per alphabet
 *     and padding choice;
 *   - is constant time in the symbols: each one is mapped with masks, not a
 *     table or branches; only the length and the padding position (both
 *     public) steer control flow (STYLE.md §4, like wireguard-tools'
 *     encoding.c).
 * No allocation, no I/O. Cost: a few dozen integer operations per symbol. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* enum net_b64_status: NET_B64_OK or why a conversion failed. */
enum net_b64_status {
	NET_B64_OK = 0,
	/* A symbol outside both alphabets, misplaced or wrong padding, a
	 * length of 1 mod 4, or non-zero unused bits in the last symbol. */
	NET_B64_E_INVALID = -1,
	/* The output buffer is smaller than the result (plus NUL, encoding). */
	NET_B64_E_NO_ROOM = -2,
};

/* enum net_b64_alphabet: which alphabet an encoder writes. */
enum net_b64_alphabet {
	NET_B64_STD, /* RFC 4648 §4: A-Z a-z 0-9 + / */
	NET_B64_URL, /* RFC 4648 §5: A-Z a-z 0-9 - _ */
};

/* net_b64_encoded_len returns the number of characters (NUL excluded)
 * encoding len bytes produces, with or without padding. */
size_t net_b64_encoded_len(size_t len, bool pad);

/* net_b64_decoded_max returns an upper bound on the bytes decoding len
 * characters produces (exact for unpadded input). */
size_t net_b64_decoded_max(size_t len);

/* net_b64_encode writes in[0..in_len) as base64 in the given alphabet,
 * padded if pad, NUL-terminated, into out (out_cap bytes, NUL included) and
 * the character count (NUL excluded) to *out_len. Returns NET_B64_OK, or
 * NET_B64_E_NO_ROOM without writing anything. */
int net_b64_encode(char *out, size_t out_cap, size_t *out_len, const uint8_t *in, size_t in_len,
                   enum net_b64_alphabet alphabet, bool pad);

/* net_b64_decode decodes in[0..in_len) (either alphabet, padding optional,
 * no whitespace) into out (out_cap bytes) and the byte count to *out_len.
 * Returns NET_B64_OK; NET_B64_E_INVALID or NET_B64_E_NO_ROOM leave *out_len
 * untouched and out wiped up to what would have been written. The empty
 * string decodes to zero bytes. */
int net_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len);

#endif
