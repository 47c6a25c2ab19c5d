/* SPDX-License-Identifier: BSD-3-Clause */
/* Realistic guest memory from a seed: zero, text-like, binary-like and
 * random pages dealt in shuffled groups of 100. See genmem.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "genmem.h"

#define PAGE GENMEM_PAGE_SIZE
#define GROUP 100
#define MAX_DEPTH 32

/* ------------------------------------------------------------------------ */
/* PRNG: wyrand (64-bit state, passes BigCrush, ~1 ns per output). */

static inline uint64_t
wyrand(uint64_t *s)
{
	__extension__ unsigned __int128 t;

	*s += 0xa0761d6478bd642full;
	t = (unsigned __int128)*s * (*s ^ 0xe7037ed1a0b428dbull);
	return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* splitmix64 finaliser: independent streams from (seed, index, domain). */
static uint64_t
mix3(uint64_t seed, uint64_t index, uint64_t domain)
{
	uint64_t z = seed ^ (index * 0x9e3779b97f4a7c15ull) ^
		     (domain * 0xd1b54a32d192ed03ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* ------------------------------------------------------------------------ */
/* Mix and size parsing. */

static const char *const kind_names[GENMEM_NKINDS] = {
	[GENMEM_ZERO] = "zero",
	[GENMEM_TEXT] = "text",
	[GENMEM_BINARY] = "binary",
	[GENMEM_RANDOM] = "random",
};

const char *
genmem_kind_name(enum genmem_kind k)
{
	return (unsigned)k < GENMEM_NKINDS ? kind_names[k] : "unknown";
}

/* Explain a refused mix in @p err (may be NULL). @return -EINVAL. */
static int __attribute__((format(printf, 3, 4)))
refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* One "kind=percent" item of @p len bytes at @p s into @p pct. */
static int
parse_item(const char *s, size_t len, unsigned pct[GENMEM_NKINDS],
	   bool seen[GENMEM_NKINDS], char *err, size_t errlen)
{
	char item[64], *eq, *end = NULL;
	unsigned long v = 0;
	unsigned k;

	if (len == 0)
		return refuse(err, errlen, "empty item in mix");
	if (len >= sizeof(item))
		return refuse(err, errlen, "mix item too long");
	memcpy(item, s, len);
	item[len] = '\0';
	eq = strchr(item, '=');
	if (eq == NULL)
		return refuse(err, errlen, "mix item '%s' is not kind=percent",
			      item);
	*eq = '\0';
	for (k = 0; k < GENMEM_NKINDS; k++)
		if (strcmp(item, kind_names[k]) == 0)
			break;
	if (k == GENMEM_NKINDS)
		return refuse(err, errlen, "unknown page kind '%s' (zero, text, "
			      "binary, random)", item);
	if (seen[k])
		return refuse(err, errlen, "page kind '%s' given twice", item);
	errno = 0;
	if (eq[1] >= '0' && eq[1] <= '9')
		v = strtoul(eq + 1, &end, 10);
	if (end == NULL || *end != '\0' || errno != 0 || v > 100)
		return refuse(err, errlen, "percentage of '%s' is not 0..100",
			      item);
	seen[k] = true;
	pct[k] = (unsigned)v;
	return 0;
}

int
genmem_parse_mix(const char *s, struct migdp_genmix *m, char *err,
		 size_t errlen)
{
	unsigned pct[GENMEM_NKINDS] = {0}, sum = 0, k;
	bool seen[GENMEM_NKINDS] = {false};
	const char *p, *comma;
	int ret;

	if (s == NULL || *s == '\0')
		return refuse(err, errlen, "empty mix");
	for (p = s;; p = comma + 1) {
		comma = strchr(p, ',');
		ret = parse_item(p, comma ? (size_t)(comma - p) : strlen(p), pct,
				 seen, err, errlen);
		if (ret < 0)
			return ret;
		if (comma == NULL)
			break;
	}
	for (k = 0; k < GENMEM_NKINDS; k++)
		sum += pct[k];
	if (sum != 100)
		return refuse(err, errlen, "mix sums to %u%%, not 100%%", sum);
	*m = (struct migdp_genmix){.zero = pct[GENMEM_ZERO],
				   .text = pct[GENMEM_TEXT],
				   .binary = pct[GENMEM_BINARY],
				   .random = pct[GENMEM_RANDOM]};
	return 0;
}

int
genmem_parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: break;
	}
	if (shift != 0) {
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end != '\0' || v == 0)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Kinds: each group of 100 pages holds exactly the mix, shuffled. */

static bool
mix_valid(const struct migdp_genmix *m)
{
	return m != NULL && m->zero <= 100 && m->text <= 100 &&
	       m->binary <= 100 && m->random <= 100 &&
	       m->zero + m->text + m->binary + m->random == 100;
}

static void
deal_group(const struct migdp_genmix *m, uint64_t seed, uint64_t group,
	   uint8_t kinds[GROUP])
{
	const unsigned pct[GENMEM_NKINDS] = {m->zero, m->text, m->binary,
					     m->random};
	uint64_t rng = mix3(seed, group, 1);
	unsigned k, i, n = 0, j;
	uint8_t t;

	for (k = 0; k < GENMEM_NKINDS; k++)
		for (i = 0; i < pct[k]; i++)
			kinds[n++] = (uint8_t)k;
	for (i = GROUP - 1; i > 0; i--) { /* Fisher-Yates */
		j = (unsigned)(wyrand(&rng) % (i + 1));
		t = kinds[i];
		kinds[i] = kinds[j];
		kinds[j] = t;
	}
}

enum genmem_kind
genmem_page_kind(const struct migdp_genmix *m, uint64_t seed,
		 uint64_t page_index)
{
	uint8_t kinds[GROUP];

	if (!mix_valid(m))
		return GENMEM_ZERO;
	deal_group(m, seed, page_index / GROUP, kinds);
	return (enum genmem_kind)kinds[page_index % GROUP];
}

/* ------------------------------------------------------------------------ */
/* Text pages from the built-in vocabulary: lines of words, some indented,
 * more frequent words drawn more often (min of two draws). */

static const char *const words[] = {
	"the", "of", "and", "to", "a", "in", "is", "for", "that", "on",
	"with", "as", "it", "be", "by", "this", "are", "or", "from", "at",
	"an", "not", "if", "can", "all", "which", "when", "will", "has", "one",
	"file", "data", "page", "memory", "value", "return", "int", "char",
	"struct", "const", "static", "void", "NULL", "error", "size", "buffer",
	"list", "node", "next", "first", "last", "count", "index", "offset",
	"length", "string", "name", "type", "version", "user", "system",
	"kernel", "device", "driver", "module", "config", "option", "default",
	"server", "client", "request", "response", "header", "status", "code",
	"message", "log", "debug", "info", "warning", "time", "date", "start",
	"stop", "open", "close", "read", "write", "send", "receive", "packet",
	"network", "address", "port", "socket", "thread", "process", "lock",
	"queue", "ring", "table", "hash", "key", "map", "set", "get", "add",
	"remove", "update", "create", "delete", "init", "free", "alloc",
	"copy", "move", "check", "test", "run", "call", "function", "method",
	"class", "object", "instance", "field", "array", "pointer", "number",
	"integer", "float", "double", "long", "short", "unsigned", "bool",
	"true", "false", "else", "while", "break", "continue", "switch",
	"case", "include", "define", "license", "copyright", "software",
	"without", "warranty", "provided", "distributed", "public", "general",
	"version", "path", "directory", "usr", "lib", "share", "bin", "etc",
	"var", "tmp", "home", "root", "guest", "host", "virtual", "machine",
	"migration", "channel", "round", "dirty", "zero", "random", "binary",
	"text", "more", "than", "other", "into", "only", "also", "after",
	"before", "between", "each", "every", "some", "such", "used", "use",
	"new", "old", "may", "must", "should", "would", "could", "there",
	"their", "they", "we", "you", "he", "she", "was", "were", "been",
	"have", "had", "do", "does", "did", "but", "so", "then", "than",
	"because", "about", "over", "under", "again", "=", "==", "{", "}",
	"(", ")", ";", "0", "1", "2", "16", "32", "64", "128", "256", "4096",
};

#define NWORDS (sizeof(words) / sizeof(words[0]))
#define WORD_SLOT 16

struct vocab {
	char w[NWORDS][WORD_SLOT]; /* padded, so a copy is one 16-byte move */
	uint8_t len[NWORDS];
};

static void
vocab_init(struct vocab *v)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < NWORDS; i++) {
		v->len[i] = (uint8_t)strlen(words[i]);
		memcpy(v->w[i], words[i], v->len[i]);
	}
}

