/* block.c - descriptors and the address registry (see block.h).
 *
 * The registry is a two-level radix over granule numbers (address >> 16):
 * a static top array of leaf pointers, and leaves of one descriptor pointer
 * per granule.  On 32-bit the top has one entry and a leaf covers the whole
 * 4 GiB; on 64-bit a leaf covers 4 GiB and the top covers 48 bits.  Leaves
 * and descriptors come from raw anonymous mappings, never from malloc, and
 * are never returned to the kernel (bounded by the address space used).
 * Untouched leaf pages cost no RAM.
 */
#include "block.h"
#include "debug.h"
#include "os.h"

#include <string.h>
#include <sys/mman.h>

pthread_mutex_t oms_lock = PTHREAD_MUTEX_INITIALIZER;
struct oms_block *oms_live;

#define LEAF_BITS 16
#define LEAF_SIZE ((size_t)1 << LEAF_BITS)
#if UINTPTR_MAX > 0xffffffffu
#define TOP_BITS 16 /* 48-bit user address space */
#else
#define TOP_BITS 0
#endif
#define GRANULE_SHIFT 16

typedef struct oms_block *leaf_t[LEAF_SIZE];
static leaf_t *top[(size_t)1 << TOP_BITS];

static inline size_t granule_of(const void *p)
{
	return (size_t)((uintptr_t)p >> GRANULE_SHIFT);
}

struct oms_block *oms_block_find(const void *p)
{
	size_t g = granule_of(p);
	size_t hi = g >> LEAF_BITS;
	if (hi >= ((size_t)1 << TOP_BITS))
		return NULL;
	leaf_t *leaf = __atomic_load_n(&top[hi], __ATOMIC_ACQUIRE);
	if (!leaf)
		return NULL;
	struct oms_block *b = __atomic_load_n(&(*leaf)[g & (LEAF_SIZE - 1)], __ATOMIC_ACQUIRE);
	return (b && b->addr == p) ? b : NULL;
}

int oms_block_register(struct oms_block *b)
{
	size_t g = granule_of(b->addr);
	OMS_ASSERT(oms_granule_aligned(b->addr) && !b->prev && !b->next);
	size_t hi = g >> LEAF_BITS;
	if (hi >= ((size_t)1 << TOP_BITS))
		return -1;
	leaf_t *leaf = top[hi];
	if (!leaf) {
		void *m = oms_sys_mmap(NULL, sizeof(leaf_t), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED)
			return -1;
		leaf = m;
		__atomic_store_n(&top[hi], leaf, __ATOMIC_RELEASE);
	}
	/* One block per granule: blocks never overlap, and a new block's
	 * granule is free until its predecessor is unregistered. */
	OMS_ASSERT((*leaf)[g & (LEAF_SIZE - 1)] == NULL);
	__atomic_store_n(&(*leaf)[g & (LEAF_SIZE - 1)], b, __ATOMIC_RELEASE);
	b->prev = NULL;
	b->next = oms_live;
	if (oms_live)
		oms_live->prev = b;
	oms_live = b;
	return 0;
}

void oms_block_unregister(struct oms_block *b)
{
	size_t g = granule_of(b->addr);
	leaf_t *leaf = top[g >> LEAF_BITS];
	OMS_ASSERT(leaf && (*leaf)[g & (LEAF_SIZE - 1)] == b);
	OMS_ASSERT(b->prev ? b->prev->next == b : oms_live == b);
	__atomic_store_n(&(*leaf)[g & (LEAF_SIZE - 1)], NULL, __ATOMIC_RELEASE);
	if (b->prev)
		b->prev->next = b->next;
	else
		oms_live = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->prev = b->next = NULL;
}

/* Descriptor slab: carved from 64 KiB anonymous chunks, recycled through a
 * free list threaded through `next`. */
static struct oms_block *free_list;

struct oms_block *oms_block_new(void)
{
	if (!free_list) {
		size_t chunk = 65536;
		char *m = oms_sys_mmap(NULL, chunk, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		for (size_t off = 0; off + sizeof(struct oms_block) <= chunk;
		     off += sizeof(struct oms_block)) {
			struct oms_block *b = (struct oms_block *)(m + off);
			b->next = free_list;
			free_list = b;
		}
	}
	struct oms_block *b = free_list;
	free_list = b->next;
	memset(b, 0, sizeof *b);
	b->fd = -1;
	return b;
}

void oms_block_free(struct oms_block *b)
{
	b->addr = NULL;
	b->next = free_list;
	free_list = b;
}
