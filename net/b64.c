/* net/b64.c: constant-time base64 / base64url (RFC 4648 §4, §5).
 *
 * Symbols are converted with range masks instead of lookup tables, so the
 * memory touched and the branches taken do not depend on the (possibly
 * secret) bytes; validity is accumulated into one flag tested once at the
 * end. Only lengths and the position of '=' padding, which are public,
 * decide control flow. */
#include "net/b64.h"

#include "net/bssl.h"

/* mask_in returns all ones when lo <= c <= hi and zero otherwise; c, lo and
 * hi are below 2^31, so an out-of-range subtraction sets the top bit. */
static uint32_t mask_in(uint32_t c, uint32_t lo, uint32_t hi)
{
	uint32_t outside = ((c - lo) | (hi - c)) >> 31;
	return outside - 1u;
}

/* encode_symbol maps 0..63 to a character of the chosen alphabet. */
static char encode_symbol(uint32_t v, enum net_b64_alphabet alphabet)
{
	uint32_t c62 = alphabet == NET_B64_URL ? '-' : '+';
	uint32_t c63 = alphabet == NET_B64_URL ? '_' : '/';
	uint32_t c = (mask_in(v, 0, 25) & (v + 'A')) | (mask_in(v, 26, 51) & (v - 26 + 'a')) |
	             (mask_in(v, 52, 61) & (v - 52 + '0')) | (mask_in(v, 62, 62) & c62) | (mask_in(v, 63, 63) & c63);
	return (char)c;
}

/* decode_symbol maps a character of either alphabet to 0..63; for any other
 * character it ORs all ones into *bad and returns garbage. */
static uint32_t decode_symbol(uint8_t ch, uint32_t *bad)
{
	uint32_t c = ch;
	uint32_t upper = mask_in(c, 'A', 'Z');
	uint32_t lower = mask_in(c, 'a', 'z');
	uint32_t digit = mask_in(c, '0', '9');
	uint32_t s62 = mask_in(c, '+', '+') | mask_in(c, '-', '-');
	uint32_t s63 = mask_in(c, '/', '/') | mask_in(c, '_', '_');
	*bad |= ~(upper | lower | digit | s62 | s63);
	return ((upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) | (s62 & 62) | (s63 & 63)) &
	       63;
}

size_t net_b64_encoded_len(size_t len, bool pad)
{
	size_t full = len / 3 * 4;
	size_t rem = len % 3;
	if (rem == 0)
		return full;
	return full + (pad ? 4 : rem + 1);
}

size_t net_b64_decoded_max(size_t len)
{
	return len / 4 * 3 + (len % 4 * 3) / 4;
}

int net_b64_encode(char *out, size_t out_cap, size_t *out_len, const uint8_t *in, size_t in_len,
                   enum net_b64_alphabet alphabet, bool pad)
{
	size_t need = net_b64_encoded_len(in_len, pad);
	if (in_len > (SIZE_MAX - 4) / 4 * 3 || out_cap < need + 1)
		return NET_B64_E_NO_ROOM;

	size_t o = 0, i = 0;
	for (; in_len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = encode_symbol(v >> 18, alphabet);
		out[o++] = encode_symbol((v >> 12) & 63, alphabet);
		out[o++] = encode_symbol((v >> 6) & 63, alphabet);
		out[o++] = encode_symbol(v & 63, alphabet);
	}
	if (in_len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = encode_symbol(v >> 18, alphabet);
		out[o++] = encode_symbol((v >> 12) & 63, alphabet);
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (in_len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = encode_symbol(v >> 18, alphabet);
		out[o++] = encode_symbol((v >> 12) & 63, alphabet);
		out[o++] = encode_symbol((v >> 6) & 63, alphabet);
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	*out_len = o;
	return NET_B64_OK;
}

int net_b64_decode(uint8_t *out, size_t out_cap, size_t *out_len, const char *in, size_t in_len)
{
	const uint8_t *s = (const uint8_t *)in;

	/* RFC 4648 §3.2: padding completes the last quantum to 4 symbols. At
	 * most two '=', only at the end, and only to a multiple of 4. */
	size_t num_pad = 0;
	while (num_pad < 2 && num_pad < in_len && s[in_len - 1 - num_pad] == '=')
		num_pad++;
	size_t len = in_len - num_pad;
	size_t rem = len % 4;
	if (rem == 1)
		return NET_B64_E_INVALID; /* 6 bits cannot end a byte */
	if (num_pad > 0 && ((len + num_pad) % 4 != 0 || rem == 0))
		return NET_B64_E_INVALID;

	size_t need = net_b64_decoded_max(len);
	if (need > out_cap)
		return NET_B64_E_NO_ROOM;

	uint32_t bad = 0;
	size_t o = 0, i = 0;
	for (; len - i >= 4; i += 4) {
		uint32_t v = decode_symbol(s[i], &bad) << 18 | decode_symbol(s[i + 1], &bad) << 12 |
		             decode_symbol(s[i + 2], &bad) << 6 | decode_symbol(s[i + 3], &bad);
		out[o++] = (uint8_t)(v >> 16);
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)v;
	}
	/* RFC 4648 §3.5: the unused low bits of the last symbol must be zero
	 * for the encoding to be canonical; we insist. */
	if (rem == 2) {
		uint32_t a = decode_symbol(s[i], &bad), b = decode_symbol(s[i + 1], &bad);
		bad |= 0u - ((b & 0x0f) != 0);
		out[o++] = (uint8_t)(a << 2 | b >> 4);
	} else if (rem == 3) {
		uint32_t a = decode_symbol(s[i], &bad), b = decode_symbol(s[i + 1], &bad);
		uint32_t c = decode_symbol(s[i + 2], &bad);
		bad |= 0u - ((c & 0x03) != 0);
		out[o++] = (uint8_t)(a << 2 | b >> 4);
		out[o++] = (uint8_t)(b << 4 | c >> 2);
	}
	if (bad != 0) {
		OPENSSL_cleanse(out, o);
		return NET_B64_E_INVALID;
	}
	*out_len = o;
	return NET_B64_OK;
}
