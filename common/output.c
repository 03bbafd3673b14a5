/* SPDX-License-Identifier: MIT */
/* output.c -- the only writer of stdout: records in every format */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strophe.h>

#include "output.h"
#include "text.h"
#include "util.h"

void
output_init(
    struct output *o, enum output_format format, const char *template, int nul)
{
	memset(o, 0, sizeof(*o));
	o->format = format;
	o->template = template ? xstrdup(template) : NULL;
	o->nul = nul;
	o->tty = isatty(STDOUT_FILENO);
	buf_init(&o->line);
}

void
output_free(struct output *o)
{
	free(o->template);
	buf_free(&o->line);
	o->template = NULL;
}

void
output_choose(struct output_choice *c, int letter, const char *arg)
{
	switch (letter) {
	case 'F':
		free(c->template);
		c->template = xstrdup(arg);
		c->format = OUT_TEMPLATE;
		c->set = 1;
		break;
	case 'J':
		c->format = OUT_JSON;
		c->set = 1;
		break;
	case 'X':
		c->format = OUT_XML;
		c->set = 1;
		break;
	case '0':
		c->nul = 1;
		break;
	}
}

void
output_choice_free(struct output_choice *c)
{
	free(c->template);
	c->template = NULL;
}

int
output_check_template(const char *t, const char *keys, char **errstr)
{
	for (; *t; t++) {
		if (*t == '%') {
			if (t[1] == '%') {
				t++;
				continue;
			}
			if (t[1] == '\0' || strchr(keys, t[1]) == NULL) {
				*errstr =
				    xasprintf("--format: unknown directive "
					      "'%%%.1s' (known: %s and %%%%)",
					t[1] ? t + 1 : "", keys);
				return -1;
			}
			t++;
		} else if (*t == '\\') {
			if (t[1] == '\0' || strchr("nt0\\", t[1]) == NULL) {
				*errstr = xasprintf("--format: unknown escape "
						    "'\\%.1s' (known: \\n \\t "
						    "\\0 \\\\)",
				    t[1] ? t + 1 : "");
				return -1;
			}
			t++;
		}
	}
	return 0;
}

void
orecord_init(struct orecord *r, const char *kind, xmpp_stanza_t *stanza)
{
	r->kind = kind;
	r->stanza = stanza;
	r->n = 0;
}

void
orecord_add(
    struct orecord *r, char key, const char *name, const char *value, int flags)
{
	if (r->n >= OUT_MAX_FIELDS) {
		/* A record with more fields is a bug in the program: stop
		 * rather than drop data. */
		fprintf(stderr,
		    "%s: internal error: more than %d fields in "
		    "one record\n",
		    util_progname(), OUT_MAX_FIELDS);
		abort();
	}
	r->f[r->n].key = key;
	r->f[r->n].name = name;
	r->f[r->n].value = value;
	r->f[r->n].flags = flags;
	r->n++;
}

/*
 * A field in the text formats: escaped, so it stays on its line.  With -0
 * the record ends with NUL and fields are raw, except that on a terminal
 * the characters that could command it are still escaped.
 */
static void
put_text(const struct output *o, struct buf *b, const char *v, int flags)
{
	size_t i, at, len;
	uint32_t cp;

	if (v == NULL)
		return;
	len = strlen(v);
	if (flags & OF_ESCAPED) {
		buf_add(b, v, len);
		return;
	}
	if (!o->nul) {
		text_escape(b, v, len);
		return;
	}
	if (!o->tty) {
		buf_add(b, v, len);
		return;
	}
	for (i = 0; i < len;) {
		at = i;
		if (text_utf8_next(v, len, &i, &cp) == 0 &&
		    (cp >= 0x20 || cp == '\n' || cp == '\t') && cp != 0x7f &&
		    !text_is_unsafe_cp(cp))
			buf_add(b, v + at, i - at);
		else
			text_escape(b, v + at, i - at);
	}
}

