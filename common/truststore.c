/* SPDX-License-Identifier: MIT */
/* truststore.c -- where OpenSSL finds the CAs: the lazy trust store */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "truststore.h"
#include "util.h"

/* SSL_CERT_FILE is ours (set by truststore_apply()), not the user's. */
static int bundle_env_set;

/* "9d6523ce.0": how OpenSSL's hashed directory lookup names a CA. */
static int
hashed_name(const char *name)
{
	const char *p = name;

	for (; p < name + 8; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	if (*p++ != '.' || *p == '\0')
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

int
truststore_is_hashed(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (dir == NULL || *dir == '\0' || (d = opendir(dir)) == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL)
		found = hashed_name(e->d_name);
	closedir(d);
	return found;
}

/* 'list' (directories separated by ':') names the directory 'st' is. */
static int
list_has_dir(const char *list, const struct stat *st)
{
	struct stat other;
	const char *p = list;
	char *one;
	size_t n;
	int same;

	while (*p) {
		n = strcspn(p, ":");
		one = xstrndup(p, n);
		same = n > 0 && stat(one, &other) == 0 &&
		    other.st_dev == st->st_dev && other.st_ino == st->st_ino;
		free(one);
		if (same)
			return 1;
		p += n;
		if (*p == ':')
			p++;
	}
	return 0;
}

int
truststore_plan(const char *cert_file, const char *cert_dir,
    const char *default_dir, const char **add_dir)
{
	struct stat st;

	*add_dir = NULL;
	if (cert_file != NULL || !truststore_is_hashed(default_dir))
		return 0;
	/* SSL_CERT_DIR replaces the default directory in OpenSSL's lookup,
	 * but not the bundle: its CAs stay trusted only if the default
	 * directory is looked up as well. */
	if (cert_dir != NULL &&
	    !(stat(default_dir, &st) == 0 && list_has_dir(cert_dir, &st)))
		*add_dir = default_dir;
	return 1;
}

int
truststore_apply(const char *cert_file, const char *cert_dir,
    const char *default_dir, const char **add_dir)
{
	if (!truststore_plan(cert_file, cert_dir, default_dir, add_dir))
		return 0;
	if (setenv(X509_get_default_cert_file_env(), TRUSTSTORE_EMPTY_BUNDLE,
		1) < 0) {
		*add_dir = NULL;
		return 0; /* no memory for it: OpenSSL parses the bundle */
	}
	bundle_env_set = 1;
	return 1;
}

int
truststore_init(const char **add_dir)
{
	static int done, lazy;
	static const char *dir;

	if (!done) {
		lazy = truststore_apply(
		    secure_getenv(X509_get_default_cert_file_env()),
		    secure_getenv(X509_get_default_cert_dir_env()),
		    X509_get_default_cert_dir(), &dir);
		done = 1;
	}
	*add_dir = dir;
	return lazy;
}

void
truststore_child_env(void)
{
	if (bundle_env_set)
		unsetenv(X509_get_default_cert_file_env());
	bundle_env_set = 0;
}
