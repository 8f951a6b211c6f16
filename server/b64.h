/* b64.h - base64 as Matrix uses it (spec appendix "Unpadded Base64"). */
#ifndef AMTSBOTE_B64_H
#define AMTSBOTE_B64_H
#include <stddef.h>
#include <stdint.h>

/* Unpadded standard base64 (RFC 4648 s.4 alphabet, no '='). Returns a malloc'd NUL-terminated
 * string the caller frees, or NULL on allocation failure. */
char *b64_encode(const uint8_t *in, size_t len);
/* Unpadded URL-safe base64 (RFC 4648 s.5: '-' and '_'), as used for v4+ event IDs. */
char *b64_encode_urlsafe(const uint8_t *in, size_t len);
/* Upper bound of decoded bytes for `len` input characters. */
size_t b64_decoded_max(size_t len);
/* Decode standard or URL-safe base64, padded or unpadded (receivers must accept both, per the
 * spec). Writes at most `cap` bytes to `out`, sets *outlen (only on success). Returns 0, or -1
 * on an invalid character, impossible length, misplaced or excess '=', or `cap` too small.
 * Non-zero trailing bits are tolerated, not an error: the spec's own test seed has them. */
int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

#endif