static void
fill_text(uint8_t *page, const struct vocab *v, uint64_t rng)
{
	uint8_t tmp[PAGE + 2 * WORD_SLOT];
	size_t pos = 0, line_end = 0;
	uint64_t r;
	unsigned a, b, w;

	while (pos < PAGE) {
		r = wyrand(&rng);
		if (pos >= line_end) { /* new line: 30..100 columns */
			if (pos > 0)
				tmp[pos - 1] = '\n';
			for (a = 0; a < ((r >> 40) & 7) / 3; a++)
				tmp[pos++] = '\t';
			line_end = pos + 30 + (r >> 48) % 71;
		}
		a = (unsigned)(r & 0xffff) % NWORDS;
		b = (unsigned)((r >> 16) & 0xffff) % NWORDS;
		w = a < b ? a : b;
		memcpy(tmp + pos, v->w[w], WORD_SLOT);
		pos += v->len[w];
		tmp[pos++] = ' ';
	}
	memcpy(page, tmp, PAGE);
}

/* ------------------------------------------------------------------------ */
/* Binary pages: one struct layout per page, repeated. Fields are 8-byte
 * words: small integers, flag words, pointers sharing the page's high bits
 * (NULL now and then), and padding. Now and then a struct is free (zero). */

enum field { F_SMALL, F_PTR, F_PAD, F_PAIR, F_TAG };

