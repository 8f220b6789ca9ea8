#ifndef STUN_STATUS_H
#define STUN_STATUS_H
/* stun/status.h: the status codes every stun_ function returns.
 *
 * The codec never reports through errno: each fallible function returns one
 * of these, STUN_OK or a negative reason. The reasons are kept apart so logs
 * and counters can say why a datagram was dropped; on the wire a failed check
 * is answered with silence or a STUN error response chosen by the caller. */

/* enum stun_status: STUN_OK or why an operation failed. */
enum stun_status {
	STUN_OK = 0,
	/* The datagram is shorter than the 20-byte header or than the length
	 * the header announces: a proper prefix of a message. */
	STUN_E_TRUNCATED = -1,
	/* The two leading bits are not zero: another protocol (RFC 8489 §5). */
	STUN_E_NOT_STUN = -2,
	/* The magic cookie is not 0x2112A442 (RFC 3489 or not STUN). */
	STUN_E_BAD_MAGIC = -3,
	/* The header length is not a multiple of 4, or bytes follow it. */
	STUN_E_BAD_LENGTH = -4,
	/* An attribute overruns the message, or a known attribute's value is
	 * malformed (wrong length, unknown family, out-of-range code). */
	STUN_E_BAD_ATTR = -5,
	/* An attribute follows FINGERPRINT, or a writer was asked to add one
	 * where RFC 8489 §14.5-14.7 forbid it. */
	STUN_E_BAD_ORDER = -6,
	/* More attributes than STUN_MAX_ATTRS. */
	STUN_E_TOO_MANY_ATTRS = -7,
	/* The attribute asked for is not in the message. */
	STUN_E_NO_ATTR = -8,
	/* FINGERPRINT does not match the message's CRC-32. */
	STUN_E_BAD_FINGERPRINT = -9,
	/* MESSAGE-INTEGRITY(-SHA256) does not match for the given key. */
	STUN_E_BAD_INTEGRITY = -10,
	/* The writer's buffer cannot hold the attribute and its padding. */
	STUN_E_NO_ROOM = -11,
	/* An argument is out of range (message type, error code, family,
	 * text longer than its STUN_MAX_* limit). */
	STUN_E_INVALID = -12,
};

/* stun_strerror returns a static, human-readable description of status (a
 * value of enum stun_status); unknown values get a generic text. Never NULL. */
const char *stun_strerror(int status);

#endif
