/* elfinfo.h - what oomshield-check needs to know about one ELF image.
 *
 * oc_inspect() reads an image that is entirely in memory (the caller maps
 * or reads the file), so it never touches the file system and can be fed
 * arbitrary bytes by the fuzzer.  Invariants:
 *   - it never reads outside [image, image + size), never aborts, and
 *     either fills *out completely (return 0) or writes a one-line reason
 *     into err (return -1);
 *   - every string in *out is NUL-terminated and truncated to its array;
 *   - it allocates only through libelf and frees everything before return.
 */
#ifndef OC_ELFINFO_H
#define OC_ELFINFO_H

#include <stddef.h>

/* The functions the shim interposes (shim/exports.map), as bit numbers. */
enum oc_fn {
	OC_MALLOC, OC_FREE, OC_CALLOC, OC_REALLOC, OC_REALLOCARRAY,
	OC_POSIX_MEMALIGN, OC_ALIGNED_ALLOC, OC_MEMALIGN, OC_VALLOC, OC_PVALLOC,
	OC_MALLOC_USABLE_SIZE, OC_CFREE,
	OC_MMAP, OC_MMAP64, OC_MUNMAP, OC_MREMAP,
	OC_NFN
};
extern const char *const oc_fn_names[OC_NFN];
/* The heap entry points a program allocator would replace. */
#define OC_ALLOC_CORE ((1u << OC_MALLOC) | (1u << OC_FREE) | (1u << OC_CALLOC) | \
		       (1u << OC_REALLOC))

#define OC_MAX_NEEDED 64
#define OC_NAME_MAX 256
#define OC_PATHLIST_MAX 1024

struct oc_info {
	int elf_class;          /* ELFCLASS32 / ELFCLASS64 */
	int data;               /* ELFDATA2LSB / ELFDATA2MSB */
	int machine;            /* EM_* */
	int type;               /* ET_EXEC / ET_DYN / ... */
	int has_interp;         /* PT_INTERP present */
	char interp[OC_NAME_MAX];
	int has_dynamic;        /* PT_DYNAMIC present */
	int has_sections;       /* section headers could be read */
	int is_pie;             /* DF_1_PIE */
	int is_go;              /* .go.buildinfo, .note.go.buildid or a "Go" note */
	char soname[OC_NAME_MAX];
	int n_needed;           /* entries beyond OC_MAX_NEEDED are counted, not kept */
	char needed[OC_MAX_NEEDED][OC_NAME_MAX];
	int has_runpath, has_rpath;
	char runpath[OC_PATHLIST_MAX];
	char rpath[OC_PATHLIST_MAX];
	unsigned imports;       /* bit oc_fn: undefined in .dynsym */
	unsigned exports;       /* bit oc_fn: defined in .dynsym */
	unsigned defines;       /* bit oc_fn: defined function in .symtab or .dynsym */
};

/* Inspect `size` bytes at `image`.  `image` must be writable memory that the
 * caller owns (libelf may convert it in place); it is not freed. */
int oc_inspect(char *image, size_t size, struct oc_info *out, char *err, size_t errlen);

/* "x86-64", "i386", ... or "machine 1234" (static buffer per call site). */
const char *oc_machine_name(int machine, char *buf, size_t len);

#endif