static void
fill_binary(uint8_t *page, uint64_t rng)
{
	uint64_t r = wyrand(&rng);
	unsigned nf = 2 + (unsigned)(r % 10), f, off;
	uint64_t base = 0x00007f0000000000ull | ((r >> 8) & 0xffffff) << 16;
	uint8_t kind[12], bits[12];
	uint64_t v;

	r = wyrand(&rng);
	for (f = 0; f < nf; f++) {
		kind[f] = (uint8_t)((r >> (2 * f)) & 3);
		bits[f] = (uint8_t)(4 + ((r >> (24 + 2 * f)) & 3) * 4);
	}
	kind[0] = F_TAG; /* a live struct is never all zeros */
	for (off = 0; off + 8 * nf <= PAGE; off += 8 * nf) {
		r = wyrand(&rng);
		if ((r & 15) == 0) { /* a free struct */
			memset(page + off, 0, 8 * nf);
			continue;
		}
		for (f = 0; f < nf; f++) {
			r = wyrand(&rng);
			switch (kind[f]) {
			case F_SMALL:
				v = r & ((1ull << bits[f]) - 1);
				break;
			case F_PTR:
				v = (r & 7) == 0 ? 0 : base + ((r >> 8) & 0xfffff) * 16;
				break;
			case F_PAIR:
				v = (r & 0xff) | (((r >> 32) & 0xf) << 32);
				break;
			case F_TAG: /* type and reference count */
				v = 1 + (r & 0x3) + ((r >> 8) & 0x7) * 0x100;
				break;
			default:
				v = 0;
				break;
			}
			put64(page + off + 8 * f, v);
		}
	}
	memset(page + off, 0, PAGE - off);
}

