/* gofake.c - a C program dressed as a Go binary: it carries a section named
 * .go.buildinfo, which is how oomshield-check recognises Go executables. */
#include <stdio.h>

__attribute__((section(".go.buildinfo"), used))
static const char buildinfo[32] = "\xff Go buildinf:";

int main(void)
{
	puts(buildinfo + 2);
	return 0;
}
