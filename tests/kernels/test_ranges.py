"""pebench.kernels.ranges: index tensors whose bounds are known on the host without a read."""

from __future__ import annotations

import torch

from pebench.encodings.relative import offset_range
from pebench.kernels import ranges
from pebench.kernels.bias import is_contiguous_range
from pebench.positions import plain_positions
from tests.benchmark.run.test_host_reads import HostReads


def test_a_range_made_here_is_known_and_its_bounds_cost_no_read() -> None:
    values = ranges.arange(3, 9)
    assert torch.equal(values, torch.arange(3, 9))
    with HostReads() as mode:
        assert ranges.bounds(values) == [(3, 8)] and ranges.low(values) == 3
    assert mode.reads == []
    assert ranges.known(torch.arange(3, 9)) is None  # equal values, not made as a range
    row = ranges.row(3, 9)
    assert torch.equal(row, torch.arange(3, 9)[None]) and ranges.known(row) == (3, 8)


def test_other_tensors_are_read_once_and_keep_their_order() -> None:
    known, scattered = ranges.arange(0, 4), torch.tensor([[7, 2, 5]])
    with HostReads() as mode:
        got = ranges.bounds(scattered, known, torch.tensor([-1, 10]))
    assert got == [(2, 7), (0, 3), (-1, 10)]
    assert len(mode.reads) == 1  # one stacked read for both unknown tensors


def test_consecutive_ranges_join_into_a_known_range() -> None:
    cached, new = ranges.arange(0, 5).unsqueeze(0), ranges.arange(5, 6).unsqueeze(0)
    assert ranges.known(cached) is None  # unsqueeze made a new tensor
    cached = ranges.remember(cached, 0, 4)
    new = ranges.remember(new, 5, 5)
    assert ranges.known(ranges.joined(cached, new)) == (0, 5)
    gap = ranges.remember(torch.tensor([[7]]), 7, 7)
    joined = ranges.joined(cached, gap)
    assert torch.equal(joined, torch.tensor([[0, 1, 2, 3, 4, 7]]))
    assert ranges.known(joined) is None


def test_default_positions_and_their_offsets_are_known_ranges() -> None:
    positions = plain_positions(torch.zeros(2, 6, dtype=torch.long))
    assert ranges.known(positions) == (0, 5) and is_contiguous_range(positions)
    with HostReads() as mode:
        d = offset_range(positions, positions)
    assert mode.reads == [] and torch.equal(d, torch.arange(-5, 6))
    shifted = torch.tensor([[4, 5, 6]])  # not made here: read, same answer
    assert torch.equal(offset_range(shifted, positions), torch.arange(-1, 7))
    assert is_contiguous_range(shifted) and not is_contiguous_range(torch.tensor([[0, 2]]))


def test_default_positions_trace_without_a_graph_break() -> None:
    """--train.compile traces the backbone: remembering a range must not break its graph."""

    def scaled(tokens: torch.Tensor) -> torch.Tensor:
        return tokens * plain_positions(tokens)

    compiled = torch.compile(scaled, backend="eager", fullgraph=True, dynamic=False)
    tokens = torch.ones(2, 5, dtype=torch.long)
    assert torch.equal(compiled(tokens), scaled(tokens))
