/* sanprog.c - a threaded program that allocates large and small blocks and
 * prints a digest; tests/integration/sanitizer.sh builds it with
 * -fsanitize=thread / leak / address (it is built plainly by make too). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
	size_t n = (size_t)(4 << 20);
	unsigned char *p = malloc(n);
	if (!p)
		return NULL;
	memset(p, (int)(size_t)arg, n);
	unsigned long sum = 0;
	for (size_t i = 0; i < n; i += 4096)
		sum += p[i];
	free(p);
	return (void *)sum;
}

int main(void)
{
	pthread_t t[2];
	for (size_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(i + 1)))
			return 1;
	void *r[2];
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &r[i]);
	char *s = malloc(100);
	if (!s)
		return 1;
	snprintf(s, 100, "%lu %lu", (unsigned long)r[0], (unsigned long)r[1]);
	puts(s);
	free(s);
	return 0;
}
