/* elfinfo.c - see elfinfo.h.
 *
 * Everything read from the image is untrusted: offsets and sizes are
 * checked against the image before use, and libelf's own accessors
 * (elf_getdata, elf_strptr, gelf_get*) are relied on to bounds-check what
 * they return.  A failure of libelf on a section we need is reported as
 * corruption rather than ignored, so a truncated file is never mistaken
 * for a harmless one.
 */
#include "elfinfo.h"

#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef DF_1_PIE
#define DF_1_PIE 0x08000000
#endif
#ifndef NT_GO_BUILD_ID
#define NT_GO_BUILD_ID 4
#endif

const char *const oc_fn_names[OC_NFN] = {
	"malloc", "free", "calloc", "realloc", "reallocarray",
	"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
	"malloc_usable_size", "cfree",
	"mmap", "mmap64", "munmap", "mremap",
};

static void fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static void copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int fn_index(const char *name)
{
	/* Versioned names never appear in .dynsym names themselves; the
	 * version lives in .gnu.version, so a plain compare is enough. */
	for (int i = 0; i < OC_NFN; i++)
		if (strcmp(name, oc_fn_names[i]) == 0)
			return i;
	return -1;
}

const char *oc_machine_name(int machine, char *buf, size_t len)
{
	switch (machine) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "AArch64";
	case EM_ARM: return "ARM";
	case EM_RISCV: return "RISC-V";
	case EM_PPC64: return "PowerPC64";
	case EM_PPC: return "PowerPC";
	case EM_S390: return "S/390";
	case EM_MIPS: return "MIPS";
	case EM_LOONGARCH: return "LoongArch";
	default:
		snprintf(buf, len, "machine %d", machine);
		return buf;
	}
}

static int scan_phdrs(Elf *elf, size_t size, struct oc_info *o, char *err, size_t errlen)
{
	size_t n;
	if (elf_getphdrnum(elf, &n) != 0) {
		fail(err, errlen, "corrupt program header table: %s", elf_errmsg(-1));
		return -1;
	}
	size_t loads = 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			fail(err, errlen, "corrupt program header %zu: %s", i, elf_errmsg(-1));
			return -1;
		}
		int loaded = ph.p_type == PT_LOAD || ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC;
		if (loaded && (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)) {
			fail(err, errlen, "truncated or corrupt: segment %zu lies beyond the end of the file", i);
			return -1;
		}
		if (ph.p_type == PT_LOAD) {
			loads++;
			if (ph.p_filesz > ph.p_memsz) {
				fail(err, errlen, "corrupt: segment %zu has more file bytes than memory", i);
				return -1;
			}
		}
		if (ph.p_type == PT_INTERP) {
			const char *s = (const char *)elf_rawfile(elf, NULL) + ph.p_offset;
			size_t len = strnlen(s, ph.p_filesz);
			if (len == 0 || len == ph.p_filesz) {
				/* Zeros here: a separate debug-info file, not a program. */
				fail(err, errlen, "corrupt PT_INTERP: %s", len ? "not a NUL-terminated path" :
				     "empty (a separate debug-info file?)");
				return -1;
			}
			o->has_interp = 1;
			copy(o->interp, sizeof o->interp, s);
		} else if (ph.p_type == PT_DYNAMIC) {
			o->has_dynamic = 1;
		}
	}
	/* Nothing can run (or be loaded) without a loadable segment. */
	if (loads == 0) {
		fail(err, errlen, "corrupt or not a program: no loadable segment");
		return -1;
	}
	return 0;
}

static void scan_notes(Elf_Data *d, struct oc_info *o)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type == NT_GO_BUILD_ID && nh.n_namesz == 3 &&
		    memcmp((const char *)d->d_buf + name_off, "Go", 3) == 0)
			o->is_go = 1;
		off = next;
	}
}

static int scan_dynamic(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct oc_info *o,
			char *err, size_t errlen)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d) {
		fail(err, errlen, "truncated or corrupt .dynamic section: %s", elf_errmsg(-1));
		return -1;
	}
	size_t ent = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
	size_t n = ent ? d->d_size / ent : 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		if (!gelf_getdyn(d, (int)i, &dyn))
			break;
		if (dyn.d_tag == DT_NULL)
			break;
		const char *s = NULL;
		if (dyn.d_tag == DT_NEEDED || dyn.d_tag == DT_RUNPATH || dyn.d_tag == DT_RPATH ||
		    dyn.d_tag == DT_SONAME) {
			s = elf_strptr(elf, sh->sh_link, dyn.d_un.d_val);
			if (!s) {
				fail(err, errlen, "corrupt .dynamic: string offset %llu out of range",
				     (unsigned long long)dyn.d_un.d_val);
				return -1;
			}
		}
		switch (dyn.d_tag) {
		case DT_NEEDED:
			if (o->n_needed < OC_MAX_NEEDED)
				copy(o->needed[o->n_needed], OC_NAME_MAX, s);
			o->n_needed++;
			break;
		case DT_RUNPATH:
			o->has_runpath = 1;
			copy(o->runpath, sizeof o->runpath, s);
			break;
		case DT_RPATH:
			o->has_rpath = 1;
			copy(o->rpath, sizeof o->rpath, s);
			break;
		case DT_SONAME:
			copy(o->soname, sizeof o->soname, s);
			break;
		case DT_FLAGS_1:
			if (dyn.d_un.d_val & DF_1_PIE)
				o->is_pie = 1;
			break;
		}
	}
	return 0;
}

