/* Replays every file under the directories given on the command line through
 * LLVMFuzzerTestOneInput, so seeds and regression crashers run in every build
 * (gcc included) under ctest. A missing directory is skipped; an entry point
 * that crashes or trips a sanitizer fails the test. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	/* Exact-size heap copy so ASan catches reads past the end. */
	uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
	size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
	fclose(f);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			char path[4096];
			struct stat st;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (replay_file(path) == 0)
				count++;
		}
		closedir(d);
	}
	/* An empty run is not a pass: the corpus must exist. */
	if (count == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		return 1;
	}
	printf("replay: %d inputs ok\n", count);
	return 0;
}
