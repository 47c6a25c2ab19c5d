/* SPDX-License-Identifier: BSD-3-Clause */
/* lab/migguest as a real process against this test playing migdp through
 * migshim_server_*: every page pushed exactly once, on the right ring, with
 * the final marker; the digest it prints is the memory migdp sees; events
 * (completed, failed, migdp gone), refusal, timeout, signals, images and the
 * destination role end with the right status and JSON line. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cu_main.h"
#include "genmem.h"
#include "guest_run.h"
#include "migshim.h"

#define MB (1024ull * 1024)
#define PAGE MIGSHIM_PAGE_SIZE
#define BLOCK (2 * MB)

/* Pop every descriptor until each ring has its final marker; check that
 * every page of @p npages is described once, on its ring.
 * @return 0 when everything is right. */
static int
drain(struct migshim_session *ss, uint64_t npages)
{
	unsigned nr = migshim_session_nrings(ss), r, i, n, markers = 0;
	uint8_t *seen = calloc(npages, 1);
	struct migshim_desc d[64];
	uint64_t p, bad = 0;
	int tries;

	if (seen == NULL)
		return -1;
	for (tries = 0; tries < 20000 && markers < nr; tries++) {
		for (r = 0; r < nr; r++) {
			n = migshim_session_pop(ss, r, d, 64);
			for (i = 0; i < n; i++) {
				if (d[i].flags & MIGSHIM_DESC_END_OF_ROUND) {
					markers++;
					bad += d[i].gpa != 1 ||
					       !(d[i].flags & MIGSHIM_DESC_FINAL);
					continue;
				}
				bad += (d[i].gpa / BLOCK) % nr != r;
				for (p = d[i].gpa / PAGE;
				     p < d[i].gpa / PAGE + d[i].npages; p++)
					bad += p >= npages || seen[p]++ != 0;
			}
		}
		if (n == 0)
			usleep(500);
	}
	for (p = 0; p < npages; p++)
		bad += seen[p] != 1;
	free(seen);
	return markers == nr && bad == 0 ? 0 : -1;
}

static char *
region_digest(struct migshim_session *ss, char *hex)
{
	struct migshim_region_info ri;

	if (migshim_session_region(ss, 0, &ri) < 0)
		return NULL;
	genmem_digest(ri.hva, ri.size, hex);
	return hex;
}

/* The whole first form: started before migdp listens, 2 channels. */
static void
test_source_completed(void)
{
	const char *args[] = {"--role", "source", "--socket", NULL, "--mem", "24M",
			      "--channels", "2", "--seed", "7", "--timeout", "20",
			      NULL};
	char path[108], hex[GENMEM_DIGEST_HEX_LEN], want[GENMEM_DIGEST_HEX_LEN];
	struct migdp_genmix m;
	struct migshim_server *s;
	struct migshim_session *ss;
	struct guest_run g;
	uint8_t *ref = malloc(24 * MB);

	sock_path(path, sizeof(path));
	args[3] = path;
	start(&g, args);
	usleep(300000); /* it must wait for us */
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	CU_ASSERT_FATAL(s != NULL && ref != NULL);
	ss = migshim_server_accept(s, 20000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL(migshim_session_nrings(ss), 2);
	CU_ASSERT_EQUAL(migshim_session_nregions(ss), 1);
	CU_ASSERT_EQUAL(drain(ss, 24 * MB / PAGE), 0);
	/* The memory we see is the default mix from seed 7. */
	genmem_parse_mix(GENMEM_DEFAULT_MIX, &m, NULL, 0);
	genmem_fill(ref, 24 * MB, &m, 7);
	genmem_digest(ref, 24 * MB, want);
	CU_ASSERT_STRING_EQUAL(region_digest(ss, hex), want);
	send_event(ss, MIGSHIM_EV_COMPLETED, 0, 6144, "");
	CU_ASSERT_EQUAL_FATAL(finish(&g, 10000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), 0);
	CU_ASSERT_FATAL(g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "role"), "source");
	CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "completed");
	CU_ASSERT_STRING_EQUAL(jstr(&g, "digest"), want);
	CU_ASSERT_EQUAL(jint(&g, "guest_bytes"), 24 * MB);
	CU_ASSERT_EQUAL(jint(&g, "pages"), 6144);
	CU_ASSERT_EQUAL(jint(&g, "descriptors"), 12);
	CU_ASSERT_EQUAL(jint(&g, "event_arg"), 6144);
	CU_ASSERT(json_is_number(json_object_get(g.json, "fill_ms")));
	CU_ASSERT(json_is_number(json_object_get(g.json, "push_ms")));
	CU_ASSERT(migshim_session_peer_gone(ss));
	json_decref(g.json);
	migshim_session_close(ss);
	migshim_server_destroy(s);
	free(ref);
}

/* After the push, migdp ends the session one way or another (@p how: an
 * event type, a signal to send, 0: migdp closes, -1: migdp stays silent). */
