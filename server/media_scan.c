/* media_scan.c - scanning an end-to-end encrypted attachment for a client that hands over its
 * decryption key: the content scanner's POST /_matrix/media_proxy/unstable/scan_encrypted
 * (matrix-content-scanner's API, which BundesMessenger clients call before showing a file).
 *
 * The stored ciphertext is checked against the client's SHA-256 (the spec's EncryptedFile
 * `hashes.sha256`), decrypted with AES-256-CTR (`key.k`, `iv`) into a temporary file under
 * media_store_path/tmp (prefix "scan-"), scanned with avscan_check and removed at once.
 *
 * Invariants:
 *  1. The plaintext exists only in that temporary file, for the duration of one scan; it is
 *     unlinked on every path. The key is wiped from memory after use.
 *  2. A file whose hash does not match is never decrypted. */
#include "server/media.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/avscan.h"
#include "server/log.h"

#define CHUNK 65536

/* Hash fd's content from the start into sha. 0 or -1. */
static int hash_fd(int fd, uint8_t sha[32], unsigned char *buf)
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    if (lseek(fd, 0, SEEK_SET) < 0)
        return -1;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)r);
    }
    crypto_hash_sha256_final(&st, sha);
    return 0;
}

/* Decrypt fd (AES-256-CTR) into out_fd. 0 or -1. */
static int decrypt_fd(int fd, int out_fd, const uint8_t key[32], const uint8_t iv[16],
                      unsigned char *buf, unsigned char *plain)
{
    int rc = -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, iv) != 1 ||
        lseek(fd, 0, SEEK_SET) < 0)
        goto out;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        int n = 0;
        if (EVP_DecryptUpdate(ctx, plain, &n, buf, (int)r) != 1)
            goto out;
        for (int off = 0; off < n;) {
            ssize_t w = write(out_fd, plain + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                goto out;
            off += (int)w;
        }
    }
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int media_scan_encrypted(const char *user_id, const char *server, const char *media_id,
                         const uint8_t key[32], const uint8_t iv[16], const uint8_t sha[32],
                         bool *clean, struct media_error *err)
{
    struct media_out o = {.fd = -1};
    int rc = -1, tfd = -1;
    char tmp[4200] = "";
    unsigned char *buf = malloc(2 * CHUNK);
    if (!buf) {
        *err = (struct media_error){.status = 500, .errcode = "M_UNKNOWN"};
        return -1;
    }
    if (media_download(server, media_id, NULL, &o, err) < 0)
        goto out;
    if (o.fd < 0) { /* an empty file comes as a buffer: nothing to decrypt or scan */
        *clean = true;
        rc = 0;
        goto out;
    }
    uint8_t got[32];
    if (hash_fd(o.fd, got, buf) < 0) {
        *err = (struct media_error){.status = 500, .errcode = "M_UNKNOWN"};
        goto out;
    }
    if (sodium_memcmp(got, sha, 32) != 0) {
        *err = (struct media_error){.status = 400, .errcode = "MCS_MEDIA_FAILED_TO_DECRYPT"};
        snprintf(err->why, sizeof err->why, "The file's hash does not match hashes.sha256");
        goto out;
    }
    if (media_tmp_path(tmp, sizeof tmp, "scan-XXXXXX") < 0 || (tfd = mkstemp(tmp)) < 0) {
        log_error("media scan: cannot make a temporary file: %s", strerror(errno));
        tmp[0] = '\0';
        *err = (struct media_error){.status = 500, .errcode = "M_UNKNOWN"};
        goto out;
    }
    if (decrypt_fd(o.fd, tfd, key, iv, buf, buf + CHUNK) < 0) {
        *err = (struct media_error){.status = 500, .errcode = "M_UNKNOWN"};
        goto out;
    }
    close(tfd);
    tfd = -1;
    enum avscan_verdict v = avscan_check(tmp, user_id, media_id, NULL, 0);
    if (v == AVSCAN_UNSCANNED) {
        *err = (struct media_error){.status = 503, .errcode = "M_UNKNOWN"};
        snprintf(err->why, sizeof err->why, "The file could not be checked for viruses");
        goto out;
    }
    *clean = v == AVSCAN_ACCEPT;
    rc = 0;
out:
    if (tfd >= 0)
        close(tfd);
    if (tmp[0])
        unlink(tmp);
    if (o.fd >= 0)
        close(o.fd);
    free(o.buf);
    sodium_memzero(buf, 2 * CHUNK);
    free(buf);
    return rc;
}
