/* SPDX-License-Identifier: MIT */
/* truststore.h -- where OpenSSL finds the CAs: the lazy trust store */

#ifndef XMPPTOOLS_TRUSTSTORE_H
#define XMPPTOOLS_TRUSTSTORE_H

/*
 * libstrophe 0.12 calls SSL_CTX_set_default_verify_paths() for each TLS
 * context it makes (two per STARTTLS login).  OpenSSL then parses the
 * whole bundle file (SSL_CERT_FILE, else X509_get_default_cert_file():
 * on Debian the ~150 CAs of ca-certificates.crt) and adds the certificate
 * directories (SSL_CERT_DIR, a ':'-separated list, else
 * X509_get_default_cert_dir()), where it looks up only the issuer it needs
 * by its hashed name.
 *
 * Where OpenSSL's default directory is hashed (Debian's /etc/ssl/certs is
 * the c_rehash'ed directory of the same CAs as the bundle), parsing the
 * bundle adds nothing: the lazy plan tells OpenSSL that the bundle is
 * empty (SSL_CERT_FILE=/dev/null, in this process only) and keeps the
 * default directory among those looked up.  The trust is the same; only
 * the work is less.  A bundle the user names (SSL_CERT_FILE) is always
 * parsed, and where the default directory is missing or not hashed nothing
 * changes.  --cafile and --capath are added by libstrophe on top, as
 * before.
 *
 * Children must see the user's environment, not this process's:
 * truststore_child_env() between fork() and exec().
 *
 * Nothing here writes stdout or exits; strings returned are static or
 * borrowed as stated.
 */

/* The value SSL_CERT_FILE gets on the lazy plan: an empty bundle. */
#define TRUSTSTORE_EMPTY_BUNDLE "/dev/null"

/*
 * truststore_is_hashed()
 *
 * 1 when 'dir' is a readable directory holding at least one entry named
 * as c_rehash and `openssl rehash` name a certificate (and as OpenSSL
 * looks it up): 8 lower-case hex digits, '.', decimal digits
 * ("9d6523ce.0").  Else 0 (missing, not a directory, no such entry).  The
 * entries are not opened.
 */
int truststore_is_hashed(const char *dir);

/*
 * truststore_plan()
 *
 * The decision, from what OpenSSL would use: 'cert_file' and 'cert_dir'
 * are the values of SSL_CERT_FILE and SSL_CERT_DIR (NULL when unset),
 * 'default_dir' is X509_get_default_cert_dir().  Returns 1 for the lazy
 * plan (skip the bundle) when 'cert_file' is NULL and 'default_dir' is
 * hashed, else 0 (let OpenSSL parse the bundle, as it always did).
 *
 * On the lazy plan, *add_dir is set to 'default_dir' when SSL_CERT_DIR
 * names other directories only: the bundle's CAs were trusted on top of
 * those, so the default directory must be looked up too (the caller adds
 * it as a CA path).  Otherwise *add_dir is NULL.  'add_dir' borrows
 * 'default_dir'.
 */
int truststore_plan(const char *cert_file, const char *cert_dir,
    const char *default_dir, const char **add_dir);

/*
 * truststore_apply()
 *
 * truststore_plan() on the given values, and on the lazy plan sets
 * SSL_CERT_FILE to TRUSTSTORE_EMPTY_BUNDLE in this process (remembered
 * for truststore_child_env()).  Returns 1 for the lazy plan, else 0;
 * *add_dir as truststore_plan() sets it.
 */
int truststore_apply(const char *cert_file, const char *cert_dir,
    const char *default_dir, const char **add_dir);

/*
 * truststore_init()
 *
 * Once per process, before libstrophe makes a TLS context:
 * truststore_apply() on the environment (secure_getenv(), as OpenSSL
 * reads it) and OpenSSL's default directory.  Later calls only return the
 * first result.  Returns 1 for the lazy plan, else 0; *add_dir (static
 * storage, or NULL) is the directory to add to the connection's CA path.
 */
int truststore_init(const char **add_dir);

/*
 * truststore_child_env()
 *
 * In a child between fork() and exec(): gives the command the user's
 * environment back (removes the SSL_CERT_FILE that truststore_apply()
 * set; a value the user set is kept).
 */
void truststore_child_env(void);

#endif
