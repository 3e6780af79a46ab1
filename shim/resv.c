/* resv.c - reservations: the PROT_NONE private anonymous mappings the
 * program made through our mmap, which it may make writable later with
 * mprotect (V8's heap pages, the JVM's heap; see resv.h).
 *
 * The table is a sorted array of disjoint [start, end) ranges, grown with
 * raw mmap (never malloc: we may be inside it).  A range in it is known to
 * have been PROT_NONE from its creation, so its pages hold zero: what it
 * no longer is - unmapped, moved, made accessible - leaves the table.
 *
 * Lock: oms_map_lock (pieces.h) guards the table; every function here is
 * called with it held.  oms_resv_count mirrors the size for lock-free
 * "anything to look up?" tests.  Nothing here logs or takes a lock.
 */
#include "resv.h"
#include "os.h"

struct range {
	uintptr_t start, end;
	unsigned adv; /* OMS_RESV_* advice the program gave the range */
};

static struct range *tab;
static size_t n, cap;
int oms_resv_count;

/* Index of the first range whose end is above a. */
static size_t find(uintptr_t a)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tab[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void publish(void)
{
	__atomic_store_n(&oms_resv_count, (int)(n > 0x7fffffff ? 0x7fffffff : n),
			 __ATOMIC_RELEASE);
}

static int insert_at(size_t i, struct range r)
{
	if (n == cap && oms_os_grow_array((void **)&tab, &cap, sizeof *tab) < 0)
		return -1;
	for (size_t k = n; k > i; k--)
		tab[k] = tab[k - 1];
	tab[i] = r;
	n++;
	return 0;
}

static void delete_at(size_t i)
{
	for (size_t k = i; k + 1 < n; k++)
		tab[k] = tab[k + 1];
	n--;
}

void oms_resv_forget(uintptr_t a, uintptr_t b)
{
	for (size_t i = find(a); i < n && tab[i].start < b;) {
		struct range r = tab[i];
		if (r.start < a && r.end > b) { /* a hole in the middle */
			tab[i].end = a;
			if (insert_at(i + 1, (struct range){b, r.end, r.adv}) < 0)
				break; /* no room: the tail is forgotten too (safe) */
			break;
		}
		if (r.start < a) {
			tab[i++].end = a;
		} else if (r.end > b) {
			tab[i].start = b;
			break;
		} else {
			delete_at(i);
		}
	}
	publish();
}

void oms_resv_note(uintptr_t a, uintptr_t b)
{
	oms_resv_forget(a, b); /* a fresh mapping replaced whatever was there */
	if (__atomic_load_n(&oms_resv_stopped, __ATOMIC_RELAXED))
		return;
	size_t i = find(a);
	/* Joined to a neighbour it touches and that has had no advice: one
	 * range per reservation even when it was made in parts. */
	if (i > 0 && tab[i - 1].end == a && !tab[i - 1].adv) {
		tab[i - 1].end = b;
		if (i < n && tab[i].start == b && !tab[i].adv) {
			tab[i - 1].end = tab[i].end;
			delete_at(i);
		}
	} else if (i < n && tab[i].start == b && !tab[i].adv) {
		tab[i].start = a;
	} else {
		insert_at(i, (struct range){a, b, 0}); /* no room: simply not known */
	}
	publish();
}

/* Make x a boundary between ranges (no room: the range holding x is
 * forgotten, which is always safe). */
static void split(uintptr_t x)
{
	size_t i = find(x);
	if (i == n || tab[i].start >= x)
		return;
	struct range r = tab[i];
	tab[i].end = x;
	if (insert_at(i + 1, (struct range){x, r.end, r.adv}) < 0)
		delete_at(i);
}

void oms_resv_advise(uintptr_t a, uintptr_t b, unsigned bit, int on)
{
	split(a);
	split(b);
	for (size_t i = find(a); i < n && tab[i].start < b; i++)
		tab[i].adv = on ? tab[i].adv | bit : tab[i].adv & ~bit;
	publish();
}

int oms_resv_holds(uintptr_t a, uintptr_t b, unsigned *adv)
{
	size_t i = find(a);
	if (i == n || tab[i].start > a || b > tab[i].end)
		return 0;
	*adv = tab[i].adv;
	return 1;
}

void oms_resv_reset(void)
{
	n = 0;
	publish();
}

int oms_resv_stopped;

void oms_resv_stop(void)
{
	__atomic_store_n(&oms_resv_stopped, 1, __ATOMIC_RELAXED);
	oms_resv_reset();
}
