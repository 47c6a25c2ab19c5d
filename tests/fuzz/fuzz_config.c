/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: the configuration parser (dataplane/config.c over
 * rte_cfgfile; no EAL). The input is the INI file, loaded from a memfd by
 * its /proc path as migdp loads a file. Promises (config.h): it loads, or
 * is refused with a one-line message; a configuration that loads and
 * finishes dumps to a file that loads and finishes to the same dump; each
 * line as a --set override is taken or refused with a message, never
 * half-applied; nothing leaks (LeakSanitizer). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_log.h>

#include "config.h"
#include "fuzz_check.h"

#define ERRLEN 1024
#define MAX_SETS 16

static int in_fd, dump_fd;
static char in_path[64], dump_path[64];
static struct migdp_config a, b, c, c0;

/* Replace the content of memfd @p fd with @p len bytes at @p p. */
static void
put(int fd, const void *p, size_t len)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(pwrite(fd, p, len, 0) == (ssize_t)len);
}

/* The dump of @p cfg without its comments (which name the file). */
static char *
dump_keys(const struct migdp_config *cfg, char **whole, size_t *whole_len)
{
	char *buf = NULL, *out, *line, *save = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);

	FUZZ_CHECK(f != NULL);
	migdp_config_dump(cfg, f);
	FUZZ_CHECK(fclose(f) == 0);
	if (whole != NULL) {
		*whole = malloc(len + 1);
		FUZZ_CHECK(*whole != NULL);
		memcpy(*whole, buf, len + 1);
		*whole_len = len;
	}
	out = calloc(1, len + 1);
	FUZZ_CHECK(out != NULL);
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (line[0] != ';')
			n += (size_t)sprintf(out + n, "%s\n", line);
	free(buf);
	return out;
}

static void
check_message(const char *err)
{
	FUZZ_CHECK(memchr(err, '\0', ERRLEN) != NULL);
	FUZZ_CHECK(err[0] != '\0');
	FUZZ_CHECK(strchr(err, '\n') == NULL || strchr(err, '\n')[1] == '\0');
}

/* A loaded and finished configuration reads back from its dump. */
static void
check_dump(void)
{
	char err[ERRLEN] = "", *whole, *da, *db;
	size_t len;

	da = dump_keys(&a, &whole, &len);
	put(dump_fd, whole, len);
	free(whole);
	if (migdp_config_load(&b, dump_path, err, sizeof(err)) != 0 ||
	    migdp_config_finish(&b, err, sizeof(err)) != 0) {
		fprintf(stderr, "the dump does not load: %s\n", err);
		FUZZ_CHECK(!"a dump loads back");
	}
	db = dump_keys(&b, NULL, NULL);
	if (strcmp(da, db) != 0)
		fprintf(stderr, "dump:\n%s\nreloaded:\n%s\n", da, db);
	FUZZ_CHECK(strcmp(da, db) == 0);
	FUZZ_CHECK(a.session_id == b.session_id);
	free(da);
	free(db);
}

/* Each line as an override on the defaults: all or nothing. */
static void
check_sets(const uint8_t *data, size_t size)
{
	char err[ERRLEN], line[512];
	const uint8_t *p = data, *nl, *end = data + size;
	unsigned n = 0;
	size_t len;
	int ret;

	for (; p < end && n < MAX_SETS; p = nl + 1, n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		len = RTE_MIN((size_t)(nl - p), sizeof(line) - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		memcpy(&c, &c0, sizeof(c));
		err[0] = '\0';
		ret = migdp_config_set(&c, line, err, sizeof(err));
		FUZZ_CHECK(ret == 0 || ret == -EINVAL);
		if (ret != 0) {
			check_message(err);
			FUZZ_CHECK(memcmp(&c, &c0, sizeof(c)) == 0);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* rte_cfgfile logs what it refuses: quiet, the fuzzer is chatty enough. */
	rte_log_set_global_level(RTE_LOG_EMERG);
	in_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	dump_fd = memfd_create("fuzz-config-dump", MFD_CLOEXEC);
	FUZZ_CHECK(in_fd >= 0 && dump_fd >= 0);
	snprintf(in_path, sizeof(in_path), "/proc/self/fd/%d", in_fd);
	snprintf(dump_path, sizeof(dump_path), "/proc/self/fd/%d", dump_fd);
	FUZZ_CHECK(migdp_config_init(&c0) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ERRLEN] = "";
	int ret;

	put(in_fd, data, size);
	ret = migdp_config_load(&a, in_path, err, sizeof(err));
	FUZZ_CHECK(ret == 0 || ret == -EINVAL);
	if (ret != 0) {
		check_message(err);
	} else {
		ret = migdp_config_finish(&a, err, sizeof(err));
		FUZZ_CHECK(ret == 0 || ret == -EINVAL);
		if (ret != 0)
			check_message(err);
		else
			check_dump();
	}
	check_sets(data, size);
	return 0;
}