static int scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct oc_info *o,
			char *err, size_t errlen)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d) {
		fail(err, errlen, "truncated or corrupt symbol table: %s", elf_errmsg(-1));
		return -1;
	}
	size_t ent = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t n = ent ? d->d_size / ent : 0;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(d, (int)i, &sym))
			break;
		if (sym.st_name == 0)
			continue;
		const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name) {
			fail(err, errlen, "corrupt symbol table: name offset out of range");
			return -1;
		}
		int f = fn_index(name);
		if (f < 0)
			continue;
		int bind = GELF_ST_BIND(sym.st_info), type = GELF_ST_TYPE(sym.st_info);
		if (sym.st_shndx == SHN_UNDEF) {
			if (sh->sh_type == SHT_DYNSYM)
				o->imports |= 1u << f;
		} else if (type == STT_FUNC || type == STT_GNU_IFUNC) {
			o->defines |= 1u << f;
			if (sh->sh_type == SHT_DYNSYM && bind != STB_LOCAL)
				o->exports |= 1u << f;
		}
	}
	return 0;
}

static int scan_sections(Elf *elf, struct oc_info *o, char *err, size_t errlen)
{
	size_t shnum, shstrndx;
	if (elf_getshdrnum(elf, &shnum) != 0) {
		fail(err, errlen, "corrupt section header table: %s", elf_errmsg(-1));
		return -1;
	}
	if (shnum == 0)
		return 0;               /* e.g. sstrip'ed: nothing more to learn */
	if (elf_getshdrstrndx(elf, &shstrndx) != 0) {
		fail(err, errlen, "corrupt section header table: %s", elf_errmsg(-1));
		return -1;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh)) {
			fail(err, errlen, "corrupt section header: %s", elf_errmsg(-1));
			return -1;
		}
		const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && (!strcmp(name, ".go.buildinfo") || !strcmp(name, ".note.go.buildid")))
			o->is_go = 1;
		int r = 0;
		switch (sh.sh_type) {
		case SHT_DYNAMIC:
			r = scan_dynamic(elf, scn, &sh, o, err, errlen);
			break;
		case SHT_DYNSYM:
		case SHT_SYMTAB:
			r = scan_symbols(elf, scn, &sh, o, err, errlen);
			break;
		case SHT_NOTE: {
			Elf_Data *d = elf_getdata(scn, NULL);
			if (d && d->d_buf)
				scan_notes(d, o);
			break;
		}
		}
		if (r < 0)
			return -1;
	}
	o->has_sections = 1;
	return 0;
}

int oc_inspect(char *image, size_t size, struct oc_info *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (size < EI_NIDENT || memcmp(image, ELFMAG, SELFMAG) != 0) {
		fail(err, errlen, "not an ELF file");
		return -1;
	}
	if (image[EI_CLASS] != ELFCLASS32 && image[EI_CLASS] != ELFCLASS64) {
		fail(err, errlen, "corrupt ELF header: unknown class %d", image[EI_CLASS]);
		return -1;
	}
	size_t ehsize = image[EI_CLASS] == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (size < ehsize) {
		fail(err, errlen, "truncated ELF header (%zu of %zu bytes)", size, ehsize);
		return -1;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		fail(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -1;
	}
	Elf *elf = elf_memory(image, size);
	if (!elf) {
		fail(err, errlen, "cannot read ELF: %s", elf_errmsg(-1));
		return -1;
	}
	int rc = -1;
	GElf_Ehdr eh;
	if (elf_kind(elf) != ELF_K_ELF) {
		fail(err, errlen, "not an ELF file");
		goto out;
	}
	if (!gelf_getehdr(elf, &eh)) {
		fail(err, errlen, "truncated or corrupt ELF header: %s", elf_errmsg(-1));
		goto out;
	}
	out->elf_class = eh.e_ident[EI_CLASS];
	out->data = eh.e_ident[EI_DATA];
	out->machine = eh.e_machine;
	out->type = eh.e_type;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) {
		fail(err, errlen, "not an executable or shared library (ELF type %d)", eh.e_type);
		goto out;
	}
	/* libelf quietly ignores a section header table outside the file; a
	 * file cut short must not pass as one without sections. */
	if (eh.e_shoff != 0) {
		uint64_t n = eh.e_shnum ? eh.e_shnum : 1;
		if (eh.e_shoff >= size || eh.e_shentsize == 0 ||
		    n > (size - eh.e_shoff) / eh.e_shentsize) {
			fail(err, errlen, "truncated or corrupt: section header table lies beyond "
			     "the end of the file");
			goto out;
		}
	}
	if (scan_phdrs(elf, size, out, err, errlen) < 0 || scan_sections(elf, out, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	elf_end(elf);
	return rc;
}
