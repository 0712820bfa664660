/* SPDX-License-Identifier: Apache-2.0 */
/* test_fileio: whole-file reads under a cap, at, below and above it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "testhelp.h"

static void
write_bytes(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	for (size_t i = 0; i < n; i++)
		fputc('a' + (int)(i % 26), f);
	fclose(f);
}

int
main(void)
{
	char dir[] = "/tmp/tg-fileio-XXXXXX", path[64], err[256];
	size_t len = 0;
	char *buf;

	test_cond("temp dir", mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);

	write_bytes(path, 100);
	buf = fileio_read(path, 100, &len, err, sizeof(err));
	test_cond("exactly the cap is read", buf != NULL && len == 100 && buf[100] == '\0' &&
	    buf[0] == 'a' && buf[99] == 'a' + 99 % 26);
	free(buf);
	buf = fileio_read(path, 99, &len, err, sizeof(err));
	test_cond("one byte over the cap is refused with the cap in the reason",
	    buf == NULL && strstr(err, "larger than 99 bytes") != NULL && strstr(err, path) != NULL);

	write_bytes(path, 0);
	buf = fileio_read(path, 10, &len, err, sizeof(err));
	test_cond("an empty file is an empty buffer", buf != NULL && len == 0 && buf[0] == '\0');
	free(buf);

	write_bytes(path, 200000);   /* several growth steps */
	buf = fileio_read(path, 1 << 20, &len, err, sizeof(err));
	test_cond("a file larger than the first buffer is read whole", buf != NULL && len == 200000 &&
	    buf[199999] == 'a' + 199999 % 26);
	free(buf);

	snprintf(path, sizeof(path), "%s/missing", dir);
	buf = fileio_read(path, 10, &len, err, sizeof(err));
	test_cond("a missing file names the path and the system's reason",
	    buf == NULL && strstr(err, path) != NULL && strstr(err, "No such file") != NULL);
	buf = fileio_read("-", 10, &len, err, sizeof(err));
	test_cond("\"-\" is a file name, not stdin", buf == NULL && strstr(err, "No such file") != NULL);

	FILE *f = tmpfile();
	fputs("stream", f);
	rewind(f);
	buf = fileio_read_stream(f, "the stream", 10, &len, err, sizeof(err));
	test_cond("a stream is read to its end", buf != NULL && len == 6 && strcmp(buf, "stream") == 0);
	free(buf);
	rewind(f);
	buf = fileio_read_stream(f, "the stream", 5, &len, err, sizeof(err));
	test_cond("a stream over the cap is refused under its name",
	    buf == NULL && strstr(err, "the stream") != NULL);
	fclose(f);

	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	rmdir(dir);
	return test_report();
}
