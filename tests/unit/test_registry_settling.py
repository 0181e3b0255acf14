"""When the registry's pattern follower searches (domain.settling): once the data version has stood still, or after
the longest wait while changes keep coming; never twice for one version."""
from services.registry.domain.settling import Settling


def test_a_version_is_searched_once_it_stood_still_for_the_quiet_time():
    settling = Settling(quiet_seconds=10, max_wait_seconds=100)
    assert not settling.look((5, 5), at=0)
    assert not settling.look((5, 5), at=9.9)
    assert settling.look((5, 5), at=10)
    settling.searched((5, 5))
    assert not any(settling.look((5, 5), at=at) for at in (11, 50, 500))  # nothing changed: no second search


def test_each_change_starts_the_quiet_time_again():
    settling = Settling(quiet_seconds=10, max_wait_seconds=100)
    settling.searched((5, 5))
    assert not settling.look((6, 5), at=0)
    assert not settling.look((7, 5), at=8)
    assert not settling.look((7, 5), at=17)
    assert settling.look((7, 5), at=18)


def test_a_steady_trickle_of_changes_is_searched_after_the_longest_wait():
    settling = Settling(quiet_seconds=10, max_wait_seconds=60)
    settling.searched((0, 5))
    looks = [(at, settling.look((1 + at // 5, 5), at=at)) for at in range(0, 100)]  # a change every 5 s
    assert [at for at, search in looks if search][0] == 60
    assert not any(search for at, search in looks if at < 60)


def test_after_a_search_the_wait_counts_from_the_next_change():
    settling = Settling(quiet_seconds=10, max_wait_seconds=60)
    assert settling.look((1, 5), at=0) is False
    assert settling.look((2, 5), at=59) is False
    assert settling.look((3, 5), at=60) is True  # waited 60 s since the first version not searched
    settling.searched((3, 5))
    assert settling.look((4, 5), at=100) is False  # a new wait, not the old one
    assert settling.look((5, 5), at=159) is False
    assert settling.look((6, 5), at=160) is True


def test_a_threshold_change_without_a_new_change_is_a_new_version():
    settling = Settling(quiet_seconds=0, max_wait_seconds=60)
    assert settling.look((3, 5), at=0)
    settling.searched((3, 5))
    assert settling.look((3, 10), at=1)
