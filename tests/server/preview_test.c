/* preview_test.c - URL previews: Open Graph parsing of HTML and the host of a URL. */
#include <string.h>

#include "server/preview.h"
#include "tests/unit.h"

static const char *og(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

TEST(open_graph)
{
    const char *html = "<html><head><title>Fallback</title>"
                       "<META property=\"og:title\" content=\"Lage &amp; Bericht\">"
                       "<meta content='Kurz gesagt' property='og:description' />"
                       "<meta property=\"og:image\" content=\"https://x/y.png\">"
                       "<meta property=\"og:title\" content=\"second\">"
                       "<meta name=\"description\" content=\"ignored\">"
                       "</head></html>";
    json_t *o = preview_parse_html(html, strlen(html));
    CHECK_STR(og(o, "og:title"), "Lage & Bericht");
    CHECK_STR(og(o, "og:description"), "Kurz gesagt");
    CHECK(json_object_get(o, "og:image") == NULL); /* images are not fetched */
    json_decref(o);
}

TEST(fallbacks_and_junk)
{
    const char *html = "<title>\n  Nur ein Titel \n</title><meta name=description content=Hallo>";
    json_t *o = preview_parse_html(html, strlen(html));
    CHECK_STR(og(o, "og:title"), "Nur ein Titel");
    CHECK_STR(og(o, "og:description"), "Hallo");
    json_decref(o);
    const char *junk[] = {"",
                          "<meta",
                          "<meta property=\"og:title\" content=\"",
                          "<title>",
                          "<meta property= content=>",
                          "\xff\xfe<meta property=og:x content=\xff>"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        o = preview_parse_html(junk[i], strlen(junk[i]));
        CHECK(json_is_object(o));
        json_decref(o);
    }
}

TEST(hosts)
{
    char h[256];
    CHECK(preview_url_host("https://Intranet.Example.ORG/a?b", h, sizeof h) == 0);
    CHECK_STR(h, "intranet.example.org");
    CHECK(preview_url_host("http://127.0.0.1:8080/x", h, sizeof h) == 0);
    CHECK_STR(h, "127.0.0.1");
    CHECK(preview_url_host("https://user@evil.example/", h, sizeof h) == -1);
    CHECK(preview_url_host("ftp://x/", h, sizeof h) == -1);
    CHECK(preview_url_host("https:///x", h, sizeof h) == -1);
    CHECK(preview_url_host("javascript:alert(1)", h, sizeof h) == -1);
}

int main(void)
{
    RUN(open_graph);
    RUN(fallbacks_and_junk);
    RUN(hosts);
    return unit_done();
}
