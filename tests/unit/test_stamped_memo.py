"""The memo the hot path's caches share (gatehouse.generations.StampedMemo)."""

import time

from gatehouse.generations import StampedMemo


def test_a_value_is_remembered_while_its_stamp_holds_and_its_time_lasts():
    stamp = [1]
    memo: StampedMemo[str, int] = StampedMemo(0.2, 10, lambda: stamp[0])
    memo.put("a", 42)
    assert memo.get("a") == 42
    assert memo.get("b") is None
    stamp[0] = 2  # something it depends on changed
    assert memo.get("a") is None
    memo.put("a", 43)
    time.sleep(0.25)
    assert memo.get("a") is None  # too old


def test_a_full_memo_starts_afresh():
    memo: StampedMemo[int, int] = StampedMemo(60, 3, lambda: 0)
    for key in range(3):
        memo.put(key, key)
    memo.put(3, 3)
    assert [memo.get(key) for key in range(4)] == [None, None, None, 3]
