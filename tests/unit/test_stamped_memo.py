"""The memo the hot path's caches share (gatehouse.stores.memo.Memo), on a clock the test moves."""

from gatehouse import clock
from gatehouse.stores.memo import Memo


def test_a_value_is_remembered_while_its_stamp_holds_and_its_time_lasts():
    stamp = [1]
    with clock.frozen() as now:
        memo: Memo[str, int] = Memo(0.2, 10, lambda: stamp[0])
        memo.put("a", 42)
        assert memo.get("a") == 42
        assert memo.get("b") is None
        stamp[0] = 2  # something it depends on changed
        assert memo.get("a") is None
        memo.put("a", 43)
        now.advance(0.15)
        assert memo.get("a") == 43  # not yet too old
        now.advance(0.1)
        assert memo.get("a") is None  # too old


def test_a_value_made_on_a_clock_since_put_back_is_not_trusted():
    memo: Memo[str, int] = Memo(60, 10)
    with clock.frozen() as now:
        now.advance(600)
        memo.put("a", 1)
        assert memo.get("a") == 1
    assert memo.get("a") is None


def test_a_full_memo_starts_afresh():
    memo: Memo[int, int] = Memo(60, 3, lambda: 0)
    for key in range(3):
        memo.put(key, key)
    memo.put(3, 3)
    assert [memo.get(key) for key in range(4)] == [None, None, None, 3]


def test_a_value_made_while_its_stamp_moved_is_made_again_next_time():
    stamp = [1]

    def made_during_a_change() -> str:
        stamp[0] = 2  # a change lands while the value is being made
        return "old"

    memo: Memo[str, str] = Memo(None, 10, lambda: stamp[0])
    assert memo.get_or_make("a", made_during_a_change) == "old"
    assert memo.get_or_make("a", lambda: "new") == "new"
    assert memo.get_or_make("a", lambda: "newer") == "new"


def test_nothing_is_remembered_for_none():
    memo: Memo[str, int | None] = Memo(None, 10)
    assert memo.get_or_make("a", lambda: None) is None
    assert memo.get_or_make("a", lambda: 5) == 5
    assert memo.get_or_make("a", lambda: 6) == 5
