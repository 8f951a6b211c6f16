/* xmatrix_test.c - the X-Matrix Authorization header: the spec's example form, RFC 9110
 * parameter syntax (case, spaces and tabs around commas, quoted values with escapes, bare
 * tokens with ':'), unknown parameters, what is refused; signing and verifying round trips,
 * and every signed field mattering (method, URI with query, origin, destination, content). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/xmatrix.h"
#include "tests/unit.h"

static int parse(const char *h, struct xmatrix_auth *a)
{
    return xmatrix_parse(h, strlen(h), a);
}

TEST(spec_form)
{
    struct xmatrix_auth a;
    CHECK_INT(parse("X-Matrix origin=\"origin.hs.example.com\",destination=\"destination.hs."
                    "example.com\",key=\"ed25519:key1\",sig=\"ABCDEF...\"",
                    &a),
              0);
    CHECK_STR(a.origin, "origin.hs.example.com");
    CHECK_STR(a.destination, "destination.hs.example.com");
    CHECK_STR(a.key, "ed25519:key1");
    CHECK_STR(a.sig, "ABCDEF...");
}

TEST(rfc9110_syntax)
{
    struct xmatrix_auth a;
    /* scheme and names in any case, several spaces after the scheme, OWS around commas,
     * any order, bare tokens (':' allowed for old servers), escapes in quoted values */
    CHECK_INT(parse("x-matrix   SIG=\"abc+/=\" ,\tKey=\"ed25519:k\" , Origin=a.example:8448,"
                    "destination=\"b\\.example\"",
                    &a),
              0);
    CHECK_STR(a.origin, "a.example:8448");
    CHECK_STR(a.destination, "b.example");
    CHECK_STR(a.key, "ed25519:k");
    CHECK_STR(a.sig, "abc+/=");
    /* unknown parameters are ignored, quoted or not */
    CHECK_INT(parse("X-Matrix foo=\"x, y\",origin=o.example,bar=baz,key=ed25519:k,sig=s", &a), 0);
    CHECK_STR(a.destination, ""); /* absent: servers before v1.3 */
    /* empty list elements are allowed (RFC 9110 s.5.6.1) */
    CHECK_INT(parse("X-Matrix origin=o.example,,key=ed25519:k, ,sig=s,", &a), 0);
    /* an IPv6 literal origin must be quoted */
    CHECK_INT(parse("X-Matrix origin=\"[::1]:8448\",key=ed25519:k,sig=s", &a), 0);
    CHECK_STR(a.origin, "[::1]:8448");
}

TEST(refused)
{
    static const char *const bad[] = {
        "",
        "X-Matrix",
        "X-Matrix ",
        "Bearer origin=o,key=ed25519:k,sig=s",
        "X-Matrixorigin=o,key=ed25519:k,sig=s",
        "X-Matrix origin=o,key=ed25519:k",                /* no sig */
        "X-Matrix key=ed25519:k,sig=s",                   /* no origin */
        "X-Matrix origin=o,sig=s",                        /* no key */
        "X-Matrix origin=o,origin=p,key=ed25519:k,sig=s", /* repeated */
        "X-Matrix origin=o,key=ed25519:k,sig=a/b",        /* '/' is not a token character */
        "X-Matrix origin=o key=ed25519:k,sig=s",          /* no comma */
        "X-Matrix origin=\"o,key=ed25519:k,sig=s",        /* unterminated quote */
        "X-Matrix origin=\"o\\",                          /* escape at the end */
        "X-Matrix origin=,key=ed25519:k,sig=s",           /* empty bare value */
        "X-Matrix origin=\"not a name\",key=ed25519:k,sig=s",
        "X-Matrix origin=o,destination=\"bad name\",key=ed25519:k,sig=s",
        "X-Matrix origin=o,key=rsa:k,sig=s", /* not ed25519 */
        "X-Matrix origin=o,key=ed25519:,sig=s",
        "X-Matrix origin=\"o\x01\",key=ed25519:k,sig=s", /* control byte */
        "X-Matrix =o,key=ed25519:k,sig=s",
    };
    struct xmatrix_auth a;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse(bad[i], &a) == 0)
            UNIT_FAIL("accepted: %s", bad[i]);
    /* a value longer than its field, and a header over the limit */
    char h[XMATRIX_HEADER_MAX + 64];
    snprintf(h, sizeof h, "X-Matrix origin=o,key=ed25519:k,sig=%0300d", 0);
    CHECK(parse(h, &a) == -1);
    memset(h, 'a', sizeof h);
    memcpy(h, "X-Matrix origin=o,key=ed25519:k,sig=", 36);
    CHECK(xmatrix_parse(h, sizeof h, &a) == -1);
    /* len bounds the read: a header cut before sig's value is incomplete */
    const char *full = "X-Matrix origin=o,key=ed25519:k,sig=s";
    CHECK(xmatrix_parse(full, strlen(full) - 6, &a) == -1);
}

