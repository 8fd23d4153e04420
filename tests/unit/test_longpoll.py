"""The long-poll layer (gatehouse/signin/longpoll.py) with stand-ins for Django and the hub:
which requests it holds, what it sends, and that a page gone away stops its wait. On an event
loop whose clock jumps to its next timer whenever nothing is ready (VirtualTimeLoop), so a
five-second hold takes no time and every duration is exact."""

from __future__ import annotations

import asyncio
import json
import selectors
from contextlib import asynccontextmanager

import pytest

from gatehouse.signin import longpoll

FLOW = "f-123"
PATH = f"/api/v1/signin/{FLOW}"


def scope(query: bytes = b"wait=25", method: str = "GET", path: str = PATH) -> dict:
    return {"type": "http", "method": method, "path": path, "query_string": query, "headers": []}


@pytest.mark.parametrize(
    ("request_scope", "expected"),
    [
        (scope(), (FLOW, 25)),
        (scope(b"wait=300"), (FLOW, longpoll.MAX_WAIT)),
        (scope(b"x=1&wait=5"), (FLOW, 5)),
        (scope(b"wait=25&wait=0"), (FLOW, 0)),  # the last, as Django reads it
        (scope(method="HEAD"), (FLOW, 25)),
        # Not held, but through here all the same, so that the WAITS header never leaves;
        # Django answers what is not a number with 422.
        (scope(b"wait=0"), (FLOW, 0)),
        (scope(b""), (FLOW, 0)),
        (scope(b"wait=abc"), (FLOW, 0)),
        (scope(b"wait=-3"), (FLOW, 0)),
        (scope("wait=²".encode()), (FLOW, 0)),
        (scope(b"wait=" + b"9" * 5000), (FLOW, 0)),
        (scope(method="POST"), None),
        (scope(path=f"{PATH}/push"), None),
        (scope(path="/api/v1/signin"), None),
        ({"type": "websocket", "path": PATH, "query_string": b"wait=5"}, None),
    ],
)
def test_which_requests_are_long_polls(request_scope, expected):
    assert longpoll.wanted(request_scope) == expected


