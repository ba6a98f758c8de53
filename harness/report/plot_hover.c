/* What a chart's point says when hovered. gnuplot's svg terminal draws a
 * `with labels hypertext` point as a group whose text its own script shows
 * (`set term svg mouse`), a script an SVG inlined in report.html would
 * carry six times and whose ids the page renames. SVG has its own tooltip,
 * a <title> in the group, which a browser shows without any script: each
 * such group is rewritten to one, in the file gnuplot drew. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot_internal.h"
#include "proc.h"

/* gnuplot 5.4's hypertext group, around its text (XML-escaped, a newline
 * as \n and a quote as \'), then its empty title. */
static const char hover_open[] = "<g onmousemove=\"gnuplot_svg.showHypertext(evt,'";
static const char hover_close[] =
    "')\" onmouseout=\"gnuplot_svg.hideHypertext()\"><title> </title>";

/* Writes the hypertext at text (up to its closing quote) as a title's
 * text: \n a newline, \' a quote. Returns where its closing quote is, or
 * NULL without one. */
static const char *write_hover_text(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (!strncmp(p, hover_close, sizeof(hover_close) - 1))
            return p;
        if (p[0] == '\\' && (p[1] == 'n' || p[1] == '\'' || p[1] == '\\'))
            fputc(*++p == 'n' ? '\n' : *p, out);
        else
            fputc(*p, out);
    }
    return NULL;
}

int plot__svg_tooltips(const char *path)
{
    char *text = proc_read_file(path, NULL), *copy = NULL;
    size_t len = 0;
    if (!text)
        return -errno;
    if (!strstr(text, hover_open)) {
        free(text);
        return 0;
    }
    FILE *out = open_memstream(&copy, &len);
    const char *p = text, *at;
    while (out && (at = strstr(p, hover_open)) != NULL) {
        fwrite(p, 1, (size_t)(at - p), out);
        fputs("<g class=\"hover\"><title>", out);
        const char *end = write_hover_text(out, at + sizeof(hover_open) - 1);
        fputs("</title>", out);
        p = end ? end + sizeof(hover_close) - 1 : at + strlen(at);
    }
    if (out) {
        fputs(p, out);
        fclose(out);
    }
    int rc = -ENOMEM;
    FILE *w = copy ? fopen(path, "w") : NULL;
    if (w) {
        rc = fwrite(copy, 1, len, w) == len ? 0 : -EIO;
        rc = fclose(w) == 0 ? rc : -EIO;
    }
    free(copy);
    free(text);
    return rc;
}
