"""SCAN's grammar and its interpretation (Lake & Baroni 2018, "Generalization without
Systematicity", Fig. 7 and its supplementary interpretation functions), enumerated exactly:
20,910 commands, each with its one action sequence. No download: the grammar is the data.

    C → S and S | S after S | S          S → V twice | V thrice | V
    V → D[1] opposite D[2] | D[1] around D[2] | D | U
    D → U left | U right | turn left | turn right          U → walk | look | run | jump

``x opposite d`` turns twice towards d then does x; ``x around d`` turns towards d then does x,
four times; ``twice``/``thrice`` repeat; ``a and b`` is a then b; ``a after b`` is b then a.
"""

from __future__ import annotations

import functools
import itertools

PRIMITIVES = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
TURNS = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
#: every input word and output action, in a fixed order
WORDS = (*PRIMITIVES, "turn", *TURNS, "opposite", "around", "twice", "thrice", "and", "after")
ACTIONS = (*PRIMITIVES.values(), *TURNS.values())


def _verbs() -> list[tuple[str, tuple[str, ...]]]:
    """Every V with its actions: U, D, and D[1] opposite/around D[2]."""
    out = [(u, (a,)) for u, a in PRIMITIVES.items()]
    for direction, turn in TURNS.items():
        for subject, act in [("turn", ()), *((u, (a,)) for u, a in PRIMITIVES.items())]:
            out.append((f"{subject} {direction}", (turn, *act)))
            out.append((f"{subject} opposite {direction}", (turn, turn, *act)))
            out.append((f"{subject} around {direction}", (turn, *act) * 4))
    return out


def _sentences() -> list[tuple[str, tuple[str, ...]]]:
    """Every S: V, V twice, V thrice."""
    return [
        (f"{verb}{suffix}", actions * times)
        for verb, actions in _verbs()
        for suffix, times in (("", 1), (" twice", 2), (" thrice", 3))
    ]


@functools.cache
def commands() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """All 20,910 (command, actions) pairs: S, S and S, S after S."""
    sentences = _sentences()
    pairs = list(sentences)
    for (a, act_a), (b, act_b) in itertools.product(sentences, repeat=2):
        pairs.append((f"{a} and {b}", act_a + act_b))
        pairs.append((f"{a} after {b}", act_b + act_a))
    return tuple(pairs)
