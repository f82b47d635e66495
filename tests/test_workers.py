"""Pieces of `run --workers N` without the whole service: which worker a chat goes to (routing),
and the job runner's lock (a real second process, killed with SIGKILL, gives it up)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.leader import FileLeadership, leadership_for, lock_path
from bot.telegram.routing import choose, route_key

ROOT = Path(__file__).resolve().parent.parent
USER = {"id": 42, "is_bot": False, "first_name": "小王"}


def test_an_update_goes_by_its_chat_else_its_user() -> None:
    group = {"id": -100123, "type": "supergroup", "title": "郑州"}
    message = {"message_id": 1, "date": 0, "chat": group, "from": USER, "text": "/ask 清华附中"}
    assert route_key({"update_id": 1, "message": message}) == -100123
    assert route_key({"update_id": 2, "edited_message": message}) == -100123
    assert route_key({"update_id": 3, "callback_query": {"id": "1", "from": USER, "message": message}}) == -100123
    # a button under an inline result has no chat; neither has an inline query: by the user,
    # who is on the same worker as their private chat (its id is theirs)
    assert route_key({"update_id": 4, "callback_query": {"id": "2", "from": USER, "inline_message_id": "x"}}) == 42
    assert route_key({"update_id": 5, "inline_query": {"id": "3", "from": USER, "query": "", "offset": ""}}) == 42
    member = {"chat": group, "from": USER, "date": 0, "old_chat_member": {}, "new_chat_member": {}}
    assert route_key({"update_id": 6, "my_chat_member": member}) == -100123
    assert route_key({"update_id": 7, "poll": {"id": "p"}}) == 7


def test_a_dead_worker_moves_only_its_own_chats_and_they_come_back() -> None:
    chats = range(-500, 500)
    everyone = {chat: choose(chat, [0, 1, 2, 3]) for chat in chats}
    assert all(count > 150 for count in Counter(everyone.values()).values())  # spread over all four
    without_two = {chat: choose(chat, [0, 1, 3]) for chat in chats}
    moved = {chat for chat in chats if everyone[chat] != without_two[chat]}
    assert moved == {chat for chat in chats if everyone[chat] == 2}
    assert {chat: choose(chat, [3, 1, 0, 2]) for chat in chats} == everyone  # order does not matter
    assert choose(1, []) is None


def test_one_lock_holder_at_a_time_in_a_file_beside_the_state(tmp_path: Path) -> None:
    state = tmp_path / "state" / "bot.sqlite3"
    first, second = leadership_for(state, None), leadership_for(state, "")
    assert isinstance(first, FileLeadership) and first.path == lock_path(state)
    assert first.try_acquire() and first.try_acquire()  # held, and still held
    assert not second.try_acquire()
    assert lock_path(state).read_text().strip() == str(os.getpid())
    first.release()
    assert second.try_acquire() and second.healthy()
    second.release()


@pytest.mark.slow
def test_the_lock_of_a_process_killed_with_sigkill_is_free_at_once(tmp_path: Path) -> None:
    state = tmp_path / "bot.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from bot.leader import FileLeadership, lock_path\n"
            "lock = FileLeadership(lock_path(Path(sys.argv[1])))\n"
            "assert lock.try_acquire(); print('held', flush=True); time.sleep(60)",
            str(state),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = FileLeadership(lock_path(state))
        assert not mine.try_acquire()
        assert lock_path(state).read_text().strip() == str(holder.pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 5
        while not mine.try_acquire():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert lock_path(state).read_text().strip() == str(os.getpid())
        mine.release()
    finally:
        holder.kill()
        holder.wait()