static void
fill_random(uint8_t *page, uint64_t rng)
{
	unsigned off;

	for (off = 0; off < PAGE; off += 8)
		put64(page + off, wyrand(&rng));
}

/* ------------------------------------------------------------------------ */
/* Pages of real files: the first GENMEM_FILE_MAX bytes of each regular file
 * under a directory (sorted walk), each file padded to a page multiple as in
 * a page cache; all-zero pages dropped (they would count as zero pages). */

struct corpus {
	uint8_t *data;
	size_t len; /* page multiple */
};

static void
corpus_add_file(struct corpus *c, int dirfd, const char *name, off_t size)
{
	uint8_t *base = c->data + c->len;
	size_t want = (size_t)size, got = 0, end, src, dst = 0;
	ssize_t n;
	int fd;

	if (want > GENMEM_FILE_MAX)
		want = GENMEM_FILE_MAX;
	if (want > GENMEM_CORPUS_MAX - c->len)
		want = GENMEM_CORPUS_MAX - c->len;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	while (got < want) {
		n = read(fd, base + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	end = (got + PAGE - 1) / PAGE * PAGE;
	memset(base + got, 0, end - got);
	for (src = 0; src < end; src += PAGE) {
		if (base[src] == 0 && memcmp(base + src, base + src + 1, PAGE - 1) == 0)
			continue;
		if (dst != src)
			memcpy(base + dst, base + src, PAGE);
		dst += PAGE;
	}
	c->len += dst;
}

static int
skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

static void
corpus_walk(struct corpus *c, int dirfd, unsigned depth)
{
	struct dirent **list;
	struct stat st;
	int n, i, sub;

	n = scandirat(dirfd, ".", &list, skip_dots, alphasort);
	for (i = 0; i < n; i++) {
		const char *name = list[i]->d_name;

		if (c->len + PAGE <= GENMEM_CORPUS_MAX &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISREG(st.st_mode) && st.st_size > 0) {
				corpus_add_file(c, dirfd, name, st.st_size);
			} else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
				sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY |
						      O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0) {
					corpus_walk(c, sub, depth + 1);
					close(sub);
				}
			}
		}
		free(list[i]);
	}
	free(n >= 0 ? list : NULL);
}