TEST(sign_and_verify)
{
    struct sign_key k;
    struct xmatrix_auth a;
    CHECK_INT(sign_key_generate(&k), 0);
    json_t *content = json_pack("{s:s,s:[i]}", "a", "b", "n", 1);
    const char *uri = "/_matrix/federation/v1/send/1?x=%20y";
    char *h = xmatrix_sign_header(&k, "origin.example", "dest.example:8448", "PUT", uri, content);
    CHECK(h != NULL);
    CHECK_INT(parse(h, &a), 0);
    CHECK_STR(a.origin, "origin.example");
    CHECK_STR(a.destination, "dest.example:8448");
    CHECK_STR(a.key, k.key_id);
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example:8448", content, k.pk), 0);
    /* every signed part matters */
    json_t *other = json_pack("{s:s,s:[i]}", "a", "c", "n", 1);
    CHECK_INT(xmatrix_verify(&a, "POST", uri, "dest.example:8448", content, k.pk), -1);
    CHECK_INT(xmatrix_verify(&a, "PUT", "/_matrix/federation/v1/send/1", "dest.example:8448",
                             content, k.pk),
              -1);
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example", content, k.pk), -1);
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example:8448", other, k.pk), -1);
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example:8448", NULL, k.pk), -1);
    struct xmatrix_auth forged = a;
    snprintf(forged.origin, sizeof forged.origin, "evil.example");
    CHECK_INT(xmatrix_verify(&forged, "PUT", uri, "dest.example:8448", content, k.pk), -1);
    struct sign_key k2;
    CHECK_INT(sign_key_generate(&k2), 0);
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example:8448", content, k2.pk), -1);
    snprintf(a.sig, sizeof a.sig, "not base64!");
    CHECK_INT(xmatrix_verify(&a, "PUT", uri, "dest.example:8448", content, k.pk), -1);
    free(h);
    /* no content: a GET */
    h = xmatrix_sign_header(&k, "o.example", "d.example", "GET", "/_matrix/key/v2/server", NULL);
    CHECK_INT(parse(h, &a), 0);
    CHECK_INT(xmatrix_verify(&a, "GET", "/_matrix/key/v2/server", "d.example", NULL, k.pk), 0);
    CHECK_INT(xmatrix_verify(&a, "GET", "/_matrix/key/v2/server", "d.example", other, k.pk), -1);
    free(h);
    /* content that is not canonical JSON cannot be signed */
    json_t *real = json_pack("{s:f}", "x", 0.5);
    CHECK(xmatrix_sign_header(&k, "o.example", "d.example", "PUT", "/", real) == NULL);
    json_decref(real);
    json_decref(other);
    json_decref(content);
}

/* The signed object is the spec's: {method, uri, origin, destination, content}. */
TEST(request_json_shape)
{
    json_t *c = json_object();
    json_t *o = xmatrix_request_json("GET", "/x?y=1", "o", "d", c);
    CHECK_STR(json_string_value(json_object_get(o, "method")), "GET");
    CHECK_STR(json_string_value(json_object_get(o, "uri")), "/x?y=1");
    CHECK_STR(json_string_value(json_object_get(o, "origin")), "o");
    CHECK_STR(json_string_value(json_object_get(o, "destination")), "d");
    CHECK(json_object_get(o, "content") == c);
    CHECK_INT(json_object_size(o), 5);
    json_decref(o);
    o = xmatrix_request_json("GET", "/x", "o", "d", NULL);
    CHECK(!json_object_get(o, "content"));
    json_decref(o);
    json_decref(c);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(spec_form);
    RUN(rfc9110_syntax);
    RUN(refused);
    RUN(sign_and_verify);
    RUN(request_json_shape);
    return unit_done();
}
