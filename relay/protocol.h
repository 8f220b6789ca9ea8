#ifndef RELAY_PROTOCOL_H
#define RELAY_PROTOCOL_H
/* relay/protocol.h: every text the relay puts on the wire, in one place
 * (docs/RELAY.md documents them). */

/* Text message sent to both clients when their session is paired. %s is the
 * session id. Clients that ignore unexpected text keep working. */
#define RELAY_PAIRED_MESSAGE_FMT "{\"type\":\"paired\",\"session\":\"%s\"}"

/* Bodies of the relay's own refusals (text/plain). */
#define RELAY_BODY_SESSION_FULL "session full: it already has two clients\n"
#define RELAY_BODY_BUSY "relay busy or shutting down\n"
#define RELAY_BODY_BUDGET "relay byte budget used up for this period\n"
#define RELAY_BODY_HANDSHAKE_TIMEOUT "handshake timeout\n"
#define RELAY_BODY_PER_IP "too many connections from your address\n"

/* Close reasons the relay sends with its Close frames. */
#define RELAY_REASON_SHUTDOWN "relay shutting down"
#define RELAY_REASON_PEER_GONE "peer disconnected"
#define RELAY_REASON_IDLE "idle timeout"
#define RELAY_REASON_NO_MEMORY "relay out of memory"
#define RELAY_REASON_STUCK "peer not reading and the relay is full"

#endif