static int
corpus_load(struct corpus *c, const char *dir)
{
	int fd;

	c->len = 0;
	c->data = malloc(GENMEM_CORPUS_MAX + PAGE);
	if (c->data == NULL)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		corpus_walk(c, fd, 0);
		close(fd);
	}
	if (c->len == 0) {
		free(c->data);
		c->data = NULL;
		return -ENOENT;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Filling. The content of page i depends only on (mix, seed, i) and the
 * corpus: the only state carried from page to page is the cached group of
 * kinds, dealt again whenever the group changes. So contiguous ranges of
 * pages can be filled by independent fillers, each starting with no group,
 * and give the bytes of a serial fill. */

/* Buffers smaller than this are filled on the calling thread alone: starting
 * threads would cost more than it saves. */
#define FILL_MT_MIN (64u << 20)
#define FILL_MAX_THREADS 64

/* One range of pages, owned by the thread that fills it. */
struct filler {
	const struct migdp_genmix *m;
	uint64_t seed;
	const struct corpus *corpus; /* NULL: vocabulary; shared, read-only */
	uint8_t *buf;                /* the whole buffer */
	size_t len;                  /* of the whole buffer */
	uint64_t first, end;         /* pages [first, end) of this range */
	struct vocab vocab;
	uint8_t kinds[GROUP];
	uint64_t group;              /* of kinds[], UINT64_MAX: none yet */
};

static void
fill_page(struct filler *f, uint8_t *page, uint64_t index)
{
	uint64_t rng = mix3(f->seed, index, 2), npg;

	if (index / GROUP != f->group) {
		f->group = index / GROUP;
		deal_group(f->m, f->seed, f->group, f->kinds);
	}
	switch (f->kinds[index % GROUP]) {
	case GENMEM_TEXT:
		if (f->corpus == NULL) {
			fill_text(page, &f->vocab, rng);
			break;
		}
		npg = f->corpus->len / PAGE;
		memcpy(page, f->corpus->data + wyrand(&rng) % npg * PAGE, PAGE);
		break;
	case GENMEM_BINARY:
		fill_binary(page, rng);
		break;
	case GENMEM_RANDOM:
		fill_random(page, rng);
		break;
	default:
		memset(page, 0, PAGE);
		break;
	}
}

/* Fill the range of @p arg (a struct filler); a partial last page of the
 * buffer is the start of the page that would stand there. */
static void *
fill_range(void *arg)
{
	struct filler *f = arg;
	uint8_t last[PAGE];
	uint64_t i, full = f->len / PAGE;

	for (i = f->first; i < f->end && i < full; i++)
		fill_page(f, f->buf + i * PAGE, i);
	if (i < f->end) { /* i == full, the partial page */
		fill_page(f, last, i);
		memcpy(f->buf + i * PAGE, last, f->len % PAGE);
	}
	return NULL;
}

/* Threads genmem_fill() uses for @p len bytes: one per CPU the process may
 * run on, at most FILL_MAX_THREADS; one for a small buffer. */
static unsigned
auto_threads(size_t len)
{
	cpu_set_t set;
	int n;

	if (len < FILL_MT_MIN || sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	if (n < 1)
		return 1;
	return n > FILL_MAX_THREADS ? FILL_MAX_THREADS : (unsigned)n;
}

int
genmem_fill_threads(void *buf, size_t len, const struct migdp_genmix *m,
		    uint64_t seed, unsigned nthreads)
{
	uint64_t npages = (len + PAGE - 1) / PAGE;
	pthread_t tid[FILL_MAX_THREADS];
	bool started[FILL_MAX_THREADS] = {false};
	struct corpus corpus = {NULL, 0};
	struct filler *f;
	unsigned n, t;
	int ret = 0;

	if (!mix_valid(m))
		return -EINVAL;
	n = nthreads == 0 ? auto_threads(len) : nthreads;
	if (n > FILL_MAX_THREADS)
		n = FILL_MAX_THREADS;
	if (n > npages)
		n = npages > 0 ? (unsigned)npages : 1;
	f = calloc(n, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	if (m->files_dir != NULL && m->text > 0)
		ret = corpus_load(&corpus, m->files_dir);
	if (ret < 0)
		goto out;
	for (t = 0; t < n; t++) {
		f[t] = (struct filler){.m = m, .seed = seed, .buf = buf,
				       .len = len, .group = UINT64_MAX,
				       .corpus = corpus.data != NULL ?
						  &corpus : NULL,
				       .first = npages * t / n,
				       .end = npages * (t + 1) / n};
		vocab_init(&f[t].vocab);
	}
	/* Ranges 1.. on their own threads, range 0 here; a range whose thread
	 * could not start is filled here too. */
	for (t = 1; t < n; t++)
		started[t] = pthread_create(&tid[t], NULL, fill_range, &f[t]) == 0;
	for (t = 0; t < n; t++)
		if (!started[t])
			fill_range(&f[t]);
	for (t = 1; t < n; t++)
		if (started[t])
			pthread_join(tid[t], NULL);
out:
	free(corpus.data);
	free(f);
	return ret;
}

int
genmem_fill(void *buf, size_t len, const struct migdp_genmix *m, uint64_t seed)
{
	return genmem_fill_threads(buf, len, m, seed, 0);
}

void
genmem_digest(const void *buf, size_t len, char hex[GENMEM_DIGEST_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	XXH128_canonical_t c;
	unsigned i;

	XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
	for (i = 0; i < sizeof(c.digest); i++) {
		hex[2 * i] = digits[c.digest[i] >> 4];
		hex[2 * i + 1] = digits[c.digest[i] & 15];
	}
	hex[2 * sizeof(c.digest)] = '\0';
}
