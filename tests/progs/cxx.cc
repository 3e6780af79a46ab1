// cxx.cc - C++ allocations reach the shim through operator new/delete.
// Usage: cxx   (exit 0 when large new[] and a growing vector are
// file-backed under the shim with EXPECT_SHIM=1, and data is intact)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

static int backed(const void *p)
{
	FILE *f = std::fopen("/proc/self/maps", "r");
	char line[512];
	int r = -1;
	while (f && std::fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    (unsigned long)p >= lo && (unsigned long)p < hi)
			r = perms[3] == 's' && std::strstr(line, "(deleted)");
	}
	if (f)
		std::fclose(f);
	return r;
}

int main()
{
	bool expect = std::getenv("EXPECT_SHIM") != nullptr;
	int bad = 0;
	auto big = std::make_unique<char[]>(4 << 20);
	for (size_t i = 0; i < (4u << 20); i += 4096)
		big[i] = (char)(i >> 12);
	if (expect && backed(big.get()) != 1)
		bad++, std::fprintf(stderr, "new[] not file-backed\n");
	std::vector<long> v;
	for (long i = 0; i < 2000000; i++)
		v.push_back(i * 3);
	if (expect && backed(v.data()) != 1)
		bad++, std::fprintf(stderr, "vector not file-backed\n");
	for (long i = 0; i < 2000000; i++)
		if (v[(size_t)i] != i * 3)
			bad++;
	std::string s(3 << 20, 'x');
	s += "tail";
	if (s.size() != (3u << 20) + 4 || s.back() != 'l')
		bad++;
	for (size_t i = 0; i < (4u << 20); i += 4096)
		if (big[i] != (char)(i >> 12))
			bad++;
	std::printf("%s\n", bad ? "FAIL" : "ok");
	return bad ? 1 : 0;
}
