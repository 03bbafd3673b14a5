/* SPDX-License-Identifier: MIT */
/* fuzz_config.c -- libFuzzer harness for config_load() on any file */

#include <sys/mman.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "util.h"
#include "xmpptools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

/*
 * The input is the file.  Its first byte chooses the account (none,
 * "default" or "work") and whether the file is private (0600) or readable
 * by others (0644).  The file lives in a memfd, read through its
 * /proc/self/fd path: no temporary file, nothing left behind.  Never call
 * config_password() here: password-cmd would run the fuzzer's input.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const accounts[] = { NULL, "default", "work", NULL };
	struct xconfig c, merged;
	const char *account = NULL;
	char *err = NULL;
	int rc;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (size > 0) {
		account = accounts[data[0] & 3];
		if (fchmod(memfd, data[0] & 4 ? 0644 : 0600) != 0)
			abort();
		data++;
		size--;
	}
	if (ftruncate(memfd, 0) != 0 ||
	    (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();

	config_init(&c);
	rc = config_load(&c, path, account, &err);
	if (rc == XEXIT_OK) {
		if (err != NULL || c.loaded_from == NULL)
			abort();
		/* What loaded also merges and checks without trouble. */
		config_init(&merged);
		config_merge(&merged, &c);
		if (merged.set != c.set)
			abort();
		if (config_check(&merged, &err) != XEXIT_OK) {
			if (err == NULL)
				abort();
			free(err);
			err = NULL;
		}
		config_free(&merged);
	} else {
		/* Every failure explains itself on one line. */
		if (rc != XEXIT_CONFIG || err == NULL || strchr(err, '\n'))
			abort();
		free(err);
	}
	config_free(&c);
	return 0;
}