static int
valid_number(const char *v)
{
	const char *p = v;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	/* JSON numbers have no leading zeros ("007" is not one). */
	if (*p == '0' && p[1] != '\0')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

static void
put_json_value(struct buf *b, const struct ofield *f)
{
	const char *p, *comma;

	if (f->value == NULL) {
		buf_adds(b, f->flags & (OF_LIST | OF_LIST_US) ? "[]" : "null");
	} else if ((f->flags & OF_NUMBER) && valid_number(f->value)) {
		buf_adds(b, f->value);
	} else if (f->flags & OF_BOOL) {
		buf_adds(b,
		    strcmp(f->value, "0") == 0 || *f->value == '\0' ? "false"
								    : "true");
	} else if (f->flags & (OF_LIST | OF_LIST_US)) {
		const char *sep = f->flags & OF_LIST_US ? "\x1f" : ",";

		buf_addc(b, '[');
		for (p = f->value; *p; p = *comma ? comma + 1 : comma) {
			comma = p + strcspn(p, sep);
			if (p != f->value)
				buf_addc(b, ',');
			text_json_string(b, p, (size_t)(comma - p));
		}
		buf_addc(b, ']');
	} else {
		text_json_string(b, f->value, strlen(f->value));
	}
}

void
output_xml_line(xmpp_stanza_t *st, struct buf *b)
{
	char *xml = NULL;
	size_t len = 0, i = 0, at;
	uint32_t cp;
	int in_tag = 0, quote = 0;

	if (st == NULL || xmpp_stanza_to_text(st, &xml, &len) != 0)
		return;
	buf_reserve(b, len);
	while (i < len) {
		at = i;
		if (text_utf8_next(xml, len, &i, &cp) < 0) {
			buf_adds(b, "\xef\xbf\xbd");
			continue;
		}
		/* Where we are: text, a tag, or an attribute value in it. */
		if (!in_tag && cp == '<')
			in_tag = 1;
		else if (in_tag && !quote && (cp == '"' || cp == '\''))
			quote = (int)cp;
		else if (in_tag && quote == (int)cp)
			quote = 0;
		else if (in_tag && !quote && cp == '>')
			in_tag = 0;
		/*
		 * A tab stays in text, where XML keeps it; in a tag it can only
		 * be in an attribute value, which XML would read as a space.
		 */
		if ((cp < 0x20 && (cp != '\t' || in_tag)) || cp == 0x7f ||
		    text_is_unsafe_cp(cp))
			buf_printf(b, "&#x%X;", (unsigned)cp);
		else
			buf_add(b, xml + at, i - at);
	}
	xmpp_free(xmpp_stanza_get_context(st), xml);
}

static const struct ofield *
field_by_key(const struct orecord *r, char key)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->f[i].key == key)
			return &r->f[i];
	return NULL;
}

static void
put_template(const struct output *o, const struct orecord *r, struct buf *b)
{
	const struct ofield *f;
	const char *t;

	for (t = o->template; *t; t++) {
		if (*t == '%' && t[1]) {
			t++;
			if (*t == '%')
				buf_addc(b, '%');
			else if ((f = field_by_key(r, *t)) != NULL)
				put_text(o, b, f->value, f->flags);
		} else if (*t == '\\' && t[1]) {
			t++;
			if (*t == 'n')
				buf_addc(b, '\n');
			else if (*t == 't')
				buf_addc(b, '\t');
			else if (*t == '0')
				buf_addc(b, '\0');
			else
				buf_addc(b, *t);
		} else
			buf_addc(b, *t);
	}
}

void
output_format_record(
    const struct output *o, const struct orecord *r, struct buf *b)
{
	size_t i;
	int first = 1;

	switch (o->format) {
	case OUT_TEXT:
		for (i = 0; i < r->n; i++) {
			if (!(r->f[i].flags & OF_TEXT))
				continue;
			if (!first)
				buf_addc(b, '\t');
			first = 0;
			put_text(o, b, r->f[i].value, r->f[i].flags);
		}
		break;
	case OUT_JSON:
		buf_adds(b, "{\"kind\":");
		text_json_string(b, r->kind, strlen(r->kind));
		for (i = 0; i < r->n; i++) {
			if (r->f[i].flags & OF_NOJSON)
				continue;
			buf_addc(b, ',');
			text_json_string(b, r->f[i].name, strlen(r->f[i].name));
			buf_addc(b, ':');
			put_json_value(b, &r->f[i]);
		}
		buf_addc(b, '}');
		break;
	case OUT_XML:
		output_xml_line(r->stanza, b);
		break;
	case OUT_TEMPLATE:
		put_template(o, r, b);
		break;
	}
	if (o->nul)
		buf_addc(b, '\0');
	else
		buf_addc(b, '\n');
}

int
output_record(struct output *o, const struct orecord *r)
{
	buf_reset(&o->line);
	output_format_record(o, r, &o->line);
	if (fwrite(o->line.data, 1, o->line.len, stdout) != o->line.len ||
	    fflush(stdout) != 0)
		return -1;
	return 0;
}
