"""How a message words a count: '1 epoch', '2 epochs', '1 batch', '3 batches'."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: count(1, "epoch") is
    '1 epoch', count(10_000, "epoch") is '10000 epochs'; ``plural`` where
    adding 's' is not the plural (count(2, "batch", "batches"))."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