static void
source_ends(int how, const char *want_reason)
{
	const char *args[] = {"--role", "source", "--socket", NULL, "--mem", "4M",
			      "--mix", "random=100", "--timeout",
			      how < 0 ? "1" : "10", NULL};
	char path[108];
	struct migshim_server *s;
	struct migshim_session *ss;
	struct guest_run g;

	sock_path(path, sizeof(path));
	args[3] = path;
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	CU_ASSERT_FATAL(s != NULL);
	start(&g, args);
	ss = migshim_server_accept(s, 10000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL(drain(ss, 4 * MB / PAGE), 0);
	if (how == MIGSHIM_EV_FAILED)
		send_event(ss, MIGSHIM_EV_FAILED, EIO, 0, "peer lost");
	else if (how == SIGTERM)
		kill(g.pid, SIGTERM);
	else if (how == 0)
		migshim_session_close(ss);
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), how == SIGTERM ? 128 + SIGTERM : 1);
	CU_ASSERT_FATAL(g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "failed");
	CU_ASSERT(strstr(jstr(&g, "reason"), want_reason) != NULL);
	CU_ASSERT_EQUAL(strlen(jstr(&g, "digest")), 32);
	if (how != 0) {
		if (how == SIGTERM)
			CU_ASSERT(migshim_session_peer_gone(ss));
		migshim_session_close(ss);
	}
	json_decref(g.json);
	migshim_server_destroy(s);
}

static void
test_source_failed_event(void)
{
	source_ends(MIGSHIM_EV_FAILED, "peer lost");
}

static void
test_source_migdp_gone(void)
{
	source_ends(0, "closed");
}

static void
test_source_sigterm(void)
{
	source_ends(SIGTERM, "interrupted");
}

static void
test_source_timeout(void)
{
	source_ends(-1, "--timeout");
}

/* A destination migdp refuses a source: the reason reaches the guest. */
static void
test_source_refused(void)
{
	const char *args[] = {"--role", "source", "--socket", NULL, "--mem", "1M",
			      "--timeout", "10", NULL};
	char path[108];
	struct migshim_server *s;
	struct guest_run g;

	sock_path(path, sizeof(path));
	args[3] = path;
	s = migshim_server_create(path, MIGSHIM_ROLE_DESTINATION, 0);
	CU_ASSERT_FATAL(s != NULL);
	start(&g, args);
	CU_ASSERT(migshim_server_accept(s, 10000) == NULL);
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), 1);
	CU_ASSERT_FATAL(g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "failed");
	CU_ASSERT(strstr(jstr(&g, "reason"), migshim_server_last_error(s)) != NULL);
	json_decref(g.json);
	migshim_server_destroy(s);
}

/* Nobody listens: give up after --timeout. */
static void
test_source_no_migdp(void)
{
	const char *args[] = {"--role", "source", "--socket", NULL, "--mem", "1M",
			      "--timeout", "1", NULL};
	char path[108];
	struct guest_run g;
	struct timespec t0, t1;

	sock_path(path, sizeof(path));
	args[3] = path;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	start(&g, args);
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CU_ASSERT(t1.tv_sec - t0.tv_sec < 4);
	CU_ASSERT_EQUAL(exit_code(&g), 1);
	CU_ASSERT(strstr(jstr(&g, "reason"), "no migdp") != NULL);
	json_decref(g.json);
}

/* An image of 10000 bytes: 3 pages, padded with zeros. */
static void
test_source_image(void)
{
	const char *args[] = {"--role", "source", "--socket", NULL, "--image",
			      NULL, "--timeout", "10", NULL};
	char path[108], img[] = "/tmp/migguest-image-XXXXXX";
	char hex[GENMEM_DIGEST_HEX_LEN], want[GENMEM_DIGEST_HEX_LEN];
	uint8_t data[3 * PAGE] = {0};
	struct migshim_server *s;
	struct migshim_session *ss;
	struct guest_run g;
	int fd = mkstemp(img);
	unsigned i;

	CU_ASSERT_FATAL(fd >= 0);
	for (i = 0; i < 10000; i++)
		data[i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL(write(fd, data, 10000), 10000);
	close(fd);
	genmem_digest(data, sizeof(data), want);
	sock_path(path, sizeof(path));
	args[3] = path;
	args[5] = img;
	s = migshim_server_create(path, MIGSHIM_ROLE_SOURCE, 0);
	CU_ASSERT_FATAL(s != NULL);
	start(&g, args);
	ss = migshim_server_accept(s, 10000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL(drain(ss, 3), 0);
	CU_ASSERT_STRING_EQUAL(region_digest(ss, hex), want);
	send_event(ss, MIGSHIM_EV_COMPLETED, 0, 3, "");
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), 0);
	CU_ASSERT_EQUAL(jint(&g, "guest_bytes"), 3 * PAGE);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "digest"), want);
	json_decref(g.json);
	migshim_session_close(ss);
	migshim_server_destroy(s);
	unlink(img);
}

