"""loyalty_site.collector: the cyclic garbage collector is off inside the block only."""

import gc

import pytest

from loyalty_site.collector import collector_paused


def test_collector_paused_turns_it_off_inside_and_back_on_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_paused_turns_it_back_on_when_the_block_raises():
    with pytest.raises(ValueError, match="bad row"), collector_paused():
        raise ValueError("bad row")
    assert gc.isenabled()


def test_collector_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
