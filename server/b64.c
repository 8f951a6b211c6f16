/* b64.c - base64 as Matrix uses it (spec appendix "Unpadded Base64"): encoders emit no
 * padding; the decoder accepts both alphabets, padded or not, as receivers must. */
#include "server/b64.h"

#include <stdlib.h>

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const uint8_t *in, size_t len, const char *alpha)
{
    size_t out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
    char *out = malloc(out_len + 1);
    size_t o = 0, i = 0;
    if (!out)
        return NULL;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

char *b64_encode(const uint8_t *in, size_t len)
{
    return encode(in, len, std_alpha);
}

char *b64_encode_urlsafe(const uint8_t *in, size_t len)
{
    return encode(in, len, url_alpha);
}

size_t b64_decoded_max(size_t len)
{
    return len / 4 * 3 + 3;
}

static int value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    uint32_t acc = 0;
    size_t bits = 0, o = 0;

    /* Up to two '=' may end the input, and only where padding belongs. */
    size_t pad = 0;
    while (len > 0 && in[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad && (len + pad) % 4 != 0)
        return -1;
    if (len % 4 == 1)
        return -1; /* 6 bits cannot end a byte */
    for (size_t i = 0; i < len; i++) {
        int v = value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = o;
    return 0;
}