/* Destination: what migdp writes is what the guest digests; verified is
 * what migdp said (COMPLETED's value). With an image, only its size counts
 * (10000 bytes: 3 pages). */
static void
destination(uint32_t verified, bool image)
{
	const char *args[] = {"--role", "destination", "--socket", NULL, "--mem",
			      "8M", "--timeout", "10", NULL};
	char path[108], want[GENMEM_DIGEST_HEX_LEN];
	char img[] = "/tmp/migguest-image-XXXXXX";
	struct migdp_genmix m = {.text = 50, .random = 50};
	struct migshim_region_info ri;
	struct migshim_server *s;
	struct migshim_session *ss;
	struct guest_run g;
	int fd;

	sock_path(path, sizeof(path));
	args[3] = path;
	if (image) {
		fd = mkstemp(img);
		CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, 10000) == 0);
		close(fd);
		args[4] = "--image";
		args[5] = img;
	}
	s = migshim_server_create(path, MIGSHIM_ROLE_DESTINATION, 0);
	CU_ASSERT_FATAL(s != NULL);
	start(&g, args);
	ss = migshim_server_accept(s, 10000);
	CU_ASSERT_FATAL(ss != NULL);
	CU_ASSERT_EQUAL_FATAL(migshim_session_region(ss, 0, &ri), 0);
	CU_ASSERT_EQUAL(ri.size, image ? 3 * PAGE : 8 * MB);
	CU_ASSERT_EQUAL(genmem_fill(ri.hva, ri.size, &m, 3), 0);
	genmem_digest(ri.hva, ri.size, want);
	send_event(ss, MIGSHIM_EV_COMPLETED, verified, 0, "");
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), 0);
	CU_ASSERT_FATAL(g.json != NULL);
	CU_ASSERT_STRING_EQUAL(jstr(&g, "role"), "destination");
	CU_ASSERT_STRING_EQUAL(jstr(&g, "status"), "completed");
	CU_ASSERT_STRING_EQUAL(jstr(&g, "digest"), want);
	CU_ASSERT_EQUAL(json_is_true(json_object_get(g.json, "verified")),
			verified != 0);
	json_decref(g.json);
	migshim_session_close(ss);
	migshim_server_destroy(s);
	if (image)
		unlink(img);
}

static void
test_destination_verified(void)
{
	destination(1, false);
}

static void
test_destination_unverified(void)
{
	destination(0, true);
}

/* Bad usage exits 2; missing hugepages fail with a clear reason. */
static void
test_usage_and_hugepages(void)
{
	const char *bad[][10] = {
		{"--role", "source", "--mem", "1M", NULL},
		{"--role", "guest", "--socket", "/tmp/x", "--mem", "1M", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1Q", NULL},
		{"--role", "source", "--socket", "/tmp/x", "--mem", "1M",
		 "--mix", "zero=99", NULL},
		{"--role", "destination", "--socket", "/tmp/x", NULL},
	};
	const char *huge[] = {"--role", "source", "--socket", "/tmp/none",
			      "--mem", "4M", "--hugepages", "--timeout", "1",
			      NULL};
	struct guest_run g;
	unsigned i;
	FILE *f;
	char line[128];
	unsigned long nfree = 1;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(&g, bad[i]);
		CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
		CU_ASSERT_EQUAL(exit_code(&g), 2);
		json_decref(g.json);
	}
	f = fopen("/proc/meminfo", "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		sscanf(line, "HugePages_Free: %lu", &nfree);
	if (f != NULL)
		fclose(f);
	if (nfree != 0)
		return; /* hugepages reserved here: nothing to refuse */
	start(&g, huge);
	CU_ASSERT_EQUAL_FATAL(finish(&g, 5000), 0);
	CU_ASSERT_EQUAL(exit_code(&g), 1);
	CU_ASSERT(strstr(jstr(&g, "reason"), "hugepages") != NULL);
	json_decref(g.json);
}

int
main(void)
{
	static const struct cu_test tests[] = {
		{"source_completed", test_source_completed},
		{"source_failed_event", test_source_failed_event},
		{"source_migdp_gone", test_source_migdp_gone},
		{"source_sigterm", test_source_sigterm},
		{"source_timeout", test_source_timeout},
		{"source_refused", test_source_refused},
		{"source_no_migdp", test_source_no_migdp},
		{"source_image", test_source_image},
		{"destination_verified", test_destination_verified},
		{"destination_unverified", test_destination_unverified},
		{"usage_and_hugepages", test_usage_and_hugepages},
		{NULL, NULL}};

	signal(SIGPIPE, SIG_IGN);
	if (cu_add_suite("migguest", NULL, NULL, tests) < 0 ||
	    migguest_live_suite() < 0)
		return 1;
	return cu_run();
}
