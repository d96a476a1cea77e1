"""Run the same store call from several connections at once, for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from storage import Store

T = TypeVar("T")


def at_once(database_url: str, work: Callable[[Store], T], *, callers: int = 6) -> list[T]:
    """Each of ``callers`` stores (own connections) runs ``work`` at the same moment.

    Returns every result; any exception raised by a caller fails the test.
    """
    with Store(database_url) as setup:
        setup.upgrade()
    stores = [Store(database_url) for _ in range(callers)]
    barrier = threading.Barrier(len(stores))
    results: list[T] = []
    errors: list[BaseException] = []

    def call(store: Store) -> None:
        try:
            barrier.wait()
            results.append(work(store))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    return results
