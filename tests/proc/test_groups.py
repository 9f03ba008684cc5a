"""Ending process groups by id and leader start time: a group whose id now names another
process is left alone; a group whose leader is gone is still ended, members and all."""

from __future__ import annotations

import subprocess

from nestr.proc.groups import end_groups, identify
from nestr.testing import process_running


def test_a_group_is_ended_only_if_its_leader_started_when_recorded() -> None:
    """A record whose start time does not match the leader (its id was reused) is not
    signalled; the right record ends the group, background child too, and waits for it."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert leader.stdout is not None
        child = int(leader.stdout.readline())
        group = identify(leader.pid)
        assert group is not None
        assert end_groups([(group.pgid, group.start + 1)]) == []  # another process's id
        assert process_running(leader.pid)
        assert process_running(child)
        assert end_groups([(group.pgid, group.start)]) == []  # all ended, none left
        leader.wait(timeout=10)
        assert not process_running(child)
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
        leader.stdout.close()  # type: ignore[union-attr]


def test_a_group_whose_leader_is_gone_is_still_ended() -> None:
    """The leader (a step's shell) died first; its background child, still in the group, is
    ended by the record of the group."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    group = identify(leader.pid)
    assert group is not None
    leader.kill()
    leader.wait()
    leader.stdout.close()
    try:
        assert process_running(child)
        assert end_groups([(group.pgid, group.start)]) == []
        assert not process_running(child)
    finally:
        if process_running(child):
            subprocess.run(["kill", "-9", str(child)], check=False)
