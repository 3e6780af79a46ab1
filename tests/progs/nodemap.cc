// nodemap.cc - a program made of millions of small objects (issue 16):
// node containers whose every node is a small malloc.
// Usage: nodemap map|umap N
//   Inserts N keys in mostly rising order (as from a sorted input: random
//   keys under a limit of a third of the peak would page on every lookup,
//   with swap as with files), walks them, erases a third, looks up a
//   seventh, and prints one checksum line: the same whatever the allocator.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>

template <class M> static unsigned long long run(M &m, unsigned long n)
{
	unsigned long long sum = 0, x = 88172645463325252ull;
	for (unsigned long i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		m[i * 4 + x % 8] = std::to_string(i) + "-value"; // a second small block
	}
	for (auto &kv : m)
		sum = sum * 31 + kv.first + kv.second.size() + (unsigned char)kv.second[0];
	for (unsigned long i = 0; i < n * 4 + 8; i += 3)
		m.erase(i);
	for (unsigned long i = 0; i < n * 4 + 8; i += 7) {
		auto it = m.find(i);
		if (it != m.end())
			sum += it->second.size() * i;
	}
	return sum ^ m.size();
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	unsigned long n = std::strtoul(argv[2], nullptr, 0);
	unsigned long long s;
	if (!std::strcmp(argv[1], "map")) {
		std::map<unsigned long, std::string> m;
		s = run(m, n);
	} else if (!std::strcmp(argv[1], "umap")) {
		std::unordered_map<unsigned long, std::string> m;
		s = run(m, n);
	} else
		return 2;
	std::printf("%s %lu %llu\n", argv[1], n, s);
	return 0;
}
