/* stun/status.c: descriptions of enum stun_status. */
#include "stun/status.h"

const char *stun_strerror(int status)
{
	switch ((enum stun_status)status) {
	case STUN_OK:
		return "success";
	case STUN_E_TRUNCATED:
		return "truncated STUN message";
	case STUN_E_NOT_STUN:
		return "not a STUN message (leading bits not zero)";
	case STUN_E_BAD_MAGIC:
		return "bad STUN magic cookie";
	case STUN_E_BAD_LENGTH:
		return "STUN length not a multiple of 4 or not the datagram's";
	case STUN_E_BAD_ATTR:
		return "malformed STUN attribute";
	case STUN_E_BAD_ORDER:
		return "STUN attribute out of order (after FINGERPRINT or integrity)";
	case STUN_E_TOO_MANY_ATTRS:
		return "too many STUN attributes";
	case STUN_E_NO_ATTR:
		return "STUN attribute absent";
	case STUN_E_BAD_FINGERPRINT:
		return "STUN FINGERPRINT mismatch";
	case STUN_E_BAD_INTEGRITY:
		return "STUN MESSAGE-INTEGRITY mismatch";
	case STUN_E_NO_ROOM:
		return "no room left in the STUN message buffer";
	case STUN_E_INVALID:
		return "invalid argument for a STUN message";
	}
	return "unknown STUN status";
}