class _VirtualSelector:
    """The loop's selector, that instead of blocking moves the loop's clock on."""

    def __init__(self, selector: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._selector, self._loop = selector, loop

    def select(self, timeout: float | None = None):
        ready = self._selector.select(0)
        if ready or timeout is None:
            return ready or self._selector.select(None)
        self._loop.virtual += timeout
        return []

    def __getattr__(self, name: str):
        return getattr(self._selector, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.virtual = 0.0
        self._selector = _VirtualSelector(self._selector, self)  # type: ignore[assignment]

    def time(self) -> float:
        return self.virtual


class Hub:
    """Stand-in for gatehouse.signin.waiting: the events being watched, by flow."""

    def __init__(self) -> None:
        self.watching: dict[str, set[asyncio.Event]] = {}

    @asynccontextmanager
    async def watch(self, flow_id: str):
        event = asyncio.Event()
        self.watching.setdefault(flow_id, set()).add(event)
        try:
            yield event
        finally:
            self.watching[flow_id].discard(event)

    def notify(self, flow_id: str) -> None:
        for event in self.watching.get(flow_id, ()):
            event.set()


class App:
    """Stand-in for Django's ASGI application: answers each call with the next state."""

    def __init__(self, *states: dict, during=None) -> None:
        self.states = list(states)
        self.calls = 0
        self.during = during  # run inside each call, as a view might be notified meanwhile

    async def __call__(self, scope, receive, send) -> None:
        assert (await receive())["type"] == "http.request"
        state = self.states[min(self.calls, len(self.states) - 1)]
        self.calls += 1
        if self.during:
            self.during()
        headers = [(b"content-type", b"application/json")]
        if state.get("push"):
            headers.append((longpoll.WAITS.encode(), b"push"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": json.dumps(state).encode()})


WAITING = {"status": "mfa_required", "push": True}
DONE = {"status": "authenticated"}


class Client:
    """The page's connection: the request, then (if `leaves_after`) a disconnect."""

    def __init__(self, leaves_after: float | None = None) -> None:
        self.sent: list[dict] = []
        self.leaves_after = leaves_after
        self.asked = False

    async def receive(self) -> dict:
        if not self.asked:
            self.asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if self.leaves_after is None:
            await asyncio.Event().wait()  # connected for good
        await asyncio.sleep(self.leaves_after)
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def answer(self) -> tuple[list, dict]:
        start, body = self.sent
        return start["headers"], json.loads(body["body"])


def run(app: App, hub: Hub, client: Client, seconds: float, meanwhile=None) -> float:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        began = loop.time()
        if meanwhile:
            loop.call_later(*meanwhile)
        await longpoll.serve(app, scope(), client.receive, client.send, FLOW, seconds, hub.watch)
        return loop.time() - began

    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main())


def test_an_answer_that_does_not_wait_goes_at_once():
    app, hub, client = App(DONE), Hub(), Client()
    assert run(app, hub, client, 5) == 0
    assert app.calls == 1
    assert client.answer()[1] == DONE


def test_a_waiting_answer_is_held_until_the_flow_is_notified_then_asked_again():
    app, hub, client = App(WAITING, DONE), Hub(), Client()
    took = run(app, hub, client, 5, meanwhile=(0.1, hub.notify, FLOW))
    assert took == pytest.approx(0.1)
    assert app.calls == 2
    headers, state = client.answer()
    assert state == DONE
    assert all(name != longpoll.WAITS.encode() for name, _ in headers)
    assert hub.watching[FLOW] == set()  # nothing left behind


def test_when_nothing_happens_the_held_answer_goes_at_the_timeout_without_its_marker():
    app, hub, client = App(WAITING), Hub(), Client()
    took = run(app, hub, client, 0.2)
    assert took == pytest.approx(0.2)
    assert app.calls == 1  # no second read: nothing happened
    headers, state = client.answer()
    assert state == WAITING
    assert headers == [(b"content-type", b"application/json")]


def test_a_word_that_comes_while_the_state_is_read_is_not_lost():
    hub = Hub()
    app = App(WAITING, DONE)
    app.during = lambda: hub.notify(FLOW) if app.calls == 1 else None
    client = Client()
    assert run(app, hub, client, 5) == 0
    assert client.answer()[1] == DONE


def test_a_word_that_changes_nothing_keeps_the_page_waiting_until_the_time_is_up():
    app, hub, client = App(WAITING), Hub(), Client()
    took = run(app, hub, client, 0.4, meanwhile=(0.1, hub.notify, FLOW))
    assert took == pytest.approx(0.4)
    assert app.calls == 2
    assert client.answer()[1] == WAITING


def test_an_answer_asked_for_without_a_wait_goes_at_once_without_its_marker():
    app, hub, client = App(WAITING), Hub(), Client()
    assert run(app, hub, client, 0) == 0
    headers, state = client.answer()
    assert state == WAITING and headers == [(b"content-type", b"application/json")]
    assert hub.watching == {}  # nothing to watch


def test_a_page_that_goes_away_stops_waiting_and_is_sent_nothing():
    app, hub, client = App(WAITING), Hub(), Client(leaves_after=0.1)
    took = run(app, hub, client, 5)
    assert took == pytest.approx(0.1)
    assert client.sent == []
    assert hub.watching[FLOW] == set()


def test_a_page_that_goes_away_while_its_state_is_read_is_sent_nothing():
    app, hub, client = App(WAITING), Hub(), Client(leaves_after=0.05)

    async def slow_app(scope, receive, send):
        await asyncio.sleep(0.1)  # the page leaves meanwhile
        await app(scope, receive, send)

    assert run(slow_app, hub, client, 5) == pytest.approx(0.1)
    assert client.sent == []
