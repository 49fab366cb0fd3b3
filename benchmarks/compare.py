"""nbchat.Compare: a turn over several slow (remote-like) columns takes about as long as the slowest one."""

from __future__ import annotations

import statistics
import time

from ._report import Figure, timed

DELAY_S = 0.01  # per chunk: ~100 tokens/s, a remote model's pace
GOAL = 1.15


def compare_figures(runs: int) -> list[Figure]:
    """Wall time of one Compare turn ÷ the slowest column alone, for 3 and 6 columns of different lengths."""
    import nbchat
    from nbchat.testing import FakeBackend, recording_comms

    def one_turn(lengths: list[int]) -> tuple[float, float, int]:
        with recording_comms() as comms:
            fakes = [FakeBackend(delay=DELAY_S, model=f"m{i}", record=False) for i in range(len(lengths))]
            cmp = nbchat.Compare(fakes, prepare="now", max_new_tokens=max(lengths) + 1)
            for fake, n in zip(fakes, lengths, strict=True):
                fake.enqueue([f"w{j} " for j in range(n)])
            wall = timed(lambda: cmp.ask("go"))
            deltas = len(comms[-1].custom("delta"))
            cmp.close()
        alone = FakeBackend(delay=DELAY_S, record=False)
        conv = nbchat.Conversation(alone, prepare="now", max_new_tokens=max(lengths) + 1)
        alone.enqueue([f"w{j} " for j in range(max(lengths))])
        slowest = timed(lambda: conv.ask("go"))
        conv.close()
        return wall, slowest, deltas

    figures = []
    for lengths in ([40, 70, 100], [20, 40, 60, 80, 90, 100]):
        results = [one_turn(lengths) for _ in range(runs)]
        wall = statistics.median(r[0] for r in results)
        slowest = statistics.median(r[1] for r in results)
        rate = statistics.median(r[2] / r[0] / len(lengths) for r in results)
        n = len(lengths)
        name = f"compare turn, {n} columns ({min(lengths)}–{max(lengths)} chunks × {DELAY_S * 1000:.0f} ms)"
        figures.append(
            Figure(
                name,
                wall,
                "s",
                reference=slowest,
                reference_name="slowest column alone",
                goal=f"≤ {GOAL}× slowest",
                met=wall / slowest <= GOAL,
                note=f"{rate:.0f} delta messages/s per column",
            )
        )
    return figures


if __name__ == "__main__":
    start = time.perf_counter()
    for figure in compare_figures(3):
        print(f"{figure.name}: {figure.value:.3f} s vs {figure.reference:.3f} s → {figure.ratio:.3f} ({figure.note})")
    print(f"{time.perf_counter() - start:.1f} s")
