"""When the worker may act (domain.catch_up): only after its queue has been seen empty for the settling time, the
wait starting again after any look that found events or no broker; after the longest wait it acts anyway."""
from services.notify.domain.catch_up import CAUGHT_UP, OVERDUE, WAITING, CatchUp


def test_a_fresh_worker_waits_the_settling_time_on_an_empty_queue():
    gate = CatchUp(settle_seconds=90, max_wait_seconds=86400, started_at=0)
    assert gate.look(0, 0) == WAITING
    assert gate.look(0, 30) == WAITING
    assert gate.look(0, 90) == CAUGHT_UP
    assert gate.look(0, 120) == CAUGHT_UP


def test_events_waiting_or_no_broker_start_the_wait_again():
    gate = CatchUp(settle_seconds=60, max_wait_seconds=86400, started_at=0)
    assert gate.look(0, 0) == WAITING and gate.look(0, 60) == CAUGHT_UP
    assert gate.look(12, 90) == WAITING  # the consumer stopped: events pile up
    assert gate.look(0, 120) == WAITING  # drained: settle again
    assert gate.look(None, 150) == WAITING  # the broker did not answer
    assert gate.look(0, 180) == WAITING
    assert gate.look(0, 240) == CAUGHT_UP


def test_without_a_settling_time_an_empty_queue_is_enough():
    gate = CatchUp(settle_seconds=0, max_wait_seconds=86400, started_at=0)
    assert gate.look(3, 0) == WAITING
    assert gate.look(0, 1) == CAUGHT_UP


def test_after_the_longest_wait_the_worker_acts_anyway_until_caught_up():
    gate = CatchUp(settle_seconds=60, max_wait_seconds=3600, started_at=0)
    assert gate.look(0, 0) == WAITING and gate.look(0, 60) == CAUGHT_UP
    assert gate.look(None, 100) == WAITING
    assert gate.look(None, 3659) == WAITING
    assert gate.look(None, 3660) == OVERDUE  # an hour since it was last caught up
    assert gate.look(5, 3700) == OVERDUE
    assert gate.look(0, 3730) == OVERDUE
    assert gate.look(0, 3790) == CAUGHT_UP
    assert gate.look(4, 3800) == WAITING  # the hour counts from the last time it was caught up
    assert gate.waited(3800) == 10
