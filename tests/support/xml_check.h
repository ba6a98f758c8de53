/* A small XML well-formedness check for the tests that read what overlap
 * writes as SVG or HTML: balanced elements with quoted attributes, and the
 * ids they define and reference. Header-only (static inline, asserting
 * through Criterion), so that a test binary takes it without a change to
 * the support library. */
#ifndef OVERLAP_TEST_XML_CHECK_H
#define OVERLAP_TEST_XML_CHECK_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define MAX_IDS 4096

struct xml {
    const char *path;
    int elements;
    int nids, nrefs;
    char ids[MAX_IDS][64], refs[MAX_IDS][64];
    int svgs;
};

/* Collects id='x' and references (href='#x', url(#x)) from one tag. */
static inline void scan_attrs(struct xml *x, const char *tag, size_t len)
{
    for (size_t i = 0; i + 5 < len; i++) {
        const char *p = tag + i;
        int is_id = !strncmp(p, " id=", 4) || !strncmp(p, "\tid=", 4) || !strncmp(p, "\nid=", 4);
        int is_ref = !strncmp(p, "href=", 5) && (p[5] == '"' || p[5] == '\'') && p[6] == '#';
        if (is_id && x->nids < MAX_IDS) {
            const char *v = p + 5;
            size_t n = strcspn(v, "'\"");
            snprintf(x->ids[x->nids++], 64, "%.*s", (int)n, v);
        } else if (is_ref && x->nrefs < MAX_IDS) {
            const char *v = p + 7;
            size_t n = strcspn(v, "'\"");
            snprintf(x->refs[x->nrefs++], 64, "%.*s", (int)n, v);
        } else if (!strncmp(p, "url(#", 5) && x->nrefs < MAX_IDS) {
            const char *v = p + 5;
            size_t n = strcspn(v, ")");
            snprintf(x->refs[x->nrefs++], 64, "%.*s", (int)n, v);
        }
    }
}

/* Checks that text is well-formed XML (declarations, comments, CDATA, and
 * balanced elements with quoted attributes); fills x. Returns an error
 * message or NULL. */
static inline const char *check_xml(const char *text, struct xml *x)
{
    static char err[256];
    const char *stack[512];
    size_t stack_len[512];
    int depth = 0, roots = 0;
    for (const char *p = text; *p;) {
        if (*p != '<') {
            if (*p == '&' && !strchr(p, ';'))
                return "an unterminated entity";
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *end = strstr(p, "-->");
            if (!end)
                return "an unterminated comment";
            p = end + 3;
        } else if (!strncmp(p, "<![CDATA[", 9)) {
            const char *end = strstr(p, "]]>");
            if (!end)
                return "an unterminated CDATA section";
            p = end + 3;
        } else if (p[1] == '?' || p[1] == '!') {
            const char *end = strchr(p, '>');
            if (!end)
                return "an unterminated declaration";
            p = end + 1;
        } else {
            /* a tag: find its end outside quotes */
            const char *q = p + 1;
            char quote = 0;
            for (; *q && (quote || *q != '>'); q++) {
                if (quote && *q == quote)
                    quote = 0;
                else if (!quote && (*q == '"' || *q == '\''))
                    quote = *q;
                else if (!quote && *q == '<')
                    return "a '<' inside a tag";
            }
            if (!*q)
                return "an unterminated tag";
            size_t len = (size_t)(q - p) + 1;
            int closing = p[1] == '/', empty = q[-1] == '/';
            const char *name = p + 1 + closing;
            size_t nlen = strcspn(name, " \t\r\n/>");
            if (nlen == 0)
                return "a tag without a name";
            if (closing) {
                if (depth == 0 || stack_len[depth - 1] != nlen ||
                    strncmp(stack[depth - 1], name, nlen) != 0) {
                    snprintf(err, sizeof(err), "</%.*s> closes %s", (int)nlen, name,
                             depth ? "another element" : "nothing");
                    return err;
                }
                depth--;
            } else {
                x->elements++;
                x->svgs += nlen == 3 && !strncmp(name, "svg", 3);
                scan_attrs(x, p, len);
                if (depth == 0)
                    roots++;
                if (!empty) {
                    if (depth == 512)
                        return "elements nested too deep";
                    stack[depth] = name;
                    stack_len[depth++] = nlen;
                }
            }
            p = q + 1;
        }
    }
    if (depth != 0) {
        snprintf(err, sizeof(err), "<%.*s> never closed", (int)stack_len[depth - 1],
                 stack[depth - 1]);
        return err;
    }
    return roots == 1 ? NULL : "not exactly one root element";
}

static inline void expect_refs_resolve(const struct xml *x, const char *what)
{
    for (int r = 0; r < x->nrefs; r++) {
        int found = 0;
        for (int i = 0; i < x->nids && !found; i++)
            found = !strcmp(x->refs[r], x->ids[i]);
        cr_expect(found, "%s: reference to #%s, which no element has", what, x->refs[r]);
    }
}

static inline void expect_unique_ids(const struct xml *x, const char *what)
{
    for (int i = 0; i < x->nids; i++)
        for (int j = i + 1; j < x->nids; j++)
            cr_expect(strcmp(x->ids[i], x->ids[j]) != 0, "%s: id '%s' twice", what, x->ids[i]);
}

#endif
