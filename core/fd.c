/* core/fd.c: see fd.h. */
#include "core/fd.h"

#include <errno.h>

#include "core/internal.h"

ssize_t core_fd_read(int fd, void *buf, size_t len, int timeout_ms)
{
	struct core_reactor *r = core_self();
	struct op op;
	struct io_uring_sqe *sqe = r ? core_op_start(r, &op) : NULL;
	if (!sqe)
		return -ECANCELED;
	/* Offset -1: the file's own position, which a TUN or pipe ignores. */
	io_uring_prep_read(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len), (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	return core_op_wait(r, &op, timeout_ms);
}

ssize_t core_fd_write(int fd, const void *buf, size_t len, int timeout_ms)
{
	struct core_reactor *r = core_self();
	struct op op;
	struct io_uring_sqe *sqe = r ? core_op_start(r, &op) : NULL;
	if (!sqe)
		return -ECANCELED;
	io_uring_prep_write(sqe, fd, buf, (unsigned)(len > 0x7ffff000 ? 0x7ffff000 : len), (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, ud_pack(&op, UD_OP));
	return core_op_wait(r, &op, timeout_ms);
}
