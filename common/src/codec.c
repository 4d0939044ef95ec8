/*
 * codec.c - base64, base64url and hex (see gatehouse/codec.h).
 */
#include <stdint.h>
#include "gatehouse/codec.h"

static const char gh_b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char gh_b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

gh_err
gh_b64_encode(enum gh_b64_alpha a, const void *in, size_t n, char *out,
              size_t cap, size_t *olen)
{
	const unsigned char *p = in;
	const char *tab = a == GH_B64_URL ? gh_b64_url : gh_b64_std;
	size_t i, o = 0;

	if (out == NULL || n > (SIZE_MAX - 3) / 4 * 3 - 3 || cap < GH_B64_ENC_LEN(n))
		return GH_ETOOBIG;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (a == GH_B64_STD) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		if (a == GH_B64_STD)
			out[o++] = '=';
	}
	out[o] = '\0';
	if (olen)
		*olen = o;
	return GH_OK;
}

static int
gh_b64_val(enum gh_b64_alpha a, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (a == GH_B64_URL) {
		if (c == '-')
			return 62;
		if (c == '_')
			return 63;
	} else {
		if (c == '+')
			return 62;
		if (c == '/')
			return 63;
	}
	return -1;
}

gh_err
gh_b64_decode(enum gh_b64_alpha a, const char *in, size_t n,
              unsigned char *out, size_t cap, size_t *olen)
{
	uint32_t acc = 0;
	size_t i, o = 0, bits = 0;

	/* Padding is optional in both alphabets, but only at the very end and
	 * only as much as completes the last quantum. */
	if (n > 0 && n % 4 == 0 && in[n - 1] == '=') {
		n--;
		if (in[n - 1] == '=')
			n--;
	}
	if (n % 4 == 1)
		return GH_EINVAL;
	for (i = 0; i < n; i++) {
		int v = gh_b64_val(a, (unsigned char)in[i]);
		if (v < 0)
			return GH_EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return GH_ETOOBIG;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two encodings map to one value. */
	if (acc != 0)
		return GH_EINVAL;
	if (olen)
		*olen = o;
	return GH_OK;
}

gh_err
gh_hex_encode(const void *in, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	if (out == NULL || n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1)
		return GH_ETOOBIG;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return GH_OK;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

gh_err
gh_hex_decode(const char *in, size_t n, unsigned char *out, size_t cap,
              size_t *olen)
{
	if (in == NULL || n % 2 != 0)
		return GH_EINVAL;
	if (n / 2 > cap)
		return GH_ETOOBIG;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval((unsigned char)in[i]);
		int lo = hexval((unsigned char)in[i + 1]);

		if (hi < 0 || lo < 0)
			return GH_EINVAL;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	if (olen)
		*olen = n / 2;
	return GH_OK;
}
