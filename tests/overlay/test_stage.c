/* overlay/stage: packets held for a member not reachable yet keep their
 * order, a full stage drops its oldest, old packets expire, and what does
 * not fit is refused without changing the stage. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay/stage.h"

static struct overlay_stage *new_stage(void)
{
	static const uint8_t owner[32] = {7};
	struct overlay_stage *s = calloc(1, sizeof *s);
	cr_assert_not_null(s);
	overlay_stage_init(s, owner);
	cr_assert_eq(s->owner[0], 7);
	return s;
}

/* A packet of n bytes, every byte tag. */
static void push(struct overlay_stage *s, uint8_t tag, size_t n, uint64_t t, int want)
{
	uint8_t pkt[OVERLAY_STAGE_PKT_MAX];
	memset(pkt, tag, n);
	cr_assert_eq(overlay_stage_push(s, pkt, n, t), want, "push of tag %u", tag);
}

static void pop_is(struct overlay_stage *s, uint8_t tag, size_t n)
{
	uint8_t out[OVERLAY_STAGE_PKT_MAX];
	memset(out, 0xee, sizeof out);
	cr_assert_eq(overlay_stage_pop(s, out, sizeof out), n, "pop: expected tag %u", tag);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(out[i], tag, "byte %zu of the packet tagged %u", i, tag);
}

Test(stage, packets_leave_in_the_order_they_came)
{
	struct overlay_stage *s = new_stage();
	push(s, 1, 60, 10, 0);
	push(s, 2, OVERLAY_STAGE_PKT_MAX, 11, 0);
	push(s, 3, 1, 12, 0);
	cr_assert_eq(s->num, 3);
	pop_is(s, 1, 60);
	pop_is(s, 2, OVERLAY_STAGE_PKT_MAX);
	pop_is(s, 3, 1);
	uint8_t out[8];
	cr_assert_eq(overlay_stage_pop(s, out, sizeof out), 0, "empty: nothing to pop");
	free(s);
}

Test(stage, a_full_stage_drops_its_oldest_packet)
{
	struct overlay_stage *s = new_stage();
	for (unsigned i = 0; i < OVERLAY_STAGE_PKTS; i++)
		push(s, (uint8_t)(i + 1), 100, i, 0);
	push(s, 200, 100, 99, 1);
	push(s, 201, 100, 100, 1);
	cr_assert_eq(s->num, OVERLAY_STAGE_PKTS);
	/* 1 and 2 went; 3 is the oldest now, and the ring wrapped in order. */
	for (unsigned i = 2; i < OVERLAY_STAGE_PKTS; i++)
		pop_is(s, (uint8_t)(i + 1), 100);
	pop_is(s, 200, 100);
	pop_is(s, 201, 100);
	cr_assert_eq(s->num, 0);
	free(s);
}

Test(stage, packets_older_than_the_bound_expire_and_younger_ones_stay)
{
	struct overlay_stage *s = new_stage();
	push(s, 1, 10, 1000, 0);
	push(s, 2, 10, 2000, 0);
	push(s, 3, 10, 3000, 0);
	cr_assert_eq(overlay_stage_expire(s, 5999, 5000), 0, "none is 5 s old yet");
	cr_assert_eq(overlay_stage_expire(s, 7000, 5000), 2, "staged at 1000 and 2000: 5 s or more before 7000");
	cr_assert_eq(s->num, 1);
	pop_is(s, 3, 10);
	free(s);
}

Test(stage, an_empty_or_oversized_packet_is_refused_and_changes_nothing)
{
	struct overlay_stage *s = new_stage();
	push(s, 1, 10, 0, 0);
	uint8_t big[OVERLAY_STAGE_PKT_MAX + 1];
	memset(big, 9, sizeof big);
	cr_assert_eq(overlay_stage_push(s, big, sizeof big, 1), -EMSGSIZE);
	cr_assert_eq(overlay_stage_push(s, big, 0, 1), -EMSGSIZE);
	cr_assert_eq(s->num, 1);
	pop_is(s, 1, 10);
	free(s);
}

Test(stage, a_pop_into_a_short_buffer_keeps_the_packet)
{
	struct overlay_stage *s = new_stage();
	push(s, 4, 100, 0, 0);
	uint8_t out[50];
	cr_assert_eq(overlay_stage_pop(s, out, sizeof out), 0);
	cr_assert_eq(s->num, 1, "the packet is still there");
	pop_is(s, 4, 100);
	free(s);
}

Test(stage, clear_drops_everything_and_says_how_much)
{
	struct overlay_stage *s = new_stage();
	for (unsigned i = 0; i < 5; i++)
		push(s, (uint8_t)i, 20, i, 0);
	cr_assert_eq(overlay_stage_clear(s), 5);
	cr_assert_eq(s->num, 0);
	push(s, 8, 20, 9, 0);
	pop_is(s, 8, 20);
	free(s);
}
